"""An attached image drawn small (in the transcript, in the file picker): with Kitty graphics where the terminal
answered the probe for them (graphics.py), as Sixel in the file picker of a terminal that draws Sixel (sixel.py),
else in half cells, where each cell shows two pixels, the upper one as the colour of an upper half block and the
lower one as its background.

Half cells are plain coloured text, which every terminal draws. With Kitty graphics or Sixel the image takes the
same cells (an image of w x 2h pixels in w x h cells keeps its shape, cells being about twice as tall as wide),
drawn at the terminal's own resolution. The pixels are worked out off the UI thread once the widget is mounted;
until then it is blank.
"""

from __future__ import annotations

import asyncio
import io

from rich.style import Style
from rich.text import Text
from textual.geometry import Size
from textual.widget import Widget

from chatbot.ui.graphics import Kitty, placeholder_rows
from chatbot.ui.sixel import Sixel, encode

UPPER_HALF = "\u2580"
WIDTH, ROWS = 24, 6  # the most cells a thumbnail takes: 24 x 12 pixels
CELL_PIXELS = 16  # how many pixels a cell's width is sent at, to Kitty, which scales them into the cell


RGB = tuple[int, int, int]


def half_cells(data: bytes, width: int = WIDTH, rows: int = ROWS) -> list[list[tuple[RGB, RGB]]]:
    """The image fitted in `width` x 2*`rows` pixels, as rows of (upper, lower) colour pairs, one pair a cell."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        picture = image.convert("RGB")
    picture.thumbnail((width, rows * 2), Image.Resampling.LANCZOS)
    w, h = picture.size
    pixels = picture.load()
    assert pixels is not None
    black: RGB = (0, 0, 0)
    found = []
    for y in range(0, h, 2):
        row = []
        for x in range(w):
            upper = pixels[x, y]
            lower = pixels[x, y + 1] if y + 1 < h else black
            row.append((_rgb(upper), _rgb(lower)))
        found.append(row)
    return found


def png_for_cells(data: bytes, columns: int, rows: int) -> bytes:
    """The image as a PNG of about CELL_PIXELS x 2*CELL_PIXELS pixels a cell, for `columns` x `rows` cells."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        picture = image.convert("RGBA")
    picture = picture.resize((columns * CELL_PIXELS, rows * 2 * CELL_PIXELS), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    picture.save(out, "PNG")
    return out.getvalue()


def _drawn(data: bytes, kitty: bool, cell: tuple[int, int] | None) -> tuple[list[list[tuple[RGB, RGB]]], bytes, str]:
    """Off the UI thread, in one go: the half cells (whose count sizes the image in every way), and the PNG for
    Kitty or the Sixel image for cells of `cell` pixels, when the terminal draws them."""
    cells = half_cells(data)
    columns, rows = len(cells[0]), len(cells)
    png = png_for_cells(data, columns, rows) if kitty else b""
    pixels = encode(data, columns * cell[0], rows * cell[1]) if cell else ""
    return cells, png, pixels


def _rgb(pixel: object) -> RGB:
    values = [int(v) for v in pixel] if isinstance(pixel, tuple) else [0, 0, 0]
    return values[0], values[1], values[2]


class Thumbnail(Widget):
    """One image, `data` as it was sent, at most WIDTH x ROWS cells. A `still` one (the file picker's preview)
    stays where it is while it is shown, so it may be drawn as Sixel."""

    DEFAULT_CSS = """
    Thumbnail {
        width: auto;
        height: auto;
        margin: 0 1 0 0;
    }
    """

    def __init__(self, data: bytes, name: str, still: bool = False) -> None:
        super().__init__()
        self.data = data
        self.still = still
        self.tooltip = name
        self.cells: list[list[tuple[RGB, RGB]]] = []
        self.image_id: int | None = None  # the image Kitty holds for it, when drawn with Kitty graphics
        self.sixel = False  # drawn as Sixel: its cells are blank, painted over after each frame

    def on_mount(self) -> None:
        self.run_worker(self._draw(), exit_on_error=False)

    async def _draw(self) -> None:
        kitty: Kitty | None = getattr(self.app, "kitty", None)
        sixel: Sixel | None = getattr(self.app, "sixel", None) if self.still else None
        cell = sixel.cell() if sixel is not None else None
        try:
            cells, png, pixels = await asyncio.to_thread(_drawn, self.data, kitty is not None, cell)
        except (OSError, ValueError, SyntaxError, IndexError):
            return  # an image Pillow cannot read again is left out: its chip still names it
        if kitty is not None and self.is_attached:
            self.image_id = kitty.show(png, len(cells[0]), len(cells))
        elif sixel is not None and pixels and self.is_attached:
            sixel.show(self, pixels)
            self.sixel = True
        self.cells = cells
        self.refresh(layout=True)

    def on_unmount(self) -> None:
        sixel: Sixel | None = getattr(self.app, "sixel", None)
        if sixel is not None and self.sixel:
            sixel.hide(self)
        kitty: Kitty | None = getattr(self.app, "kitty", None)
        if kitty is not None and self.image_id is not None:
            kitty.forget(self.image_id)
            self.image_id = None

    def get_content_width(self, container: Size, viewport: Size) -> int:
        return max((len(row) for row in self.cells), default=0)

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return len(self.cells)

    def render(self) -> Text:
        text = Text(no_wrap=True, overflow="crop")
        if self.sixel:  # blank cells, which the Sixel image is painted over
            text.append("\n".join(" " * len(row) for row in self.cells))
            return text
        if self.image_id is not None and self.cells:
            # Kitty's placeholders: their foreground colour is the image's id.
            i = self.image_id
            colour = Style(color=f"rgb({i >> 16 & 255},{i >> 8 & 255},{i & 255})")
            for n, placeholders in enumerate(placeholder_rows(len(self.cells[0]), len(self.cells))):
                text.append(("\n" if n else "") + placeholders, colour)
            return text
        for n, row in enumerate(self.cells):
            if n:
                text.append("\n")
            for upper, lower in row:
                text.append(UPPER_HALF, Style(color=f"rgb{upper}", bgcolor=f"rgb{lower}"))
        return text
