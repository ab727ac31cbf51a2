"""The history screen: conversations newest first, full-text search, open, rename and delete."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from chatbot.core.history import HistoryStore
from chatbot.core.pricing import format_cost
from chatbot.core.store.writer import Writer
from chatbot.core.terminal import one_line
from chatbot.core.text import plural
from chatbot.ui.shown import shown, shown_text
from chatbot.ui.widgets.confirm_bar import ConfirmBar


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
        # Priority: the search box would take ctrl+d as delete-right, which stays on its delete key. The focus is
        # in the search box most of the time, and ctrl+d only asks, so a readline habit there loses nothing.
        Binding("ctrl+d", "delete", "Delete", priority=True),
        Binding("ctrl+t", "rename", "Rename", priority=True),
    ]

    def __init__(self, store: HistoryStore, on_delete: Callable[[int], None] | None = None, *,
                 writer: Writer) -> None:
        super().__init__()
        self.store = store  # read here; changes go through the writer, so a locked file never freezes the screen
        self.writer = writer
        self.on_delete = on_delete
        self.renaming: int | None = None
        self.titles: dict[int, str] = {}  # of the listed conversations, for the delete question
        self.deleting: int | None = None  # the conversation the delete question is about

    def compose(self) -> ComposeResult:
        with Vertical(id="history"):
            yield Static(shown("History"), id="history-title")
            # The focus comes back here after the delete question: the query and cursor stay as they were.
            yield Input(placeholder="search every message (enter opens, ctrl+t renames, ctrl+d deletes)",
                        id="history-search", select_on_focus=False)
            yield OptionList(id="history-options")
            yield ConfirmBar(id="history-confirm")

    def on_mount(self) -> None:
        self._fill("")
        if self.writer.pending:
            self._write(None)  # what is still being written is listed once it is

    def _fill(self, query: str, highlight: int = 0) -> None:
        options = self.query_one(OptionList)
        options.clear_options()
        self.titles.clear()
        if query.strip():
            for hit in self.store.search(query):
                self.titles[hit.conversation_id] = hit.title
                # Titles and snippets are stored model and user text: data, never escape sequences. Names are
                # cleaned before they are cut (an older store holds them raw), so no sequence is cut in two.
                line = f"{one_line(hit.title)[:30]:<30}  {hit.role:>9}: {hit.snippet}"
                options.add_option(Option(shown(line), id=f"{hit.conversation_id}:{hit.message_id}"))
        else:
            for s in self.store.list():
                self.titles[s.id] = s.title
                when = dt.datetime.fromtimestamp(s.updated).strftime("%Y-%m-%d %H:%M")
                line = (f"{when}  {one_line(s.model)[:14]:<14} {plural(s.turns, 'turn'):>9} {format_cost(s.cost):>10}  "
                        f"{one_line(s.title)}")
                options.add_option(Option(shown(line), id=f"{s.id}:"))
        if options.option_count:
            options.highlighted = min(highlight, options.option_count - 1)

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
            conversation_id, title = self.renaming, event.value
            self.renaming = None
            event.input.value = ""
            event.input.placeholder = "search every message (enter opens, ctrl+t renames, ctrl+d deletes)"
            self._write(lambda store: store.rename(conversation_id, title))
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
        """Ask in place first: nothing is deleted until the user says yes."""
        if (chosen := self._highlighted()) is None:
            return
        self.deleting = chosen.conversation_id
        title = self.titles.get(chosen.conversation_id, "")
        name = title if len(title) <= 40 else title[:39] + "…"
        self.query_one(ConfirmBar).ask(f"Delete '{name}'? enter/y deletes, escape keeps")

    def on_confirm_bar_answered(self, event: ConfirmBar.Answered) -> None:
        event.stop()
        conversation_id, self.deleting = self.deleting, None
        if not event.yes or conversation_id is None:
            return
        title = self.titles.get(conversation_id, "")
        if self.on_delete is not None:
            self.on_delete(conversation_id)
        self._write(lambda store: store.delete(conversation_id), f"Deleted '{title}'.",
                    highlight=self.query_one(OptionList).highlighted or 0)

    def action_rename(self) -> None:
        if (chosen := self._highlighted()) is None:
            return
        self.renaming = chosen.conversation_id
        search = self.query_one(Input)
        search.placeholder = "new title, enter saves"
        search.value = shown_text(one_line(self.store.load(chosen.conversation_id).title))
        search.focus()

    @work(group="history-write", exit_on_error=False)
    async def _write(self, write: Callable[[HistoryStore], object] | None, done: str | None = None,
                     highlight: int = 0) -> None:
        """Make a change through the writer (None: only wait for what it has queued), then list again."""
        try:
            await asyncio.wrap_future(self.writer.submit(write))
        except Exception:  # noqa: BLE001 - the writer keeps the reason
            self.notify(self.writer.error or "The history could not be changed.", severity="error", markup=False)
        else:
            if done:
                self.notify(done)
        if self.is_attached and self.renaming is None:
            self._fill(self.query_one(Input).value, highlight)
