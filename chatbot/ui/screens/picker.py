"""A modal list that filters as you type: the model and preset menus."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from chatbot.ui.shown import shown


@dataclass(frozen=True)
class PickerItem:
    value: str
    detail: str = ""
    note: str = ""  # a second line under the detail, for what a narrow screen would cut off


NBSP = chr(0xA0)  # keeps a row's columns: a leading plain space would be trimmed


class Picker(ModalScreen[str | None]):
    CSS_PATH = Path(__file__).with_suffix(".tcss")
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss(None)", "Close", show=False),
        Binding("down", "move(1)", show=False),
        Binding("up", "move(-1)", show=False),
        Binding("ctrl+r", "refresh", show=False),
    ]

    def __init__(self, title: str, items: list[PickerItem], current: str | None = None,
                 refresh: tuple[str, Callable[[Picker], None]] | None = None) -> None:
        """`refresh`: what ctrl+r fetches again (named in the filter's placeholder), and how."""
        super().__init__()
        self.title_text = title
        self.items = items
        self.current = current
        self.refresh_with = refresh

    def compose(self) -> ComposeResult:
        with Vertical(id="picker"):
            yield Static(shown(self.title_text), id="picker-title")
            hint = f" (ctrl+r: {self.refresh_with[0]})" if self.refresh_with else ""
            yield Input(placeholder=f"type to filter{hint}", id="picker-filter")
            yield OptionList(id="picker-options")

    def on_mount(self) -> None:
        self._fill("")

    def add_items(self, items: list[PickerItem]) -> None:
        """Add items that arrived later (e.g. the server's own models), keeping the filter."""
        known = {item.value for item in self.items}
        self.items += [item for item in items if item.value not in known]
        self._fill(self.query_one(Input).value)

    def _fill(self, query: str) -> None:
        options = self.query_one(OptionList)
        highlighted = options.highlighted_option.id if options.highlighted_option else self.current
        needle = query.strip().lower()
        matches = [i for i in self.items if any(needle in text.lower() for text in (i.value, i.detail, i.note))]
        options.clear_options()
        width = max((len(i.value) for i in matches), default=0)
        options.add_options(Option(shown(self._label(i, width)), id=i.value) for i in matches)
        ids = [i.value for i in matches]
        if ids:
            options.highlighted = ids.index(highlighted) if highlighted in ids else 0

    def _label(self, item: PickerItem, width: int) -> str:
        label = f"{'●' if item.value == self.current else NBSP} {item.value.ljust(width)}  {item.detail}"
        return label + (f"\n{NBSP * (width + 4)}{item.note}" if item.note else "")

    def on_input_changed(self, event: Input.Changed) -> None:
        self._fill(event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        options = self.query_one(OptionList)
        if options.highlighted_option is not None:
            self.dismiss(options.highlighted_option.id)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_refresh(self) -> None:
        if self.refresh_with is not None:
            self.refresh_with[1](self)

    def action_move(self, step: int) -> None:
        options = self.query_one(OptionList)
        if options.option_count:
            options.highlighted = ((options.highlighted or 0) + step) % options.option_count
