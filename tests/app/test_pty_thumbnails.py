"""A stored image shown in the transcript of `chat` on a real pseudo-terminal: its thumbnail is drawn in half
cells, and no image protocol sequence (Kitty graphics, Sixel, iTerm2's) reaches the terminal, which says it is a
kitty but answers no probe (not even the device attributes: the probe gives up when its time is out). The only
one written is the probe's own query. The pilot draws no bytes: only a pty shows what the terminal is sent."""

from __future__ import annotations

import fcntl
import io
import os
import re
import select
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

from PIL import Image

from chatbot.core.attachments import prepare
from chatbot.core.conversation import Message
from chatbot.core.models import CATALOGUE
from chatbot.core.store.history import HistoryStore
from chatbot.ui.graphics import QUERY
from support import offline

LIMIT = 120.0  # a hang guard only: nothing is asserted about speed
UPPER_HALF = "\u2580".encode()
# Kitty's graphics protocol (APC G), Sixel (DCS ... q) and iTerm2's inline images (OSC 1337;File=).
IMAGE_PROTOCOLS = re.compile(rb"\x1b_G|\x1bP[0-9;]*q|\x1b\]1337;File=")


def test_a_thumbnail_is_drawn_in_half_cells_and_no_image_protocol_is_written(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith(("CHAT_", "OPENAI_"))}
    for var in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME"):
        (tmp_path / var).mkdir()
        env[var] = str(tmp_path / var)
    env.update(TERM="xterm-256color", COLORTERM="truecolor", KITTY_WINDOW_ID="1")
    env.pop("TEXTUAL_DRIVER", None)
    picture = io.BytesIO()
    Image.new("RGB", (300, 100), (0, 128, 255)).save(picture, "PNG")
    store = HistoryStore(tmp_path / "XDG_DATA_HOME" / "chatbot" / "history.db")
    try:
        conversation = store.create("demo", "balanced", "")
        store.add(conversation, Message("user", "what is this?", attachments=(
            prepare(picture.getvalue(), "photo.png", CATALOGUE["gpt-4o"]),)))
        store.add(conversation, Message("assistant", "A blue strip.", model="demo"))
    finally:
        store.close()

    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    proc = subprocess.Popen([sys.executable, "-m", "chatbot", "--demo", "--resume", str(conversation)],
                            stdin=slave, stdout=slave, stderr=slave, env=offline(env), cwd=tmp_path,
                            start_new_session=True)
    os.close(slave)
    written = bytearray()
    try:
        deadline = time.monotonic() + LIMIT
        while written.count(UPPER_HALF) < 24 * 4 and time.monotonic() < deadline and proc.poll() is None:
            ready, _, _ = select.select([master], [], [], 0.5)
            if ready:
                written += os.read(master, 65536)
        os.write(master, b"\x11")  # ctrl+q
        while proc.poll() is None and time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.5)
            if ready:
                try:
                    written += os.read(master, 65536)
                except OSError:
                    break
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=LIMIT)
        os.close(master)

    assert written.count(UPPER_HALF) >= 24 * 4, written[-2000:]  # the 24 x 4 cells of the thumbnail
    assert b"A blue strip." in written
    assert written.count(QUERY.encode()) == 1
    assert IMAGE_PROTOCOLS.search(bytes(written).replace(QUERY.encode(), b"")) is None
    # The pattern knows each protocol's start when it sees one.
    assert all(IMAGE_PROTOCOLS.search(seq) for seq in (b"\x1b_Ga=T,f=100;AAAA\x1b\\", b"\x1bP0;1;0q\"1;1#0",
                                                        b"\x1b]1337;File=inline=1:AAAA\x07"))
