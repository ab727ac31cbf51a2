"""Tools in the app, against the fake and a real MCP server (tests/mcp_servers/notes.py over stdio): the servers
start only when needed and stop with the app, the approval dialog's answers reach the next request, a call shows
folded in its reply, and the tools screen turns tools off for the conversation."""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Any

from textual.widgets import Button, SelectionList, Static

from chatbot.core.events import ToolCall
from chatbot.core.tools.approval import Approval, ApprovalRequest
from chatbot.ui.app import make_app
from chatbot.ui.screens.approval import ApprovalScreen, approver
from chatbot.ui.screens.tools import ToolsScreen
from chatbot.ui.widgets.tool_call import RESULT_LINES, FoldLine, ToolCallBlock
from fake_openai import FakeOpenAI
from hostile import CONTROL, H, assert_nothing_raw
from support import PROJECT, run_command, screen_text, status, until

NOTES = str(PROJECT / "tests" / "mcp_servers" / "notes.py")
SIZE = (110, 34)


def notes_server(*args: str, **config: Any) -> dict[str, Any]:
    return {"notes": {"command": sys.executable, "args": [NOTES, *args], **config}}


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
        assert not servers.servers["notes"].running  # the first paint came, and nothing started
        assert "tools -" in status(app)
        await pilot.press("f5")
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
        await pilot.press("f5")
        await pilot.pause()
        assert not isinstance(app.screen, ToolsScreen)


# -- the dialog on its own -------------------------------------------------------------------------------------


async def answer_with(pilot: Any, *keys: str, press_button: str | None = None,
                      req: ApprovalRequest | None = None) -> Approval:
    app = pilot.app
    asked = asyncio.create_task(approver(app)(req or request()))
    await until(pilot, lambda: isinstance(app.screen, ApprovalScreen), "the dialog opened")
    await pilot.pause()  # laid out, so a click finds its button
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


async def test_the_dialog_shows_the_call_as_data(make_settings: Any) -> None:
    app = make_app(make_settings())
    async with app.run_test(size=SIZE) as pilot:
        asked = asyncio.create_task(approver(app)(request(
            tool="write_note" + H, description=H, annotations={"title": H},
            arguments={"text": H, "nested": {"n": 1}})))
        await until(pilot, lambda: isinstance(app.screen, ApprovalScreen))
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
        await until(pilot, lambda: isinstance(app.screen, ApprovalScreen))
        arguments = str(app.screen.query_one("#approval-arguments", Static).render())
        assert "not valid JSON" in arguments and '{"title": ' in arguments
        await pilot.press("escape")
        assert await asked is Approval.STOP


async def test_a_question_whose_turn_stops_takes_its_dialog_down(make_settings: Any) -> None:
    app = make_app(make_settings())
    async with app.run_test(size=SIZE) as pilot:
        asked = asyncio.create_task(approver(app)(request()))
        await until(pilot, lambda: isinstance(app.screen, ApprovalScreen))
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
        await pilot.press("f5")
        screen = app.screen
        assert isinstance(screen, ToolsScreen)
        await until(pilot, lambda: "failed" in str(screen.query_one("#tools-servers", Static).render()))
        servers = str(screen.query_one("#tools-servers", Static).render())
        assert "✗ notes · failed: MCP server 'notes'" in servers
        assert "notes: cannot open the notebook" in servers
        await pilot.press("escape")
        await pilot.pause()
        assert "tools 0" in status(app)
