"""`chat usage --chart`: what was spent each day, from the ledger, as a bar chart in the terminal.

Every day from the first with a request to the last is a row (a day without requests is an empty bar: a gap
is part of the picture), the last CHART_DAYS of them at most. Bars are drawn in eighths of a cell, scaled so the
day that spent most fills BAR_CELLS; the cost beside each is format_cost's, so a day with unpriced requests
reads `$0.0012+?` and one with nothing priced `$?`, with no bar. When no day shown has a price to draw (a local
server chat has no prices for, or one priced at nothing), the bars are the tokens each day used, and the title
says why: empty bars under "the longest bar: $0" would say nothing was used.
"""

from __future__ import annotations

from collections.abc import Iterable

from chatbot.cli.output import Output
from chatbot.core.pricing import format_cost
from chatbot.core.store.ledger import Used
from chatbot.core.store.spend import daily_spend, daily_tokens

BAR_CELLS = 40
CHART_DAYS = 31
_EIGHTHS = " ▏▎▍▌▋▊▉"


def bar(part: float) -> str:
    """A bar of `part` (0..1) of BAR_CELLS, in eighths; anything above nothing shows at least one eighth."""
    eighths = round(part * BAR_CELLS * 8)
    if part > 0:
        eighths = max(eighths, 1)
    full, rest = divmod(eighths, 8)
    return "█" * full + (_EIGHTHS[rest] if rest else "")


def chart(rows: Iterable[Used], out: Output) -> None:
    rows = list(rows)  # read twice when the bars are tokens
    days = daily_spend(rows)
    if not days:
        out.line("nothing spent yet: chat usage counts every request chat sends")
        return
    shown = list(days.items())[-CHART_DAYS:]
    most = max(spent.known for _, spent in shown)
    span = f"{shown[0][0]} to {shown[-1][0]}"
    if most:
        out.line(f"spend per day, {span} (the longest bar: {format_cost(most)})")
        out.table([(day.isoformat(), bar(float(spent.known / most)), format_cost(spent))
                   for day, spent in shown], right=(2,))
    else:
        tokens = daily_tokens(rows)
        most_tokens = max(tokens[day] for day, _ in shown)
        why = ("no price is known for these requests" if any(spent.unpriced for _, spent in shown)
               else "these requests cost nothing")
        out.line(f"tokens per day, {span}: {why} (the longest bar: {most_tokens:,} tokens)")
        out.table([(day.isoformat(), bar(tokens[day] / most_tokens) if most_tokens else "",
                    f"{tokens[day]:,} tokens", format_cost(spent)) for day, spent in shown], right=(2, 3))
    if len(days) > len(shown):
        left_out = len(days) - len(shown)
        out.line(f"{left_out:,} earlier day{'' if left_out == 1 else 's'} not shown; chat usage lists every one")
