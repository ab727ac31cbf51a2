"""Alternatives in the app: the header says which reply is shown, alt+left and alt+right switch, the next request
follows what is shown, and a search hit on another branch opens that branch."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.widgets import OptionList

from chatbot.core.conversation import Message
from chatbot.core.store.history import HistoryStore
from chatbot.ui.app import ChatApp, make_app
from chatbot.ui.screens.chat import ChatScreen
from chatbot.ui.screens.history import HistoryScreen
from fake_openai import Error, FakeOpenAI, Reply
from pty_terminal import ready
from support import Notified, run_command, send, until, wait_turn

SIZE = (100, 30)
MARK = "\u2039 {}/{} \u203a"  # the header's "2 of 3", between single angle quotes


def views(app: ChatApp) -> list[tuple[str, str, str]]:
    return [(v.role, v.text, v.note) for v in app.screen.transcript.views()]


def hits(app: ChatApp) -> int:
    return app.screen.query_one(OptionList).option_count


def headers(app: ChatApp) -> list[str]:
    return [str(v.query_one(".header").render()) for v in app.screen.transcript.views()]


async def test_alt_arrows_switch_the_last_reply_and_the_next_request_follows(fake: FakeOpenAI,
                                                                              make_settings: Any) -> None:
    fake.queue(Reply("first answer"), Reply("second answer"), Reply("noted"))
    app = make_app(make_settings())
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "question")
        assert "\u2039" not in headers(app)[1]
        await pilot.press("ctrl+r")
        await wait_turn(pilot)
        assert [v[1] for v in views(app)] == ["question", "second answer"]
        assert MARK.format(2, 2) in headers(app)[1]

        await pilot.press("alt+left")
        await until(pilot, lambda: [v[1] for v in views(app)] == ["question", "first answer"])
        assert MARK.format(1, 2) in headers(app)[1] and "\u2039" not in headers(app)[0]
        await pilot.press("alt+left")  # already the first: it stays
        await pilot.pause()
        assert [v[1] for v in views(app)] == ["question", "first answer"]

        await send(pilot, "go on")
        assert [(m["role"], m["content"]) for m in fake.last_body["messages"][1:]] == [
            ("user", "question"), ("assistant", "first answer"), ("user", "go on")]


async def test_a_search_hit_on_another_branch_opens_that_branch(fake: FakeOpenAI, make_settings: Any,
                                                                tmp_path: Path) -> None:
    db = tmp_path / "history.db"
    store = HistoryStore(db)
    cid = store.create("gpt-4o-mini", "balanced", "")
    q = store.add(cid, Message("user", "name a bird"), parent=None)
    store.add(cid, Message("assistant", "a kingfisher"), parent=q)
    store.add(cid, Message("assistant", "a heron"), parent=q)  # the active one
    store.close()
    fake.queue(Reply("it dives"))

    app = make_app(make_settings(), store=HistoryStore(db))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+h")
        await until(pilot, lambda: isinstance(app.screen, HistoryScreen))
        await pilot.press(*"kingfisher")
        await until(pilot, lambda: hits(app) == 1)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ChatScreen))
        await until(pilot, lambda: [v[1] for v in views(app)] == ["name a bird", "a kingfisher"])
        assert MARK.format(1, 2) in headers(app)[1]

        await send(pilot, "what does it do?")
        assert [m["content"] for m in fake.last_body["messages"] if m["role"] != "system"] == [
            "name a bird", "a kingfisher", "what does it do?"]


# -- the message cursor and what it does ---------------------------------------------------------------------------

CODE_REPLY = "Two ways:\n\n```python\nprint('one')\n```\n\nor\n\n```sh\necho two\n```\n"


def sent(fake: FakeOpenAI) -> list[tuple[str, str]]:
    """The conversation the last request sent: (role, content), the system prompt left out."""
    return [(m["role"], m["content"]) for m in fake.last_body["messages"] if m["role"] != "system"]


def shown_texts(app: ChatApp) -> list[str]:
    return [v[1] for v in views(app)]


def cursor_index(app: ChatApp) -> int | None:
    transcript = app.screen.transcript
    cursor = transcript.cursor
    return None if cursor is None else transcript.views().index(cursor)


async def two_exchanges(pilot: Any, fake: FakeOpenAI) -> None:
    fake.queue(Reply("one"), Reply("two"))
    await send(pilot, "first")
    await send(pilot, "second")


async def test_the_cursor_key_moves_into_the_transcript_and_the_keys_move_the_cursor(fake: FakeOpenAI,
                                                                                     make_settings: Any) -> None:
    app = make_app(make_settings())
    async with app.run_test(size=SIZE) as pilot:
        await two_exchanges(pilot, fake)
        prompt = app.screen.prompt
        await pilot.press("shift+tab")
        assert app.screen.transcript.has_focus and cursor_index(app) == 3  # the newest message
        await pilot.press("up")
        assert cursor_index(app) == 2
        await pilot.press("k", "k")
        assert cursor_index(app) == 0
        await pilot.press("k")  # the first stays the first
        assert cursor_index(app) == 0
        await pilot.press("j")
        assert cursor_index(app) == 1
        await pilot.press("down")
        assert cursor_index(app) == 2
        await pilot.press("g")
        assert cursor_index(app) == 0
        await pilot.press("G")
        assert cursor_index(app) == 3
        await pilot.press("home")
        assert cursor_index(app) == 0
        await pilot.press("end")
        assert cursor_index(app) == 3
        assert [v.has_class("cursor") for v in app.screen.transcript.views()] == [False, False, False, True]
        await pilot.press("escape")
        assert prompt.has_focus
        await pilot.press("ctrl+up")  # the other way in
        assert app.screen.transcript.has_focus and cursor_index(app) == 3
        await pilot.press("x")  # a key that is not the cursor's goes to the prompt, as before
        assert prompt.has_focus and prompt.text == "x"


async def test_a_click_puts_the_cursor_on_a_message(fake: FakeOpenAI, make_settings: Any) -> None:
    app = make_app(make_settings())
    async with app.run_test(size=SIZE) as pilot:
        await two_exchanges(pilot, fake)
        first = app.screen.transcript.views()[0]
        await pilot.click(first, offset=(3, 1))
        await pilot.pause()
        assert app.screen.transcript.has_focus and cursor_index(app) == 0
        await pilot.press("y")
        assert app.clipboard == "first"


async def test_the_cursor_reaches_only_the_mounted_messages(fake: FakeOpenAI, make_settings: Any,
                                                            monkeypatch: Any) -> None:
    import chatbot.ui.widgets.transcript as transcript_module

    monkeypatch.setattr(transcript_module, "MAX_VIEWS", 3)
    app = make_app(make_settings())
    async with app.run_test(size=SIZE) as pilot:
        await two_exchanges(pilot, fake)
        assert shown_texts(app) == ["one", "second", "two"]  # "first" is not mounted
        await pilot.press("shift+tab", "g")
        assert app.screen.transcript.cursor is app.screen.transcript.views()[0]
        await pilot.press("y")
        assert app.clipboard == "one"


async def test_the_cursor_passes_over_the_notes(fake: FakeOpenAI, make_settings: Any) -> None:
    """An error note between two exchanges is not a message: up and down, g and G, and a click skip it."""
    app = make_app(make_settings())
    async with app.run_test(size=SIZE) as pilot:
        fake.queue(Reply("one"), Error(400, "bad request"), Reply("three"))
        await send(pilot, "first")
        await send(pilot, "second")  # refused: the error is a note after it, and the text is back in the prompt
        app.screen.prompt.clear()
        await send(pilot, "third")
        transcript = app.screen.transcript
        note = next(v for v in transcript.views() if v.role == "error")
        assert transcript.views().index(note) == 3
        await pilot.press("shift+tab")
        visited = [transcript.cursor]
        for _ in range(5):
            await pilot.press("k")
            visited.append(transcript.cursor)
        assert [v.text for v in visited if v is not None] == ["three", "third", "second", "one", "first", "first"]
        await pilot.press("G")
        assert transcript.cursor is not None and transcript.cursor.text == "three"
        await pilot.click(note, offset=(3, 1))
        await pilot.pause()
        assert transcript.cursor is not None and transcript.cursor.text == "three"  # not put on the note


async def test_copy_a_message_and_its_numbered_code_blocks(fake: FakeOpenAI, make_settings: Any) -> None:
    from textual.widgets._markdown import MarkdownFence

    fake.queue(Reply(CODE_REPLY))
    notified = Notified()
    app = make_app(make_settings())
    async with app.run_test(size=SIZE, message_hook=notified) as pilot:
        await send(pilot, "show me")
        await pilot.press("shift+tab")
        reply = app.screen.transcript.views()[1]
        assert [b.border_title for b in reply.query(MarkdownFence)] == ["1", "2"]
        await pilot.press("2")
        assert app.clipboard == "echo two"
        await pilot.press("1")
        assert app.clipboard == "print('one')"
        await pilot.press("3")
        await until(pilot, lambda: "This message has 2 code blocks." in notified.messages)
        assert app.clipboard == "print('one')"
        await pilot.press("y")
        assert app.clipboard == CODE_REPLY
        await pilot.press("k", "y")
        assert app.clipboard == "show me"
        await until(pilot, lambda: any(m.startswith("Sent the message (7 characters)") for m in notified.messages))


async def test_edit_a_user_message_in_the_prompt_and_send_it_as_a_new_branch(fake: FakeOpenAI,
                                                                             make_settings: Any) -> None:
    app = make_app(make_settings())
    async with app.run_test(size=SIZE) as pilot:
        await two_exchanges(pilot, fake)
        prompt = app.screen.prompt
        prompt.insert("a draft")
        await pilot.press("shift+tab", "g", "e")
        assert prompt.has_focus and prompt.text == "first" and "editing" in str(prompt.border_title)
        assert app.screen.transcript.views()[0].has_class("editing")
        await pilot.press("escape")  # cancels: the draft comes back
        assert prompt.text == "a draft" and not prompt.border_title
        assert not app.screen.transcript.views()[0].has_class("editing")

        await pilot.press("shift+tab", "g", "e")
        prompt.clear()
        prompt.insert("first, edited")
        fake.queue(Reply("one, again"))
        await pilot.press("enter")
        await wait_turn(pilot)
        assert sent(fake) == [("user", "first, edited")]
        assert shown_texts(app) == ["first, edited", "one, again"]
        assert MARK.format(2, 2) in headers(app)[0]
        assert prompt.text == "a draft"  # what the prompt held before the edit began

        fake.queue(Reply("noted"))
        prompt.clear()
        await send(pilot, "and then")
        assert sent(fake) == [("user", "first, edited"), ("assistant", "one, again"), ("user", "and then")]

        # The old branch is kept: left on the edited message brings it back, and the next request follows it.
        await pilot.press("shift+tab", "g", "h")
        await until(pilot, lambda: shown_texts(app) == ["first", "one", "second", "two"])
        assert MARK.format(1, 2) in headers(app)[0] and cursor_index(app) == 0
        fake.queue(Reply("ok"))
        await pilot.press("escape")
        await send(pilot, "back here")
        assert sent(fake) == [("user", "first"), ("assistant", "one"), ("user", "second"), ("assistant", "two"),
                              ("user", "back here")]


async def test_an_edit_that_gets_no_reply_leaves_the_old_branch_and_stays_an_edit(fake: FakeOpenAI,
                                                                                  make_settings: Any) -> None:
    app = make_app(make_settings())
    async with app.run_test(size=SIZE) as pilot:
        await two_exchanges(pilot, fake)
        prompt = app.screen.prompt
        await pilot.press("shift+tab", "g", "e")
        prompt.clear()
        prompt.insert("rephrased")
        fake.queue(Error(400, "bad request"))
        await pilot.press("enter")
        await wait_turn(pilot)
        assert sent(fake) == [("user", "rephrased")]
        assert shown_texts(app)[:4] == ["first", "one", "second", "two"]
        assert prompt.text == "rephrased" and "editing" in str(prompt.border_title)
        fake.queue(Reply("now it works"))
        await pilot.press("enter")
        await wait_turn(pilot)
        assert sent(fake) == [("user", "rephrased")]
        assert shown_texts(app) == ["rephrased", "now it works"]


async def test_edit_on_a_reply_edits_the_message_it_answers(fake: FakeOpenAI, make_settings: Any) -> None:
    """The cursor starts on the newest reply: e there puts the question that got it in the prompt."""
    app = make_app(make_settings())
    async with app.run_test(size=SIZE) as pilot:
        await two_exchanges(pilot, fake)
        await pilot.press("shift+tab", "e")
        prompt = app.screen.prompt
        assert prompt.has_focus and prompt.text == "second" and "editing" in str(prompt.border_title)
        assert [v.has_class("editing") for v in app.screen.transcript.views()] == [False, False, True, False]


async def test_regenerate_from_an_earlier_reply_keeps_the_old_branch(fake: FakeOpenAI, make_settings: Any) -> None:
    app = make_app(make_settings())
    async with app.run_test(size=SIZE) as pilot:
        await two_exchanges(pilot, fake)
        fake.queue(Reply("one, regenerated"))
        await pilot.press("shift+tab", "g", "j", "r")  # on the first reply
        await wait_turn(pilot)
        assert sent(fake) == [("user", "first")]
        assert shown_texts(app) == ["first", "one, regenerated"]
        assert MARK.format(2, 2) in headers(app)[1]

        fake.queue(Reply("fine"))
        await pilot.press("escape")
        await send(pilot, "next")
        assert sent(fake) == [("user", "first"), ("assistant", "one, regenerated"), ("user", "next")]

        await pilot.press("shift+tab", "g", "j", "left")  # the old reply, and what followed it
        await until(pilot, lambda: shown_texts(app) == ["first", "one", "second", "two"])
        await pilot.press("l")
        await until(pilot, lambda: shown_texts(app) == ["first", "one, regenerated", "next", "fine"])


async def test_regenerate_from_a_user_message_and_a_failed_one_shows_the_old_branch_again(
        fake: FakeOpenAI, make_settings: Any) -> None:
    app = make_app(make_settings())
    async with app.run_test(size=SIZE) as pilot:
        await two_exchanges(pilot, fake)
        fake.queue(Error(400, "no"))
        await pilot.press("shift+tab", "g", "r")  # on the first user message: a new reply to it
        await wait_turn(pilot)
        assert sent(fake) == [("user", "first")]
        assert shown_texts(app)[:4] == ["first", "one", "second", "two"]
        fake.queue(Reply("one, anew"))
        await pilot.press("shift+tab", "g", "r")
        await wait_turn(pilot)
        assert shown_texts(app) == ["first", "one, anew"]
        assert MARK.format(2, 2) in headers(app)[1]


async def test_fork_a_new_conversation_from_a_message(fake: FakeOpenAI, make_settings: Any, db: Path,
                                                     reader: Any) -> None:
    from support import caught_up

    app = make_app(make_settings(), store=HistoryStore(db))
    async with app.run_test(size=SIZE) as pilot:
        await two_exchanges(pilot, fake)
        old = app.screen.session.conversation
        await pilot.press("shift+tab", "g", "j", "f")  # from the first reply
        await until(pilot, lambda: app.screen.session.conversation is not old)
        await until(pilot, lambda: shown_texts(app) == ["first", "one"])
        assert app.screen.transcript.has_focus and cursor_index(app) == 1
        fake.queue(Reply("forked on"))
        await pilot.press("escape")
        await send(pilot, "in the fork")
        assert sent(fake) == [("user", "first"), ("assistant", "one"), ("user", "in the fork")]
        await caught_up(app)
    titles = [s.title for s in reader().conversations()]
    assert len(titles) == 2 and any(t.endswith("(fork)") for t in titles)


async def test_delete_from_a_message_asks_first(fake: FakeOpenAI, make_settings: Any) -> None:
    from chatbot.ui.widgets.confirm_bar import ConfirmBar

    app = make_app(make_settings())
    async with app.run_test(size=SIZE) as pilot:
        await two_exchanges(pilot, fake)
        await pilot.press("shift+tab", "k", "d")  # on the second user message
        bar = app.screen.query_one(ConfirmBar)
        question = "Delete this message and what follows it on every branch (2 messages in all)"
        assert bar.has_focus and question in str(bar.render())
        await pilot.press("j", "escape")  # the question takes every key; escape keeps the messages
        await until(pilot, lambda: not app.screen.query(ConfirmBar))
        assert shown_texts(app) == ["first", "one", "second", "two"] and cursor_index(app) == 2
        assert app.screen.transcript.has_focus

        await pilot.press("d", "y")
        await until(pilot, lambda: shown_texts(app) == ["first", "one"])
        assert app.screen.transcript.has_focus and cursor_index(app) == 1
        fake.queue(Reply("after the delete"))
        await pilot.press("escape")
        await send(pilot, "again")
        assert sent(fake) == [("user", "first"), ("assistant", "one"), ("user", "again")]


async def test_delete_an_alternative_shows_the_one_beside_it(fake: FakeOpenAI, make_settings: Any) -> None:
    app = make_app(make_settings())
    async with app.run_test(size=SIZE) as pilot:
        fake.queue(Reply("one"), Reply("another"))
        await send(pilot, "first")
        await pilot.press("ctrl+r")
        await wait_turn(pilot)
        await pilot.press("shift+tab", "d", "enter")
        await until(pilot, lambda: shown_texts(app) == ["first", "one"])
        assert "\u2039" not in headers(app)[1]
        fake.queue(Reply("ok"))
        await pilot.press("escape")
        await send(pilot, "so")
        assert sent(fake) == [("user", "first"), ("assistant", "one"), ("user", "so")]


async def test_tree_actions_wait_for_the_reply_in_flight(fake: FakeOpenAI, make_settings: Any) -> None:
    import threading

    notified = Notified()
    hold = threading.Event()
    app = make_app(make_settings())
    async with app.run_test(size=SIZE, message_hook=notified) as pilot:
        fake.queue(Reply("one"), Reply("held back", hold=hold))
        await send(pilot, "first")
        app.screen.prompt.insert("second")
        await pilot.press("enter")
        await until(pilot, lambda: app.screen.session.in_flight is not None and app.screen.session.in_flight.parts)
        await pilot.press("shift+tab", "g", "f", "r", "d")
        await until(pilot, lambda: notified.messages.count("Wait for the reply to finish, or stop it with escape.")
                    == 3)
        hold.set()
        await wait_turn(pilot)
        assert len(fake.chat_requests) == 2 and shown_texts(app)[-1] == "held back"


async def test_an_edit_opens_in_the_editor_and_what_is_saved_is_sent_as_the_edit(
        fake: FakeOpenAI, make_settings: Any, tmp_path: Path, monkeypatch: Any) -> None:
    import contextlib

    script = tmp_path / "editor.sh"
    script.write_text('#!/bin/sh\n[ "$(cat "$1")" = first ] && printf "first, from the editor\\n" > "$1"\n')
    script.chmod(0o755)
    monkeypatch.setenv("EDITOR", str(script))
    app = make_app(make_settings())
    # The pilot's terminal cannot be handed over (tests/app/test_pty_input.py hands over a real one).
    monkeypatch.setattr(app, "suspend", contextlib.nullcontext)
    async with app.run_test(size=SIZE) as pilot:
        await two_exchanges(pilot, fake)
        await pilot.press("shift+tab", "g", "e", "ctrl+g")
        prompt = app.screen.prompt
        await until(pilot, lambda: prompt.text == "first, from the editor")
        assert "editing" in str(prompt.border_title)
        fake.queue(Reply("edited reply"))
        await pilot.press("enter")
        await wait_turn(pilot)
        assert sent(fake) == [("user", "first, from the editor")]


async def test_the_message_keys_follow_the_keymap(fake: FakeOpenAI, make_settings: Any) -> None:
    app = make_app(make_settings(keymap={"messages": "f11", "message_copy": "c"}))
    async with app.run_test(size=SIZE) as pilot:
        await two_exchanges(pilot, fake)
        await pilot.press("f11")
        assert app.screen.transcript.has_focus and cursor_index(app) == 3
        await pilot.press("k", "c")
        assert app.clipboard == "second"
        await pilot.press("y")  # no longer the cursor's key: it goes to the prompt
        assert app.screen.prompt.has_focus and app.screen.prompt.text == "y" and app.clipboard == "second"


async def test_the_footer_shows_the_cursor_keys_while_it_is_active(fake: FakeOpenAI, make_settings: Any) -> None:
    from textual.widgets._footer import FooterKey

    app = make_app(make_settings())
    async with app.run_test(size=(120, 30)) as pilot:
        await two_exchanges(pilot, fake)

        def footer() -> set[str]:
            return {k.action for k in app.screen.query(FooterKey)}

        assert "act('copy')" not in footer() and "history" in footer()
        await pilot.press("shift+tab")
        cursor_keys = {"act('copy')", "act('edit')", "act('regenerate')", "act('fork')", "act('delete')",
                       "act('switch', -1)", "act('switch', 1)", "act('leave')"}
        await until(pilot, lambda: footer() == cursor_keys | {"help", "command_palette"})
        await pilot.press("escape")
        await until(pilot, lambda: "history" in footer() and "act('copy')" not in footer())


@pytest.mark.parametrize("width", [100, 90, 80, 70, 60, 50])
async def test_the_cursor_keys_in_the_footer_fit_the_width(fake: FakeOpenAI, make_settings: Any, width: int) -> None:
    from textual.widgets._footer import FooterKey

    app = make_app(make_settings())
    async with app.run_test(size=(width, 24)) as pilot:
        await two_exchanges(pilot, fake)
        await pilot.press("shift+tab")

        def shown() -> list[FooterKey]:
            return [k for k in app.screen.query(FooterKey) if k.display and k.action.startswith("act(")]

        await until(pilot, lambda: shown() and all(k.region.right <= width for k in app.screen.query(FooterKey)
                                                   if k.display))
        await pilot.pause()
        # The message actions go last: escape's key and help leave first.
        assert {"act('copy')", "act('edit')"} <= {k.action for k in shown()}
        palette = [k for k in app.screen.query(FooterKey) if k.has_class("-command-palette")]
        assert all(k.region.right <= palette[0].region.x for k in shown()) if palette else True


def test_help_lists_the_message_keys(make_settings: Any) -> None:
    rows = "\n".join(make_app(make_settings()).binding_rows())
    for binding_id in ("messages", "message_copy", "message_edit", "message_regenerate", "message_fork",
                       "message_delete", "message_previous", "message_next", "message_leave"):
        assert binding_id in rows
    assert "1-9" in rows and "Copy code block N" in rows


async def test_palette_commands_act_on_the_cursor_else_on_the_newest_message(fake: FakeOpenAI,
                                                                            make_settings: Any) -> None:
    fake.queue(Reply(CODE_REPLY))
    app = make_app(make_settings())
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "first")
        await run_command(pilot, "Copy message")
        await until(pilot, lambda: app.clipboard == CODE_REPLY)
        await run_command(pilot, "Copy code block 2")
        await until(pilot, lambda: app.clipboard == "echo two")
        await pilot.press("shift+tab", "k")
        await run_command(pilot, "Copy message")
        await until(pilot, lambda: app.clipboard == "first")
        await pilot.press("escape")
        await run_command(pilot, "Edit message")
        await until(pilot, lambda: app.screen.prompt.text == "first" and bool(app.screen.prompt.border_title))


async def test_a_new_conversation_ends_the_edit(fake: FakeOpenAI, make_settings: Any) -> None:
    app = make_app(make_settings())
    async with app.run_test(size=SIZE) as pilot:
        await two_exchanges(pilot, fake)
        await pilot.press("shift+tab", "g", "e")
        assert "editing" in str(app.screen.prompt.border_title)
        await pilot.press("ctrl+n")
        await until(pilot, lambda: shown_texts(app) == [])
        prompt = app.screen.prompt
        assert prompt.text == "" and not prompt.border_title
        fake.queue(Reply("fresh"))
        await send(pilot, "new start")
        assert sent(fake) == [("user", "new start")]


# -- on a real terminal ------------------------------------------------------------------------------------------

def test_the_cursor_keys_in_one_burst_act_in_order_on_a_real_terminal(spawn: Any, fake: FakeOpenAI) -> None:
    """shift+tab as every terminal (and tmux) sends it, ESC [ Z, then keys of the cursor and text for the prompt,
    in one write: each key goes where the focus is once the keys before it have acted."""
    import base64

    fake.queue(Reply("one", completion_tokens=5), Reply("two", completion_tokens=7), Reply("one, again"))
    terminal = ready(spawn())
    terminal.write(b"first\r")
    terminal.wait_for(lambda: "5 tokens" in terminal.text(), "the first reply settled")
    terminal.write(b"second\r")
    terminal.wait_for(lambda: "7 tokens" in terminal.text(), "the second reply settled")  # its cost is in its header
    # Into the transcript, up to the first message (over the replies; a note about the model is above it), edit
    # it (the prompt takes the focus: e, h, r and d are the cursor's keys too), add to it and send.
    terminal.write(b"\x1b[Zkkke, rephrased\r")
    terminal.wait_for(lambda: len(fake.chat_requests) == 3, "the edit sent")
    assert sent(fake) == [("user", "first, rephrased")]
    terminal.wait_for(lambda: "one, again" in terminal.text(), "the edit's reply drawn")
    # ctrl+up as xterm sends it, ESC [ 1 ; 5 A, then y: the newest message goes to the clipboard (OSC 52).
    terminal.write(b"\x1b[1;5Ay")
    osc52 = b"\x1b]52;c;" + base64.b64encode(b"one, again")
    terminal.wait_for(lambda: osc52 in terminal.written(), "the newest reply copied")
