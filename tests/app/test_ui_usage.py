"""The usage screen, from the command palette: spend per day as a sparkline and per model as a table, read from
the ledger the app writes."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

from textual.widgets import DataTable, Sparkline

from chatbot.core.events import Usage
from chatbot.core.request import Request
from chatbot.core.store.history import HistoryStore
from chatbot.ui.app import make_app
from chatbot.ui.screens.usage import UsageScreen
from fake_openai import FakeOpenAI
from support import Notified, run_command, screen_text, until

SIZE = (120, 36)


def noon(day: str) -> float:
    return dt.datetime.combine(dt.date.fromisoformat(day), dt.time(12)).timestamp()


def table_rows(app: Any) -> list[list[str]]:
    table = app.screen.query_one(DataTable)
    return [[str(cell) for cell in table.get_row_at(i)] for i in range(table.row_count)]


async def test_the_usage_screen_shows_spend_per_day_and_per_model(fake: FakeOpenAI, make_settings: Any,
                                                                  db: Path) -> None:
    store = HistoryStore(db)
    for day, model, cost in (("2026-11-01", "gpt-4o", Decimal("0.50")), ("2026-11-01", "gpt-5", Decimal("0.25")),
                             ("2026-11-03", "gpt-4o", Decimal("1.00")), ("2026-11-03", "\x1b]0;x\x07[b]evil", None)):
        store.add_request(None, Request(model, "ok", Usage(100, 20), cost, timestamp=noon(day)))
    app = make_app(make_settings(), store=store)
    async with app.run_test(size=SIZE) as pilot:
        await run_command(pilot, "Usage")
        await until(pilot, lambda: isinstance(app.screen, UsageScreen))
        await pilot.pause()
        assert list(app.screen.query_one(Sparkline).data or []) == [0.75, 0.0, 1.0]  # the empty day is a gap
        assert "Spend per day, 2026-11-01 to 2026-11-03: most $1.00+? on 2026-11-03" in screen_text(app)
        assert table_rows(app) == [["gpt-4o", "2", "200", "40", "$1.50"], ["gpt-5", "1", "100", "20", "$0.250"],
                                   ["[b]evil", "1", "100", "20", "$?"]]  # the model's name drawn as data
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, UsageScreen))


async def test_an_empty_ledger_says_nothing_was_spent(fake: FakeOpenAI, make_settings: Any, db: Path) -> None:
    app = make_app(make_settings(), store=HistoryStore(db))
    async with app.run_test(size=SIZE) as pilot:
        await run_command(pilot, "Usage")
        await until(pilot, lambda: isinstance(app.screen, UsageScreen))
        await pilot.pause()
        assert "Nothing spent yet" in screen_text(app)


async def test_without_a_history_the_usage_screen_says_why(fake: FakeOpenAI, make_settings: Any) -> None:
    notified = Notified()
    app = make_app(make_settings())
    async with app.run_test(size=SIZE, message_hook=notified) as pilot:
        await run_command(pilot, "Usage")
        await pilot.pause()
        assert not isinstance(app.screen, UsageScreen)
    assert any("no ledger to read" in note for note in notified.messages)
