"""Exact Decimal costs, cached-token pricing, worst cases and formatting."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chatbot.core.events import Usage
from chatbot.core.models import CATALOGUE
from chatbot.core.pricing import PER, Price, cost_of, format_cost

GPT_4O = CATALOGUE["gpt-4o"].price
GPT_4O_MINI = CATALOGUE["gpt-4o-mini"].price


def test_catalogue_prices_are_decimal() -> None:
    for spec in CATALOGUE.values():
        assert spec.price is not None
        for rate in (spec.price.input, spec.price.output, spec.price.cached_input):
            assert isinstance(rate, Decimal)


def test_cost_with_cached_tokens_at_cached_rate() -> None:
    usage = Usage(prompt_tokens=1000, completion_tokens=500, cached_tokens=400)
    cost = GPT_4O.cost(usage)
    expected = (600 * Decimal("2.50") + 400 * Decimal("1.25") + 500 * Decimal("10.00")) / Decimal(1_000_000)
    assert isinstance(cost, Decimal)
    assert cost == expected
    assert cost == Decimal("0.007")


def test_cost_without_cache() -> None:
    cost = GPT_4O_MINI.cost(Usage(prompt_tokens=12_345, completion_tokens=678))
    assert cost == (12_345 * Decimal("0.15") + 678 * Decimal("0.60")) / PER
    assert cost == Decimal("0.00225855")


def test_cost_of_zero_usage_is_zero() -> None:
    assert GPT_4O.cost(Usage()) == 0


def test_cached_tokens_never_exceed_prompt_tokens() -> None:
    """A server that reports more cached than prompt tokens is not trusted past the prompt."""
    assert GPT_4O.cost(Usage(prompt_tokens=100, cached_tokens=500)) == 100 * Decimal("1.25") / PER


def test_cached_rate_defaults_to_input_rate() -> None:
    price = Price(input=Decimal("3"), output=Decimal("15"))
    usage = Usage(prompt_tokens=1000, completion_tokens=100, cached_tokens=600)
    assert price.cost(usage) == (1000 * Decimal("3") + 100 * Decimal("15")) / PER
    assert price.cost(usage) == Price(Decimal("3"), Decimal("15")).cost(Usage(1000, 100))


def test_zero_cached_rate_is_not_the_default() -> None:
    price = Price(input=Decimal("3"), output=Decimal("15"), cached_input=Decimal("0"))
    assert price.cost(Usage(prompt_tokens=1000, cached_tokens=1000)) == 0


def test_cost_of_unknown_price_is_none() -> None:
    assert cost_of(Usage(prompt_tokens=10, completion_tokens=10), None) is None
    assert format_cost(cost_of(Usage(prompt_tokens=10), None)) == "$?"


def test_cost_of_known_price() -> None:
    usage = Usage(prompt_tokens=2000, completion_tokens=1000, cached_tokens=1000)
    assert cost_of(usage, GPT_4O) == GPT_4O.cost(usage) == Decimal("0.01375")


def test_free_model_costs_zero_not_unknown() -> None:
    free = Price(Decimal(0), Decimal(0))
    cost = cost_of(Usage(prompt_tokens=5000, completion_tokens=5000), free)
    assert cost == 0
    assert format_cost(cost) == "$0"


def test_worst_case() -> None:
    # every allowed output token, no cache discount
    assert GPT_4O.worst_case(1000, 4096) == (1000 * Decimal("2.50") + 4096 * Decimal("10.00")) / PER
    assert GPT_4O.worst_case(1000, 4096) == Decimal("0.04346")
    assert GPT_4O.worst_case(0, 0) == 0


def test_worst_case_is_at_least_any_actual_cost() -> None:
    for cached in (0, 500, 1000):
        for completion in (0, 10, 4096):
            assert GPT_4O.cost(Usage(1000, completion, cached)) <= GPT_4O.worst_case(1000, 4096)


def test_format_unknown() -> None:
    assert format_cost(None) == "$?"


def test_format_zero() -> None:
    assert format_cost(Decimal(0)) == "$0"


@pytest.mark.parametrize(
    ("cost", "shown"),
    [
        ("1234.5678", "$1234.57"),
        ("1000000", "$1000000.00"),
        ("1", "$1.00"),
        ("12.3456", "$12.35"),
        ("0.05", "$0.050"),
        ("0.1234", "$0.123"),
        ("0.0004", "$0.0004"),
        ("0.0025", "$0.0025"),
    ],
)
def test_format_amounts(cost: str, shown: str) -> None:
    assert format_cost(Decimal(cost)) == shown


def _shown_value(text: str) -> Decimal:
    match = re.fullmatch(r"<?\$(\d+(?:\.\d+)?)", text)
    assert match, text
    return Decimal(match.group(1))


@pytest.mark.parametrize("cost", ["0.00000075", "0.000003", "0.00001", "0.0000450", "0.00099", "0.0049"])
def test_tiny_amounts_are_not_shown_as_zero(cost: str) -> None:
    shown = format_cost(Decimal(cost))
    assert shown != "$0"
    assert _shown_value(shown) > 0, shown


@settings(max_examples=300, deadline=None)
@given(st.decimals(min_value=Decimal("0.000001"), max_value=Decimal("100000"), places=8))
def test_formatted_cost_is_close_to_the_cost(cost: Decimal) -> None:
    """What the user sees is the cost, to the precision shown: a cent for dollars, finer below a cent."""
    shown = _shown_value(format_cost(cost))
    tolerance = Decimal("0.005") if cost >= 1 else Decimal("0.0005") if cost >= Decimal("0.01") else cost / 2
    assert abs(shown - cost) <= tolerance, (cost, format_cost(cost))


def test_sum_of_ten_thousand_small_costs_is_exact() -> None:
    one = GPT_4O_MINI.cost(Usage(prompt_tokens=7, completion_tokens=3, cached_tokens=2))
    assert one == (5 * Decimal("0.15") + 2 * Decimal("0.075") + 3 * Decimal("0.60")) / PER
    total = sum((GPT_4O_MINI.cost(Usage(7, 3, 2)) for _ in range(10_000)), Decimal(0))
    assert total == one * 10_000
    assert total == Decimal("0.027")
    # the float equivalent drifts, which is why costs are Decimal
    assert sum(float(one) for _ in range(10_000)) != float(total)


def test_sum_of_varied_costs_is_exact() -> None:
    usages = [Usage(p, c, p // 3) for p in range(1, 101) for c in range(0, 100, 7)]
    total = sum((GPT_4O.cost(u) for u in usages), Decimal(0))
    tokens_in = sum(u.prompt_tokens - u.cached_tokens for u in usages)
    tokens_cached = sum(u.cached_tokens for u in usages)
    tokens_out = sum(u.completion_tokens for u in usages)
    expected = tokens_in * Decimal("2.50") + tokens_cached * Decimal("1.25") + tokens_out * Decimal("10.00")
    assert total == expected / PER
