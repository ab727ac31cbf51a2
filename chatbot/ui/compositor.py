"""The chat screen's compositor: Textual's, less the widgets a partial update does not reach; and its layouts,
less the second one each asked for (one_layout).

For a partial update (a frame of a streaming reply changes a line or two) Textual asks for the lines of every
widget whose clip (the visible area of its container) overlaps the changed area, and a widget's clip is its
container's, not its own: every widget of the screen and every message on screen drew all its lines each frame
(at a model's pace, 24 times a second) for the compositor to use none of them, and a container drew every row
of itself that shows to update one. Here a widget is asked only if the part of it that shows overlaps the
change, and only for the rows the change spans; how its lines are used is Textual's. Textual
is pinned (pyproject.toml): `_get_renders` is not public, and `tests/app/test_ui_compositor.py` checks it still
draws what the stock compositor draws.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator

from textual._compositor import Compositor
from textual.geometry import Region
from textual.strip import Strip
from textual.widget import Widget


class PartialCompositor(Compositor):
    def _get_renders(self, crop: Region | None = None) -> Iterable[tuple[Region, Region, list[Strip]]]:
        if crop is None:  # a full update: every widget
            yield from super()._get_renders(crop)
            return
        rows = Region(0, crop.y, self.size.width, crop.height)
        for widget, (region, clip) in self.visible_widgets.items():
            shown = region.intersection(clip)
            if not shown.overlaps(crop):
                continue
            # Only the rows the update spans: the clip yielded with them makes the compositor place them there.
            drawn = shown.intersection(rows)
            x, y, width, height = drawn
            yield region, drawn, widget.render_lines(Region(x - region.x, y - region.y, width, height))


_VIRTUAL_SIZE = Widget.__dict__["virtual_size"]  # the Reactive itself (through the class it would be read)


@contextlib.contextmanager
def one_layout() -> Iterator[None]:
    """Within it, storing a widget's virtual size asks for no layout and no repaint.

    A layout ends by storing each widget's new sizes, the virtual size through a reactive that asks for a layout
    and a repaint of the widget: every frame that added a paragraph to a streaming reply was laid out and drawn a
    second time (its new paragraphs, the reply, its view and the transcript had grown), 10 ms that moved nothing
    and held the next frame back. The layout that stores the sizes has placed and drawn everything with them, and
    what a size change does change has reactives of its own: a scrollbar that appears asks for its layout, a
    scrolled container clamps an offset past its end. Textual's layouts run on the event loop's thread, one at
    a time, and a layout within a layout leaves the setting as it found it."""
    layout, repaint = _VIRTUAL_SIZE._layout, _VIRTUAL_SIZE._repaint
    _VIRTUAL_SIZE._layout = _VIRTUAL_SIZE._repaint = False
    try:
        yield
    finally:
        _VIRTUAL_SIZE._layout, _VIRTUAL_SIZE._repaint = layout, repaint
