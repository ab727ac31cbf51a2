"""Whether the terminal draws Kitty graphics or Sixel, asked once as the app starts, and how an image is drawn
with Kitty graphics (sixel.py has Sixel's).

The terminal is asked before the app takes it (ChatDriver.start_application_mode), with the input still unread
by anyone else: Kitty's graphics query, the size of a cell in pixels, then Primary Device Attributes, which every
terminal answers, and answers after the others, so its reply ends the wait; its attribute 4 says Sixel. Textual's
key parser must never see the replies (it would type them into the prompt), so they are read here; anything else
read meanwhile is what the user typed ahead, handed on to the app's input as keys, in order. A terminal that does
not reply in time is taken as one that draws no images (attachments.probe_timeout gives a slow link longer); a
terminal named "dumb" or "linux" (whose console prints what it does not know) is not asked.

Only a terminal that replied OK to the query is ever sent a Kitty image (transmit, then a virtual placement), and
only when colours reach it as 24-bit RGB: the image is then drawn by Kitty's Unicode placeholders, ordinary text
cells whose foreground colour names the image, so Textual lays them out, scrolls and clips them as any text.
Only a terminal that listed Sixel in its attributes, draws no Kitty graphics and told its cell size is sent a
Sixel image, and only the file picker's preview (sixel.py says why). Everywhere else images are drawn in half
cells (thumbnail.py).
"""

from __future__ import annotations

import base64
import fcntl
import os
import re
import select
import struct
import termios
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from itertools import count
from random import randint

_QUERY_ID = 31
QUERY = f"\x1b_Gi={_QUERY_ID},s=1,v=1,a=q,t=d,f=24;AAAA\x1b\\"  # a 1x1 RGB image, queried, never stored
CELL_SIZE = "\x1b[16t"  # answered "CSI 6 ; height ; width t", in pixels
DEVICE_ATTRIBUTES = "\x1b[c"
_KITTY_REPLY = re.compile(rb"\x1b_G([^\x1b]*)\x1b\\")
_CELL_REPLY = re.compile(rb"\x1b\[6;(\d+);(\d+)t")
_DEVICE_REPLY = re.compile(rb"\x1b\[\?([0-9;]*)c")
_UNASKED_TERMINALS = frozenset({"dumb", "linux"})
# What the terminals that draw Kitty graphics or Sixel set in the environment of the programs they run (xterm
# draws Sixel when started as a VT340, which its attributes then say). Any other terminal is not asked: one that
# does not answer the device attributes either (many a pseudo-terminal, a serial line) would hold the first paint
# for the whole of probe_timeout.
_IMAGE_TERMS = frozenset({"xterm-kitty", "xterm-ghostty", "wezterm", "foot", "foot-extra", "mlterm", "contour"})
_IMAGE_PROGRAMS = frozenset({"kitty", "ghostty", "wezterm", "konsole", "iterm.app", "vscode", "mintty"})
_IMAGE_VARIABLES = ("KITTY_WINDOW_ID", "GHOSTTY_RESOURCES_DIR", "WEZTERM_EXECUTABLE", "KONSOLE_VERSION",
                    "XTERM_VERSION", "WT_SESSION", "MLTERM")


def may_draw_images(env: Mapping[str, str]) -> bool:
    """Whether the environment names a terminal that may draw Kitty graphics or Sixel, so that asking it is
    worth it."""
    return (env.get("TERM", "") in _IMAGE_TERMS or env.get("TERM_PROGRAM", "").lower() in _IMAGE_PROGRAMS
            or any(env.get(name) for name in _IMAGE_VARIABLES))

PLACEHOLDER = "\U0010eeee"
# Kitty's row and column diacritics, in order (rgb.txt of the graphics protocol): the first 24 cover a thumbnail.
DIACRITICS = [chr(c) for c in (0x0305, 0x030D, 0x030E, 0x0310, 0x0312, 0x033D, 0x033E, 0x033F, 0x0346, 0x034A,
                               0x034B, 0x034C, 0x0350, 0x0351, 0x0352, 0x0357, 0x035B, 0x0363, 0x0364, 0x0365,
                               0x0366, 0x0367, 0x0368, 0x0369)]


@dataclass(frozen=True, slots=True)
class Answer:
    """What the probe found: whether the terminal draws Kitty graphics, whether it draws Sixel, the size of its
    cells in pixels (width, height) when it told it, and the keys typed meanwhile."""

    kitty: bool
    typed: bytes = b""
    sixel: bool = False
    cell: tuple[int, int] | None = None


