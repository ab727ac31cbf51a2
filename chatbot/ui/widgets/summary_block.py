"""The summary of the oldest turns, shown where they were: a folded block, in the look of the "thinking" block.

With budget.strategy "summarize", requests carry this summary in place of the turns above it, which stay on
screen, dimmed. Its title says how many turns it stands for; enter on it or a click opens it, e edits it
(summary_edit.py). The summary is model text: drawn as plain text through the terminal boundary.
"""

from __future__ import annotations

from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.widgets import Static

from chatbot.core.conversation import Summary
from chatbot.core.text import plural
from chatbot.ui.shown import shown
from chatbot.ui.widgets.thinking_block import FoldedBlock


def title_of(summary: Summary) -> str:
    return f"summary of {plural(summary.turns, 'earlier turn')}, sent in their place"


class SummaryBlock(FoldedBlock):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("e", "screen.edit_summary", "Edit summary")]

    def __init__(self, summary: Summary) -> None:
        self.summary = summary
        super().__init__(Static(shown(summary.text), classes="folded-text summary-text"), title=title_of(summary),
                         collapsed=True, classes="summary")
