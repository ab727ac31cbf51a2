"""The command line's one way to stdout and stderr: all that `chat` prints goes through an Output.

Model, tool and stored text is data, never terminal control. What is kept of it depends on what is printed
and where it goes:
- line(): a line for people (a listing, a notice, an error). Always cleaned, whether stdout is a terminal or
  not: a listing has no exact form to keep (it is padded and cut to width), and `chat history | grep x` or
  `| head` ends on the terminal all the same. Scripts read the --json forms.
- document() and piece(): what was asked for itself (an export, a reply). On a terminal, cleaned; into a pipe
  or a file, exact, so `chat export 3 > chat.md` is the conversation as stored, byte for byte. What reads the
  pipe decides how to show it: a pager shows controls as ^[ unless told otherwise (`less -R` passes colours
  and links only; `less -r` passes everything, on the user's say).
- table(): rows for people, as line() cleans them, each cell made one line first; columns measured in
  terminal cells, so a wide character (CJK, most emoji) takes the two columns it is drawn in.
- json(): every control escaped, wherever it goes. The data stays exact (a reader decodes the same text),
  and no raw control is written, not even the C1 ones json.dumps leaves as they are.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import TYPE_CHECKING, TextIO

from chatbot.core.terminal import StreamFilter, neutralize, one_line

if TYPE_CHECKING:
    from chatbot.core.errors import ChatError

# json.dumps escapes C0 controls but not DEL or C1 (U+0080-U+009F, e.g. an 8-bit CSI); escaped, they stay
# valid JSON.
_JSON_ESCAPES = {code: f"\\u{code:04x}" for code in (0x7F, *range(0x80, 0xA0))}


# SGR faint and its end: the app's own sequences, never model text, which is cleaned before it goes between them.
_DIM, _UNDIM = "\x1b[2m", "\x1b[22m"


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # no isatty, or closed
        return False


class Output:
    """Text to one stream, cleaned as what it is and where it goes (see the module's docstring)."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.terminal = _is_terminal(stream)
        self._pieces = StreamFilter() if self.terminal else None
        self._aside = StreamFilter()

    def line(self, text: str = "") -> None:
        self.stream.write(neutralize(text) + "\n")

    def ask(self, question: str) -> None:
        """A question whose answer is typed on the same line."""
        self.stream.write(neutralize(question))
        self.stream.flush()

    def document(self, text: str) -> None:
        self.stream.write(neutralize(text) if self.terminal else text)

    def piece(self, text: str) -> None:
        """Part of a document that arrives in pieces: on a terminal, a sequence split across two pieces is held
        back until it is whole, so none of it is printed."""
        self.stream.write(self._pieces.feed(text) if self._pieces else text)
        self.stream.flush()

    def end_pieces(self) -> None:
        if self._pieces:
            self.stream.write(self._pieces.flush())

    def aside(self, text: str) -> None:
        """A piece of what is shown beside the document (a model's reasoning), cleaned as piece() cleans it on a
        terminal wherever it goes (it is for people, as a line() is, not the document asked for); dimmed on a
        terminal."""
        self._write_aside(self._aside.feed(text))

    def end_aside(self) -> None:
        """The aside is over: its last held-back piece, and the line ended."""
        self._write_aside(self._aside.flush())
        self.stream.write("\n")

    def _write_aside(self, text: str) -> None:
        self.stream.write(_DIM + text + _UNDIM if self.terminal else text)
        self.stream.flush()

    def table(self, rows: Sequence[Sequence[str]], *, right: Collection[int] = (),
              widest: Mapping[int, int] | None = None) -> None:
        """`rows` in columns two spaces apart: the columns in `right` aligned right, the others left; a column
        in `widest` cut to that many cells. Nothing pads the end of a line."""
        from rich.cells import cell_len  # measured here only: importing it takes ~30 ms

        cut = widest or {}
        cells = [[one_line(cell) for cell in row] for row in rows]
        for row in cells:
            for column, limit in cut.items():
                if cell_len(row[column]) > limit:
                    row[column] = _cut(row[column], limit - 1, cell_len) + "…"
        if not cells:
            return
        widths = [max(cell_len(row[i]) for row in cells) for i in range(len(cells[0]))]
        last = len(widths) - 1
        for row in cells:
            padded = []
            for i, (cell, width) in enumerate(zip(row, widths, strict=True)):
                gap = " " * (width - cell_len(cell))
                padded.append(gap + cell if i in right else cell if i == last else cell + gap)
            self.line("  ".join(padded).rstrip())

    def json(self, value: object, *, indent: int | None = None) -> None:
        self.stream.write(json.dumps(value, ensure_ascii=False, indent=indent).translate(_JSON_ESCAPES) + "\n")

    def flush(self) -> None:
        self.stream.flush()


def _cut(text: str, limit: int, cell_len: Callable[[str], int]) -> str:
    """The longest start of `text` that fits in `limit` cells (a wide character that would not fit is left out
    whole, never split)."""
    width = 0
    for end, character in enumerate(text):
        width += cell_len(character)
        if width > limit:
            return text[:end]
    return text


def stdout() -> Output:
    """An Output on sys.stdout as it is now (tests and redirections replace it)."""
    return Output(sys.stdout)


def stderr() -> Output:
    return Output(sys.stderr)


def report(exc: ChatError) -> int:
    """Print `exc` as the one line a failed command ends with, and return its exit code."""
    hint = f" ({exc.one_shot_hint})" if exc.one_shot_hint else ""
    stderr().line(f"chat: {exc.headline()}{hint}")
    return exc.exit_code
