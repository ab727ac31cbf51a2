"""The chat screen's compositor: Textual's, less the widgets a partial update does not reach.

For a partial update (a frame of a streaming reply changes a line or two) Textual asks for the lines of every
widget whose clip (the visible area of its container) overlaps the changed area, and a widget's clip is its
container's, not its own: every widget of the screen and every message on screen drew all its lines each frame
(at a model's pace, 32 times a second) for the compositor to use none of them. Here a widget is asked only if
the part of it that shows overlaps the change; what it is asked for, and how it is used, is Textual's. Textual
is pinned (pyproject.toml): `_get_renders` is not public, and `tests/app/test_ui_compositor.py` checks it still
draws what the stock compositor draws.
"""

from __future__ import annotations

from collections.abc import Iterable

from textual._compositor import Compositor
from textual.geometry import Region
from textual.strip import Strip


class PartialCompositor(Compositor):
    def _get_renders(self, crop: Region | None = None) -> Iterable[tuple[Region, Region, list[Strip]]]:
        if crop is None:  # a full update: every widget
            yield from super()._get_renders(crop)
            return
        for widget, (region, clip) in self.visible_widgets.items():
            shown = region.intersection(clip)
            if not shown.overlaps(crop):
                continue
            x, y, width, height = shown
            yield region, clip, widget.render_lines(Region(x - region.x, y - region.y, width, height))
