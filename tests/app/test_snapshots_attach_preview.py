"""SVG snapshot of the file picker with an image under the tree's cursor: beside the tree, the image drawn small in
half cells, with its file size, the size it is sent at and its tokens for the current model. The image is written
here with Pillow, so its bytes (and the size shown) never vary.

Run `pytest tests/app/test_snapshots_attach_preview.py --snapshot-update` after an intended visual change.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PIL import Image
from textual.pilot import Pilot
from textual.widgets import Input

from chatbot.core.client import ChatClient
from chatbot.core.session import Session
from chatbot.core.settings import Settings
from chatbot.ui.app import ChatApp
from chatbot.ui.screens.attach import AttachScreen, FilteredTree
from chatbot.ui.widgets.thumbnail import Thumbnail
from support import until

SIZE = (100, 30)


def striped_png() -> bytes:
    """48x24: left half orange, right half blue, so the snapshot shows the image's shape and colours."""
    image = Image.new("RGB", (48, 24), (0, 96, 255))
    image.paste((255, 128, 0), (0, 0, 24, 24))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def test_the_picker_previews_the_highlighted_image(snap_compare: Any,
                                                   make_settings: Callable[..., Settings]) -> None:
    Path("photo.png").write_bytes(striped_png())
    Path("notes.md").write_text("# Notes\n")
    settings = make_settings(model="gpt-4o", theme="chatbot-dark")
    app = ChatApp(settings, session=Session(settings, ChatClient.from_settings(settings), clock=lambda: 1000.0))

    async def run_before(pilot: Pilot[Any]) -> None:
        await pilot.pause()
        await pilot.press("f5")
        await until(pilot, lambda: isinstance(pilot.app.screen, AttachScreen), "the picker")
        screen = pilot.app.screen
        assert isinstance(screen, AttachScreen)
        tree = screen.query_one(FilteredTree)
        await until(pilot, lambda: len(tree.root.children) == 2, "the folder listed")
        await pilot.press("down")  # to the tree
        tree.move_cursor(next(n for n in tree.root.children if str(n.label) == "photo.png"))
        await until(pilot, lambda: screen.previewed is not None and all(t.cells for t in screen.query(Thumbnail))
                    and screen.query(Thumbnail), "the image previewed")
        for widget in screen.query(Input):
            widget.cursor_blink = False
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)
