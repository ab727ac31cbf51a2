"""SVG snapshots of the conversation tree in the app: a reply with alternatives, the message cursor on a reply with
numbered code blocks (and the footer of its keys), an edit in the prompt, and the delete question.

Run `pytest tests/app/test_snapshots_tree.py --snapshot-update` after an intended visual change, look at the SVGs
under tests/app/__snapshots__/test_snapshots_tree/, and commit them with the change. What could differ between
runs is pinned down as in test_snapshots.py: a session clock that never moves, replies awaited before the
screenshot, cursors that do not blink, scrollbars repainted.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Input, TextArea

from chatbot.core.client import ChatClient
from chatbot.core.session import Session
from chatbot.core.settings import Settings
from chatbot.ui.app import ChatApp
from chatbot.ui.widgets.confirm_bar import ConfirmBar
from fake_openai import FakeOpenAI, Reply
from support import send, until, wait_turn

SIZE = (100, 30)
FIXED_NOW = 1000.0
CODE_REPLY = """\
Two ways:

```python
print("one")
```

or, from the shell:

```sh
echo two
```
"""

RunBefore = Callable[[Pilot[Any]], Awaitable[None]]


def make_app(settings: Settings) -> ChatApp:
    session = Session(settings, ChatClient.from_settings(settings), clock=lambda: FIXED_NOW)
    return ChatApp(settings, session=session)


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(theme="chatbot-dark")


async def settle(pilot: Pilot[Any]) -> None:
    """The next frame depends only on the app's state (see test_snapshots.settle)."""
    for screen in pilot.app.screen_stack:
        for widget in screen.query("*"):
            if isinstance(widget, (TextArea, Input)):
                widget.cursor_blink = False
            if widget.show_vertical_scrollbar:
                widget.vertical_scrollbar.refresh()
    await pilot.pause()


def test_reply_with_alternatives(snap_compare: Any, fake: FakeOpenAI, settings: Settings) -> None:
    """A regenerated reply: its header reads "2/2" between angle quotes, the first reply kept as its alternative."""
    fake.queue(Reply("A kingfisher.", completion_tokens=4), Reply("A heron.", completion_tokens=3))

    async def run_before(pilot: Pilot[Any]) -> None:
        await pilot.pause()
        await send(pilot, "Name a bird that fishes.")
        await pilot.press("ctrl+r")
        await wait_turn(pilot)
        await settle(pilot)

    assert snap_compare(make_app(settings), terminal_size=SIZE, run_before=run_before)


def test_message_cursor(snap_compare: Any, fake: FakeOpenAI, settings: Settings) -> None:
    """shift+tab: the cursor on the newest reply, its code blocks numbered for the digits, the footer's keys those
    of the cursor."""
    fake.queue(Reply(CODE_REPLY, prompt_tokens=12, completion_tokens=20))

    async def run_before(pilot: Pilot[Any]) -> None:
        await pilot.pause()
        await send(pilot, "How do I print from Python and from the shell?")
        await pilot.press("shift+tab")
        await settle(pilot)

    assert snap_compare(make_app(settings), terminal_size=SIZE, run_before=run_before)


def test_editing_a_message(snap_compare: Any, fake: FakeOpenAI, settings: Settings) -> None:
    """e on your message: its text in the prompt, which says it is an edit, and the message marked."""
    fake.queue(Reply("Paris.", completion_tokens=2), Reply("Rome.", completion_tokens=2))

    async def run_before(pilot: Pilot[Any]) -> None:
        await pilot.pause()
        await send(pilot, "Capital of France?")
        await send(pilot, "And of Italy?")
        await pilot.press("shift+tab", "g", "e")
        await settle(pilot)

    assert snap_compare(make_app(settings), terminal_size=SIZE, run_before=run_before)


def test_delete_question(snap_compare: Any, fake: FakeOpenAI, settings: Settings) -> None:
    """d on a message: the question above the prompt, asked in place."""
    fake.queue(Reply("Paris.", completion_tokens=2), Reply("Rome.", completion_tokens=2))

    async def run_before(pilot: Pilot[Any]) -> None:
        await pilot.pause()
        await send(pilot, "Capital of France?")
        await send(pilot, "And of Italy?")
        await pilot.press("shift+tab", "k", "d")
        await until(pilot, lambda: bool(pilot.app.screen.query(ConfirmBar)))
        await settle(pilot)

    assert snap_compare(make_app(settings), terminal_size=SIZE, run_before=run_before)
