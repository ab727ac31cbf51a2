"""The terminal asked once at start-up whether it draws Kitty graphics or Sixel, on a real pseudo-terminal that
plays the terminal: one that answers OK gets the file picker's preview as a Kitty image (sent, then drawn by
placeholder cells); one that lists Sixel and tells its cell size gets the preview as Sixel, painted again when
the screen is drawn again, its rows drawn again when it goes, and the transcript's thumbnails in half cells; one
that answers only the device attributes, or that takes no 24-bit colour (which names a Kitty image), or lists
Sixel without a cell size, gets half cells and no image sequence at all. Either way the keys typed while the
question was out, before and between the replies, all reach the prompt, in order."""

from __future__ import annotations

import codecs
import fcntl
import io
import os
import re
import signal
import struct
import termios
from collections.abc import Callable
from pathlib import Path

import pyte
import pytest
from PIL import Image
from wcwidth import wcwidth

from chatbot.ui.graphics import PLACEHOLDER, QUERY
from fake_openai import FakeOpenAI, Reply
from pty_terminal import COLS, ROWS, Terminal, ready

KITTY_OK = b"\x1b_Gi=31;OK\x1b\\"
DEVICE_ATTRIBUTES = b"\x1b[?62;22c"  # a VT220 with colour, and no Sixel
SIXEL_ATTRIBUTES = b"\x1b[?62;4;22c"  # and with Sixel
CELL_10x20 = b"\x1b[6;20;10t"  # a cell's height and width in pixels
# A Sixel image as chat paints it: the cursor saved, moved to the image's first cell, the image, the cursor back.
SIXEL = re.compile(rb'\x1b7\x1b\[(\d+);(\d+)H\x1bP0;1;0q"1;1;(\d+);(\d+)[^\x1b]*\x1b\\\x1b8')
IMAGE_PROTOCOLS = re.compile(rb"\x1b_G|\x1bP[0-9;]*q|\x1b\]1337;File=")
UPPER_HALF = "\u2580".encode()
F5, DOWN = b"\x1b[15~", b"\x1b[B"
# The terminal below always replies: the longest wait leaves nothing to how fast it does.
CONFIG = 'model = "gpt-4o"\n[attachments]\nprobe_timeout = 60\n'


def start(spawn: Callable[..., Terminal], folder: Path, colorterm: str = "truecolor", **env: str) -> Terminal:
    (folder / "photo.png").write_bytes(_png())  # in the folder chat runs in
    terminal = spawn(config=CONFIG, COLORTERM=colorterm, **(env or {"KITTY_WINDOW_ID": "1"}))  # a kitty says so
    terminal.wait_for(lambda: QUERY.encode() in terminal.written(), "the probe")
    return terminal


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (48, 24), (255, 128, 0)).save(out, "PNG")
    return out.getvalue()


def last_message(fake: FakeOpenAI) -> str:
    return str(fake.chat_requests[-1].body["messages"][-1]["content"])


def preview(terminal: Terminal) -> None:
    """The picker, its tree's cursor moved down to the last entry: the image, after the XDG_* folders."""
    terminal.write(F5)
    terminal.wait_for(lambda: "photo.png" in terminal.text(), "the picker listing the folder")
    terminal.write(DOWN * 8)


def test_a_terminal_that_answers_the_probe_gets_kitty_images_and_keys_typed_meanwhile_are_kept(
        spawn: Callable[..., Terminal], fake: FakeOpenAI, tmp_path: Path) -> None:
    fake.queue(Reply("ok"))
    terminal = start(spawn, tmp_path)
    terminal.write(b"abc" + KITTY_OK + b"def" + DEVICE_ATTRIBUTES + b"ghi\r")
    terminal.wait_for(lambda: fake.chat_requests, "the message sent")
    assert last_message(fake) == "abcdefghi"

    preview(terminal)
    placeholder = PLACEHOLDER.encode()
    terminal.wait_for(lambda: placeholder in terminal.written(), "the image's placeholders drawn")
    written = terminal.written()
    assert re.search(rb"\x1b_Ga=t,f=100,i=\d+,q=2,m=[01];[A-Za-z0-9+/=]+\x1b\\", written)
    assert re.search(rb"\x1b_Ga=p,U=1,i=\d+,c=\d+,r=\d+,q=2\x1b\\", written)
    # Sent before any cell shows it.
    assert written.index(b"\x1b_Ga=p,U=1") < written.index(placeholder)


