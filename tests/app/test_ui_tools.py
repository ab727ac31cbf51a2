"""Tools in the app, against the fake and a real MCP server (tests/mcp_servers/notes.py over stdio): the servers
start only when needed and stop with the app, the approval dialog's answers reach the next request, a call shows
folded in its reply, and the tools screen turns tools off for the conversation."""

from __future__ import annotations

import asyncio
import os
import sys
import threading
import tomllib
from typing import Any

import pytest
from textual.widgets import Button, SelectionList, Static

from chatbot.core.events import ToolCall
from chatbot.core.tools.approval import Approval, ApprovalRequest
from chatbot.ui.app import make_app
from chatbot.ui.screens import approval
from chatbot.ui.screens.approval import ApprovalScreen, approver
from chatbot.ui.screens.tools import ToolsScreen
from chatbot.ui.widgets.prompt_input import PromptInput
from chatbot.ui.widgets.reply_markdown import ReplyMarkdown
from chatbot.ui.widgets.tool_call import RESULT_LINES, FoldLine, ToolCallBlock
from fake_openai import Error, FakeOpenAI, Reply, tool_call
from hostile import CONTROL, H, assert_nothing_raw
from support import PROJECT, Notified, caught_up, run_command, screen_text, send, status, until, wait_turn

NOTES = str(PROJECT / "tests" / "mcp_servers" / "notes.py")
SIZE = (110, 34)


def notes_server(*args: str, **config: Any) -> dict[str, Any]:
    return {"notes": {"command": sys.executable, "args": [NOTES, *args], **config}}


@pytest.fixture(autouse=True)
def answers_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """The dialog takes its letters as soon as it is drawn here; the delay has a test of its own."""
    monkeypatch.setattr(approval, "ANSWER_DELAY", 0.0)


async def question(pilot: Any) -> None:
    """Wait until the approval dialog is open, drawn and taking answers (the servers start first: that can take
    seconds)."""
    app = pilot.app
    await until(pilot, lambda: isinstance(app.screen, ApprovalScreen) and app.screen.taking_answers,
                "the question", limit=3000)


def request(**overrides: Any) -> ApprovalRequest:
    fields: dict[str, Any] = {"server": "notes", "tool": "write_note", "description": "Write a note.",
                              "annotations": {"readOnlyHint": False}, "arguments": {"title": "a", "text": "b"},
                              "raw_arguments": '{"title": "a", "text": "b"}'}
    return ApprovalRequest(**(fields | overrides))


def process_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


# -- the servers' lifetime -------------------------------------------------------------------------------------


async def test_servers_start_only_when_needed_and_stop_with_the_app(make_settings: Any) -> None:
    app = make_app(make_settings(mcp_servers=notes_server()))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        servers = app.session.tools
        assert servers is not None and not servers.listed
        assert not servers.servers["notes"].started  # the first paint came, and nothing started
        assert "tools -" in status(app)
        await pilot.press("f9")
        await until(pilot, lambda: servers.listed, "the tools screen started the servers")
        result = await servers.call(ToolCall("call_pid", "notes__pid"))
        pid = int(result.content)
        assert not process_gone(pid)
    assert process_gone(pid), "the server process outlived the app"


async def test_no_servers_no_tools_in_the_status_bar(make_settings: Any) -> None:
    app = make_app(make_settings())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.session.tools is None
        assert "tools" not in status(app)
        await pilot.press("f9")
        await pilot.pause()
        assert not isinstance(app.screen, ToolsScreen)


# -- the dialog on its own -------------------------------------------------------------------------------------


async def answer_with(pilot: Any, *keys: str, press_button: str | None = None,
                      req: ApprovalRequest | None = None) -> Approval:
    app = pilot.app
    asked = asyncio.create_task(approver(app)(req or request()))
    await question(pilot)  # laid out, so a click finds its button
    if press_button is not None:
        await pilot.click(f"#approval-{press_button}")
    else:
        await pilot.press(*keys)
    await until(pilot, asked.done, "the dialog answered")
    assert not isinstance(app.screen, ApprovalScreen)
    return asked.result()


