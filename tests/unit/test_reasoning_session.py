"""A reasoning reply through the session, against the fake: it starts the reply, its text is kept, it is billed."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from chatbot.core import errors
from chatbot.core.client import ChatClient
from chatbot.core.events import ReasoningDelta
from chatbot.core.session import Session
from chatbot.core.status import status_of
from chatbot.core.tokens import TokenCounter
from fake_openai import FakeOpenAI, Reply


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
        client = ChatClient(api_key=api_key, base_url=fake.base_url, max_retries=0, sleep=no_wait)
        clients.append(client)
        return Session(make_settings(**flags), client, clock=clock or Clock())

    yield make
    for client in clients:
        await client.aclose()


async def send(session: Session, text: str) -> list[Any]:
    return [event async for event in session.send(text)]


async def test_reasoning_starts_the_reply_so_the_request_stops_waiting(fake: FakeOpenAI,
                                                                       make_session: Callable[..., Session]) -> None:
    hold = threading.Event()
    fake.queue(Reply("Paris.", reasoning=["Capital", " of", " France."], hold=hold, hold_after=1))
    clock = Clock()
    session = make_session(clock)
    events = session.send("capital of France?").__aiter__()
    first = await events.__anext__()  # the first reasoning piece; the stream is held after it
    clock.now += 5
    status = status_of(session)
    flight = session.in_flight
    assert flight is not None
    started, reasoning = flight.first_token_at, flight.reasoning
    hold.set()
    rest = [event async for event in events]

    assert isinstance(first, ReasoningDelta)
    assert (started, reasoning) == (1000.0, "Capital")
    assert status.waiting_seconds is None and status.retry is None and status.replied
    assert status.completion_tokens > 0  # the reasoning is output being generated
    assert [e.text for e in rest if isinstance(e, ReasoningDelta)] == [" of", " France."]


async def test_the_reply_keeps_its_reasoning_and_the_effort_it_was_asked_for(
        fake: FakeOpenAI, make_session: Callable[..., Session]) -> None:
    fake.queue(Reply("Paris.", reasoning="Capital of France.", prompt_tokens=40, completion_tokens=900,
                     reasoning_tokens=850))
    session = make_session(model="o4-mini", presets={"deep": {"reasoning_effort": "high"}}, preset="deep")
    finals: list[Any] = []

    class Keep:
        def observe(self, entry: Any) -> None:
            if type(entry).__name__ == "ReplyFinal":
                finals.append(entry)

    session.observers.append(Keep())
    await send(session, "capital of France?")

    reply = session.conversation.messages[-1]
    assert (reply.content, reply.reasoning) == ("Paris.", "Capital of France.")
    assert reply.usage is not None and (reply.usage.completion_tokens, reply.usage.reasoning_tokens) == (900, 850)
    assert finals[0].params["reasoning_effort"] == "high"
    sent = fake.chat_requests[-1].body
    assert all("reasoning" not in m for m in sent["messages"])  # reasoning is never sent back


async def test_a_reply_of_reasoning_alone_without_usage_is_billed_as_estimated_output(
        fake: FakeOpenAI, make_session: Callable[..., Session]) -> None:
    thought = "Let me think about this carefully, step by step, at some length."
    fake.queue(Reply([], reasoning=thought, finish_reason="length", send_usage=False))
    session = make_session(model="gpt-4o-mini")
    turn = session.send("hard question")
    async for _ in turn:
        pass

    reply = session.conversation.messages[-1]
    expected = TokenCounter("o200k_base").count_text(thought)
    assert reply.role == "assistant" and reply.content == "" and reply.reasoning == thought
    assert reply.usage is not None and reply.usage.estimated
    assert (reply.usage.completion_tokens, reply.usage.reasoning_tokens) == (expected, expected)
    assert reply.cost is not None and reply.cost > 0
    assert session.totals.completion_tokens == expected
    assert turn.outcome is not None and turn.outcome.note is not None
    assert turn.outcome.note.startswith("max_tokens was spent on reasoning")


async def test_without_usage_the_estimate_adds_reasoning_to_the_text(fake: FakeOpenAI,
                                                                     make_session: Callable[..., Session]) -> None:
    fake.queue(Reply("The answer is four.", reasoning="Two plus two.", send_usage=False))
    session = make_session(model="gpt-4o-mini")
    await send(session, "2+2?")

    counter = TokenCounter("o200k_base")
    usage = session.conversation.messages[-1].usage
    assert usage is not None and usage.estimated
    assert usage.completion_tokens == counter.count_text("The answer is four.") + counter.count_text("Two plus two.")
    assert usage.reasoning_tokens == counter.count_text("Two plus two.")


async def test_a_reply_cut_at_max_tokens_with_text_keeps_the_usual_note(fake: FakeOpenAI,
                                                                       make_session: Callable[..., Session]) -> None:
    fake.queue(Reply("Partial", reasoning="Thinking", finish_reason="length"))
    session = make_session()
    turn = session.send("q")
    async for _ in turn:
        pass
    assert turn.outcome is not None and turn.outcome.note is not None
    assert turn.outcome.note.startswith("cut off at max_tokens")




async def test_a_stream_cut_off_while_reasoning_keeps_the_reasoning_and_bills_it(
        fake: FakeOpenAI, make_session: Callable[..., Session]) -> None:
    fake.queue(Reply("never sent", reasoning=["Thinking", " hard", " about", " it"], drop_after=3, send_usage=False))
    session = make_session(model="gpt-4o-mini")
    turn = session.send("q")
    with pytest.raises(errors.StreamDroppedError):
        async for _ in turn:
            pass

    assert turn.outcome is not None and turn.outcome.ended == "broken off" and not turn.outcome.text_returned
    reply = session.conversation.messages[-1]
    assert (reply.role, reply.content, reply.reasoning) == ("assistant", "", "Thinking hard about")
    assert reply.usage is not None and reply.usage.estimated and reply.usage.reasoning_tokens > 0
    assert session.totals.completion_tokens == reply.usage.completion_tokens  # what the server billed, counted
