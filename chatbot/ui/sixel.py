"""Sixel images, for a terminal that said it draws them (graphics.py) and draws no Kitty graphics: only the file
picker's preview, the one image that stays where it is while it is shown.

Sixel pixels are painted over cells that Textual knows nothing about: a frame that draws any of those cells again
(even with what they held) erases the pixels under it, and the row cache (row_cache.py) leaves out rows it
believes the terminal shows already, which under an image is no longer so. So the image is painted after the
frame that drew its widget's cells, again after any frame that draws on one of its rows, and only while the
widget is wholly in view and uncovered; when it moves or goes, the rows it covered are forgotten by the row
cache, so the next frame draws them whole. A thumbnail in the scrolling transcript would need painting at every
scroll step, clipped by whatever passes over it: those stay in half cells.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from dataclasses import dataclass

from textual.errors import NoWidget
from textual.geometry import Region
from textual.widget import Widget

Cell = tuple[int, int]  # a cell's width and height in pixels
_RUN = re.compile(r"(.)\1{3,}")  # four or more of a sixel: shorter as a repeat


def encode(data: bytes, width: int, height: int) -> str:
    """The image in `data` resized to `width` x `height` pixels, as one Sixel sequence of up to 255 colours."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        picture = image.convert("RGB").resize((width, height), Image.Resampling.LANCZOS)
    paletted = picture.quantize(colors=255)
    palette = paletted.getpalette() or []
    pixels = paletted.tobytes()
    used = sorted(set(pixels))
    # P2=1: a pixel no colour sets stays as it was; every pixel here is set by one colour.
    out = [f'\x1bP0;1;0q"1;1;{width};{height}']
    for c in used:
        r, g, b = palette[3 * c : 3 * c + 3]
        out.append(f"#{c};2;{r * 100 // 255};{g * 100 // 255};{b * 100 // 255}")
    for top in range(0, height, 6):
        band = [pixels[y * width : (y + 1) * width] for y in range(top, min(top + 6, height))]
        bits: dict[int, bytearray] = {}
        for k, row in enumerate(band):
            for x, c in enumerate(row):
                found = bits.get(c)
                if found is None:
                    found = bits[c] = bytearray(width)
                found[x] |= 1 << k
        # Each colour of the band is one pass over it, back to its start ($); the band ends with a newline (-).
        passes = [f"#{c}" + _runs(bytes(63 + v for v in found).decode("ascii").rstrip("?"))
                  for c, found in sorted(bits.items())]
        out.append("$".join(passes) + "-")
    out.append("\x1b\\")
    return "".join(out)


def _runs(sixels: str) -> str:
    return _RUN.sub(lambda m: f"!{len(m.group(0))}{m.group(1)}", sixels)


@dataclass(slots=True, eq=False)  # one showing is itself, not any other of the same image
class _Shown:
    widget: Widget
    image: str  # the Sixel sequence, sized to the widget's cells


class Sixel:
    """A terminal that draws Sixel images, and the one image it shows. `cell` tells a cell's size in pixels now
    (None when the terminal never said)."""

    def __init__(self, cell: Callable[[], Cell | None]) -> None:
        self.cell = cell
        self._shown: _Shown | None = None
        self._painted: tuple[Region, _Shown] | None = None  # where which image was last painted, in cells

    def show(self, widget: Widget, image: str) -> None:
        """Show `image` over `widget`'s cells from the next frame that draws them, in place of any other."""
        self._shown = _Shown(widget, image)

    def hide(self, widget: Widget) -> None:
        if self._shown is not None and self._shown.widget is widget:
            self._shown = None

    def before_frame(self) -> set[int]:
        """The rows (1-based) the image was painted on and no longer is: the row cache must forget them."""
        region = self._region()
        if self._painted is None or region == self._painted[0]:
            return set()
        gone = _rows(self._painted[0])
        if region is None:
            self._painted = None
        return gone

    def after_frame(self, drawn: set[int]) -> str:
        """What to write after a frame that drew the rows `drawn` (1-based): the image, when it is not painted
        where its widget is now, or when the frame drew on one of its rows."""
        region, shown = self._region(), self._shown
        if region is None or shown is None:
            return ""
        if (region, shown) == self._painted and not drawn & _rows(region):
            return ""
        self._painted = region, shown
        # Saved and restored: a Sixel image leaves the cursor under it, and Textual's next frame moves it anyway.
        return f"\x1b7\x1b[{region.y + 1};{region.x + 1}H{shown.image}\x1b8"

    def _region(self) -> Region | None:
        """Where the shown image's widget is, when all of it is in view and nothing covers it."""
        if self._shown is None:
            return None
        widget = self._shown.widget
        if not widget.is_attached or widget.screen is not widget.app.screen:
            return None
        region = widget.content_region
        screen = widget.screen
        # A row below it: a Sixel image ending on the last row would scroll the whole screen up.
        if not region or region.bottom >= screen.size.height:
            return None
        corners = ((region.x, region.y), (region.right - 1, region.y), (region.x, region.bottom - 1),
                   (region.right - 1, region.bottom - 1))
        try:
            if any(screen.get_widget_at(x, y)[0] is not widget for x, y in corners):
                return None
        except NoWidget:
            return None
        return region


def _rows(region: Region) -> set[int]:
    return set(range(region.y + 1, region.bottom + 1))
