"""The history screen: conversations newest first, full-text search, open, rename and delete."""

from __future__ import annotations

import datetime as dt
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

from chatbot.core.history import HistoryStore
from chatbot.core.pricing import format_cost
from chatbot.core.terminal import one_line
from chatbot.core.text import plural
from chatbot.ui.shown import shown, shown_text


@dataclass(frozen=True)
class Opened:
    """The user chose a conversation, and in a search, the message to jump to (a row id)."""

    conversation_id: int
    message_row: int | None = None


class HistoryScreen(ModalScreen[Opened | None]):
    CSS_PATH = Path(__file__).with_suffix(".tcss")
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss(None)", "Close"),
        Binding("down", "move(1)", show=False),
        Binding("up", "move(-1)", show=False),
        # Priority: the search box would take ctrl+d as delete-right.
        Binding("ctrl+d", "delete", "Delete", priority=True),
        Binding("ctrl+t", "rename", "Rename", priority=True),
    ]

    def __init__(self, store: HistoryStore, on_delete: Callable[[int], None] | None = None) -> None:
        super().__init__()
        self.store = store
        self.on_delete = on_delete
        self.renaming: int | None = None

    def compose(self) -> ComposeResult:
        with Vertical(id="history"):
            yield Static(shown("History"), id="history-title")
            yield Input(placeholder="search every message (enter opens, ctrl+t renames, ctrl+d deletes)",
                        id="history-search")
            yield OptionList(id="history-options")

    def on_mount(self) -> None:
        self._fill("")

    def _fill(self, query: str) -> None:
        options = self.query_one(OptionList)
        options.clear_options()
        if query.strip():
            for hit in self.store.search(query):
                # Titles and snippets are stored model and user text: data, never escape sequences. Names are
                # cleaned before they are cut (an older store holds them raw), so no sequence is cut in two.
                line = f"{one_line(hit.title)[:30]:<30}  {hit.role:>9}: {hit.snippet}"
                options.add_option(Option(shown(line), id=f"{hit.conversation_id}:{hit.message_id}"))
        else:
            for s in self.store.list():
                when = dt.datetime.fromtimestamp(s.updated).strftime("%Y-%m-%d %H:%M")
                line = (f"{when}  {one_line(s.model)[:14]:<14} {plural(s.turns, 'turn'):>9} {format_cost(s.cost):>10}  "
                        f"{one_line(s.title)}")
                options.add_option(Option(shown(line), id=f"{s.id}:"))
        if options.option_count:
            options.highlighted = 0

    def _highlighted(self) -> Opened | None:
        option = self.query_one(OptionList).highlighted_option
        if option is None or option.id is None:
            return None
        conversation, _, message = option.id.partition(":")
        return Opened(int(conversation), int(message) if message else None)

    def on_input_changed(self, event: Input.Changed) -> None:
        if self.renaming is None:
            self._fill(event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if self.renaming is not None:
            self.store.rename(self.renaming, event.value)
            self.renaming = None
            event.input.value = ""
            event.input.placeholder = "search every message (enter opens, ctrl+t renames, ctrl+d deletes)"
            self._fill("")
            return
        if (chosen := self._highlighted()) is not None:
            self.dismiss(chosen)

    def on_option_list_option_selected(self, _: OptionList.OptionSelected) -> None:
        if (chosen := self._highlighted()) is not None:
            self.dismiss(chosen)

    def action_move(self, step: int) -> None:
        options = self.query_one(OptionList)
        if options.option_count:
            options.highlighted = ((options.highlighted or 0) + step) % options.option_count

    def action_delete(self) -> None:
        if (chosen := self._highlighted()) is not None:
            self.store.delete(chosen.conversation_id)
            if self.on_delete is not None:
                self.on_delete(chosen.conversation_id)
            self.notify("Conversation deleted.")
            self._fill(self.query_one(Input).value)

    def action_rename(self) -> None:
        if (chosen := self._highlighted()) is None:
            return
        self.renaming = chosen.conversation_id
        search = self.query_one(Input)
        search.placeholder = "new title, enter saves"
        search.value = shown_text(one_line(self.store.load(chosen.conversation_id).title))
        search.focus()
