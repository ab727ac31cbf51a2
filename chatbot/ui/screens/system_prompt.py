"""Edit a text the conversation sends: its system prompt, or the summary of its oldest turns. ctrl+s keeps the
change, escape drops it."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import Static, TextArea

from chatbot.ui.screens.dialog import Dialog
from chatbot.ui.shown import shown, shown_text


class SystemPromptScreen(Dialog[str | None]):
    CSS_PATH = Path(__file__).with_suffix(".tcss")
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "save", "Save", priority=True),
        Binding("escape", "dismiss(None)", "Cancel"),
    ]

    def __init__(self, text: str, *, title: str = "System prompt",
                 footer: str = "ctrl+s saves (applies to the next request) · escape cancels") -> None:
        super().__init__()
        self.text = text
        self.title_text = title
        self.footer = footer

    def compose(self) -> ComposeResult:
        with Vertical(id="system-prompt"):
            yield Static(shown(self.title_text), id="system-title")
            # A stored prompt (an imported one) is drawn as text; saving keeps what was shown.
            yield TextArea(shown_text(self.text), soft_wrap=True, id="system-text")
            yield Static(shown(self.footer), id="system-footer")

    def action_save(self) -> None:
        self.dismiss(self.query_one(TextArea).text)