@pytest.mark.parametrize(("reply", "colorterm"), [
    (DEVICE_ATTRIBUTES, "truecolor"),  # no Kitty graphics
    (KITTY_OK + DEVICE_ATTRIBUTES, ""),  # Kitty graphics, but colours that would not name the image exactly
    (SIXEL_ATTRIBUTES, "truecolor"),  # Sixel, but no cell size (nor pixels in the window's size) to fit it to
], ids=["attributes only", "kitty without 24-bit colour", "sixel without a cell size"])
def test_a_terminal_that_does_not_answer_yes_gets_half_cells_and_no_image_sequence(
        spawn: Callable[..., Terminal], fake: FakeOpenAI, tmp_path: Path, reply: bytes, colorterm: str) -> None:
    fake.queue(Reply("ok"))
    terminal = start(spawn, tmp_path, colorterm)
    terminal.write(b"abc" + reply + b"def\r")
    terminal.wait_for(lambda: fake.chat_requests, "the message sent")
    assert last_message(fake) == "abcdef"

    preview(terminal)
    terminal.wait_for(lambda: terminal.written().count(UPPER_HALF) >= 24 * 6, "the preview in half cells")
    written = terminal.written()
    assert written.count(QUERY.encode()) == 1  # asked once, and only asked
    assert IMAGE_PROTOCOLS.search(written.replace(QUERY.encode(), b"")) is None
    assert PLACEHOLDER.encode() not in written


def test_a_terminal_that_names_no_kitty_is_not_asked(spawn: Callable[..., Terminal]) -> None:
    """xterm, tmux, a plain pty: no question, so a terminal that would never answer it costs the first paint
    nothing; its images are drawn in half cells."""
    terminal = ready(spawn(config=CONFIG))
    assert QUERY.encode() not in terminal.written()
    assert IMAGE_PROTOCOLS.search(terminal.written()) is None


DELETE = re.compile(rb"\x1b_Ga=d,d=I,i=(\d+),q=2\x1b\\")


def test_kitty_images_still_placed_are_deleted_when_chat_quits(
        spawn: Callable[..., Terminal], tmp_path: Path) -> None:
    terminal = start(spawn, tmp_path)
    terminal.write(KITTY_OK + DEVICE_ATTRIBUTES)
    preview(terminal)
    terminal.wait_for(lambda: PLACEHOLDER.encode() in terminal.written(), "the image's placeholders drawn")
    placed = set(re.findall(rb"\x1b_Ga=p,U=1,i=(\d+)", terminal.written()))
    terminal.write(b"\x11")  # ctrl+q, the picker still open
    terminal.proc.wait(timeout=60)
    terminal.wait_for(lambda: placed <= set(DELETE.findall(terminal.written())) or terminal.proc.poll() is not None,
                      "the images deleted")
    assert placed and placed <= set(DELETE.findall(terminal.written()))


def test_no_delete_is_written_at_quit_when_no_image_was_sent(
        spawn: Callable[..., Terminal], tmp_path: Path) -> None:
    terminal = start(spawn, tmp_path)
    terminal.write(KITTY_OK + DEVICE_ATTRIBUTES)
    terminal.wait_for(lambda: "photo.png" not in terminal.text() and len(terminal.written()) > 2000, "the app")
    terminal.write(b"\x11")
    terminal.proc.wait(timeout=60)
    assert DELETE.search(terminal.written()) is None


