"""The message cursor on a real pseudo-terminal: a burst of keys that leaves the cursor and goes on typing puts
the rest of the burst in the prompt, in the order typed, and no later key of it acts as a cursor key.

The pilot waits after every key, so it cannot show this: these tests write the whole burst in one write and read
what the fake server was sent."""

from __future__ import annotations

from typing import Any

from fake_openai import FakeOpenAI, Reply
from pty_terminal import Terminal, ready


def contents(fake: FakeOpenAI) -> list[list[tuple[str, str]]]:
    """Each chat request's conversation as (role, content), the system prompt left out."""
    return [[(m["role"], m["content"]) for m in r.body["messages"] if m["role"] != "system"]
            for r in fake.chat_requests if r.body]


def first_exchange(spawn: Any, fake: FakeOpenAI) -> Terminal:
    fake.queue(Reply("hi there", completion_tokens=5))
    terminal = ready(spawn())
    terminal.write(b"hello\r")
    terminal.wait_for(lambda: "5 tokens" in terminal.text(), "the first reply settled")
    return terminal


def test_edit_from_the_cursor_then_typing_in_one_burst_edits_the_message(spawn: Any, fake: FakeOpenAI) -> None:
    """shift+tab, e, then text with the cursor's keys in it (e, d, space, r...): e puts the message in the prompt,
    and all that follows is typed into it; nothing is regenerated or asked to be deleted."""
    terminal = first_exchange(spawn, fake)
    fake.queue(Reply("edited reply"))
    terminal.write(b"\x1b[Z" + b"e" + b" (edited, and deleted)\r")
    terminal.wait_for(lambda: len(fake.chat_requests) == 2, "the edit sent")
    assert contents(fake)[-1] == [("user", "hello (edited, and deleted)")]
    terminal.wait_for(lambda: "edited reply" in terminal.text(), "the edit's reply drawn")
    assert "Delete this message" not in terminal.text() and len(fake.chat_requests) == 2


def test_text_typed_at_the_cursor_goes_to_the_prompt_with_what_follows(spawn: Any, fake: FakeOpenAI) -> None:
    """A space is none of the cursor's keys: it leaves the cursor for the prompt, and the keys after it in the
    burst (d, e, r among them) follow it there instead of acting on the reply."""
    terminal = first_exchange(spawn, fake)
    fake.queue(Reply("ok"))
    terminal.write(b"\x1b[Z" + b" and the red dot\r")
    terminal.wait_for(lambda: len(fake.chat_requests) == 2, "the text sent")
    assert contents(fake)[-1] == [("user", "hello"), ("assistant", "hi there"), ("user", " and the red dot")]
    assert "Delete this message" not in terminal.text()


def test_escape_from_the_cursor_then_typing_in_one_burst_sends_the_text(spawn: Any, fake: FakeOpenAI) -> None:
    """ESC and a letter in one read are alt and that letter, as a terminal sends alt+y: so the y is text, which
    leaves the cursor and is typed with the rest (e among it) into the prompt."""
    terminal = first_exchange(spawn, fake)
    fake.queue(Reply("ok"))
    terminal.write(b"\x1b[Z\x1b" + b"yes really\r")
    terminal.wait_for(lambda: len(fake.chat_requests) == 2, "the text sent")
    assert contents(fake)[-1] == [("user", "hello"), ("assistant", "hi there"), ("user", "yes really")]
