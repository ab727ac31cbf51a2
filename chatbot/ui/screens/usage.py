"""The usage screen (command palette): what was spent per day, as a sparkline, and per model, from the ledger.

The figures are the ledger's, the same `chat usage` reads: every request chat sent, whatever became of its
conversation. Read on opening: a GROUP BY over one row per request is quick, as the history screen's reads are.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import DataTable, Sparkline, Static

from chatbot.core.pricing import format_cost
from chatbot.core.store.spend import by_model, daily_spend
from chatbot.ui.screens.dialog import Dialog
from chatbot.ui.shown import shown, shown_text

if TYPE_CHECKING:
    from textual.app import App

    from chatbot.core.store.history import HistoryStore
    from chatbot.core.store.ledger import Used

SPARK_DAYS = 31


class UsageScreen(Dialog[None]):
    CSS_PATH = Path(__file__).with_suffix(".tcss")
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q", "dismiss(None)", "Close", show=False)]

    def __init__(self, rows: list[Used]) -> None:
        super().__init__()
        days = list(daily_spend(rows).items())[-SPARK_DAYS:]
        self.days = days
        self.models = by_model(rows)

    def compose(self) -> ComposeResult:
        with Vertical(id="usage"):
            yield Static("Usage", id="usage-title")
            if not self.days:
                yield Static("Nothing spent yet: the ledger counts every request chat sends.", id="usage-days")
            else:
                (first, _), (last, _) = self.days[0], self.days[-1]
                most_day, most = max(self.days, key=lambda day: day[1].known)
                yield Static(shown(f"Spend per day, {first} to {last}: most {format_cost(most)} on {most_day}"),
                             id="usage-days")
                yield Sparkline([float(spent.known) for _, spent in self.days], id="usage-spark")
                yield Static("Per model, every day", id="usage-models-title")
                yield DataTable(id="usage-models", cursor_type="row", zebra_stripes=True)
            yield Static("escape closes · chat usage --chart draws the days in the terminal", id="usage-footer")

    def on_mount(self) -> None:
        if not self.days:
            return
        table: DataTable[Text] = self.query_one(DataTable)
        table.add_columns("model", "requests", "prompt", "completion", "cost")
        for used in self.models:
            # Model names may come from a server: data, never markup (a str cell would be read as markup).
            figures = (f"{used.requests:,}", f"{used.prompt_tokens:,}", f"{used.completion_tokens:,}",
                       format_cost(used.cost))
            table.add_row(Text(shown_text(used.model or "(unknown)")),
                          *(Text(shown_text(figure), justify="right") for figure in figures))


def open_usage(app: App[Any], store: HistoryStore | None) -> None:
    """Open the usage screen; without a history there is no ledger to read, which is said."""
    if store is None:
        app.notify("History is off (--no-history or history = false): no ledger to read.", title="Usage")
        return
    app.push_screen(UsageScreen(store.usage()))
