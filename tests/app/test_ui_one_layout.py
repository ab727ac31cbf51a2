"""The chat screen's layouts (ui/compositor.py one_layout) on a small app of its own: a paragraph added to a
growing column is laid out once, not twice as Textual's own screen does it, and what the second layout was
said to be for still happens: the scrollbar shows once the column overflows, the text beside it wraps short of
it, and a column that shrinks is scrolled back within it."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.containers import VerticalScroll
from textual.geometry import Size
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Static

from chatbot.ui.compositor import one_layout


class Column(Screen[None]):
    layouts = 0

    def compose(self) -> ComposeResult:
        yield VerticalScroll(id="column")

    def _refresh_layout(self, size: Size | None = None, scroll: bool = False) -> None:
        self.layouts += 1
        super()._refresh_layout(size, scroll)


class OneLayout(Column):
    def _refresh_layout(self, size: Size | None = None, scroll: bool = False) -> None:
        with one_layout():
            super()._refresh_layout(size, scroll)


class Small(App[None]):
    def __init__(self, screen: Column) -> None:
        super().__init__()
        self.column = screen

    def on_mount(self) -> None:
        self.push_screen(self.column)


async def _layouts_per_paragraph(screen: Column) -> list[int]:
    """Mounts paragraphs one at a time, each left to settle: the layouts each cost."""
    app = Small(screen)
    counts = []
    async with app.run_test(size=(40, 12)) as pilot:
        await pilot.pause()
        column = screen.query_one("#column", VerticalScroll)
        for n in range(4):
            before = screen.layouts
            await column.mount(Static(f"paragraph {n} " + "word " * 12))
            await pilot.pause()
            await pilot.pause()
            counts.append(screen.layouts - before)
    return counts


async def test_a_paragraph_added_is_laid_out_once() -> None:
    ours = await _layouts_per_paragraph(OneLayout())
    stock = await _layouts_per_paragraph(Column())  # after ours: one_layout left Textual's reactive as it was
    assert ours == [1, 1, 1, 1], ours
    assert all(n >= 2 for n in stock), stock  # what the change is for: Textual lays each out twice


async def _grow_and_shrink(screen: Column) -> list[tuple[bool, int, Size, float, float]]:
    """Fills the column past its height, scrolls to its end, empties it again: what it showed at each step
    (its scrollbar, the first paragraph's width, its virtual size, its offset and the most it scrolls)."""
    app = Small(screen)
    seen = []
    async with app.run_test(size=(40, 12)) as pilot:
        await pilot.pause()
        column = screen.query_one("#column", VerticalScroll)
        first = Static("word " * 30)

        async def settled() -> None:
            await pilot.pause()
            await pilot.pause()
            seen.append((column.show_vertical_scrollbar, first.size.width, column.virtual_size, column.scroll_y,
                         column.max_scroll_y))

        await column.mount(first)
        await settled()
        for _ in range(4):
            await column.mount(Static("word " * 30))
        await settled()
        column.scroll_end(animate=False)
        await settled()
        for child in list(column.children)[1:]:
            await child.remove()
        await settled()
    return seen


async def test_sizes_scrollbars_and_offsets_are_what_two_layouts_leave() -> None:
    ours = await _grow_and_shrink(OneLayout())
    assert ours == await _grow_and_shrink(Column())
    (bar, width, _, _, _), (bar_full, width_full, size, _, _), (_, _, _, end, most), (bar_after, _, _, y, _) = ours
    assert not bar and width == 40
    # The scrollbar's own reactive asked for the layout that made room for it: the text wraps short of it.
    assert bar_full and width_full == 40 - 2 and size.height > 12
    assert end == most > 0
    assert not bar_after and y == 0  # emptied, the column is scrolled back within what it holds


def test_storing_a_virtual_size_asks_for_a_layout_only_outside() -> None:
    reactive = Widget.__dict__["virtual_size"]
    with one_layout():
        assert (reactive._layout, reactive._repaint) == (False, False)
        with one_layout():  # a layout within a layout leaves the outer one's setting as it found it
            pass
        assert (reactive._layout, reactive._repaint) == (False, False)
    assert (reactive._layout, reactive._repaint) == (True, True)
    try:
        with one_layout():
            raise RuntimeError
    except RuntimeError:
        pass
    assert (reactive._layout, reactive._repaint) == (True, True)