def sixel_terminal(spawn: Callable[..., Terminal], folder: Path, reply: bytes = CELL_10x20 + SIXEL_ATTRIBUTES,
                   pixels: tuple[int, int] = (0, 0)) -> Terminal:
    """A foot (which names itself in TERM) that lists Sixel; `pixels` is its window's size in pixels."""
    terminal = start(spawn, folder, TERM="foot")
    fcntl.ioctl(terminal.master, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLS, *pixels))
    terminal.write(reply)
    return terminal


def test_a_terminal_that_lists_sixel_gets_the_preview_as_sixel_and_the_transcript_in_half_cells(
        spawn: Callable[..., Terminal], fake: FakeOpenAI, tmp_path: Path) -> None:
    fake.queue(Reply("ok"))
    terminal = sixel_terminal(spawn, tmp_path)
    preview(terminal)
    terminal.wait_for(lambda: SIXEL.search(terminal.written()), "the preview painted as Sixel")
    found = SIXEL.search(terminal.written())
    assert found is not None
    assert (int(found.group(3)), int(found.group(4))) == (24 * 10, 6 * 20)  # 24 x 6 cells of 10 x 20 pixels
    written = terminal.written()
    assert UPPER_HALF not in written
    assert IMAGE_PROTOCOLS.search(SIXEL.sub(b"", written).replace(QUERY.encode(), b"")) is None

    terminal.write(b"\r")  # the tree's cursor is on the image: attached
    terminal.wait_for(lambda: " att ~" in terminal.text().rsplit("Attach a file", 1)[-1], "the file attached")
    since = len(terminal.written())
    terminal.write(b"look\r")
    terminal.wait_for(lambda: fake.chat_requests, "the message sent")
    terminal.wait_for(lambda: terminal.written().count(UPPER_HALF) >= 24 * 6, "the sent image in half cells")
    assert SIXEL.search(terminal.written()[since:]) is None  # the picker gone, no Sixel


def test_a_cell_size_from_the_window_size_in_pixels_fits_the_sixel_image(
        spawn: Callable[..., Terminal], tmp_path: Path) -> None:
    terminal = sixel_terminal(spawn, tmp_path, SIXEL_ATTRIBUTES, pixels=(COLS * 9, ROWS * 18))
    preview(terminal)
    terminal.wait_for(lambda: SIXEL.search(terminal.written()), "the preview painted as Sixel")
    found = SIXEL.search(terminal.written())
    assert found is not None
    assert (int(found.group(3)), int(found.group(4))) == (24 * 9, 6 * 18)


def test_the_sixel_preview_is_painted_again_after_the_screen_is_drawn_again(
        spawn: Callable[..., Terminal], tmp_path: Path) -> None:
    terminal = sixel_terminal(spawn, tmp_path)
    preview(terminal)
    terminal.wait_for(lambda: SIXEL.search(terminal.written()), "the preview painted as Sixel")
    found = SIXEL.search(terminal.written())
    assert found is not None
    # A narrower terminal: every row is drawn again, the picker's box and its preview at a new place.
    fcntl.ioctl(terminal.master, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLS - 20, 0, 0))
    os.kill(terminal.proc.pid, signal.SIGWINCH)
    terminal.wait_for(lambda: any(m.group(2) != found.group(2) for m in SIXEL.finditer(terminal.written())),
                      "the preview painted again at its new place")


