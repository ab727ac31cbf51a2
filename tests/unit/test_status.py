"""status_of(): the figures of the status bar, computed from a session driven against the fake (no screen)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from typing import Any

import pytest

from chatbot.core.client import ChatClient
from chatbot.core.events import Retrying, TextDelta
from chatbot.core.pricing import Spent
from chatbot.core.session import Session
from chatbot.core.status import Status, status_of
from fake_openai import Error, FakeOpenAI, Reply


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def make_session(fake: FakeOpenAI, make_settings: Any, api_key: str) -> AsyncIterator[Callable[..., Session]]:
    clients: list[ChatClient] = []

    async def no_wait(_delay: float) -> None:
        pass

    def make(clock: Clock | None = None, **flags: Any) -> Session:
        settings = make_settings(**flags)
        client = ChatClient(api_key=api_key, base_url=fake.base_url, max_retries=2, retry_max_wait=60, sleep=no_wait)
        clients.append(client)
        return Session(settings, client, clock=clock or Clock())

    yield make
    for client in clients:
        await client.aclose()


async def send(session: Session, text: str) -> None:
    async for _ in session.send(text):
        pass


def test_a_new_session_has_nothing_to_show_but_its_model(make_session: Callable[..., Session]) -> None:
    session = make_session(model="gpt-4o")
    assert status_of(session) == Status(model="gpt-4o", preset="balanced", ctx_limit=128_000)


async def test_after_a_reply_the_figures_are_the_last_requests(fake: FakeOpenAI,
                                                               make_session: Callable[..., Session]) -> None:
    fake.queue(Reply("hello", prompt_tokens=1200, completion_tokens=30, cached_tokens=200))
    session = make_session(model="gpt-4o")
    await send(session, "hi")
    status = status_of(session)
    assert (status.prompt_tokens, status.completion_tokens, status.cached_tokens) == (1200, 30, 200)
    assert not status.estimated and status.replied and not status.in_flight
    # 1000 uncached at $2.50, 200 cached at $1.25, 30 out at $10 per 1M
    assert status.last_cost == Decimal("0.00305") and status.session_cost == Spent(Decimal("0.00305"))
    window = session.last_window
    assert window is not None and status.ctx_used == window.prompt_tokens + 30
    assert status.retry is None and status.waiting_seconds is None and status.tokens_per_second is None


@pytest.mark.parametrize(("budget", "limit", "limited"), [(600, 600, True), (1_000_000, 128_000, False),
                                                          (None, 128_000, False)])
def test_ctx_is_measured_against_what_limits_the_request(make_session: Callable[..., Session], budget: int | None,
                                                         limit: int, limited: bool) -> None:
    session = make_session(model="gpt-4o", budget={"max_context_tokens": budget})
    status = status_of(session)
    assert (status.ctx_limit, status.budget_limited) == (limit, limited)


async def test_dropped_turns_are_the_next_requests(fake: FakeOpenAI, make_session: Callable[..., Session]) -> None:
    # The last request left out none; its long reply makes the next one leave a turn out, as ctrl+o lists it.
    fake.queue(Reply("alpha " * 20), Reply("beta " * 20), Reply("gamma " * 40))
    session = make_session(max_tokens=10, budget={"max_context_tokens": 120})
    for text in ("one " * 10, "two " * 10, "three"):
        await send(session, text)
    last, upcoming = session.last_window, session.next_window()
    assert last is not None and upcoming is not None and upcoming.dropped_turns > last.dropped_turns
    assert status_of(session).dropped_turns == upcoming.dropped_turns


async def test_a_request_in_flight_shows_its_own_figures(fake: FakeOpenAI,
                                                         make_session: Callable[..., Session]) -> None:
    fake.queue(Reply("first", prompt_tokens=100, completion_tokens=10), Reply(["one ", "two ", "three"]))
    clock = Clock()
    session = make_session(clock)
    await send(session, "one")
    turn = session.send("two")
    seen: list[Status] = []
    async for event in turn:
        if isinstance(event, TextDelta):
            clock.now += 1
            seen.append(status_of(session))
    first, last = seen[0], seen[-1]
    assert first.in_flight and first.estimated and first.replied and first.prompt_tokens > 0
    assert first.last_cost != session.totals.spent.known  # the reply streaming, not the previous one
    assert [s.completion_tokens for s in seen] == sorted(s.completion_tokens for s in seen)
    assert last.tokens_per_second == last.completion_tokens / len(seen)  # a second of the clock per piece


async def test_a_request_waiting_counts_its_seconds_and_shows_no_cost(fake: FakeOpenAI,
                                                                      make_session: Callable[..., Session]) -> None:
    hold = threading.Event()
    fake.queue(Reply("first", prompt_tokens=100, completion_tokens=10), Reply("second", hold=hold, hold_after=0))
    clock = Clock()
    session = make_session(clock)
    await send(session, "one")
    events = session.send("two").__aiter__()
    first = asyncio.ensure_future(events.__anext__())
    for _ in range(500):  # bounded by steps, not by time
        if len(fake.chat_requests) == 2:
            break
        await asyncio.sleep(0.01)
    clock.now += 7
    status = status_of(session)
    hold.set()
    await first
    async for _ in events:
        pass
    assert status.in_flight and status.waiting_seconds == 7 and status.retry is None
    assert not status.replied  # the previous reply's cost is not this request's


async def test_a_retry_counts_down_then_runs(fake: FakeOpenAI, make_session: Callable[..., Session]) -> None:
    fake.queue(Error(429, "Rate limit reached", type="requests", retry_after=30), Reply("at last"))
    clock = Clock()
    session = make_session(clock)
    statuses: list[Status] = []
    async for event in session.send("patience"):
        if isinstance(event, Retrying):
            statuses.append(status_of(session))
            clock.now += 12.5
            statuses.append(status_of(session))
            clock.now += 20  # past the wait: the retried attempt is out, waiting for its first token
            statuses.append(status_of(session))
    pending, later, running = statuses
    assert pending.retry is not None and pending.retry.seconds_left == 30 and pending.waiting_seconds is None
    assert later.retry is not None and later.retry.seconds_left == 18  # 17.5 left: a second is counted until over
    assert running.retry is not None and running.retry.seconds_left is None and running.waiting_seconds == 2
    assert running.retry.reason == pending.retry.reason and "Rate limit reached" in running.retry.reason
    assert status_of(session).retry is None  # settled


# -- a model nothing describes --

def openai_session(make_settings: Any, api_key: str, **flags: Any) -> Session:
    """A session whose client talks to api.openai.com. Nothing is sent: status_of and the menus only read it."""
    settings = make_settings(base_url=None, catalogue_prices=None, **flags)
    return Session(settings, ChatClient(api_key=api_key, base_url=None), clock=Clock())


def test_an_openai_model_the_catalogue_lacks_says_its_window_is_unknown(make_settings: Any, api_key: str) -> None:
    from chatbot.ui.widgets.status_bar import fit

    status = status_of(openai_session(make_settings, api_key, model="gpt-9-turbo"))

    assert status.window_unknown and status.ctx_limit == 8192
    assert "ctx 0 window ? (assumed 8,192)" in fit(status, 200)
    assert "ctx 0/8.2k?" in fit(status, 60)  # short labels
    assert "~" not in fit(status, 200)


def test_an_openai_model_the_config_gives_a_window_is_not_unknown(make_settings: Any, api_key: str) -> None:
    status = status_of(openai_session(make_settings, api_key, model="gpt-9-turbo",
                                      models={"gpt-9-turbo": {"context_window": 500_000}}))
    assert not status.window_unknown and not status.window_assumed and status.ctx_limit == 500_000


def test_a_local_servers_model_keeps_its_assumed_mark(make_session: Callable[..., Session]) -> None:
    from chatbot.ui.widgets.status_bar import fit

    status = status_of(make_session(model="llama3.2", catalogue_prices=None))

    assert status.window_assumed and not status.window_unknown
    assert "ctx 0/~8.2k" in fit(status, 200) and "window ?" not in fit(status, 200)


def test_the_model_menu_says_what_is_unknown_and_where_to_set_it(make_settings: Any, api_key: str) -> None:
    from chatbot.ui.screens.picker import model_picker

    session = openai_session(make_settings, api_key, model="gpt-9-turbo")
    items = {i.value: i for i in model_picker(session, ["gpt-9-mini", "gpt-4o"], lambda _picker: None).items}

    for name in ("gpt-9-turbo", "gpt-9-mini"):  # the current model, and one OpenAI lists
        assert items[name].detail == "window ? (assumed 8,192) · price unknown"
        assert items[name].note == f'set context_window, input_price and output_price under [models."{name}"] ' \
                                   "in the config"
    assert items["gpt-4o"].detail.startswith("128k ctx")


# -- the next request's worst case, beside the prompt --

def test_without_a_threshold_no_worst_case_is_computed(make_session: Callable[..., Session]) -> None:
    assert status_of(make_session(model="gpt-5.5")).next_worst_case is None


def test_an_empty_conversation_costs_at_most_its_max_tokens(make_session: Callable[..., Session]) -> None:
    # 4,096 tokens of output at gpt-5.5's $30.00 per 1M
    session = make_session(model="gpt-5.5", cost_hint_above=Decimal("0.01"))
    assert status_of(session).next_worst_case == Decimal("0.12288")


async def test_after_a_reply_the_worst_case_counts_the_conversation(fake: FakeOpenAI,
                                                                    make_session: Callable[..., Session]) -> None:
    fake.queue(Reply("word " * 50))
    session = make_session(model="gpt-5.5", cost_hint_above=Decimal("0.01"))
    await send(session, "hello " * 50)
    window = session.next_window()
    assert window is not None and window.prompt_tokens > 100
    expected = (window.prompt_tokens * Decimal("5.00") + 4096 * Decimal("30.00")) / 1_000_000
    assert status_of(session).next_worst_case == expected


def test_a_worst_case_under_the_threshold_is_not_shown(make_session: Callable[..., Session]) -> None:
    # gpt-4o-mini: 4,096 at $0.60 per 1M is $0.0024576, under a cent
    assert status_of(make_session(model="gpt-4o-mini", cost_hint_above=Decimal("0.01"))).next_worst_case is None


def test_an_unknown_price_has_no_worst_case(make_session: Callable[..., Session]) -> None:
    session = make_session(model="llama3.2", catalogue_prices=None, cost_hint_above=Decimal("0"))
    assert status_of(session).next_worst_case is None


async def test_files_waiting_to_be_sent_count_in_the_context_until_a_request_is_in_flight(
        fake: FakeOpenAI, make_session: Callable[..., Session]) -> None:
    gate = threading.Event()
    fake.queue(Reply("hello", prompt_tokens=40, completion_tokens=2), Reply(["a", "b"], hold=gate, hold_after=1))
    session = make_session(model="gpt-4o")
    await send(session, "hi")
    before = status_of(session)

    waiting = status_of(session, attached=765)

    assert (waiting.attached_tokens, waiting.ctx_used) == (765, before.ctx_used + 765)
    turn = session.send("more")
    events = aiter(turn)
    while not isinstance(await anext(events), TextDelta):
        pass
    in_flight = status_of(session, attached=765)  # the files are in the request now: counted once, in its window
    gate.set()
    async for _ in events:
        pass
    assert in_flight.attached_tokens == 0
    assert in_flight.ctx_used == session.last_window.prompt_tokens + in_flight.completion_tokens


async def test_switching_to_an_alternative_reply_counts_it_once_in_the_context(
        fake: FakeOpenAI, make_session: Callable[..., Session]) -> None:
    # Two replies of the same length (and tokens) to one question: either one uses the same context.
    fake.queue(Reply("alpha beta gamma", completion_tokens=3), Reply("delta omega kappa", completion_tokens=3))
    session = make_session(model="gpt-4o")
    await send(session, "a question")
    async for _ in session.regenerate():
        pass
    before = status_of(session).ctx_used
    second = session.conversation.last_reply()
    assert second is not None and second.content == "delta omega kappa"
    counter = session.counter
    path = session.conversation.all_messages()
    assert before == counter.count_prompt(path[:-1]) + 3

    first = session.switch(second, -1)

    assert first.content == "alpha beta gamma"
    assert status_of(session).ctx_used == before
    session.switch(first, 1)
    assert status_of(session).ctx_used == before


async def test_a_resumed_conversation_uses_the_context_it_was_left_with(
        fake: FakeOpenAI, make_session: Callable[..., Session]) -> None:
    fake.queue(Reply("alpha beta gamma delta", completion_tokens=4))
    session = make_session(model="gpt-4o")
    await send(session, "a question")
    left_with = status_of(session).ctx_used

    resumed = make_session(model="gpt-4o-mini")
    resumed.resume(session.conversation, "gpt-4o", "balanced")
    resumed.measure()

    assert status_of(resumed).ctx_used == left_with


@pytest.mark.parametrize(("model", "effort", "shown"), [("gpt-5", "low", "effort low"), ("gpt-5", None, None),
                                                         ("gpt-4o", "low", None)])
def test_the_effort_the_next_request_sends_is_shown_for_a_model_that_takes_one(
        make_session: Callable[..., Session], model: str, effort: Any, shown: str | None) -> None:
    from chatbot.ui.widgets.status_bar import fit
    session = make_session(model=model)
    session.effort = effort  # the effort menu's choice: a model that samples is sent none
    status = status_of(session)
    assert status.effort == (None if shown is None else effort)
    line = fit(status, 80)
    if shown is None:
        assert "effort" not in line
    else:
        assert line.startswith(f"{model} · balanced · {shown} │ ")
    assert len(line) <= 80
