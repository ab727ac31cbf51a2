"""The terminal asked once at start-up whether it draws Kitty graphics, on a real pseudo-terminal that plays the
terminal: one that answers OK gets the file picker's preview as a Kitty image (sent, then drawn by placeholder
cells); one that answers only the device attributes, or that takes no 24-bit colour (which names a Kitty image),
gets half cells and no image sequence at all. Either way
the keys typed while the question was out, before and between the replies, all reach the prompt, in order."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image

from chatbot.ui.graphics import PLACEHOLDER, QUERY
from fake_openai import FakeOpenAI, Reply
from pty_terminal import Terminal, ready

KITTY_OK = b"\x1b_Gi=31;OK\x1b\\"
DEVICE_ATTRIBUTES = b"\x1b[?62;22c"  # a VT220 with colour, and no Sixel
IMAGE_PROTOCOLS = re.compile(rb"\x1b_G|\x1bP[0-9;]*q|\x1b\]1337;File=")
UPPER_HALF = "\u2580".encode()
F5, DOWN = b"\x1b[15~", b"\x1b[B"
# The terminal below always replies: the longest wait leaves nothing to how fast it does.
CONFIG = 'model = "gpt-4o"\n[attachments]\nprobe_timeout = 60\n'


def start(spawn: Callable[..., Terminal], folder: Path, colorterm: str = "truecolor") -> Terminal:
    (folder / "photo.png").write_bytes(_png())  # in the folder chat runs in
    terminal = spawn(config=CONFIG, COLORTERM=colorterm, KITTY_WINDOW_ID="1")  # a kitty says so
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
], ids=["attributes only", "kitty without 24-bit colour"])
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