async def test_the_dialog_answers_by_key_and_by_button(make_settings: Any) -> None:
    app = make_app(make_settings())
    async with app.run_test(size=SIZE) as pilot:
        assert await answer_with(pilot, "o") is Approval.ONCE
        assert await answer_with(pilot, "c") is Approval.CONVERSATION
        assert await answer_with(pilot, "a") is Approval.ALWAYS
        assert await answer_with(pilot, "d") is Approval.DENY
        assert await answer_with(pilot, "escape") is Approval.STOP
        for answer in (Approval.ONCE, Approval.CONVERSATION, Approval.ALWAYS, Approval.DENY):
            assert await answer_with(pilot, press_button=answer.value) is answer


async def test_a_letter_typed_as_the_question_opens_answers_nothing(make_settings: Any,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(approval, "ANSWER_DELAY", 0.5)
    now = [100.0]
    app = make_app(make_settings())
    async with app.run_test(size=SIZE) as pilot:
        asked = asyncio.create_task(approver(app, clock=lambda: now[0])(request()))
        await until(pilot, lambda: isinstance(app.screen, ApprovalScreen) and app.screen.opened is not None,
                    "the question drawn")
        now[0] += 0.2  # the "o" of a word being typed for the prompt
        await pilot.press("o", "d")
        await pilot.pause()
        assert not asked.done() and isinstance(app.screen, ApprovalScreen)
        assert "answers nothing" in str(app.screen.query_one("#approval-early", Static).render())
        now[0] += 0.5  # the question has been seen: the letter answers
        await pilot.press("o")
        assert await asked is Approval.ONCE


async def test_escape_stops_even_as_the_question_opens(make_settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(approval, "ANSWER_DELAY", 0.5)
    app = make_app(make_settings())
    async with app.run_test(size=SIZE) as pilot:
        asked = asyncio.create_task(approver(app, clock=lambda: 100.0)(request()))  # the clock never moves on
        await until(pilot, lambda: isinstance(app.screen, ApprovalScreen) and app.screen.opened is not None,
                    "the question drawn")
        await pilot.press("escape")
        assert await asked is Approval.STOP


async def test_the_dialog_shows_the_call_as_data(make_settings: Any) -> None:
    app = make_app(make_settings())
    async with app.run_test(size=SIZE) as pilot:
        asked = asyncio.create_task(approver(app)(request(
            tool="write_note" + H, description=H, annotations={"title": H},
            arguments={"text": H, "nested": {"n": 1}})))
        await question(pilot)
        for part in ("#approval-tool", "#approval-description"):
            assert_nothing_raw(str(app.screen.query_one(part, Static).render()))
        # The arguments and annotations are JSON as the tool gets it: a control character in a string is drawn
        # as its escape, which the user can read and the terminal never acts on.
        assert not CONTROL.search(screen_text(app).replace("\n", "").replace("\t", ""))
        arguments = str(app.screen.query_one("#approval-arguments", Static).render())
        assert "\\u001b]0;pwned-title" in arguments
        assert '"nested": {\n    "n": 1\n  }' in arguments  # pretty-printed
        await pilot.press("d")
        assert await asked is Approval.DENY


async def test_the_dialog_shows_arguments_that_did_not_parse(make_settings: Any) -> None:
    app = make_app(make_settings())
    async with app.run_test(size=SIZE) as pilot:
        asked = asyncio.create_task(approver(app)(request(arguments=None, raw_arguments='{"title": ')))
        await question(pilot)
        arguments = str(app.screen.query_one("#approval-arguments", Static).render())
        assert "not valid JSON" in arguments and '{"title": ' in arguments
        await pilot.press("escape")
        assert await asked is Approval.STOP


async def test_a_question_whose_turn_stops_takes_its_dialog_down(make_settings: Any) -> None:
    app = make_app(make_settings())
    async with app.run_test(size=SIZE) as pilot:
        asked = asyncio.create_task(approver(app)(request()))
        await question(pilot)
        asked.cancel()
        await until(pilot, lambda: not isinstance(app.screen, ApprovalScreen), "the dialog closed")


# -- a call in the transcript, on its own ------------------------------------------------------------------------


async def test_a_call_folds_to_one_line_and_opens_to_its_arguments_and_result(make_settings: Any) -> None:
    app = make_app(make_settings())
    long_result = H + "\n" + "\n".join(f"line {i}" for i in range(RESULT_LINES + 4))
    async with app.run_test(size=SIZE) as pilot:
        view = await app.screen.add_note("assistant", "")
        block = ToolCallBlock(ToolCall("c1", "notes__read_note", {"title": "a" + H}, ""), "notes",
                              clock=lambda: 0.0)
        await view.mount(block)
        await pilot.pause()
        line = str(block.query_one(FoldLine).render())
        assert line.startswith("▶ notes: read_note(title=") and "running 0s" in line
        assert not block.query_one(".tool-details").display
        block.finished(long_result, False, 0.25)
        await pilot.pause()
        line = str(block.query_one(FoldLine).render())
        assert "running" not in line and "0.2s" in line and f"{RESULT_LINES + 5} lines" in line
        block.query_one(FoldLine).focus()
        await pilot.press("enter")
        assert block.query_one(".tool-details").display
        result = str(block.query_one(".tool-result", Static).render())
        assert result.count("\n") == RESULT_LINES - 1  # cut
        assert_nothing_raw(result)
        assert not CONTROL.search(screen_text(app).replace("\n", "").replace("\t", ""))  # the arguments: JSON
        await pilot.click(block.query_one(".tool-show-all", Button))
        await pilot.pause()
        assert str(block.query_one(".tool-result", Static).render()).count("\n") == RESULT_LINES + 4
        await pilot.click(block.query_one(FoldLine))
        assert not block.query_one(".tool-details").display


# -- the tools screen ------------------------------------------------------------------------------------------


async def test_the_tools_screen_lists_servers_and_turns_tools_off(make_settings: Any) -> None:
    app = make_app(make_settings(mcp_servers=notes_server(tools={"quiet": "never"})))
    async with app.run_test(size=SIZE) as pilot:
        await run_command(pilot, "Tools")
        screen = app.screen
        assert isinstance(screen, ToolsScreen)
        listing = screen.query_one(SelectionList)
        await until(pilot, lambda: listing.option_count > 0, "the tools listed")
        servers = str(screen.query_one("#tools-servers", Static).render())
        assert "notes · running · 6 tools" in servers
        prompts = [str(listing.get_option_at_index(i).prompt) for i in range(listing.option_count)]
        assert "notes: read_note · Read a note." in prompts
        assert not any("quiet" in p for p in prompts)  # never offered, so not listed
        assert sorted(listing.selected) == sorted(s.name for s in app.session.tools.offered)  # all on
        listing.highlighted = prompts.index("notes: read_note · Read a note.")
        await pilot.press("space")
        await pilot.pause()
        assert app.session.tools_off == {"notes__read_note"}
        await pilot.press("escape")
        await pilot.pause()
        assert "tools 5" in status(app)


async def test_a_server_that_fails_shows_with_its_stderr(make_settings: Any) -> None:
    app = make_app(make_settings(mcp_servers=notes_server("--fail-at-start")))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f9")
        screen = app.screen
        assert isinstance(screen, ToolsScreen)
        await until(pilot, lambda: "failed" in str(screen.query_one("#tools-servers", Static).render()))
        servers = str(screen.query_one("#tools-servers", Static).render())
        assert "✗ notes · failed: MCP server 'notes'" in servers
        assert "notes: cannot open the notebook" in servers
        await pilot.press("escape")
        await pilot.pause()
        assert "tools 0" in status(app)


# -- a turn with tools in the app ------------------------------------------------------------------------------


def calls(*entries: tuple[str, str, str]) -> Reply:
    """A reply of calls alone, streamed in fragments as OpenAI streams them."""
    fragments = [f for i, (cid, name, args) in enumerate(entries) for f in tool_call(cid, name, args, index=i)]
    return Reply([], tool_calls=fragments, finish_reason="tool_calls")


def tool_messages(body: dict[str, Any]) -> list[tuple[str, str]]:
    """(call id, content) of each tool message a request sent."""
    return [(m["tool_call_id"], m["content"]) for m in body["messages"] if m["role"] == "tool"]


def blocks(app: Any) -> list[ToolCallBlock]:
    return list(app.screen.query(ToolCallBlock))


def line_of(block: ToolCallBlock) -> str:
    return str(block.query_one(FoldLine).render())


WRITE = ("c1", "notes__write_note", '{"title": "a", "text": "b"}')


async def start_turn(pilot: Any, text: str) -> None:
    pilot.app.query_one(PromptInput).insert(text)
    await pilot.press("enter")


async def test_the_calling_reply_says_what_it_cost_after_the_answer_to_its_call_kept_us_waiting(
        fake: FakeOpenAI, make_settings: Any) -> None:
    """While the request that carries the result waits for its first token, the header counts the seconds; once
    the answer streams (in a view of its own), the calling reply's header says what that reply cost again."""
    answer_waits = threading.Event()
    fake.queue(Reply(["Let me write it."], tool_calls=tool_call(*WRITE), finish_reason="tool_calls"),
               Reply("Saved.", hold=answer_waits, hold_after=0))
    app = make_app(make_settings(mcp_servers=notes_server()))
    async with app.run_test(size=SIZE) as pilot:
        await start_turn(pilot, "note a")
        await question(pilot)
        await pilot.press("o")
        called = app.screen.transcript.views()[-1]
        await until(pilot, lambda: "waiting" in called.note, "the wait counted", limit=100_000)
        answer_waits.set()
        await wait_turn(pilot)
        assert called is app.screen.transcript.views()[-2]
        assert "token" in called.note and "waiting" not in called.note


async def test_allow_once_runs_the_call_and_the_next_request_carries_its_result(
        fake: FakeOpenAI, make_settings: Any) -> None:
    fake.queue(Reply(["Let me write it."], tool_calls=tool_call(*WRITE), finish_reason="tool_calls"),
               Reply("Saved."), calls(WRITE), Reply("Saved again."))
    app = make_app(make_settings(mcp_servers=notes_server()))
    async with app.run_test(size=SIZE) as pilot:
        await start_turn(pilot, "note a")
        await question(pilot)
        assert "write_note" in str(app.screen.query_one("#approval-tool", Static).render())
        await pilot.press("o")
        await wait_turn(pilot)
        assert tool_messages(fake.last_body) == [("c1", "saved a")]
        [block] = blocks(app)
        assert line_of(block).startswith("▶ notes: write_note(title=\"a\", text=\"b\") · ")
        # The reply that called the tool, its call after it, then the reply to the result: as stored.
        called, answer = app.screen.transcript.views()[-2:]
        assert (called.text, answer.text) == ("Let me write it.", "Saved.")
        assert called.message is app.session.conversation.messages[-3] and called.message.tool_calls
        assert answer.message is app.session.conversation.last_reply()
        assert list(called.query(ToolCallBlock)) == [block] and not answer.query(ToolCallBlock)
        assert str(called.query_one(ReplyMarkdown).source) == "Let me write it."
        assert "token" in called.note and "streaming" not in called.note  # what the calling reply cost
        # Once is once: the next call of the tool asks again.
        await start_turn(pilot, "again")
        await question(pilot)
        await pilot.press("o")
        await wait_turn(pilot)


async def test_this_conversation_asks_once_for_the_tool(fake: FakeOpenAI, make_settings: Any) -> None:
    fake.queue(calls(WRITE), Reply("Saved."), calls(("c2", "notes__write_note", '{"title": "b", "text": "c"}')),
               Reply("Saved too."))
    app = make_app(make_settings(mcp_servers=notes_server()))
    async with app.run_test(size=SIZE) as pilot:
        await start_turn(pilot, "note a")
        await question(pilot)
        await pilot.press("c")
        await wait_turn(pilot)
        assert tool_messages(fake.last_body) == [("c1", "saved a")]
        asked = Notified()
        await start_turn(pilot, "note b")  # runs without a question
        await wait_turn(pilot)
        assert tool_messages(fake.last_body) == [("c1", "saved a"), ("c2", "saved b")]
        assert not asked.notes


async def test_always_runs_the_call_and_writes_the_rule_to_the_config(
        fake: FakeOpenAI, make_settings: Any, _isolated_chat_env: Any) -> None:
    from chatbot.core.settings import config_path

    path = config_path()[0]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f'[mcp_servers.notes]\ncommand = {sys.executable!r}\nargs = [{NOTES!r}]\n', encoding="utf-8")
    fake.queue(calls(WRITE), Reply("Saved."))
    app = make_app(make_settings())
    async with app.run_test(size=SIZE) as pilot:
        await start_turn(pilot, "note a")
        await question(pilot)
        await pilot.press("a")
        await wait_turn(pilot)
        assert tool_messages(fake.last_body) == [("c1", "saved a")]
        # "Always" holds in this run too, in another conversation: the call runs without a question.
        await pilot.press("ctrl+n")
        fake.queue(calls(WRITE), Reply("Saved again."))
        await start_turn(pilot, "note a again")
        await until(pilot, lambda: len(fake.chat_requests) == 4 or isinstance(app.screen, ApprovalScreen),
                    "the call ran or was asked about")
        assert not isinstance(app.screen, ApprovalScreen)
        await wait_turn(pilot)
        assert tool_messages(fake.last_body) == [("c1", "saved a")]
    assert tomllib.loads(path.read_text(encoding="utf-8"))["mcp_servers"]["notes"]["tools"] == {
        "write_note": "always"}


async def test_deny_tells_the_model_and_the_turn_goes_on(fake: FakeOpenAI, make_settings: Any) -> None:
    fake.queue(calls(WRITE), Reply("As you wish."))
    app = make_app(make_settings(mcp_servers=notes_server()))
    async with app.run_test(size=SIZE) as pilot:
        await start_turn(pilot, "note a")
        await question(pilot)
        await pilot.press("d")
        await wait_turn(pilot)
        assert tool_messages(fake.last_body) == [("c1", "error: the user declined to run this tool call")]
        [block] = blocks(app)
        assert "notes: write_note(" in line_of(block) and "declined" in line_of(block) and block.has_class("failed")
        assert app.screen.transcript.views()[-1].text == "As you wish."


async def test_escape_at_the_question_denies_and_stops_the_turn(fake: FakeOpenAI, make_settings: Any) -> None:
    fake.queue(calls(WRITE), Reply("Next."))
    app = make_app(make_settings(mcp_servers=notes_server()))
    async with app.run_test(size=SIZE) as pilot:
        await start_turn(pilot, "note a")
        await question(pilot)
        await pilot.press("escape")
        await wait_turn(pilot)
        assert len(fake.chat_requests) == 1  # the model was not asked again
        assert "not run" in line_of(blocks(app)[0])
        # The next request carries the stopped call's answer: the API refuses a call left unanswered.
        await send(pilot, "something else")
        assert tool_messages(fake.last_body) == [("c1", "error: not run: the user stopped the turn")]


async def test_escape_during_a_running_call_cancels_it_and_the_turn(fake: FakeOpenAI, make_settings: Any) -> None:
    fake.queue(calls(("c1", "notes__hang", "{}")), Reply("Fine."))
    app = make_app(make_settings(mcp_servers=notes_server(approve="always")))
    async with app.run_test(size=SIZE) as pilot:
        await start_turn(pilot, "hang")
        await until(pilot, lambda: bool(blocks(app)) and blocks(app)[0].running, "the call running", limit=3000)
        await pilot.pause()
        assert "running" in line_of(blocks(app)[0]) and "escape stops" in line_of(blocks(app)[0])
        await pilot.press("escape")
        await wait_turn(pilot)
        assert len(fake.chat_requests) == 1
        [block] = blocks(app)
        assert not block.running and "running" not in line_of(block) and "stopped" in line_of(block)
        await send(pilot, "go on")
        assert tool_messages(fake.last_body) == [
            ("c1", "error: the user stopped the turn before this call finished")]


async def test_a_crashed_server_is_shown_and_the_conversation_goes_on(fake: FakeOpenAI, make_settings: Any) -> None:
    fake.queue(calls(("c1", "notes__crash", "{}")), Reply("It failed."), Reply("Still here."))
    app = make_app(make_settings(mcp_servers=notes_server(approve="always")))
    async with app.run_test(size=SIZE) as pilot:
        await start_turn(pilot, "crash")
        await wait_turn(pilot)
        [block] = blocks(app)
        assert block.error and "about to crash" in (block.result or "")  # the end of its stderr, for the user
        block.toggle()
        await pilot.pause()
        assert "about to crash" in str(block.query_one(".tool-result", Static).render())
        [(_, content)] = tool_messages(fake.last_body)
        assert "stopped during a call" in content
        await send(pilot, "and now?")
        assert app.screen.transcript.views()[-1].text == "Still here."


async def test_a_server_that_cannot_start_is_said_and_the_reply_comes(fake: FakeOpenAI, make_settings: Any) -> None:
    fake.queue(Reply("No tools today."))
    notified = Notified()
    app = make_app(make_settings(mcp_servers=notes_server("--fail-at-start")))
    async with app.run_test(size=SIZE, message_hook=notified) as pilot:
        await send(pilot, "hi")
        assert "tools" not in fake.last_body
        assert any("cannot open the notebook" in m for m in notified.errors)
        assert app.screen.transcript.views()[-1].text == "No tools today."


async def test_a_tool_turned_off_is_not_sent(fake: FakeOpenAI, make_settings: Any) -> None:
    fake.queue(Reply("ok"))
    app = make_app(make_settings(mcp_servers=notes_server()))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f9")
        listing = app.screen.query_one(SelectionList)
        await until(pilot, lambda: listing.option_count > 0, "the tools listed", limit=3000)
        names = [listing.get_option_at_index(i).value for i in range(listing.option_count)]
        listing.highlighted = names.index("notes__write_note")
        await pilot.press("space", "escape")
        await send(pilot, "hi")
        sent = {tool["function"]["name"] for tool in fake.last_body["tools"]}
        assert "notes__write_note" not in sent and "notes__read_note" in sent


async def test_a_resumed_conversation_shows_its_calls_folded(fake: FakeOpenAI, make_settings: Any) -> None:
    fake.queue(calls(("c1", "notes__read_note", '{"title": "x"}')), Reply("Nothing there."))
    app = make_app(make_settings(mcp_servers=notes_server(approve="read_only")))
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "read x")
        conversation = app.session.conversation
        await app.screen.transcript.clear()
        await app.screen.show_conversation()
        await pilot.pause()
        [block] = blocks(app)
        assert block.result == "no note called x" and block.collapsed
        assert [v.role for v in app.screen.transcript.views()] == ["user", "assistant", "assistant"]
        assert conversation.messages[-1].content == "Nothing there."


