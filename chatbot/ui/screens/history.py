"""The history screen: conversations newest first, full-text search, open, rename and delete."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType

from chatbot.core.pricing import format_cost
from chatbot.core.store.history import HistoryStore
from chatbot.core.store.writer import Writer
from chatbot.core.terminal import one_line
from chatbot.core.text import plural
from chatbot.ui.screens.filter_list import FilterList
from chatbot.ui.shown import shown_text
from chatbot.ui.widgets.confirm_bar import ConfirmBar

SEARCH = "search every message (enter opens, ctrl+t renames, ctrl+d deletes)"


@dataclass(frozen=True)
class Opened:
    """The user chose a conversation, and in a search, the message to jump to (a row id)."""

    conversation_id: int
    message_row: int | None = None


class HistoryScreen(FilterList[Opened]):
    CSS_PATH: ClassVar[list[str | PurePath]] = [*FilterList.CSS_PATH, Path(__file__).with_suffix(".tcss")]
    BINDINGS: ClassVar[list[BindingType]] = [
        # Priority: the search box would take ctrl+d as delete-right, which stays on its delete key. The focus is
        # in the search box most of the time, and ctrl+d only asks, so a readline habit there loses nothing.
        Binding("ctrl+d", "delete", "Delete", priority=True),
        Binding("ctrl+t", "rename", "Rename", priority=True),
    ]

    def __init__(self, store: HistoryStore, on_delete: Callable[[int], None] | None = None, *,
                 writer: Writer) -> None:
        # The focus comes back to the search after the delete question: the query and cursor stay as they were.
        super().__init__("History", SEARCH, select_on_focus=False)
        self.store = store  # read here; changes go through the writer, so a locked file never freezes the screen
        self.writer = writer
        self.on_delete = on_delete
        self.renaming: int | None = None
        self.titles: dict[int, str] = {}  # of the listed conversations, for the delete question
        self.deleting: int | None = None  # the conversation the delete question is about

    def on_mount(self) -> None:
        super().on_mount()
        if self.writer.pending:
            self._write(None)  # what is still being written is listed once it is

    def compose_footer(self) -> ComposeResult:
        yield ConfirmBar(id="history-confirm")

    def rows(self, query: str) -> Iterable[tuple[str, str]]:
        self.titles.clear()
        if query.strip():
            for hit in self.store.search(query):
                self.titles[hit.conversation_id] = hit.title
                # Names are cleaned before they are cut (an older store holds them raw), so no sequence is cut
                # in two.
                yield (f"{hit.conversation_id}:{hit.message_id}",
                       f"{one_line(hit.title)[:30]:<30}  {hit.role:>9}: {hit.snippet}")
            return
        for s in self.store.conversations():
            self.titles[s.id] = s.title
            when = dt.datetime.fromtimestamp(s.updated).strftime("%Y-%m-%d %H:%M")
            yield (f"{s.id}:", f"{when}  {one_line(s.model)[:14]:<14} {plural(s.turns, 'turn'):>9} "
                               f"{format_cost(s.cost):>10}  {one_line(s.title)}")

    def result(self, row_id: str) -> Opened:
        conversation, _, message = row_id.partition(":")
        return Opened(int(conversation), int(message) if message else None)

    def refill(self) -> None:
        if self.renaming is None:  # while renaming, the box holds the new title, not a query
            self.fill()

    def query_submitted(self) -> None:
        if self.renaming is None:
            super().query_submitted()
            return
        conversation_id, title = self.renaming, self.query_box.value
        self.renaming = None
        self.query_box.placeholder = SEARCH
        self.query_box.value = ""
        self._write(lambda store: store.rename(conversation_id, title))

    def _highlighted(self) -> Opened | None:
        row_id = self.highlighted_id
        return None if row_id is None else self.result(row_id)

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
                    index=self.options.highlighted or 0)

    def action_rename(self) -> None:
        if (chosen := self._highlighted()) is None:
            return
        self.renaming = chosen.conversation_id
        search = self.query_box
        search.placeholder = "new title, enter saves"
        search.value = shown_text(one_line(self.store.load(chosen.conversation_id).title))
        search.focus()

    @work(group="history-write", exit_on_error=False)
    async def _write(self, write: Callable[[HistoryStore], object] | None, done: str | None = None,
                     index: int = 0) -> None:
        """Make a change through the writer (None: only wait for what it has queued), then list again."""
        try:
            await asyncio.wrap_future(self.writer.submit(write))
        except Exception:  # noqa: BLE001 - the writer keeps the reason
            self.notify(self.writer.error or "The history could not be changed.", severity="error")
        else:
            if done:
                self.notify(done)
        if self.is_attached and self.renaming is None:
            self.fill(index=index)
