"""`chat usage --chart`: spend per day as bars, from the ledger. main() runs in this process on a store made
here."""

from __future__ import annotations

import datetime as dt
import os
from decimal import Decimal
from pathlib import Path

import pytest

from chatbot.cli import main
from chatbot.cli.usage_chart import BAR_CELLS, CHART_DAYS, bar
from chatbot.core.events import Usage
from chatbot.core.request import Request
from chatbot.core.store.history import HistoryStore


def ledger(*requests: tuple[str, str, Decimal | None]) -> None:
    """Rows of the ledger: (day, model, cost), each at noon local time of its day."""
    store = HistoryStore(Path(os.environ["XDG_DATA_HOME"]) / "chatbot" / "history.db")
    try:
        for day, model, cost in requests:
            noon = dt.datetime.combine(dt.date.fromisoformat(day), dt.time(12)).timestamp()
            store.add_request(None, Request(model, "ok", Usage(10, 10), cost, timestamp=noon))
    finally:
        store.close()


def chart(capsys: pytest.CaptureFixture[str]) -> list[str]:
    assert main(["usage", "--chart"]) == 0
    return capsys.readouterr().out.splitlines()


def test_each_day_is_a_bar_scaled_to_the_day_that_spent_most(capsys: pytest.CaptureFixture[str]) -> None:
    ledger(("2026-11-01", "gpt-4o", Decimal("0.50")), ("2026-11-01", "gpt-5", Decimal("0.50")),
           ("2026-11-03", "gpt-4o", Decimal("0.25")))

    lines = chart(capsys)

    assert lines[0] == "spend per day, 2026-11-01 to 2026-11-03 (the longest bar: $1.00)"
    assert lines[1].split() == ["2026-11-01", "█" * BAR_CELLS, "$1.00"]  # both models of the day together
    assert lines[2].split() == ["2026-11-02", "$0"]  # a day without requests is a gap
    assert lines[3].split() == ["2026-11-03", "█" * (BAR_CELLS // 4), "$0.250"]
    assert len({len(line) for line in lines[1:]}) == 1  # the costs line up on the right


def test_unpriced_requests_are_marked_not_drawn_as_free(capsys: pytest.CaptureFixture[str]) -> None:
    ledger(("2026-11-01", "gpt-4o", Decimal("0.10")), ("2026-11-01", "llama3", None), ("2026-11-02", "llama3", None))

    lines = chart(capsys)

    assert lines[1].split() == ["2026-11-01", "█" * BAR_CELLS, "$0.100+?"]
    assert lines[2].split() == ["2026-11-02", "$?"]


def test_with_no_price_known_the_bars_are_tokens_and_the_title_says_why(capsys: pytest.CaptureFixture[str]) -> None:
    """Every request unpriced (a local server): not "the longest bar: $0" over empty bars, as if nothing was
    used, but what was used, in tokens."""
    ledger(("2026-11-01", "llama3", None), ("2026-11-01", "llama3", None), ("2026-11-03", "llama3", None))

    lines = chart(capsys)

    assert lines[0] == ("tokens per day, 2026-11-01 to 2026-11-03: no price is known for these requests "
                        "(the longest bar: 40 tokens)")
    assert lines[1].split() == ["2026-11-01", "█" * BAR_CELLS, "40", "tokens", "$?"]  # two requests of 10 + 10
    assert lines[2].split() == ["2026-11-02", "0", "tokens", "$0"]
    assert lines[3].split() == ["2026-11-03", "█" * (BAR_CELLS // 2), "20", "tokens", "$?"]
    assert "$0)" not in lines[0]


def test_requests_that_cost_nothing_are_drawn_as_tokens_too(capsys: pytest.CaptureFixture[str]) -> None:
    ledger(("2026-11-01", "free-model", Decimal(0)))

    lines = chart(capsys)

    assert lines[0] == ("tokens per day, 2026-11-01 to 2026-11-01: these requests cost nothing "
                        "(the longest bar: 20 tokens)")
    assert lines[1].split() == ["2026-11-01", "█" * BAR_CELLS, "20", "tokens", "$0"]


def test_only_the_last_days_are_drawn_and_the_rest_is_said(capsys: pytest.CaptureFixture[str]) -> None:
    first = dt.date(2026, 9, 1)
    ledger(*((str(first + dt.timedelta(days=n)), "gpt-4o", Decimal("0.01")) for n in range(CHART_DAYS + 4)))

    lines = chart(capsys)

    assert len(lines) == 1 + CHART_DAYS + 1
    assert lines[1].startswith(str(first + dt.timedelta(days=4)))
    assert lines[-1] == "4 earlier days not shown; chat usage lists every one"


def test_an_empty_ledger_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    assert chart(capsys) == ["nothing spent yet: chat usage counts every request chat sends"]


def test_chart_and_json_together_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["usage", "--chart", "--json"]) == 2
    assert "--chart draws for people and --json prints for scripts" in capsys.readouterr().err


@pytest.mark.parametrize(("part", "drawn"), [(1.0, "█" * BAR_CELLS), (0.5, "█" * (BAR_CELLS // 2)),
                                             (1 / (BAR_CELLS * 8), "▏"), (1e-9, "▏"), (0.0, ""),
                                             (3 / (BAR_CELLS * 8) + 1 / BAR_CELLS, "█▍")])
def test_bars_are_drawn_in_eighths_and_a_little_is_never_nothing(part: float, drawn: str) -> None:
    assert bar(part) == drawn