async def test_enter_at_the_cursor_opens_and_folds_the_calls_of_a_reply(fake: FakeOpenAI, make_settings: Any) -> None:
    """The cursor on a reply that made calls: enter opens them all, enter again folds them; the footer names the
    key there only, and on another message enter does nothing."""
    from textual.widgets._footer import FooterKey

    fake.queue(calls(("c1", "notes__read_note", '{"title": "x"}'), ("c2", "notes__read_note", '{"title": "y"}')),
               Reply("Nothing there."))
    app = make_app(make_settings(mcp_servers=notes_server(approve="read_only")))
    async with app.run_test(size=(120, 30)) as pilot:
        await send(pilot, "read x and y")

        def footer() -> set[str]:
            return {k.action for k in app.screen.query(FooterKey)}

        transcript = app.screen.transcript
        await pilot.press("shift+tab")  # on the answer, which made no call
        await until(pilot, lambda: "act('copy')" in footer())
        assert "fold" not in footer()
        await pilot.press("enter")
        assert all(b.collapsed for b in blocks(app)) and len(blocks(app)) == 2
        await pilot.press("k")  # the reply that made the calls
        assert transcript.cursor is not None and transcript.cursor.query(ToolCallBlock)
        await until(pilot, lambda: "fold" in footer())
        await pilot.press("enter")
        assert not any(b.collapsed for b in blocks(app))
        assert "▼" in line_of(blocks(app)[0]) and blocks(app)[1].query_one(".tool-details").display
        await pilot.press("enter")
        assert all(b.collapsed for b in blocks(app))
        assert transcript.has_focus  # enter did not send anything, nor leave the cursor
        assert len(fake.chat_requests) == 2
        assert "message_tool_calls" in "\n".join(app.binding_rows())