class PixelScreen(pyte.Screen):
    """A terminal (pyte) that keeps which cells show Sixel pixels, as foot and xterm do: a Sixel image covers the
    cells of its raster from the cursor, and a character drawn in a cell, or an erase, takes the pixels away."""

    def __init__(self) -> None:
        super().__init__(COLS, ROWS)
        self.pixels: set[tuple[int, int]] = set()  # (row, column), from 0
        self._stream = pyte.Stream(self)
        self._decode = codecs.getincrementaldecoder("utf-8")(errors="replace").decode
        self._fed = 0

    def draw(self, data: str) -> None:
        for char in data:
            self.pixels -= {(self.cursor.y, self.cursor.x + n) for n in range(max(wcwidth(char), 1))}
            super().draw(char)

    def erase_in_display(self, how: int = 0, *args: object, **kwargs: object) -> None:
        self.pixels.clear()
        super().erase_in_display(how, *args, **kwargs)  # type: ignore[arg-type]

    def shown(self, written: bytes) -> set[tuple[int, int]]:
        """The cells under pixels once the terminal has shown `written` (all the program wrote so far)."""
        data = written[self._fed:]
        end = len(data)
        pending = data.rfind(b"\x1b7")
        if pending != -1 and not SIXEL.match(data, pending):
            end = pending  # a paint not all read yet
        at = 0
        for paint in SIXEL.finditer(data, 0, end):
            self._stream.feed(self._decode(data[at:paint.start()]))
            self.pixels |= cells(paint)
            at = paint.end()
        self._stream.feed(self._decode(data[at:end]))
        self._fed += end
        return self.pixels


def cells(paint: re.Match[bytes]) -> set[tuple[int, int]]:
    """The cells a Sixel image covers, 10 x 20 pixels a cell."""
    top, left, width, height = (int(n) for n in paint.groups())
    return {(top - 1 + r, left - 1 + c) for r in range(-(-height // 20)) for c in range(-(-width // 10))}


def test_the_sixel_preview_leaves_no_pixels_when_the_cursor_moves_to_a_file_that_is_no_image(
        spawn: Callable[..., Terminal], tmp_path: Path) -> None:
    (tmp_path / "zz.txt").write_text("notes", encoding="utf-8")  # listed after the image
    terminal = sixel_terminal(spawn, tmp_path)
    screen = PixelScreen()
    preview(terminal)  # on the text file, the last entry
    terminal.write(b"\x1b[A")  # up, to the image
    terminal.wait_for(lambda: len(screen.shown(terminal.written())) == 24 * 6, "the image on screen")
    terminal.write(DOWN)
    terminal.wait_for(lambda: not screen.shown(terminal.written()), "no pixels left on screen")


def test_a_smaller_image_in_the_place_of_a_sixel_preview_leaves_none_of_the_first_on_screen(
        spawn: Callable[..., Terminal], tmp_path: Path) -> None:
    """From a wide image to a tall one: Textual draws the same blank cells where the first was, which the row
    cache would leave out as what the row shows already; the rows the first covered are drawn again all the same."""
    Image.new("RGB", (24, 48), (0, 128, 255)).save(tmp_path / "tall.png")  # listed after the image
    terminal = sixel_terminal(spawn, tmp_path)
    screen = PixelScreen()
    preview(terminal)  # on the tall image, the last entry
    terminal.write(b"\x1b[A")  # up, to the wide one
    terminal.wait_for(lambda: len(screen.shown(terminal.written())) == 24 * 6, "the wide image on screen")
    terminal.write(DOWN)
    terminal.wait_for(lambda: len(screen.shown(terminal.written())) == 6 * 6, "the tall image alone on screen")
    last = list(SIXEL.finditer(terminal.written()))[-1]
    assert screen.shown(terminal.written()) == cells(last)


def test_enter_twice_in_one_burst_on_the_picker_attaches_the_image_once(
        spawn: Callable[..., Terminal], fake: FakeOpenAI, tmp_path: Path) -> None:
    fake.queue(Reply("ok"))
    terminal = start(spawn, tmp_path)
    terminal.write(DEVICE_ATTRIBUTES)
    preview(terminal)
    terminal.wait_for(lambda: terminal.written().count(UPPER_HALF) >= 24 * 6, "the preview")
    terminal.write(b"\r\r")
    terminal.wait_for(lambda: " att ~" in terminal.text().rsplit("Attach a file", 1)[-1], "the file attached")
    terminal.write(b"look\r")
    terminal.wait_for(lambda: fake.chat_requests, "the message sent")
    parts = fake.chat_requests[-1].body["messages"][-1]["content"]
    assert [part["type"] for part in parts] == ["text", "image_url"]
