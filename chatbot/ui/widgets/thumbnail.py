"""An attached image drawn small in the transcript, in half cells: each cell shows two pixels, the upper one as
the colour of an upper half block and the lower one as its background.

Half cells are plain coloured text, which every terminal draws: no image protocol (Kitty graphics, Sixel, iTerm2)
is used, so none is ever written to a terminal, and there is no probe to answer. The pixels are worked out off
the UI thread once the widget is mounted; until then it is blank.
"""

from __future__ import annotations

import asyncio
import io

from rich.style import Style
from rich.text import Text
from textual.geometry import Size
from textual.widget import Widget

UPPER_HALF = "\u2580"
WIDTH, ROWS = 24, 6  # the most cells a thumbnail takes: 24 x 12 pixels


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


def _rgb(pixel: object) -> RGB:
    values = [int(v) for v in pixel] if isinstance(pixel, tuple) else [0, 0, 0]
    return values[0], values[1], values[2]


class Thumbnail(Widget):
    """One image, `data` as it was sent, at most WIDTH x ROWS cells."""

    DEFAULT_CSS = """
    Thumbnail {
        width: auto;
        height: auto;
        margin: 0 1 0 0;
    }
    """

    def __init__(self, data: bytes, name: str) -> None:
        super().__init__()
        self.data = data
        self.tooltip = name
        self.cells: list[list[tuple[RGB, RGB]]] = []

    def on_mount(self) -> None:
        self.run_worker(self._draw(), exit_on_error=False)

    async def _draw(self) -> None:
        try:
            self.cells = await asyncio.to_thread(half_cells, self.data)
        except (OSError, ValueError, SyntaxError):
            return  # an image Pillow cannot read again is left out: its chip still names it
        self.refresh(layout=True)

    def get_content_width(self, container: Size, viewport: Size) -> int:
        return max((len(row) for row in self.cells), default=0)

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return len(self.cells)

    def render(self) -> Text:
        text = Text(no_wrap=True, overflow="crop")
        for n, row in enumerate(self.cells):
            if n:
                text.append("\n")
            for upper, lower in row:
                text.append(UPPER_HALF, Style(color=f"rgb{upper}", bgcolor=f"rgb{lower}"))
        return text
