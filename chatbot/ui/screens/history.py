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
from chatbot.ui.text_cells import fit
from chatbot.ui.widgets.confirm_bar import ConfirmBar

MIN_TITLE = 30  # cells: a shorter title column drops the row's other columns first
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
        width = self.row_width()
        if query.strip():
            title_width = max(12, min(30, width // 3))
            for hit in self.store.search(query):
                self.titles[hit.conversation_id] = hit.title
                # Names are cleaned before they are cut (an older store holds them raw), so no sequence is cut
                # in two.
                yield (f"{hit.conversation_id}:{hit.message_id}",
                       f"{fit(one_line(hit.title), title_width)}  {hit.role:>9}: {hit.snippet}")
            return
        # The title matters most, then when, what it cost, its turns and its model: on a narrow screen the model
        # goes first, then the turns, then the year and the date's seconds.
        columns = ["model", "turns"]
        stamp = "%Y-%m-%d %H:%M"

        def fixed() -> int:
            # The stamp, the cost (10) and the two-cell gaps around the title and before the cost.
            return len(dt.datetime(2000, 1, 1).strftime(stamp)) + 14 + sum({"model": 16, "turns": 11}[c]
                                                                            for c in columns)
        while width - fixed() < MIN_TITLE and columns:
            columns.pop(0)
        if width - fixed() < MIN_TITLE:
            stamp = "%m-%d %H:%M"
        title_width = max(MIN_TITLE // 2, width - fixed())
        for s in self.store.conversations():
            self.titles[s.id] = s.title
            when = dt.datetime.fromtimestamp(s.updated).strftime(stamp)
            parts = [when, fit(one_line(s.title), title_width)]
            if "model" in columns:
                parts.append(fit(one_line(s.model), 14))
            if "turns" in columns:
                parts.append(f"{plural(s.turns, 'turn'):>9}")
            parts.append(f"{format_cost(s.cost):>10}")
            yield (f"{s.id}:", "  ".join(parts))

    def empty_text(self, query: str) -> str:
        if query.strip():
            return f"No message contains {query.strip()!r}."
        return "No conversations yet: each one is kept here from its first message."

    def row_width(self) -> int:
        """Cells a row's text has: the list's own width once laid out (else what the box's style gives it), less
        the cell of padding each side of an option."""
        laid_out = self.options.scrollable_content_region.width
        return (laid_out if laid_out > 0 else min(int(self.app.size.width * 0.9), 100) - 6) - 2

    def on_resize(self) -> None:
        if self.renaming is None:
            self.fill(keep=self.highlighted_id)

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
