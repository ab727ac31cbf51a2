"""SVG snapshots of tools in the app: the approval dialog, and a call folded in its reply (against the fake and the
real MCP server tests/mcp_servers/notes.py).

Run `pytest tests/app/test_snapshots_tools.py --snapshot-update` after an intended visual change, look at the SVGs
under tests/app/__snapshots__/test_snapshots_tools/, and commit them with the change. The session's clock is fixed,
so a call's time reads the same in every run; waits are bounded loops that fail instead of snapshotting a
half-drawn screen.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from typing import Any

from textual.pilot import Pilot
from textual.widgets import Input, TextArea

from chatbot.core.client import ChatClient
from chatbot.core.session import Session
from chatbot.core.settings import Settings
from chatbot.core.tools.approval import ApprovalRequest
from chatbot.core.tools.servers import ToolServers
from chatbot.ui.app import ChatApp
from chatbot.ui.screens.approval import ApprovalScreen, approver
from chatbot.ui.widgets.tool_call import ToolCallBlock
from fake_openai import FakeOpenAI, Reply, tool_call
from support import PROJECT, send, until

SIZE = (100, 30)
FIXED_NOW = 1000.0
NOTES = str(PROJECT / "tests" / "mcp_servers" / "notes.py")


def make_app(make_settings: Callable[..., Settings]) -> ChatApp:
    """The app on the notes server, with a session whose clock never moves."""
    settings = make_settings(theme="chatbot-dark", mcp_servers={
        "notes": {"command": sys.executable, "args": [NOTES], "approve": "read_only"}})
    session = Session(settings, ChatClient.from_settings(settings), clock=lambda: FIXED_NOW,
                      tools=ToolServers.from_settings(settings))
    return ChatApp(settings, session=session)


async def settle(pilot: Pilot[Any]) -> None:
    """Text cursors stop blinking, so the frame does not depend on when it is taken."""
    for screen in pilot.app.screen_stack:
        for widget in screen.query("*"):
            if isinstance(widget, TextArea | Input):
                widget.cursor_blink = False
    await pilot.pause()


def test_approval_dialog(snap_compare: Any, fake: FakeOpenAI, make_settings: Callable[..., Settings]) -> None:
    app = make_app(make_settings)
    asked: list[asyncio.Task[Any]] = []

    async def run_before(pilot: Pilot[Any]) -> None:
        await pilot.pause()
        asked.append(asyncio.create_task(approver(pilot.app)(ApprovalRequest(
            server="notes", tool="write_note", description="Write a note.",
            annotations={"readOnlyHint": False, "destructiveHint": False},
            arguments={"title": "groceries", "text": "eggs\nmilk", "tags": ["home", "weekly"]},
            raw_arguments=""))))
        await until(pilot, lambda: isinstance(pilot.app.screen, ApprovalScreen)
                    and bool(pilot.app.screen.query("#approval-tool")), "the dialog")
        await settle(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_folded_call_in_a_reply(snap_compare: Any, fake: FakeOpenAI, make_settings: Callable[..., Settings]) -> None:
    fake.queue(Reply(["Let me look."], tool_calls=tool_call("c1", "notes__read_note", '{"title": "groceries"}'),
                     finish_reason="tool_calls"),
               Reply("There is no note called groceries yet."))
    app = make_app(make_settings)

    async def run_before(pilot: Pilot[Any]) -> None:
        await pilot.pause()
        await send(pilot, "What is on my groceries note?")
        await until(pilot, lambda: bool(pilot.app.screen.query(ToolCallBlock)), "the call's block")
        await settle(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)
