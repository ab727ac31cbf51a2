"""The row cache leaves out only what the terminal shows already: a terminal (pyte) fed the frames as the app
wrote them and one fed what the cache let through show the same cells, in the same colours, after every frame."""

from __future__ import annotations

import pyte
from hypothesis import given, settings
from hypothesis import strategies as st

from chatbot.ui.row_cache import RowCache

COLS, ROWS = 30, 8
STYLES = ["\x1b[0m", "\x1b[1;38;2;158;206;106;48;2;22;22;30m", "\x1b[48;2;31;32;41m", "\x1b[38;5;203m"]


def piece(row: int, col: int, text: str, style: str) -> str:
    """A piece as Textual draws one: a move, then the text in its style, reset after."""
    return f"\x1b[{row};{col}H{style}{text}\x1b[0m"


pieces = st.builds(piece, st.integers(1, ROWS), st.integers(1, COLS // 2),
                   st.text(alphabet="ab █·漢", min_size=0, max_size=COLS // 2), st.sampled_from(STYLES))
# A frame: row pieces, sometimes a clear of the screen first, and the cursor's last move.
frames = st.builds(lambda clear, drawn, cursor: ("\x1b[2J" if clear else "") + "".join(drawn)
                   + f"\x1b[{cursor[0]};{cursor[1]}H",
                   st.integers(0, 9).map(lambda n: n == 0),
                   st.lists(pieces, max_size=12), st.tuples(st.integers(1, ROWS), st.integers(1, COLS)))


def cells(screen: pyte.Screen) -> list[list[tuple[str, str, str, bool]]]:
    return [[(c.data, c.fg, c.bg, c.bold) for c in (screen.buffer[y][x] for x in range(COLS))] for y in range(ROWS)]


def terminal() -> tuple[pyte.Screen, pyte.Stream]:
    screen = pyte.Screen(COLS, ROWS)
    return screen, pyte.Stream(screen)


@settings(max_examples=300, deadline=None)
@given(st.lists(frames, min_size=1, max_size=12), st.data())
def test_what_the_terminal_shows_is_what_the_app_drew(sequence: list[str], data: st.DataObject) -> None:
    whole, whole_feed = terminal()
    cached, cached_feed = terminal()
    cache = RowCache()
    for frame in sequence:
        # A frame is sometimes written again as it was: most of a streaming reply's rows are.
        for write in [frame] * data.draw(st.integers(1, 2)):
            whole_feed.feed(write)
            cached_feed.feed(cache.filter(write, (COLS, ROWS)))
            assert cells(cached) == cells(whole)
            assert (cached.cursor.x, cached.cursor.y) == (whole.cursor.x, whole.cursor.y)


def test_a_row_written_again_as_it_was_is_left_out() -> None:
    cache = RowCache()
    frame = piece(3, 1, "hello", STYLES[1]) + piece(4, 1, "world", STYLES[2]) + "\x1b[8;2H"
    assert cache.filter(frame, (COLS, ROWS)) == frame
    changed = piece(3, 1, "hello", STYLES[1]) + piece(4, 1, "world!", STYLES[2]) + "\x1b[8;2H"
    # Row 3 is as it was; row 4 changed; the cursor's move is always sent.
    assert cache.filter(changed, (COLS, ROWS)) == piece(4, 1, "world!", STYLES[2]) + "\x1b[8;2H"


def test_a_clear_a_switch_of_screen_or_a_new_size_sends_the_next_frame_whole() -> None:
    frame = piece(2, 1, "same", STYLES[0])
    for forget in ("\x1b[2J", "\x1b[?1049h", "\x1b[?1049l"):
        cache = RowCache()
        cache.filter(frame, (COLS, ROWS))
        assert cache.filter(forget, (COLS, ROWS)) == forget
        assert cache.filter(frame, (COLS, ROWS)) == frame
    cache = RowCache()
    cache.filter(frame, (COLS, ROWS))
    assert cache.filter(frame, (COLS + 1, ROWS)) == frame


def test_each_piece_of_a_row_is_compared_where_it_starts() -> None:
    """A row drawn in pieces (widgets side by side, a scrollbar beside the text): a piece as it was is left out,
    one that changed is sent, whichever way the row is cut into pieces from one frame to the next."""
    cache = RowCache()
    row = piece(5, 1, "left", STYLES[0]) + piece(5, 10, "right", STYLES[3]) + piece(5, 30, "▃", STYLES[2])
    cache.filter(row, (COLS, ROWS))
    assert cache.filter(row, (COLS, ROWS)) == ""
    other = piece(5, 1, "left", STYLES[0]) + piece(5, 10, "RIGHT", STYLES[3]) + piece(5, 30, "▃", STYLES[2])
    assert cache.filter(other, (COLS, ROWS)) == piece(5, 10, "RIGHT", STYLES[3])
    # The scrollbar redrawn alone, as it was on this row and moved on the next.
    bar = piece(5, 30, "▃", STYLES[2]) + piece(6, 30, "▃", STYLES[2])
    assert cache.filter(bar, (COLS, ROWS)) == piece(6, 30, "▃", STYLES[2])


def test_a_piece_drawn_over_is_sent_again() -> None:
    """Cells another piece wrote over no longer show what was there: the old piece, written again, is sent."""
    cache = RowCache()
    line, word = piece(2, 1, "a" * 12, STYLES[1]), piece(2, 4, "bb", STYLES[0])
    cache.filter(line, (COLS, ROWS))
    assert cache.filter(word, (COLS, ROWS)) == word
    assert cache.filter(word, (COLS, ROWS)) == ""
    assert cache.filter(line, (COLS, ROWS)) == line
    assert cache.filter(word, (COLS, ROWS)) == word
    wide, beside, over = piece(3, 1, "漢字", STYLES[0]), piece(3, 5, "y", STYLES[0]), piece(3, 3, "x", STYLES[0])
    cache.filter(wide, (COLS, ROWS))  # four cells
    assert cache.filter(beside, (COLS, ROWS)) == beside  # the fifth: none of its own
    assert cache.filter(wide, (COLS, ROWS)) == ""
    assert cache.filter(over, (COLS, ROWS)) == over  # the third
    assert cache.filter(wide, (COLS, ROWS)) == wide


def test_a_row_with_a_glyph_of_unsure_width_is_sent_whole_and_not_kept() -> None:
    """rich counts "⚠️" (U+26A0 U+FE0F) as one cell; many terminals draw it in two, over the next piece's first
    cell. Redrawn, the row must carry that next piece too, and a row drawn beside it later is not trusted."""
    cache = RowCache()
    row = piece(4, 1, "\u26a0\ufe0f note", STYLES[0]) + piece(4, 12, "|", STYLES[2])
    assert cache.filter(row, (COLS, ROWS)) == row
    assert cache.filter(row, (COLS, ROWS)) == row
    assert cache.filter(piece(4, 12, "|", STYLES[2]), (COLS, ROWS)) == piece(4, 12, "|", STYLES[2])
    plain = piece(5, 1, "note", STYLES[0])
    cache.filter(plain, (COLS, ROWS))
    assert cache.filter(plain + row, (COLS, ROWS)) == row  # the rows beside it are still compared


def test_a_write_that_carries_an_image_goes_as_it_came() -> None:
    """An image's placement written twice at one spot is sent twice: the terminal may have dropped the image."""
    cache = RowCache()
    place = "\x1b[3;1H\x1b_Ga=p,i=7,U=1,q=2\x1b\\\x1b[38;2;0;0;7m\U0010eeee\x1b[0m"
    assert cache.filter(place, (COLS, ROWS)) == place
    assert cache.filter(place, (COLS, ROWS)) == place
