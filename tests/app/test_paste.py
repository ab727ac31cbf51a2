"""A bracketed paste inserts exactly what was pasted: line breaks as newlines, terminal controls removed where
they stand, nothing sent until enter."""

from __future__ import annotations

from typing import Any

from textual import events
from textual._xterm_parser import XTermParser

from chatbot.core.terminal import PASTE_END, PASTE_ESC, PASTE_START, PasteShield
from chatbot.ui.app import make_app
from chatbot.ui.widgets.prompt_input import PromptInput
from fake_openai import FakeOpenAI, Reply
from support import until, wait_turn

ESC = "\x1b"
SIZE = (100, 30)
# A key, an arrow, a paste holding CRLF, a colour sequence on its last line and a carriage return after it, a key.
STREAM = f"x{ESC}[A{PASTE_START}one\r\ntwo {ESC}[31mred{ESC}[0m\rfour{PASTE_END}y"
PASTED = f"one\r\ntwo {ESC}[31mred{ESC}[0m\rfour"


def parse(*reads: str) -> list[tuple[str, str]]:
    """What Textual's key parser makes of `reads`, each passed through one PasteShield as the driver does."""
    parser, shield = XTermParser(False), PasteShield()
    found = []
    for read in reads:
        for event in parser.feed(shield.feed(read)):
            if isinstance(event, events.Paste):
                found.append(("paste", PasteShield.restore(event.text)))
            elif isinstance(event, events.Key):
                found.append(("key", event.key))
    return found


def test_the_parser_gets_a_paste_with_a_control_sequence_whole() -> None:
    # Without the shield the parser typed "^[31mred^[0m", enter and "four" ahead of a paste of "one\r\ntwo ".
    assert parse(STREAM) == [("key", "x"), ("key", "up"), ("paste", PASTED), ("key", "y")]


def test_a_paste_split_across_reads_anywhere_is_the_same() -> None:
    whole = PasteShield().feed(STREAM)
    for i in range(len(STREAM) + 1):
        for j in range(i, len(STREAM) + 1):
            shield = PasteShield()
            assert shield.feed(STREAM[:i]) + shield.feed(STREAM[i:j]) + shield.feed(STREAM[j:]) == whole, (i, j)
    assert parse(STREAM[:20], STREAM[20:41], STREAM[41:]) == parse(STREAM)


def test_outside_a_paste_nothing_is_held_back_or_changed() -> None:
    shield = PasteShield()
    assert shield.feed(ESC) == ESC  # the escape key reaches the parser at once
    assert shield.feed(f"[31m{PASTE_ESC}a") == f"[31m{PASTE_ESC}a"
    # Inside a paste, what may be the start of its end marker waits for the next read.
    assert shield.feed(f"{PASTE_START}a{ESC}[20") == f"{PASTE_START}a"
    assert shield.feed("0~b") == f"{PASTE_ESC}[200~b"
    assert shield.feed(f"{PASTE_END}{ESC}") == f"{PASTE_END}{ESC}"


async def test_pasted_crlf_is_one_newline_and_controls_go_where_they_stand(fake: FakeOpenAI,
                                                                           make_settings: Any) -> None:
    fake.queue(Reply("ok"))
    app = make_app(make_settings())
    async with app.run_test(size=SIZE) as pilot:
        prompt = app.query_one(PromptInput)
        app.post_message(events.Paste("a\r\nb\r\n"))
        await pilot.pause()
        assert prompt.text == "a\nb\n"
        prompt.clear()
        app.post_message(events.Paste(PASTED))
        await pilot.pause()
        assert prompt.text == "one\ntwo red\nfour"
        assert fake.chat_requests == []  # a line break in a paste is not enter
        await pilot.press("enter")
        await wait_turn(pilot)
        assert fake.last_body["messages"][-1]["content"] == "one\ntwo red\nfour"


async def test_text_typed_before_the_app_started_is_typed_into_the_prompt(fake: FakeOpenAI,
                                                                          make_settings: Any) -> None:
    # The terminal turned each enter into a line feed: each is enter again, the rest waits in the prompt.
    fake.queue(Reply("ok"))
    app = make_app(make_settings(), typed_ahead=f"hello\nwor{ESC}[Ald")
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: fake.chat_requests)
        await wait_turn(pilot)
        assert [r.body["messages"][-1]["content"] for r in fake.chat_requests] == ["hello"]
        assert app.query_one(PromptInput).text == "world"
