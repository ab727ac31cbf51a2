"""A modal page of text rows: help (every binding) and the turns the sliding window left out (`dropped_screen`)."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Static

from chatbot.core.budget import Window
from chatbot.core.conversation import Message
from chatbot.core.text import plural
from chatbot.ui.screens.dialog import Dialog
from chatbot.ui.shown import shown


class InfoScreen(Dialog[None]):
    CSS_PATH = Path(__file__).with_suffix(".tcss")
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,f1", "dismiss(None)", "Close", show=False),
    ]

    def __init__(self, title: str, rows: list[str], footer: str = "escape closes") -> None:
        super().__init__()
        self.title_text = title
        self.rows = rows
        self.footer = footer

    def compose(self) -> ComposeResult:
        with Vertical(id="info"):
            yield Static(shown(self.title_text), id="info-title")
            with VerticalScroll(id="info-body"):
                # Rows can quote the conversation (the dropped turns): data, never escape sequences.
                yield Static(shown("\n".join(self.rows) or "(nothing)"))
            yield Static(shown(self.footer), id="info-footer")


def dropped_screen(window: Window | None) -> InfoScreen:
    """What the sliding window leaves out of the next request, counted in turns as the status bar counts them:
    first the turns a summary stands in for (budget.strategy "summarize"), then those dropped with none."""
    dropped = window.dropped if window else []
    turns = window.dropped_turns if window else 0
    summarized, summarized_turns = (window.summarized, window.summarized_turns) if window else (0, 0)

    def rows(messages: list[Message]) -> list[str]:
        return [f"{m.role:>9}: {m.content[:200].replace(chr(10), ' ')}" for m in messages]

    if not summarized_turns:
        return InfoScreen(f"Left out of the next request by the sliding window: {plural(turns, 'turn')}, "
                          f"{plural(len(dropped), 'message')}", rows(dropped))
    rest = dropped[summarized:]
    listed = [f"Summarised, sent as the summary in their place: {plural(summarized_turns, 'turn')}, "
              f"{plural(summarized, 'message')}", *rows(dropped[:summarized])]
    if rest:
        listed += ["", f"Dropped, with no summary: {plural(turns - summarized_turns, 'turn')}, "
                       f"{plural(len(rest), 'message')}", *rows(rest)]
    return InfoScreen(f"Left out of the next request by the sliding window: {plural(summarized_turns, 'turn')} "
                      f"summarised, {plural(turns - summarized_turns, 'turn')} dropped", listed)
