"""What the user typed while `chat` was starting, before Textual took the terminal.

Until then the terminal is cooked: it echoes keys, edits the line itself, and turns enter into a line feed, which
Textual would read as ctrl+j (a newline), so "hello" + enter typed at once (an expect script, `tmux send-keys`)
would wait in the prompt instead of being sent. typed_ahead() takes the terminal out of that mode, reads what
it holds, and leaves it quiet (no echo, enter stays enter) until Textual sets it up; events_for() turns the
text into the keys it was typed as, as Textual's own input thread would.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager

from textual import events
from textual._parser import ParseError
from textual._xterm_parser import XTermParser
from textual.message import Message

from chatbot.core.terminal import PasteShield

try:
    import termios
except ImportError:  # Windows: no cooked terminal to read ahead of
    termios = None  # type: ignore[assignment]

_LINE_BREAK = re.compile(r"(\r|\n)")


@contextmanager
def typed_ahead(fd: int) -> Iterator[str]:
    """What the terminal `fd` holds; its settings are restored on the way out (after Textual restored its own)."""
    if termios is None or not os.isatty(fd):
        yield ""
        return
    try:
        before = termios.tcgetattr(fd)
    except termios.error:
        yield ""
        return
    quiet = [*before[:6], list(before[6])]
    quiet[0] &= ~(termios.ICRNL | termios.INLCR | termios.IGNCR)
    quiet[3] &= ~(termios.ICANON | termios.ECHO)
    quiet[6][termios.VMIN] = 0  # a read returns at once with what there is
    quiet[6][termios.VTIME] = 0
    chunks = []
    try:
        termios.tcsetattr(fd, termios.TCSANOW, quiet)
        while chunk := _read(fd):
            chunks.append(chunk)
        quiet[6][termios.VMIN] = 1
        termios.tcsetattr(fd, termios.TCSANOW, quiet)
    except termios.error:
        pass
    try:
        yield b"".join(chunks).decode("utf-8", errors="replace")
    finally:
        with contextlib.suppress(termios.error):
            termios.tcsetattr(fd, termios.TCSANOW, before)


def _read(fd: int) -> bytes:
    try:
        return os.read(fd, 4096)
    except BlockingIOError:
        return b""


def events_for(text: str) -> list[events.Event]:
    """The keys `text` was typed as: its line breaks enter (the terminal made each enter a line feed)."""
    return [event for event in read_keys(_LINE_BREAK.sub("\r", text)) if isinstance(event, events.Event)]


def read_keys(text: str) -> list[Message]:
    """What a terminal sent, read as Textual's input thread reads it: f2 is "\\x1bOQ", not an "O" and a "Q" with
    an escape before them."""
    parser = XTermParser()
    found = list(parser.feed(PasteShield().feed(text)))
    with contextlib.suppress(EOFError, ParseError):
        found += parser.feed("")  # the end: a lone escape is the escape key
    return found
