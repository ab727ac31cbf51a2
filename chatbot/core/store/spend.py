"""What the ledger's rows (per day and model) add up to per day and per model: what `chat usage --chart` draws
and the app's usage screen shows."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import replace
from typing import TypeVar

from chatbot.core.pricing import Spent
from chatbot.core.store.ledger import Used

T = TypeVar("T")


def daily_spend(rows: Iterable[Used]) -> dict[dt.date, Spent]:
    """What each day spent, every model together, from the first day with a request to the last, the days
    between that spent nothing included (a gap is part of the picture)."""
    spent: dict[dt.date, Spent] = {}
    for row in rows:
        day = dt.date.fromisoformat(row.day)
        spent[day] = spent.get(day, Spent()) + row.cost
    return _every_day(spent, Spent())


def daily_tokens(rows: Iterable[Used]) -> dict[dt.date, int]:
    """The tokens each day's requests sent and got back (prompt and completion), days as daily_spend's."""
    tokens: dict[dt.date, int] = {}
    for row in rows:
        day = dt.date.fromisoformat(row.day)
        tokens[day] = tokens.get(day, 0) + row.prompt_tokens + row.completion_tokens
    return _every_day(tokens, 0)


def _every_day(per_day: dict[dt.date, T], nothing: T) -> dict[dt.date, T]:
    if not per_day:
        return {}
    first, last = min(per_day), max(per_day)
    return {first + dt.timedelta(days=n): per_day.get(first + dt.timedelta(days=n), nothing)
            for n in range((last - first).days + 1)}


def by_model(rows: Iterable[Used]) -> list[Used]:
    """Each model's requests, tokens and cost over every day (`day` is "all"), the costliest first; a model whose
    requests had no price at all sorts last."""
    models: dict[str | None, Used] = {}
    for row in rows:
        before = models.get(row.model)
        models[row.model] = replace(row, day="all") if before is None else before + row
    return sorted(models.values(), key=lambda used: (used.cost.known == 0 and used.cost.unpriced, -used.cost.known))
