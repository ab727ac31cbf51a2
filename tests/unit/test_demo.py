"""`chat --demo`: the offline responder in the core."""

from __future__ import annotations

import asyncio
import re
from decimal import Decimal
from typing import Any

import pytest

from chatbot.core.conversation import Message
from chatbot.core.demo import DEMO_MODEL, REPLIES, TOKENS_PER_SECOND, DemoClient, pick_reply
from chatbot.core.errors import ModelNotFoundError
from chatbot.core.events import Finished, TextDelta, Usage, UsageReport
from chatbot.core.session import Session
from chatbot.core.settings import load_settings
from chatbot.core.tokens import TokenCounter
from chatbot.ui.app import make_app
from support import SleepRecorder, new_user_demo_settings


async def collect(client: DemoClient, messages: list[Message]) -> list[Any]:
    spec = new_user_demo_settings().model_spec()
    return [event async for event in client.stream(messages, spec, new_user_demo_settings().active_preset())]


class Gate:
    """A sleep that lets `words` pauses pass, then waits until the test stops the reply."""

    def __init__(self, words: int) -> None:
        self.words = words
        self.calls = 0

    async def __call__(self, delay: float) -> None:
        self.calls += 1
        if self.calls > self.words:
            await asyncio.Event().wait()


# -- the responder ---------------------------------------------------------------------------------------------

async def test_reply_streams_word_by_word_then_usage_then_stop() -> None:
    sleeps = SleepRecorder()
    events = await collect(DemoClient(sleep=sleeps), [Message("user", "hi")])
    deltas = [e for e in events if isinstance(e, TextDelta)]
    assert "".join(d.text for d in deltas) == REPLIES[0]
    assert all(len(d.text.split()) <= 1 for d in deltas)  # a word at a time (the last piece is the newline)
    assert len(deltas) > 100
    assert isinstance(events[-2], UsageReport) and events[-1] == Finished("stop")
    assert not any(isinstance(e, (UsageReport, Finished)) for e in events[:-2])
    # A pause before each word, as long as its tokens take at the pace a hosted model writes.
    counter = TokenCounter("o200k_base")
    assert sleeps.delays == [counter.count_text(d.text) / TOKENS_PER_SECOND for d in deltas[:-1]]
    assert len(sleeps.delays) == len(REPLIES[0].split())


def test_every_reply_is_markdown_that_says_it_is_the_demo() -> None:
    for reply in REPLIES:
        assert reply.startswith("*This reply comes from chat's built-in demo, not from a model")
        assert re.search(r"^# ", reply, re.M) and re.search(r"^## ", reply, re.M)  # headings
        assert re.search(r"^(- |1\. )", reply, re.M)  # a list
        assert re.search(r"^```\w+\n.*?^```$", reply, re.M | re.S)  # a fenced code block
        assert re.search(r"^\|.*\|\n\|[-:| ]+\|$", reply, re.M)  # a table with its rule


def test_a_topic_word_picks_its_reply_and_anything_else_takes_turns() -> None:
    assert pick_reply([Message("user", "Show me a TABLE please")], 0) == REPLIES[1]
    assert pick_reply([Message("user", "what does it cost?")], 0) == REPLIES[2]  # "cost" before "what"
    assert [pick_reply([Message("user", "hi")], turn) for turn in range(4)] == [*REPLIES, REPLIES[0]]


async def test_regenerating_gives_the_next_reply() -> None:
    client = DemoClient(sleep=SleepRecorder())
    texts = ["".join(e.text for e in await collect(client, [Message("user", "hi")]) if isinstance(e, TextDelta))
             for _ in range(2)]
    assert texts == list(REPLIES[:2])


async def test_another_model_is_refused_before_anything_streams() -> None:
    """A canned reply stored under gpt-4o's name and billed at its price would be a lie in the history and
    the ledger: the demo says it is not that model, as a server without it would, and the text goes back."""
    loaded = new_user_demo_settings()
    session = Session(loaded, DemoClient(sleep=SleepRecorder()))
    session.set_model("gpt-4o")
    turn = session.send("hi")
    with pytest.raises(ModelNotFoundError, match="the demo answers only as the model 'demo'"):
        async for _ in turn:
            pass
    assert turn.outcome is not None and turn.outcome.text_returned and turn.outcome.reply is None
    assert session.conversation.messages == [] and session.totals.cost == Decimal(0)


async def test_usage_is_counted_exactly_with_the_models_tokenizer() -> None:
    messages = [Message("system", "Be brief."), Message("user", "hello"), Message("assistant", "Hi."),
                Message("user", "tell me about tokens")]
    events = await collect(DemoClient(sleep=SleepRecorder()), messages)
    report = next(e for e in events if isinstance(e, UsageReport))
    counter = TokenCounter("o200k_base")
    assert report.usage == Usage(counter.count_prompt(messages), counter.count_text(REPLIES[2]))
    assert report.usage is not None and not report.usage.estimated


async def test_a_session_on_the_demo_bills_nothing_and_counts_as_the_window_does() -> None:
    session = Session(new_user_demo_settings(), DemoClient(sleep=SleepRecorder()))
    turn = session.send("hi")
    async for _ in turn:
        pass
    assert turn.outcome is not None and turn.outcome.ended == "finished"
    reply = turn.outcome.reply
    assert reply is not None and reply.content == REPLIES[0] and reply.model == DEMO_MODEL
    window = session.last_window
    assert window is not None
    assert session.last_usage == Usage(window.prompt_tokens, session.counter.count_text(REPLIES[0]))
    assert session.last_cost == Decimal(0) and session.totals.cost == Decimal(0) and session.totals.cost_complete


async def test_stop_mid_reply_keeps_the_words_that_arrived() -> None:
    session = Session(new_user_demo_settings(), DemoClient(sleep=Gate(words=5)))
    turn = session.send("hi")

    async def drain() -> None:
        async for _ in turn:
            pass

    task = asyncio.create_task(drain())
    for _ in range(1000):  # bounded by steps of the loop, not by time
        if session.in_flight is not None and len(session.in_flight.parts) == 5:
            break
        await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert turn.outcome is not None and turn.outcome.ended == "stopped"
    reply = turn.outcome.reply
    assert reply is not None and reply.stopped
    assert reply.content == "".join(re.findall(r"\s*\S+", REPLIES[0])[:5])
    assert session.conversation.messages[-1] is reply


def test_the_welcome_text_offers_the_demo() -> None:
    loaded, _ = load_settings(None)
    assert "chat --demo" in (make_app(loaded).first_run_message() or "")