async def test_quitting_at_a_question_stops_the_turn_and_the_servers(fake: FakeOpenAI, make_settings: Any) -> None:
    fake.queue(calls(WRITE))
    app = make_app(make_settings(mcp_servers=notes_server()))
    async with app.run_test(size=SIZE) as pilot:
        await start_turn(pilot, "note a")
        await question(pilot)
        servers = app.session.tools
        assert servers is not None
        pid = int((await servers.call(ToolCall("call_pid", "notes__pid"))).content)
        await pilot.press("ctrl+q")
    assert process_gone(pid)
    assert len(fake.chat_requests) == 1


async def test_space_and_enter_typed_ahead_do_not_answer_the_dialog(make_settings: Any) -> None:
    app = make_app(make_settings())
    async with app.run_test(size=SIZE) as pilot:
        asked = asyncio.create_task(approver(app)(request()))
        await question(pilot)
        await pilot.press("space", "enter")
        await pilot.pause()
        assert not asked.done() and isinstance(app.screen, ApprovalScreen)
        await pilot.press("d")
        assert await asked is Approval.DENY


async def test_a_stored_conversation_opens_with_its_calls_folded(fake: FakeOpenAI, make_settings: Any, db: Any) -> None:
    from chatbot.core.store.history import HistoryStore

    fake.queue(calls(("c1", "notes__read_note", '{"title": "x"}')), Reply("Nothing there."))
    settings = make_settings(mcp_servers=notes_server(approve="read_only"))
    app = make_app(settings, store=HistoryStore(db))
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "read x")
        await caught_up(app)
        conversation_id = app.recorder.conversation_id
    app = make_app(settings, store=HistoryStore(db), resume_id=conversation_id)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        [block] = blocks(app)
        assert block.collapsed and block.result == "no note called x" and not block.error
        assert line_of(block).startswith('▶ notes: read_note(title="x") · ')  # as it read live
        assert [(v.role, v.text) for v in app.screen.transcript.views()] == [
            ("user", "read x"), ("assistant", ""), ("assistant", "Nothing there.")]
        assert not app.session.tools.servers["notes"].started  # showing the calls starts nothing


