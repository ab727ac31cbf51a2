"""What the app writes to the terminal, less the rows that already show what they would write.

Textual redraws a widget whole when it changes: a streaming paragraph of seven lines is sent again for every
word added to its last line, and a transcript that scrolls by a line is sent again entirely. Over ssh those bytes
are the cost of a reply (4.5 MB for 2,000 tokens at a model's pace). Every frame Textual writes moves the cursor
to the start of each row piece it draws (`CSI row;col H`) and then draws it, each style set and reset within
the piece. So a row's piece is what follows a move to that row, up to the next move to another row; and a piece
identical to the last one written to the same row would draw the same cells again: it is left out.

Only that is ever left out. Anything else (a write with no row pieces, the cursor's last move, a piece with no
visible text, a write that carries an image) goes as it came, and a write that clears the screen or switches
it, or a change of the terminal's size, forgets every row: the next frame is sent whole.
"""

from __future__ import annotations

import re

_MOVE = re.compile(r"\x1b\[(\d+);(\d+)H")
# Sequences after which the terminal's cells are not what was written to them: erase display, reset, the
# alternate screen on or off (Textual switches it when it suspends for an editor and when it resumes).
_FORGET = re.compile(r"\x1b\[[0-3]?J|\x1bc|\x1b\[\?(?:1049|47|1047)[hl]")
_CONTROL = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|[\x00-\x1f]")


class RowCache:
    """The last piece written to each row of the terminal, and `filter` to drop pieces that repeat it."""

    def __init__(self) -> None:
        self._rows: dict[int, str] = {}
        self._size: tuple[int, int] | None = None
        # The rows (1-based) the last write drew on, as sent; None when it drew on none (not a frame).
        self.drawn: set[int] | None = None

    def forget(self, rows: set[int] | None = None) -> None:
        """Trust nothing the terminal shows, or nothing on `rows` (an image was painted over them)."""
        if rows is None:
            self._rows.clear()
        else:
            for row in rows:
                self._rows.pop(row, None)

    def filter(self, data: str, size: tuple[int, int] | None = None) -> str:
        """`data` less the row pieces the terminal shows already. `size` is the terminal's (columns, rows)
        now: when it changed since the last write, nothing on screen is trusted."""
        if size != self._size:
            self._size = size
            self._rows.clear()
        self.drawn = None
        if _FORGET.search(data):
            self._rows.clear()
            self.drawn = {int(m.group(1)) for m in _MOVE.finditer(data)} or None
            return data
        if "\x1b_" in data or "\x1bP" in data:
            return data  # an image's transfer or placement (APC, DCS): sent as it is, never taken for a row
        moves = list(_MOVE.finditer(data))
        if not moves:
            return data
        self.drawn = set()
        out = [data[: moves[0].start()]]
        group: list[str] = []  # the segments (a move and what follows it) of one row, in order
        row = -1
        for move, end in zip(moves, [m.start() for m in moves[1:]] + [len(data)], strict=True):
            segment = data[move.start() : end]
            if int(move.group(1)) != row:
                out.append(self._piece(row, group))
                group, row = [], int(move.group(1))
            group.append(segment)
        out.append(self._piece(row, group))
        return "".join(out)

    def _piece(self, row: int, group: list[str]) -> str:
        # Segments that draw nothing at the end (the move that leaves the cursor where the app wants it) are
        # sent every time: they are not part of what the row shows.
        tail: list[str] = []
        while group and not _drawn(group[-1]):
            tail.insert(0, group.pop())
        piece = "".join(group)
        if piece and self._rows.get(row) == piece:
            piece = ""
        elif piece:
            self._rows[row] = piece
            assert self.drawn is not None
            self.drawn.add(row)
        return piece + "".join(tail)


def _drawn(segment: str) -> bool:
    """The segment puts something in cells: text, not only moves and styles."""
    return bool(_CONTROL.sub("", segment))
