"""What the app writes to the terminal, less the pieces of rows that already show what they would write.

Textual redraws a widget whole when it changes: a streaming paragraph of seven lines is sent again for every
word added to its last line, and a transcript that scrolls by a line is sent again entirely. Over ssh those bytes
are the cost of a reply (4.5 MB for 2,000 tokens at a model's pace). Every frame Textual writes moves the cursor
to the start of each piece of a row it draws (`CSI row;col H`, one per widget the row crosses) and then draws
it, each style set and reset within the piece. A piece identical to the last one written at the same row and
column, with nothing written over any of its cells since, would draw the same cells again: it is left out. So
is a scrollbar redrawn alone after a frame drew its rows whole (its thumb moved on some of them, not on all).

Only that is ever left out. Anything else (a write with no pieces, the cursor's last move, a piece with no
visible text, a write that carries an image) goes as it came, and a write that clears the screen or switches
it, or a change of the terminal's size, forgets every row: the next frame is sent whole. A row with a glyph
whose width terminals disagree on (an emoji made wide by U+FE0F, a joined or flagged emoji) is sent whole and
never kept: where the terminal draws it wider than rich counts it, it spills into the cells after it.
"""

from __future__ import annotations

import re

from rich.cells import cell_len

_MOVE = re.compile(r"\x1b\[(\d+);(\d+)H")
# Sequences after which the terminal's cells are not what was written to them: erase display, reset, the
# alternate screen on or off (Textual switches it when it suspends for an editor and when it resumes).
_FORGET = re.compile(r"\x1b\[[0-3]?J|\x1bc|\x1b\[\?(?:1049|47|1047)[hl]")
_CONTROL = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|[\x00-\x1f]")
# Variation selectors, the zero-width joiner, skin tones, regional indicators (flags): rich counts their cells
# one way, a terminal may draw them another.
_UNSURE = re.compile("[\ufe0e\ufe0f\u200d\U0001f3fb-\U0001f3ff\U0001f1e6-\U0001f1ff]")


class RowCache:
    """The pieces last written to each row of the terminal, and `filter` to drop pieces that repeat them."""

    def __init__(self) -> None:
        # Per row (1-based): the column each piece starts at -> the piece and the columns it covers.
        self._rows: dict[int, dict[int, tuple[str, int]]] = {}
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
        """`data` less the pieces the terminal shows already. `size` is the terminal's (columns, rows) now: when
        it changed since the last write, nothing on screen is trusted."""
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
        cut = [(int(move.group(1)), int(move.group(2)), data[move.start() : end])
               for move, end in zip(moves, [m.start() for m in moves[1:]] + [len(data)], strict=True)]
        unsure = {row for row, _, piece in cut if _UNSURE.search(piece)}
        self.forget(unsure)
        for row, column, piece in cut:
            if row in unsure:
                self.drawn.add(row)
                out.append(piece)
            else:
                out.append(self._piece(row, column, piece))
        return "".join(out)

    def _piece(self, row: int, column: int, piece: str) -> str:
        """The piece as it is to be sent: "" if the cells it covers show it already. A piece that draws nothing
        (the move that leaves the cursor where the app wants it) is sent every time."""
        text = _CONTROL.sub("", piece)  # what it puts in cells: less its move, its styles, any other control
        if not text:
            return piece
        width = cell_len(text)
        pieces = self._rows.setdefault(row, {})
        if pieces.get(column) == (piece, width):
            return ""
        # What the piece draws over is no longer what the pieces there showed.
        for start, (_, covers) in list(pieces.items()):
            if start < column + width and column < start + covers:
                del pieces[start]
        pieces[column] = (piece, width)
        if self._size is not None and (past := column + width - 1 - self._size[0]) > 0:
            # Past the last column the terminal wraps it onto the rows below, and from the last row it scrolls the
            # screen (Textual never writes so far).
            columns, rows = self._size
            below = set(range(row + 1, row + 2 + past // max(columns, 1)))
            self.forget(None if max(below) > rows else below | {row})
        assert self.drawn is not None
        self.drawn.add(row)
        return piece

