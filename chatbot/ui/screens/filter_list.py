"""The one filterable list screen: a title, a query box, the rows matching the query, an optional footer.

The model and preset menus and the history are subclasses that say what the rows are (`rows`), what choosing
one closes the screen with (`result`), and what their own keys do. Up and down move through the rows while
the query box has the focus, escape closes with None, enter or a click on a row closes with its result.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path, PurePath
from typing import ClassVar, TypeVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from chatbot.ui.screens.dialog import Dialog
from chatbot.ui.shown import shown

Result = TypeVar("Result")


class FilterList(Dialog[Result | None]):
    # A list: a subclass adds its own file to it.
    CSS_PATH: ClassVar[list[str | PurePath]] = [Path(__file__).with_suffix(".tcss")]
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss(None)", "Close", show=False),
        Binding("down", "move(1)", show=False),
        Binding("up", "move(-1)", show=False),
    ]

    def __init__(self, title: str, placeholder: str, *, select_on_focus: bool = True) -> None:
        super().__init__()
        self.title_text = title
        self.placeholder = placeholder
        self.select_on_focus = select_on_focus

    def compose(self) -> ComposeResult:
        with Vertical(id="filter-list"):
            yield Static(shown(self.title_text), id="filter-list-title")
            yield Input(placeholder=self.placeholder, id="filter-list-query", select_on_focus=self.select_on_focus)
            yield OptionList(id="filter-list-options")
            yield from self.compose_footer()

    # -- what a subclass says ------------------------------------------------------------------------------------

    def compose_footer(self) -> ComposeResult:
        """Widgets under the rows: none unless a subclass adds some."""
        yield from ()

    def rows(self, query: str) -> Iterable[tuple[str, str]]:
        """(id, text) of each row matching `query`. The text may be stored or model text: it is drawn as data."""
        raise NotImplementedError

    def empty_text(self, query: str) -> str:
        """The line shown, dimmed and not choosable, when no row matches `query`: an empty list says why."""
        return f"Nothing matches {query.strip()!r}." if query.strip() else "Nothing to list."

    def result(self, row_id: str) -> Result:
        """What choosing the row `row_id` closes the screen with."""
        raise NotImplementedError

    def refill(self) -> None:
        """List the rows for the query as it is now (on opening and on every edit): the first one highlighted."""
        self.fill()

    def query_submitted(self) -> None:
        """Enter in the query box: choose the highlighted row."""
        if (row_id := self.highlighted_id) is not None:
            self.dismiss(self.result(row_id))

    # -- the list ------------------------------------------------------------------------------------------------

    @property
    def query_box(self) -> Input:
        return self.query_one("#filter-list-query", Input)

    @property
    def options(self) -> OptionList:
        return self.query_one("#filter-list-options", OptionList)

    @property
    def highlighted_id(self) -> str | None:
        option = self.options.highlighted_option
        return None if option is None else option.id

    def fill(self, *, keep: str | None = None, index: int = 0) -> None:
        """List the rows for the query. Highlight the row `keep` if it is listed, otherwise the one at `index`, or
        the last one when fewer are left (as after a delete)."""
        rows = list(self.rows(self.query_box.value))
        options = self.options
        options.clear_options()
        options.add_options(Option(shown(text), id=row_id) for row_id, text in rows)
        if not rows:
            options.add_option(Option(shown(self.empty_text(self.query_box.value)), disabled=True))
        ids = [row_id for row_id, _ in rows]
        if ids:
            options.highlighted = ids.index(keep) if keep in ids else min(index, len(ids) - 1)

    def on_mount(self) -> None:
        self.refill()

    def on_input_changed(self, _: Input.Changed) -> None:
        self.refill()

    def on_input_submitted(self, _: Input.Submitted) -> None:
        self.query_submitted()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        if event.option.id is not None:
            self.dismiss(self.result(event.option.id))

    def action_move(self, step: int) -> None:
        options = self.options
        if options.option_count and not options.get_option_at_index(0).disabled:  # not the empty list's line
            options.highlighted = ((options.highlighted or 0) + step) % options.option_count
