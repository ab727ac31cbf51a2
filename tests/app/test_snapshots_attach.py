"""SVG snapshots of attached files: the chips above the prompt (one picked, the row focused) and a sent message
with its files in the transcript, its image drawn small in half cells. The files' bytes are fixed here, so the
sizes on the chips never vary.

Run `pytest tests/app/test_snapshots_attach.py --snapshot-update` after an intended visual change.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path
from typing import Any

from textual.pilot import Pilot
from textual.widgets import Input, TextArea

from chatbot.core.client import ChatClient
from chatbot.core.session import Session
from chatbot.core.settings import Settings
from chatbot.ui.app import ChatApp
from chatbot.ui.widgets.thumbnail import Thumbnail
from fake_openai import FakeOpenAI, Reply
from support import send, until

SIZE = (100, 30)
# A 40x30 blue PNG, as Pillow wrote it once: its 99 bytes are what the chip says.
PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAACgAAAAeCAIAAADRv8uKAAAAKklEQVR4nO3NMQEAAAQAMCTXnAo+z1ZgGT3x"
                       "oV5WsVgsFovFYrFYLBafLOuxAbuygumeAAAAAElFTkSuQmCC")


def make_app(settings: Settings) -> ChatApp:
    session = Session(settings, ChatClient.from_settings(settings), clock=lambda: 1000.0)
    return ChatApp(settings, session=session)


async def attach(pilot: Pilot[Any], name: str) -> None:
    screen = pilot.app.screen
    count = len(screen.chips.attachments)
    screen.attach_file(Path(name))
    await until(pilot, lambda: len(screen.chips.attachments) > count, name)


async def settle(pilot: Pilot[Any]) -> None:
    for widget in pilot.app.screen.query("*"):
        if isinstance(widget, (TextArea, Input)):
            widget.cursor_blink = False
    await pilot.pause()


def test_chips_above_the_prompt_and_in_the_sent_message(snap_compare: Any, fake: FakeOpenAI,
                                                        make_settings: Callable[..., Settings]) -> None:
    Path("photo.png").write_bytes(PNG)
    Path("notes.md").write_text("# Notes\n\nBuy milk.\n")
    fake.queue(Reply("A small blue rectangle, and a note about milk."))
    app = make_app(make_settings(model="gpt-4o", theme="chatbot-dark"))

    async def run_before(pilot: Pilot[Any]) -> None:
        await pilot.pause()
        await attach(pilot, "photo.png")
        await attach(pilot, "notes.md")
        await send(pilot, "What are these?")
        thumbnails = pilot.app.screen.query(Thumbnail)
        await until(pilot, lambda: thumbnails and all(t.cells for t in thumbnails), "the thumbnail drawn")
        await attach(pilot, "photo.png")
        await attach(pilot, "notes.md")
        await pilot.press("shift+tab", "right")  # the row, its second chip picked
        await settle(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)