async def test_regenerating_after_a_call_replaces_only_the_answer(fake: FakeOpenAI, make_settings: Any) -> None:
    fake.queue(calls(("c1", "notes__read_note", '{"title": "x"}')), Reply("Nothing there."), Reply("Still nothing."))
    app = make_app(make_settings(mcp_servers=notes_server(approve="read_only")))
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "read x")
        await pilot.press("ctrl+r")
        await wait_turn(pilot)
        assert [(v.role, v.text) for v in app.screen.transcript.views() if v.display] == [
            ("user", "read x"), ("assistant", ""), ("assistant", "Still nothing.")]
        assert len(blocks(app)) == 1  # the call stays, as the conversation keeps it
        assert tool_messages(fake.last_body) == [("c1", "no note called x")]


async def test_a_turn_that_fails_after_its_calls_keeps_the_calling_reply(fake: FakeOpenAI, make_settings: Any) -> None:
    fake.queue(calls(("c1", "notes__read_note", '{"title": "x"}')), Error(400, "refused"))
    app = make_app(make_settings(mcp_servers=notes_server(approve="read_only")))
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "read x")
        roles = [(v.role, v.text) for v in app.screen.transcript.views()]
        assert roles[:2] == [("user", "read x"), ("assistant", "")]
        assert ("assistant", "") not in roles[2:]  # no empty view for the answer that never came
        assert roles[2][0] == "error" and "refused" in roles[2][1]
        assert len(blocks(app)) == 1
