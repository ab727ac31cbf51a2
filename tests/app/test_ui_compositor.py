"""The chat screen's compositor on a small app of its own: each partial update draws what Textual's own would
(every line it sends, cell for cell), without asking widgets the change does not reach for their lines, and
asking those it reaches only for the rows it spans."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence

from textual._compositor import ChopsUpdate, Compositor
from textual.app import App, ComposeResult
from textual.containers import VerticalScroll
from textual.geometry import Region
from textual.screen import Screen
from textual.strip import Strip
from textual.widgets import Static

from chatbot.ui.compositor import PartialCompositor


class Checked(PartialCompositor):
    """Renders each partial update twice, the stock way too, and keeps what each would write to the terminal."""

    def __init__(self) -> None:
        super().__init__()
        self.stock = False
        self.partial = False
        self.chops: list[Sequence[Mapping[int, Strip]]] = []
        self.crop = Region()  # the area the update being rendered spans
        self.updates: list[tuple[ChopsUpdate, ChopsUpdate]] = []

    def _get_renders(self, crop: Region | None = None) -> Iterable[tuple[Region, Region, list[Strip]]]:
        return Compositor._get_renders(self, crop) if self.stock else super()._get_renders(crop)

    def _render_chops(self, crop: Region, is_rendered_line: Callable[[int], bool]) -> Sequence[Mapping[int, Strip]]:
        self.crop = crop
        self.stock = True
        try:
            self.chops.append(super()._render_chops(crop, is_rendered_line))
        finally:
            self.stock = False
        return super()._render_chops(crop, is_rendered_line)

    def render_partial_update(self) -> ChopsUpdate | None:
        self.chops.clear()
        self.partial = True
        try:
            update = super().render_partial_update()
        finally:
            self.partial = False
        if update is not None:
            (stock,) = self.chops
            self.updates.append((update, ChopsUpdate(stock, update.spans, update.chop_ends)))
        return update


class Counted(Static):
    drawn = 0

    def render_lines(self, crop: Region) -> list[Strip]:
        page = self.screen
        if isinstance(page, Page) and page.checked.partial and not page.checked.stock:  # not the test's own
            self.drawn += 1
        return super().render_lines(crop)


class Body(VerticalScroll):
    def __init__(self) -> None:
        super().__init__(id="body")
        # For each partial update it was in: the rows of itself it drew, and the rows of it the update spans.
        self.rows: list[tuple[int, int]] = []

    def render_lines(self, crop: Region) -> list[Strip]:
        page = self.screen
        if isinstance(page, Page) and page.checked.partial and not page.checked.stock:
            self.rows.append((crop.height, self.region.intersection(page.checked.crop).height))
        return super().render_lines(crop)


class Page(Screen[None]):
    DEFAULT_CSS = """
    #footer { dock: bottom; height: 1; }
    #body Static { margin-bottom: 1; }
    #note { layer: above; offset: 40 2; width: 20; background: red; }
    Page { layers: below above; }
    """

    def __init__(self) -> None:
        super().__init__()
        self._compositor = self.checked = Checked()

    def compose(self) -> ComposeResult:
        with Body():
            for n in range(12):
                yield Static(f"paragraph {n} " + "word " * (10 + 7 * n), id=f"p{n}")
        yield Counted("a line at the bottom", id="footer")
        yield Static("over the text", id="note")


class Small(App[None]):
    def on_mount(self) -> None:
        self.push_screen(Page())


async def test_partial_updates_draw_what_textual_draws_and_ask_only_what_they_reach() -> None:
    app = Small()
    async with app.run_test(size=(60, 24)) as pilot:
        await pilot.pause()
        page = app.screen
        assert isinstance(page, Page)
        footer = page.query_one("#footer", Counted)
        page.checked.updates.clear()
        drawn = footer.drawn
        body = page.query_one(Body)
        body.rows = []
        paragraph = page.query_one("#p1", Static)
        for n in range(6):  # same height, then a line longer (a layout), then under the note
            paragraph.update("paragraph 1 " + " ".join(f"w{n}.{i}" for i in range(12 + n * 3)))
            await pilot.pause()
        page.query_one("#p2", Static).update("changed under the note " * 3)
        await pilot.pause()
        body.scroll_to(y=4, animate=False)
        await pilot.pause()
        for n in range(3):  # its first line scrolled out of sight: the lines asked for start below it
            paragraph.update("paragraph 1 " + " ".join(f"v{n}.{i}" for i in range(27)))
            await pilot.pause()
        footer.update("the bottom line changed")
        await pilot.pause()

        updates = page.checked.updates
        assert len(updates) >= 11
        console = app.console
        for update, stock in updates:
            assert update.render_segments(console) == stock.render_segments(console), update.spans
        # The paragraph's partial updates did not reach the footer: it was asked for its lines once, when it changed
        # (a full update, after a scroll, asks every widget).
        assert footer.drawn - drawn == 1
        # The container behind the paragraphs drew only the rows of the paragraph that changed, not all it shows.
        assert body.rows and all(drew == spanned for drew, spanned in body.rows), body.rows
        assert min(spanned for _, spanned in body.rows) < body.size.height / 4, body.rows
