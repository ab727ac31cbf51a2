"""Session with a real ChatClient against the fake: the conversation, the window, the totals and the guards."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from typing import Any

import pytest

from chatbot.core import errors
from chatbot.core.client import ChatClient
from chatbot.core.conversation import Conversation, Message
from chatbot.core.events import Finished, Retrying, TextDelta, Usage, UsageReport
from chatbot.core.pricing import Spent
from chatbot.core.session import Session
from chatbot.core.status import costs
from chatbot.core.tokens import REPLY_PRIMING, TokenCounter
from fake_openai import Error, FakeOpenAI, Hang, Reply
from support import SleepRecorder

M = Decimal(1_000_000)
# Catalogue prices, dollars per 1M tokens: (input, cached input, output).
PRICES = {"gpt-4o-mini": (Decimal("0.15"), Decimal("0.075"), Decimal("0.60")),
          "gpt-4o": (Decimal("2.50"), Decimal("1.25"), Decimal("10.00"))}


def expected_cost(model: str, prompt: int, completion: int, cached: int = 0) -> Decimal:
    inp, cached_rate, out = PRICES[model]
    return ((prompt - cached) * inp + cached * cached_rate + completion * out) / M


@pytest.fixture
async def make_session(fake: FakeOpenAI, make_settings, api_key: str) -> AsyncIterator[Callable[..., Session]]:
    clients: list[ChatClient] = []

    def make(**flags: Any) -> Session:
        settings = make_settings(**flags)
        client = ChatClient(api_key=api_key, base_url=fake.base_url, timeout=10.0,
                            max_retries=settings.max_retries, retry_max_wait=settings.retry_max_wait,
                            sleep=SleepRecorder())
        clients.append(client)
        return Session(settings, client)

    yield make
    for client in clients:
        await client.aclose()


async def send(session: Session, text: str) -> list[Any]:
    return [event async for event in session.send(text)]


def text_of(events: list[Any]) -> str:
    return "".join(e.text for e in events if isinstance(e, TextDelta))


def roles(messages: list[Any]) -> list[str]:
    return [m["role"] if isinstance(m, dict) else m.role for m in messages]


# -- one turn and the totals -----------------------------------------------------------------


async def test_send_appends_user_and_assistant_with_usage_and_cost(fake: FakeOpenAI, make_session) -> None:
    fake.queue(Reply("Hi there!", prompt_tokens=1200, completion_tokens=300, cached_tokens=1000))
    session = make_session(model="gpt-4o-mini")

    events = await send(session, "hello")

    assert text_of(events) == "Hi there!"
    assert isinstance(events[-1], Finished)
    user, assistant = session.conversation.messages
    assert (user.role, user.content) == ("user", "hello")
    assert (assistant.role, assistant.content) == ("assistant", "Hi there!")
    assert assistant.model == "gpt-4o-mini"
    assert assistant.finish_reason == "stop"
    assert not assistant.partial
    assert (assistant.usage.prompt_tokens, assistant.usage.completion_tokens, assistant.usage.cached_tokens) == (
        1200, 300, 1000)
    assert assistant.usage.estimated is False
    assert isinstance(assistant.cost, Decimal)
    assert assistant.cost == expected_cost("gpt-4o-mini", 1200, 300, 1000)
    assert session.last_cost == assistant.cost
    assert session.last_usage == assistant.usage
    assert session.in_flight is None
    assert fake.last_body["messages"][-1] == {"role": "user", "content": "hello"}


async def test_totals_add_up_over_several_turns(fake: FakeOpenAI, make_session) -> None:
    turns = [(100, 20, 0), (250, 40, 128), (400, 7, 384)]
    fake.queue(*(Reply(f"reply {i}", prompt_tokens=p, completion_tokens=c, cached_tokens=k)
                 for i, (p, c, k) in enumerate(turns)))
    session = make_session(model="gpt-4o")

    for i in range(len(turns)):
        await send(session, f"question {i}")

    totals = session.totals
    assert totals.prompt_tokens == 750
    assert totals.completion_tokens == 67
    assert totals.cached_tokens == 512
    expected = sum((expected_cost("gpt-4o", p, c, k) for p, c, k in turns), Decimal(0))
    assert totals.cost == expected
    assert totals.known_cost == expected
    assert totals.cost == sum((m.cost for m in session.conversation.messages if m.role == "assistant"), Decimal(0))
    assert roles(session.conversation.messages) == ["user", "assistant"] * 3
    # Each request carries the whole conversation so far.
    assert roles(fake.last_body["messages"]) == ["system", "user", "assistant", "user", "assistant", "user"]
    assert fake.last_body["messages"][2] == {"role": "assistant", "content": "reply 0"}


async def test_unknown_price_gives_cost_none(fake: FakeOpenAI, make_session) -> None:
    fake.queue(Reply("priced"), Reply("unpriced", prompt_tokens=50, completion_tokens=5))
    session = make_session(model="gpt-4o-mini")

    await send(session, "one")
    assert session.totals.known_cost is not None
    session.set_model("my-local-llama")
    await send(session, "two")

    reply = session.conversation.messages[-1]
    assert reply.cost is None
    assert session.last_cost is None
    assert session.totals.known_cost is None
    assert session.totals.cost_complete is False
    assert session.totals.completion_tokens == 1 + 5  # the tokens still count
    assert fake.last_body["model"] == "my-local-llama"


# -- the window ------------------------------------------------------------------------------


async def test_sliding_window_drops_oldest_turns(fake: FakeOpenAI, make_session) -> None:
    system = "You are terse."
    users = [f"question {i}: " + "alpha beta gamma delta " * 10 for i in range(4)]
    replies = [f"answer {i}: " + "one two three four " * 10 for i in range(4)]
    counter = TokenCounter("o200k_base")
    cost = [counter.count_message(Message("user", u)) + counter.count_message(Message("assistant", r))
            for u, r in zip(users, replies, strict=True)]
    fixed = REPLY_PRIMING + counter.count_message(Message("system", system))
    user_only = counter.count_message(Message("user", users[2]))
    # Room for the system prompt, one whole earlier turn and the newest question, not two earlier turns.
    budget = fixed + max(cost) + user_only + 5
    assert fixed + cost[0] + cost[1] + user_only > budget
    max_tokens = 50
    session = make_session(model="gpt-4o-mini", system_prompt=system, max_tokens=max_tokens,
                           budget={"max_context_tokens": budget + max_tokens})
    assert session.budget() == budget
    fake.queue(*(Reply(r) for r in replies))

    await send(session, users[0])
    await send(session, users[1])
    assert session.last_window.dropped == []
    assert len(fake.last_body["messages"]) == 4

    await send(session, users[2])

    body = fake.last_body["messages"]
    assert body[0] == {"role": "system", "content": system}
    assert [m["content"] for m in body[1:]] == [users[1], replies[1], users[2]]
    first_user, first_reply = session.conversation.messages[:2]
    assert [m.content for m in session.last_window.dropped] == [users[0], replies[0]]
    assert session.last_window.dropped[0] is first_user and session.last_window.dropped[1] is first_reply
    assert session.last_window.prompt_tokens <= budget
    # The conversation itself keeps everything; only the request is trimmed.
    assert len(session.conversation.messages) == 6

    await send(session, users[3])

    body = fake.last_body["messages"]
    assert body[0] == {"role": "system", "content": system}
    assert [m["content"] for m in body[1:]] == [users[2], replies[2], users[3]]
    assert [m.content for m in session.last_window.dropped] == users[:1] + replies[:1] + users[1:2] + replies[1:2]
    # The next request would keep only the newest whole turn.
    assert session.dropped() == session.conversation.messages[:6]


async def test_system_prompt_first_in_every_request(fake: FakeOpenAI, make_session) -> None:
    fake.queue(Reply("a"), Reply("b"), Reply("c"))
    session = make_session(system_prompt="Answer in French.")

    for text in ("one", "two", "three"):
        await send(session, text)
        assert fake.last_body["messages"][0] == {"role": "system", "content": "Answer in French."}
        assert sum(m["role"] == "system" for m in fake.last_body["messages"]) == 1


async def test_newest_message_too_long_fails_before_any_request(fake: FakeOpenAI, make_session) -> None:
    session = make_session(max_tokens=50, budget={"max_context_tokens": 100})

    with pytest.raises(errors.ContextTooLongError):
        await send(session, "word " * 500)

    assert fake.requests == []
    assert session.conversation.messages == []


# -- switching model and preset -------------------------------------------------------------


async def test_switching_model_and_preset_changes_the_next_request(fake: FakeOpenAI, make_session) -> None:
    fake.queue(Reply("a"), Reply("b"), Reply("{}"))
    session = make_session(model="gpt-4o", system_prompt="Sys.")

    await send(session, "one")
    body = fake.last_body
    assert (body["model"], body["temperature"], body["max_tokens"]) == ("gpt-4o", 1.0, 4096)
    assert body["messages"][0]["role"] == "system"

    session.set_model("gpt-5")
    await send(session, "two")
    body = fake.last_body
    assert body["model"] == "gpt-5"
    assert "temperature" not in body and "max_tokens" not in body
    assert body["max_completion_tokens"] == 4096
    assert body["messages"][0] == {"role": "developer", "content": "Sys."}
    assert session.conversation.messages[-1].model == "gpt-5"

    session.set_model("gpt-4o-mini")
    session.set_preset("extraction")
    await send(session, "three")
    body = fake.last_body
    assert body["model"] == "gpt-4o-mini"
    assert body["response_format"] == {"type": "json_object"}
    assert (body["temperature"], body["max_tokens"]) == (0.0, 2000)
    assert body["messages"][0]["role"] == "system"


async def test_unknown_preset_is_refused(make_session) -> None:
    session = make_session()

    with pytest.raises(errors.ConfigError):
        session.set_preset("no-such-preset")

    assert session.preset_name == "balanced"


# -- failures, drops and stops ---------------------------------------------------------------


async def test_failure_before_first_token_takes_the_message_back(fake: FakeOpenAI, make_session) -> None:
    fake.queue(Reply("first answer"), Error(401, "bad key", code="invalid_api_key"))
    session = make_session()
    await send(session, "first")
    before = list(session.conversation.messages)
    totals_before = (session.totals.prompt_tokens, session.totals.completion_tokens, session.totals.cost)

    with pytest.raises(errors.AuthError):
        await send(session, "second")

    assert session.conversation.messages == before
    assert (session.totals.prompt_tokens, session.totals.completion_tokens, session.totals.cost) == totals_before
    assert session.in_flight is None


async def test_failure_after_retries_takes_the_message_back(fake: FakeOpenAI, make_session) -> None:
    fake.queue(*(Error(503, "overloaded", type="server_error") for _ in range(2)))
    session = make_session(max_retries=1)
    events: list[Any] = []

    with pytest.raises(errors.ServerError):
        async for event in session.send("hello"):
            events.append(event)

    assert [type(e) for e in events] == [Retrying]
    assert session.conversation.messages == []
    assert session.totals.prompt_tokens == 0
    assert len(fake.chat_requests) == 2


async def test_drop_mid_stream_keeps_the_partial_reply(fake: FakeOpenAI, make_session) -> None:
    fake.queue(Reply("one two three four", drop_after=2))
    session = make_session(model="gpt-4o")
    events: list[Any] = []

    with pytest.raises(errors.StreamDroppedError) as info:
        async for event in session.send("count"):
            events.append(event)

    assert text_of(events) == "one two"
    user, reply = session.conversation.messages
    assert user.content == "count"
    assert reply.content == "one two"
    assert reply.error == info.value.message
    assert reply.stopped is False and reply.partial is True
    counter = session.counter
    assert reply.usage.estimated is True
    assert reply.usage.completion_tokens == counter.count_text("one two")
    assert reply.usage.prompt_tokens == session.last_window.prompt_tokens > 0
    assert session.totals.completion_tokens == reply.usage.completion_tokens
    assert session.totals.prompt_tokens == reply.usage.prompt_tokens
    assert reply.cost is not None and reply.cost > 0
    assert session.totals.cost == reply.cost


async def test_a_reply_without_usage_is_counted_whole_not_delta_by_delta(fake: FakeOpenAI, make_session) -> None:
    pieces = ["Hel", "lo wor", "ld, how", " are y", "ou?"]  # deltas that cut words, and so tokens, apart
    fake.queue(Reply(pieces, send_usage=False))
    session = make_session(model="gpt-4o-mini")
    counter = session.counter
    by_delta = sum(counter.count_text(piece) for piece in pieces)
    whole = counter.count_text("".join(pieces))
    assert by_delta > whole  # the running count while it streams overshoots

    await send(session, "hi")

    reply = session.conversation.last_reply()
    assert reply.usage.estimated is True
    assert reply.usage.completion_tokens == whole
    assert reply.usage.prompt_tokens == session.last_window.prompt_tokens
    assert session.totals.completion_tokens == whole
    assert reply.cost == expected_cost("gpt-4o-mini", reply.usage.prompt_tokens, whole)


async def test_cancel_mid_stream_keeps_the_partial_reply_marked_stopped(fake: FakeOpenAI, make_session) -> None:
    fake.queue(Reply("alpha beta gamma delta epsilon zeta", chunk_delay=0.5))
    session = make_session(model="gpt-4o-mini")
    first = asyncio.Event()
    received: list[str] = []

    async def consume() -> None:
        async for event in session.send("tell me slowly"):
            if isinstance(event, TextDelta):
                received.append(event.text)
                first.set()

    task = asyncio.create_task(consume())
    await first.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    assert received and "".join(received) != "alpha beta gamma delta epsilon zeta"
    user, reply = session.conversation.messages
    assert user.content == "tell me slowly"
    assert reply.role == "assistant"
    assert reply.content == "".join(received)
    assert reply.stopped is True
    assert reply.error is None
    assert reply.usage.estimated is True
    assert reply.usage.completion_tokens == session.counter.count_text(reply.content) > 0
    assert session.totals.completion_tokens == reply.usage.completion_tokens
    assert session.totals.prompt_tokens == session.last_window.prompt_tokens
    assert reply.cost == expected_cost("gpt-4o-mini", reply.usage.prompt_tokens, reply.usage.completion_tokens)
    assert session.in_flight is None


async def test_cancel_before_first_token_takes_the_message_back(fake: FakeOpenAI, make_session) -> None:
    fake.queue(Hang())
    session = make_session()

    async def consume() -> None:
        async for _ in session.send("are you there?"):
            pass

    task = asyncio.create_task(consume())
    while session.in_flight is None and not task.done():
        await asyncio.sleep(0)  # yield to the task until its request is under way (no wall-clock wait)
    assert session.conversation.messages[-1].content == "are you there?"
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    assert session.conversation.messages == []
    assert session.totals.prompt_tokens == 0 and session.totals.completion_tokens == 0
    assert session.in_flight is None


async def test_closing_send_mid_stream_keeps_question_and_partial_reply(fake: FakeOpenAI, make_session) -> None:
    # Regression: aclose() used to pop the question before the inner reply() settled, and the partial reply
    # was appended later, orphaned, when that generator was finalized.
    fake.queue(Reply("alpha beta gamma delta", chunk_delay=0.5))
    session = make_session()

    stream = session.send("question")
    async for event in stream:
        if isinstance(event, TextDelta):
            break
    await stream.aclose()

    assert roles(session.conversation.messages) == ["user", "assistant"]
    assert session.conversation.messages[0].content == "question"
    assert session.conversation.messages[1].content == "alpha"
    assert session.conversation.messages[1].stopped is True


# -- regenerate ------------------------------------------------------------------------------


async def test_regenerate_replaces_the_last_reply(fake: FakeOpenAI, make_session) -> None:
    fake.queue(Reply("first try", prompt_tokens=10, completion_tokens=2),
               Reply("second try", prompt_tokens=10, completion_tokens=3))
    session = make_session()
    await send(session, "question")

    events = [event async for event in session.regenerate()]

    assert text_of(events) == "second try"
    assert [(m.role, m.content) for m in session.conversation.messages] == [
        ("user", "question"), ("assistant", "second try")]
    # The new request does not carry the reply it replaces.
    assert fake.last_body["messages"][1:] == [{"role": "user", "content": "question"}]
    # Both replies were billed.
    assert session.totals.completion_tokens == 5
    assert session.totals.prompt_tokens == 20


async def test_regenerate_after_a_drop_replaces_the_partial_reply(fake: FakeOpenAI, make_session) -> None:
    fake.queue(Reply("half of it", drop_after=1), Reply("all of it"))
    session = make_session()
    with pytest.raises(errors.StreamDroppedError):
        await send(session, "question")
    assert session.conversation.messages[-1].partial

    await anext_all(session.regenerate())

    assert [(m.role, m.content, m.partial) for m in session.conversation.messages] == [
        ("user", "question", False), ("assistant", "all of it", False)]


async def test_failed_regenerate_keeps_the_previous_reply(fake: FakeOpenAI, make_session) -> None:
    fake.queue(Reply("first answer"), Error(429, "Rate limit reached", code="rate_limit_exceeded"))
    session = make_session(max_retries=0)
    await send(session, "question")
    before = list(session.conversation.messages)

    with pytest.raises(errors.RateLimitError):
        await anext_all(session.regenerate())

    assert session.conversation.messages == before
    assert session.conversation.last_reply().content == "first answer"


async def anext_all(stream: AsyncIterator[Any]) -> list[Any]:
    return [event async for event in stream]


# -- the spend guard -------------------------------------------------------------------------


async def test_spend_limit_refuses_before_any_request(fake: FakeOpenAI, make_session) -> None:
    fake.queue(Reply("never sent"))
    # Worst case for gpt-4o: 4096 output tokens at $10/1M is about $0.04.
    session = make_session(model="gpt-4o", max_session_cost=Decimal("0.01"))

    with pytest.raises(errors.SpendLimitError) as info:
        await send(session, "hello")

    assert fake.requests == []
    assert fake.pending == 1
    assert session.conversation.messages == []
    assert info.value.exit_code == errors.EXIT_RATE
    assert "$0.01" in info.value.message


async def test_spend_limit_counts_what_was_already_spent(fake: FakeOpenAI, make_session) -> None:
    # gpt-4o, max_tokens 100: worst case of a small prompt is about $0.001; the first reply costs $0.0105.
    fake.queue(Reply("pricey", prompt_tokens=1000, completion_tokens=800), Reply("never sent"))
    session = make_session(model="gpt-4o", max_tokens=100, max_session_cost=Decimal("0.011"))

    await send(session, "first")
    assert session.totals.cost == expected_cost("gpt-4o", 1000, 800)

    with pytest.raises(errors.SpendLimitError):
        await send(session, "second")

    assert len(fake.chat_requests) == 1
    assert roles(session.conversation.messages) == ["user", "assistant"]


async def test_spend_limit_does_not_block_unpriced_models(fake: FakeOpenAI, make_session) -> None:
    fake.queue(Reply("local"))
    session = make_session(model="my-local-llama", max_session_cost=Decimal("0.000001"))

    await send(session, "hello")

    assert len(fake.chat_requests) == 1
    assert session.totals.known_cost is None


async def test_usage_report_is_passed_through(fake: FakeOpenAI, make_session) -> None:
    fake.queue(Reply("x", prompt_tokens=11, completion_tokens=1))
    session = make_session()

    events = await send(session, "y")

    reports = [e for e in events if isinstance(e, UsageReport)]
    assert [(r.usage.prompt_tokens, r.usage.completion_tokens) for r in reports] == [(11, 1)]


async def test_costs_count_the_reply_still_streaming_at_the_price_it_was_sent_at(fake: FakeOpenAI,
                                                                                 make_session) -> None:
    fake.queue(Reply("first", prompt_tokens=100, completion_tokens=10), Reply("one two three four"))
    session = make_session(model="gpt-4o")
    await send(session, "one")
    before = session.totals.known_cost
    assert costs(session) == (session.last_cost, Spent(before)) and before > 0

    events = session.send("two")
    async for event in events:
        if isinstance(event, TextDelta):
            break
    session.set_model("gpt-4o-mini")  # applies to the next request, not to this one's price
    flight = session.in_flight
    assert flight is not None and flight.completion_tokens > 0
    live, total = costs(session)
    assert live == expected_cost("gpt-4o", flight.window.prompt_tokens, flight.completion_tokens)
    assert total == Spent(before + live)
    async for _ in events:
        pass
    assert costs(session) == (session.last_cost, Spent(session.totals.known_cost))
    assert session.totals.known_cost == before + session.last_cost


async def test_a_request_still_waiting_costs_nothing_yet(fake: FakeOpenAI, make_session) -> None:
    fake.queue(Reply("first", prompt_tokens=100, completion_tokens=10), Reply("late", first_chunk_delay=0.5))
    session = make_session(model="gpt-4o")
    await send(session, "one")
    settled = costs(session)

    events = session.send("two")
    waiting = asyncio.create_task(events.__anext__())
    await asyncio.sleep(0.2)  # the request is out, no token has come back
    assert session.in_flight is not None and session.in_flight.first_token_at is None
    assert costs(session) == settled
    await waiting
    async for _ in events:
        pass


async def test_costs_are_unknown_while_an_unpriced_model_streams(fake: FakeOpenAI, make_session) -> None:
    fake.queue(Reply("a reply"))
    session = make_session(model="my-local-llama")
    events = session.send("hi")
    async for event in events:
        if isinstance(event, TextDelta):
            break
    assert costs(session) == (None, Spent(unpriced=True))
    async for _ in events:
        pass


async def test_an_effort_the_model_does_not_take_is_no_request(fake: FakeOpenAI, make_session) -> None:
    fake.queue(Reply("must not be requested"))
    session = make_session(model="o3", presets={"deep": {"reasoning_effort": "minimal"}}, preset="deep")
    turn = session.send("think hard")

    with pytest.raises(errors.ConfigError, match="does not take reasoning_effort 'minimal'"):
        async for _ in turn:
            pass

    assert turn.outcome is not None and turn.outcome.ended == "failed" and turn.outcome.text_returned
    assert session.totals.requests == 0  # nothing went out, so the ledger has no row for it
    assert fake.chat_requests == [] and session.conversation.messages == []


def test_an_opened_conversation_drops_the_previous_ones_figures(make_settings: Any) -> None:
    settings = make_settings(model="gpt-4o")
    session = Session(settings, ChatClient(api_key="sk-test", base_url=settings.base_url))
    conversation = Conversation(system_prompt="be brief")
    conversation.add_user("hi")
    conversation.add(Message("assistant", "hello", model="gpt-4o", usage=Usage(70, 7, 0), cost=None))
    session.last_usage = Usage(999, 99, 0)

    session.resume(conversation, "gpt-4o", "balanced")

    assert session.last_usage is None and session.last_cost is None and session.last_window is None
