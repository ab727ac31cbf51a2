"""Prices per 1M tokens and the exact cost of a request, in Decimal dollars.

Float sums drift; a session of thousands of requests must add up to the cent the provider bills.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from chatbot.core.events import Usage

PER = Decimal(1_000_000)


@dataclass(frozen=True, slots=True)
class Price:
    """Dollars per 1M tokens. Cached input defaults to the input price when a provider has no discount."""

    input: Decimal
    output: Decimal
    cached_input: Decimal | None = None

    def cost(self, usage: Usage) -> Decimal:
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


def cost_of(usage: Usage, price: Price | None) -> Decimal | None:
    """None means unknown, which is never shown as $0."""
    return None if price is None else price.cost(usage)


def format_cost(cost: Decimal | None) -> str:
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
