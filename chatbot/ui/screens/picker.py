"""The model and preset menus: names with a detail (and a note) each, filtered as you type."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import ClassVar

from textual.binding import Binding, BindingType

from chatbot.ui.screens.filter_list import FilterList


@dataclass(frozen=True)
class PickerItem:
    value: str
    detail: str = ""
    note: str = ""  # a second line under the detail, for what a narrow screen would cut off


NBSP = chr(0xA0)  # keeps a row's columns: a leading plain space would be trimmed


class Picker(FilterList[str]):
    """Closes with the chosen item's value (None on escape); the current one is marked and highlighted first."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("ctrl+r", "refresh", show=False)]

    def __init__(self, title: str, items: list[PickerItem], current: str | None = None,
                 refresh: tuple[str, Callable[[Picker], None]] | None = None) -> None:
        """`refresh`: what ctrl+r fetches again (named in the filter's placeholder), and how."""
        hint = f" (ctrl+r: {refresh[0]})" if refresh else ""
        super().__init__(title, f"type to filter{hint}")
        self.items = items
        self.current = current
        self.refresh_with = refresh

    def add_items(self, items: list[PickerItem]) -> None:
        """Add items that arrived later (e.g. the server's own models), keeping the filter."""
        known = {item.value for item in self.items}
        self.items += [item for item in items if item.value not in known]
        self.refill()

    def refill(self) -> None:
        # The highlighted item stays highlighted while it matches; with none yet, the current one.
        highlighted = self.highlighted_id
        self.fill(keep=self.current if highlighted is None else highlighted)

    def rows(self, query: str) -> Iterable[tuple[str, str]]:
        needle = query.strip().lower()
        matches = [i for i in self.items if any(needle in text.lower() for text in (i.value, i.detail, i.note))]
        width = max((len(i.value) for i in matches), default=0)
        return [(i.value, self._label(i, width)) for i in matches]

    def result(self, row_id: str) -> str:
        return row_id

    def _label(self, item: PickerItem, width: int) -> str:
        label = f"{'●' if item.value == self.current else NBSP} {item.value.ljust(width)}  {item.detail}"
        return label + (f"\n{NBSP * (width + 4)}{item.note}" if item.note else "")

    def action_refresh(self) -> None:
        if self.refresh_with is not None:
            self.refresh_with[1](self)
