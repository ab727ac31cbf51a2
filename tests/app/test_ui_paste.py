"""A bracketed paste in the app inserts exactly what was pasted: line breaks as newlines, terminal controls
removed where they stand, nothing sent until enter."""

from __future__ import annotations

from typing import Any

from textual import events
from textual.widgets import Input

from chatbot.ui.app import make_app
from chatbot.ui.widgets.prompt_input import PromptInput
from fake_openai import FakeOpenAI, Reply
from hostile import ESC, PASTED
from support import SIZE, until, wait_turn


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
    # The terminal turned each enter into a line feed: each is enter again, the rest waits in the prompt, and a
    # key sent as a sequence is that key (left, twice: the "l" lands before "d").
    fake.queue(Reply("ok"))
    app = make_app(make_settings(), typed_ahead=f"hello\nword{ESC}[D{ESC}[Dl")
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: fake.chat_requests)
        await wait_turn(pilot)
        assert [r.body["messages"][-1]["content"] for r in fake.chat_requests] == ["hello"]
        assert app.query_one(PromptInput).text == "wolrd"


async def test_a_function_key_typed_before_the_app_started_does_what_it_does(fake: FakeOpenAI,
                                                                            make_settings: Any) -> None:
    from chatbot.ui.screens.picker import Picker

    app = make_app(make_settings(), typed_ahead=f"abc{ESC}OQdef")  # f2 between words: the model menu
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: isinstance(app.screen, Picker), "the model menu open")
        await until(pilot, lambda: app.screen.query_one(Input).value == "def", "the filter typed")
        assert app.query_one(PromptInput).text == "abc"
