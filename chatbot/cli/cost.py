"""`chat cost`: what a day (and a month) of identical requests costs, for one model or every catalogue model.

It reads no config and sends nothing, as the store commands do: the prices are the catalogue's (OpenAI's, as of
the date it gives), the arithmetic pricing.py's, exact in Decimal.
"""

from __future__ import annotations

from decimal import Decimal

from chatbot.cli.output import stderr, stdout
from chatbot.cli.parser import Parsed
from chatbot.core.errors import UsageError
from chatbot.core.models import CATALOGUE, PRICES_AS_OF, ModelSpec, match_catalogue
from chatbot.core.pricing import DAYS_IN_MONTH, Workload
from chatbot.core.text import plural

Costs = tuple[Decimal, Decimal, Decimal]  # a request's, a day's, DAYS_IN_MONTH days'


def run_cost(args: Parsed) -> int:
    workload = _workload(args)
    if args.cost_model is not None:
        spec = match_catalogue(args.cost_model, CATALOGUE)
        if spec is None or spec.price is None:
            raise UsageError(f"no price for {args.cost_model!r}: the catalogue lacks it",
                             "chat --list-models lists the models it prices; leave --model out to compare them all")
        specs = [spec]
    else:
        specs = list(CATALOGUE.values())
    priced = [(spec, costs) for spec in specs if (costs := workload.costs(spec)) is not None]
    fitting = [(spec, costs) for spec, costs in priced if workload.fits(spec)]
    too_long = [spec.name for spec, _ in priced if not workload.fits(spec)]
    what = (f"a request of {workload.prompt_tokens:,} prompt and {workload.completion_tokens:,} completion tokens "
            "does not fit")
    if not fitting:
        spec = specs[0]
        where = (f"{spec.name}'s window of {spec.context_window:,} tokens (output limit {spec.max_output:,})"
                 if len(specs) == 1 else "any catalogue model")
        raise UsageError(f"{what} {where}", "chat --list-models gives each model's window and output limit")
    # Cheapest first; the catalogue's order breaks ties (sorting is stable), so every run lists them alike.
    fitting.sort(key=lambda row: row[1][1])
    if args.as_json:
        stdout().json({"requests": workload.requests, "prompt_tokens": workload.prompt_tokens,
                       "completion_tokens": workload.completion_tokens, "cached_tokens": workload.cached_tokens,
                       "prices_as_of": PRICES_AS_OF, "days": DAYS_IN_MONTH,
                       "models": [{"model": spec.name, "request_usd": str(each), "daily_usd": str(daily),
                                   "period_usd": str(period)} for spec, (each, daily, period) in fitting],
                       "too_long": too_long}, indent=2)
    else:
        _table(workload, fitting)
    if too_long:
        stderr().line(f"chat: left out, {what} them: {', '.join(too_long)}")
    return 0


def _workload(args: Parsed) -> Workload:
    counts = {"--requests": args.requests, "--prompt": args.prompt_tokens, "--completion": args.completion_tokens,
              "--cached": args.cached_tokens}
    for flag, value in counts.items():
        if value < 0:
            raise UsageError(f"{flag} is {value}: counts of requests and tokens are never negative", "give 0 or more")
    if args.cached_tokens > args.prompt_tokens:
        raise UsageError(f"--cached {args.cached_tokens:,} is more than --prompt {args.prompt_tokens:,}",
                         "cached tokens are the part of the prompt the provider had cached")
    return Workload(args.requests, args.prompt_tokens, args.completion_tokens, args.cached_tokens)


def _table(workload: Workload, rows: list[tuple[ModelSpec, Costs]]) -> None:
    out = stdout()
    cached = f" ({workload.cached_tokens:,} cached)" if workload.cached_tokens else ""
    out.line(f"{plural(workload.requests, 'request')} a day of {workload.prompt_tokens:,} prompt tokens{cached} and "
             f"{workload.completion_tokens:,} completion tokens, at prices as of {PRICES_AS_OF}")
    out.table([("model", "per request", "per day", f"per {DAYS_IN_MONTH} days"),
               *((spec.name, *(dollars(c) for c in costs)) for spec, costs in rows)], right=(1, 2, 3))


def dollars(amount: Decimal) -> str:
    """The exact amount: cents at least (`$7.50`), and every digit it has below them (`$0.000075`)."""
    exact = amount.normalize()
    exponent = exact.as_tuple().exponent
    places = max(2, -exponent) if isinstance(exponent, int) else 2
    return f"${exact:,.{places}f}"
