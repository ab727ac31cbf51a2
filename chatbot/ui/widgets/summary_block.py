"""The summary of the oldest turns, shown where they were: a folded block, in the look of the "thinking" block.

With budget.strategy "summarize", requests carry this summary in place of the turns above it, which stay on
screen, dimmed. Its title says how many turns it stands for; enter on it or a click opens it. The summary is
model text: drawn as plain text through the terminal boundary.
"""

from __future__ import annotations

from textual.widgets import Collapsible, Static

from chatbot.core.conversation import Summary
from chatbot.core.text import plural
from chatbot.ui.shown import shown


def title_of(summary: Summary) -> str:
    return f"summary of {plural(summary.turns, 'earlier turn')}, sent in their place"


class SummaryBlock(Collapsible):
    DEFAULT_CSS = """
    SummaryBlock {
        background: transparent;
        border-top: none;
        padding: 0;
        margin: 0 0 1 0;
        color: $text-muted;
        & > CollapsibleTitle { padding: 0; }
        & > Contents { padding: 0 0 0 2; }
        & .summary-text { height: auto; text-style: italic; }
    }
    """

    def __init__(self, summary: Summary) -> None:
        self.summary = summary
        super().__init__(Static(shown(summary.text), classes="summary-text"), title=title_of(summary),
                         collapsed=True, classes="summary")