def probe(fd_in: int, fd_out: int, term: str | None, timeout: float) -> Answer:
    """Ask the terminal on `fd_in`/`fd_out`; `term` is $TERM. Leaves the terminal's modes as it found them."""
    if not (os.isatty(fd_in) and os.isatty(fd_out)) or (term or "dumb") in _UNASKED_TERMINALS:
        return Answer(False)
    before = termios.tcgetattr(fd_in)
    quiet = termios.tcgetattr(fd_in)
    quiet[3] &= ~(termios.ICANON | termios.ECHO)  # replies are read as they come, and never echoed
    read = bytearray()
    try:
        # TCSANOW, not TCSAFLUSH: flushing would throw away what was typed ahead.
        termios.tcsetattr(fd_in, termios.TCSANOW, quiet)
        os.write(fd_out, (QUERY + CELL_SIZE + DEVICE_ATTRIBUTES).encode())
        deadline = time.monotonic() + timeout
        while _DEVICE_REPLY.search(read) is None:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd_in], [], [], left)[0]:
                break
            chunk = os.read(fd_in, 4096)
            if not chunk:
                break
            read += chunk
    finally:
        termios.tcsetattr(fd_in, termios.TCSANOW, before)
    return _answer(bytes(read))


def cell_pixels(fd: int) -> tuple[int, int] | None:
    """A cell's (width, height) in pixels from the terminal's window size, which many terminals fill in (and ssh
    passes on); None when it says 0."""
    try:
        rows, columns, width, height = struct.unpack("HHHH", fcntl.ioctl(fd, termios.TIOCGWINSZ, bytes(8)))
    except OSError:
        return None
    return (width // columns, height // rows) if rows and columns and width >= columns and height >= rows else None


def _answer(read: bytes) -> Answer:
    kitty = any(m.group(1).startswith(f"i={_QUERY_ID}".encode()) and m.group(1).endswith(b";OK")
                for m in _KITTY_REPLY.finditer(read))
    device = _DEVICE_REPLY.search(read)
    # The first attribute is the terminal's class (62 a VT220, 64 a VT420...); the features follow it.
    sixel = device is not None and b"4" in device.group(1).split(b";")[1:]
    size = _CELL_REPLY.search(read)
    cell = (int(size.group(2)), int(size.group(1))) if size and int(size.group(1)) and int(size.group(2)) else None
    typed = _DEVICE_REPLY.sub(b"", _CELL_REPLY.sub(b"", _KITTY_REPLY.sub(b"", read), count=1), count=1)
    return Answer(kitty, typed, sixel, cell)


class Kitty:
    """A terminal that draws Kitty graphics, written to through `write` (the driver's, so an image goes out
    between two frames, never inside one)."""

    def __init__(self, write: Callable[[str], None]) -> None:
        self.write = write
        # Ids are 24 bits (a placeholder's colour); starting at random keeps clear of another program's images.
        self._ids = count(randint(1, 2**23))

    def show(self, png: bytes, columns: int, rows: int) -> int:
        """Send `png`, placed virtually over `columns` x `rows` cells; returns the image id to draw it with."""
        image_id = next(self._ids) % 2**24 or 1
        self.write("".join(_transmit(image_id, png)))
        self.write(f"\x1b_Ga=p,U=1,i={image_id},c={columns},r={rows},q=2\x1b\\")
        return image_id

    def forget(self, image_id: int) -> None:
        self.write(f"\x1b_Ga=d,d=I,i={image_id},q=2\x1b\\")


def _transmit(image_id: int, png: bytes) -> Iterator[str]:
    # q=2: the terminal replies nothing, as a reply would reach the app's input as keys.
    data = base64.b64encode(png).decode("ascii")
    chunks = [data[i:i + 4096] for i in range(0, len(data), 4096)] or [""]
    for n, chunk in enumerate(chunks):
        more = int(n < len(chunks) - 1)
        keys = f"a=t,f=100,i={image_id},q=2,m={more}" if n == 0 else f"m={more},q=2"
        yield f"\x1b_G{keys};{chunk}\x1b\\"


def placeholder_rows(columns: int, rows: int) -> list[str]:
    """The text that shows a placed image: one placeholder a cell, with its row's and column's diacritics."""
    return ["".join(PLACEHOLDER + DIACRITICS[r] + DIACRITICS[c] for c in range(columns)) for r in range(rows)]
