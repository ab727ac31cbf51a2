"""A turn's one outcome: how it ended and what it added, read after the iteration however it ended."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from typing import Any

import pytest

from chatbot.core import errors
from chatbot.core.client import ChatClient
from chatbot.core.events import TextDelta
from chatbot.core.session import Session
from chatbot.core.turn import Turn
from fake_openai import Error, FakeOpenAI, Reply
from support import SleepRecorder


@pytest.fixture
async def session(fake: FakeOpenAI, make_settings: Any, api_key: str) -> AsyncIterator[Session]:
    settings = make_settings(max_retries=0)
    client = ChatClient(api_key=api_key, base_url=fake.base_url, timeout=10.0, max_retries=0, sleep=SleepRecorder())
    yield Session(settings, client)
    await client.aclose()


async def run(turn: Turn) -> Turn:
    try:
        async for _ in turn:
            pass
    except errors.ChatError:
        pass
    return turn


async def test_a_finished_turn_names_its_reply_and_its_note(fake: FakeOpenAI, session: Session) -> None:
    fake.queue(Reply("all of it", finish_reason="length"))
    outcome = (await run(session.send("hi"))).outcome
    assert outcome is not None
    assert outcome.ended == "finished"
    assert outcome.reply is session.conversation.last_reply() and outcome.reply.content == "all of it"
    assert outcome.usage == outcome.reply.usage and outcome.cost == outcome.reply.cost
    assert outcome.note is not None and "max_tokens" in outcome.note
    assert outcome.error is None and not outcome.text_returned


async def test_a_turn_that_failed_before_any_text_returns_the_message(fake: FakeOpenAI, session: Session) -> None:
    fake.queue(Error(401, "bad key"))
    outcome = (await run(session.send("hi"))).outcome
    assert outcome is not None
    assert (outcome.ended, outcome.reply, outcome.text_returned) == ("failed", None, True)
    assert isinstance(outcome.error, errors.AuthError)
    assert session.conversation.messages == []


async def test_a_turn_refused_before_it_went_out_is_failed_too(session: Session, make_settings: Any) -> None:
    session.settings = make_settings(max_retries=0, budget={"max_context_tokens": 50})
    outcome = (await run(session.send("word " * 200))).outcome
    assert outcome is not None and outcome.ended == "failed"
    assert isinstance(outcome.error, errors.ContextTooLongError) and outcome.text_returned


async def test_a_turn_that_broke_off_keeps_its_reply(fake: FakeOpenAI, session: Session) -> None:
    fake.queue(Reply("half of it", finish_reason=None))
    outcome = (await run(session.send("hi"))).outcome
    assert outcome is not None and outcome.ended == "broken off"
    assert outcome.reply is not None and outcome.reply.content == "half of it" and outcome.reply.error
    assert isinstance(outcome.error, errors.StreamDroppedError) and not outcome.text_returned


async def test_a_stopped_turn_has_an_outcome_after_cancellation(fake: FakeOpenAI, session: Session) -> None:
    hold = threading.Event()
    fake.queue(Reply("one two three", hold=hold, hold_after=1))
    turn = session.send("hi")
    first = asyncio.Event()

    async def consume() -> None:
        async for event in turn:
            if isinstance(event, TextDelta):
                first.set()

    task = asyncio.create_task(consume())
    await first.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    hold.set()
    assert turn.outcome is not None and turn.outcome.ended == "stopped"
    assert turn.outcome.reply is not None and turn.outcome.reply.content == "one" and turn.outcome.reply.stopped


@pytest.mark.parametrize(("second", "replaced"), [(Reply("better"), True), (Error(400, "no"), False)],
                         ids=["replaced", "kept"])
async def test_regenerate_says_whether_it_replaced_the_reply(fake: FakeOpenAI, session: Session, second: Any,
                                                             replaced: bool) -> None:
    fake.queue(Reply("first"), second)
    first = (await run(session.send("hi"))).outcome
    assert first is not None
    outcome = (await run(session.regenerate())).outcome
    assert outcome is not None
    assert (outcome.replaced is first.reply) is replaced
    assert session.conversation.last_reply() is (outcome.reply if replaced else first.reply)

