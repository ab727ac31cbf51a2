"""Exact Decimal costs, cached-token pricing, long-context rates, reasoning tokens, worst cases and formatting."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chatbot.core import errors
from chatbot.core.client import ChatClient
from chatbot.core.events import ReasoningDelta, Usage
from chatbot.core.models import CATALOGUE, ModelSpec
from chatbot.core.pricing import PER, Price, billed, cost_of, format_cost, rate, worst_case
from chatbot.core.session import Session
from fake_openai import FakeOpenAI, Reply
from support import SleepRecorder

GPT_4O = CATALOGUE["gpt-4o"].price
GPT_4O_MINI = CATALOGUE["gpt-4o-mini"].price
# gpt-5.4: $2.50 in, $0.25 cached, $15.00 out; above 272,000 prompt tokens $5.00, $0.50, $22.50.
GPT_5_4 = CATALOGUE["gpt-5.4"]


def priced(price: Price | None) -> ModelSpec:
    return ModelSpec("some-model", 1_000_000, 100_000, price=price)


def test_catalogue_prices_are_decimal() -> None:
    for spec in CATALOGUE.values():
        assert spec.price is not None
        for each in (spec.price.input, spec.price.output, spec.price.cached_input):
            assert isinstance(each, Decimal)


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
    assert cost_of(Usage(prompt_tokens=10, completion_tokens=10), priced(None)) is None
    assert format_cost(cost_of(Usage(prompt_tokens=10), priced(None))) == "$?"
    assert worst_case(priced(None), 10, 10) is None


def test_cost_of_known_price() -> None:
    usage = Usage(prompt_tokens=2000, completion_tokens=1000, cached_tokens=1000)
    assert cost_of(usage, CATALOGUE["gpt-4o"]) == GPT_4O.cost(usage) == Decimal("0.01375")


def test_free_model_costs_zero_not_unknown() -> None:
    free = Price(Decimal(0), Decimal(0))
    cost = cost_of(Usage(prompt_tokens=5000, completion_tokens=5000), priced(free))
    assert cost == 0
    assert format_cost(cost) == "$0"


def test_a_request_that_used_nothing_is_billed_nothing_even_unpriced() -> None:
    assert billed(Usage(), priced(None)) == 0
    assert billed(Usage(prompt_tokens=1), priced(None)) is None


# -- long context ------------------------------------------------------------------------------


def test_a_prompt_over_the_long_context_threshold_bills_every_token_at_the_tier() -> None:
    # "Prompts with more than 272K input tokens are priced at 2x input and 1.5x output for the full session".
    usage = Usage(prompt_tokens=300_000, completion_tokens=2_000, cached_tokens=100_000)
    expected = (200_000 * Decimal("5.00") + 100_000 * Decimal("0.50") + 2_000 * Decimal("22.50")) / PER
    assert cost_of(usage, GPT_5_4) == billed(usage, GPT_5_4) == expected == Decimal("1.095")


def test_the_threshold_itself_is_still_the_normal_rate() -> None:
    at = Usage(prompt_tokens=272_000, completion_tokens=1_000)
    over = Usage(prompt_tokens=272_001, completion_tokens=1_000)
    assert cost_of(at, GPT_5_4) == (272_000 * Decimal("2.50") + 1_000 * Decimal("15.00")) / PER
    assert cost_of(over, GPT_5_4) == (272_001 * Decimal("5.00") + 1_000 * Decimal("22.50")) / PER
    assert rate(GPT_5_4, 272_000) == GPT_5_4.price
    assert GPT_5_4.long_context is not None and rate(GPT_5_4, 272_001) == GPT_5_4.long_context.price


def test_a_model_without_a_tier_keeps_its_rate_at_any_length() -> None:
    mini = CATALOGUE["gpt-5.4-mini"]
    assert mini.price is not None
    usage = Usage(prompt_tokens=390_000, completion_tokens=1_000)
    assert cost_of(usage, mini) == mini.price.cost(usage)


def test_the_worst_case_of_a_long_prompt_is_at_the_tier() -> None:
    assert worst_case(GPT_5_4, 300_000, 4_096) == (300_000 * Decimal("5.00") + 4_096 * Decimal("22.50")) / PER
    assert worst_case(GPT_5_4, 272_000, 4_096) == (272_000 * Decimal("2.50") + 4_096 * Decimal("15.00")) / PER


@pytest.mark.parametrize("prompt", [1_000, 272_000, 272_001, 900_000])
def test_worst_case_is_at_least_any_actual_cost_on_either_side_of_the_threshold(prompt: int) -> None:
    worst = worst_case(GPT_5_4, prompt, 4_096)
    assert worst is not None
    for cached in (0, prompt // 2, prompt):
        for completion in (0, 10, 4_096):
            cost = cost_of(Usage(prompt, completion, cached), GPT_5_4)
            assert cost is not None and cost <= worst


# -- reasoning tokens --------------------------------------------------------------------------


def test_reasoning_tokens_are_billed_once_as_output() -> None:
    # OpenAI counts them inside completion_tokens: 900 output tokens, 850 of them reasoning, cost 900 outputs.
    o3 = CATALOGUE["o3"]
    usage = Usage(prompt_tokens=1_000, completion_tokens=900, reasoning_tokens=850)
    expected = (1_000 * Decimal("2.00") + 900 * Decimal("8.00")) / PER
    assert cost_of(usage, o3) == cost_of(Usage(1_000, 900), o3) == expected


# -- a request's cost as the session records it, against the fake server ------------------------


@pytest.fixture
async def make_session(fake: FakeOpenAI, make_settings, api_key: str) -> AsyncIterator[Callable[..., Session]]:
    clients: list[ChatClient] = []

    def make(**flags: Any) -> Session:
        client = ChatClient(api_key=api_key, base_url=fake.base_url, timeout=10.0, sleep=SleepRecorder())
        clients.append(client)
        return Session(make_settings(**flags), client)

    yield make
    for client in clients:
        await client.aclose()


async def test_a_long_prompt_request_is_billed_at_the_tier(fake: FakeOpenAI, make_session) -> None:
    fake.queue(Reply("ok", prompt_tokens=300_000, completion_tokens=2_000, cached_tokens=100_000))
    session = make_session(model="gpt-5.4")

    [_ async for _ in session.send("summarise the attached book")]

    assert session.last_cost == session.totals.cost == Decimal("1.095")  # at the normal rate: $0.555


async def test_a_reasoning_reply_keeps_only_its_text_and_is_billed_once(fake: FakeOpenAI, make_session) -> None:
    fake.queue(Reply("Paris.", reasoning="The capital of France.", prompt_tokens=40, completion_tokens=900,
                     reasoning_tokens=850))
    session = make_session(model="o3")

    events = [event async for event in session.send("capital of France?")]

    assert "".join(e.text for e in events if isinstance(e, ReasoningDelta)) == "The capital of France."
    reply = session.conversation.messages[-1]
    assert (reply.role, reply.content) == ("assistant", "Paris.")
    assert session.totals.requests == 1  # the reasoning was not taken for a retry
    assert session.last_usage is not None
    assert (session.last_usage.completion_tokens, session.last_usage.reasoning_tokens) == (900, 850)
    assert session.last_cost == (40 * Decimal("2.00") + 900 * Decimal("8.00")) / PER


async def test_the_spend_guard_prices_a_long_prompt_at_the_tier(fake: FakeOpenAI, make_session) -> None:
    # About 280K prompt tokens and 1,000 of output: at most $0.72 at gpt-5.4's normal rate, $1.42 at the tier's.
    fake.queue(Reply("must not be requested"))
    session = make_session(model="gpt-5.4", max_tokens=1_000, max_session_cost=Decimal("1.00"))

    with pytest.raises(errors.SpendLimitError) as info:
        [_ async for _ in session.send("a" + " a" * 280_000)]

    assert "could cost up to $1.42" in info.value.message
    assert fake.chat_requests == []


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
