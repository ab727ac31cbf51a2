"""Prices per 1M tokens and the exact cost of a request, in Decimal dollars.

Float sums drift; a session of thousands of requests must add up to the cent the provider bills.

One rule prices a request: `rate` picks the price its prompt length is billed at (the model's, or its
long-context tier's), and `cost_of`, `billed` and `worst_case` apply that price. Reasoning tokens need no rule of
their own: they are part of completion_tokens and billed as output with them.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from chatbot.core.events import Usage

if TYPE_CHECKING:
    # Only a type: the catalogue imports this module for Price.
    from chatbot.core.models import ModelSpec

PER = Decimal(1_000_000)


@dataclass(frozen=True, slots=True)
class Price:
    """Dollars per 1M tokens. Cached input defaults to the input price when a provider has no discount."""

    input: Decimal
    output: Decimal
    cached_input: Decimal | None = None

    def cost(self, usage: Usage) -> Decimal:
        """`usage` at these rates. What a request costs is `cost_of`'s: its prompt length may call for another."""
        cached = min(usage.cached_tokens, usage.prompt_tokens)
        cached_rate = self.input if self.cached_input is None else self.cached_input
        return (
            (usage.prompt_tokens - cached) * self.input
            + cached * cached_rate
            + usage.completion_tokens * self.output
        ) / PER

    def worst_case(self, prompt_tokens: int, max_tokens: int) -> Decimal:
        """The most a request can cost: no cache hit and every allowed output token."""
        return (prompt_tokens * self.input + max_tokens * self.output) / PER


def rate(spec: ModelSpec, prompt_tokens: int) -> Price | None:
    """The price a request with `prompt_tokens` of prompt is billed at (None: unknown). Over the model's
    long-context threshold that is the tier's price, for every token of the request, output and cached input
    included."""
    tier = spec.long_context
    if spec.price is not None and tier is not None and prompt_tokens > tier.above:
        return tier.price
    return spec.price


def cost_of(usage: Usage, spec: ModelSpec) -> Decimal | None:
    """What `usage` costs at `spec`'s prices. None means unknown, which is never shown as $0."""
    price = rate(spec, usage.prompt_tokens)
    return None if price is None else price.cost(usage)


def worst_case(spec: ModelSpec, prompt_tokens: int, max_tokens: int) -> Decimal | None:
    """The most a request of `prompt_tokens` can cost on `spec` (None: unknown): no cache hit and every allowed
    output token, at the rate its prompt length is billed at."""
    price = rate(spec, prompt_tokens)
    return None if price is None else price.worst_case(prompt_tokens, max_tokens)


@dataclass(frozen=True, slots=True)
class Spent:
    """A sum of costs: the part whose price is known, and whether some part of it had no price."""

    known: Decimal = Decimal(0)
    unpriced: bool = False

    @classmethod
    def of(cls, cost: Decimal | None) -> Spent:
        return cls(unpriced=True) if cost is None else cls(cost)

    def __add__(self, other: Spent) -> Spent:
        return Spent(self.known + other.known, self.unpriced or other.unpriced)

    @property
    def exact(self) -> Decimal | None:
        """The total, or None when some part of it is unknown."""
        return None if self.unpriced else self.known


def format_cost(cost: Decimal | Spent | None) -> str:
    """$0.000207; a sum with unpriced parts shows what is known and a mark ($0.000207+?), `$?` only when
    nothing is."""
    if isinstance(cost, Spent):
        if not cost.unpriced:
            return format_cost(cost.known)
        return "$?" if cost.known == 0 else format_cost(cost.known) + "+?"
    if cost is None:
        return "$?"
    if cost == 0:
        return "$0"
    if cost < Decimal("0.000001"):
        return "<$0.000001"
    if cost < Decimal("0.01"):
        # Small replies cost fractions of a cent; show them to the micro-dollar rather than as $0.0000.
        digits = f"{cost:.6f}".rstrip("0")
        return "$" + digits.ljust(6, "0") if len(digits) < 6 else "$" + digits
    return f"${cost:.2f}" if cost >= 1 else f"${cost:.3f}"


def billed(usage: Usage, spec: ModelSpec) -> Decimal | None:
    """What one request cost: nothing when it used no tokens (a failed or refused request), whatever the price;
    else its cost, None if the price is unknown."""
    if not (usage.prompt_tokens or usage.completion_tokens or usage.cached_tokens):
        return Decimal(0)
    return cost_of(usage, spec)


DAYS_IN_MONTH = 30  # what `chat cost` calls a month: a round figure a reader can check by hand


@dataclass(frozen=True, slots=True)
class Workload:
    """A day of identical requests, as `chat cost` plans one: how many, and each one's tokens."""

    requests: int
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int = 0  # of the prompt tokens

    @property
    def usage(self) -> Usage:
        """One request's usage."""
        return Usage(self.prompt_tokens, self.completion_tokens, self.cached_tokens)

    def fits(self, spec: ModelSpec) -> bool:
        """Whether one request fits `spec`: its prompt and reply in the window, its reply in the output limit."""
        return (self.prompt_tokens + self.completion_tokens <= spec.context_window
                and self.completion_tokens <= spec.max_output)

    def costs(self, spec: ModelSpec) -> tuple[Decimal, Decimal, Decimal] | None:
        """A request's, the day's and DAYS_IN_MONTH days' cost on `spec`, exactly (None: its price is unknown);
        each request at the rate its prompt length is billed at, so a long prompt pays the long-context tier."""
        each = cost_of(self.usage, spec)
        if each is None:
            return None
        daily = each * self.requests
        return each, daily, daily * DAYS_IN_MONTH
