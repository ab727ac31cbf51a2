"""The ledger: one row per request sent, counted once, whatever happens to the conversation afterwards.

Sessions record through a real writer into a real file."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from chatbot.core.client import ChatClient
from chatbot.core.events import Retrying, TextDelta
from chatbot.core.journal import Observer
from chatbot.core.pricing import Spent
from chatbot.core.session import Session
from chatbot.core.status import costs
from chatbot.core.store.history import HistoryStore
from chatbot.core.store.recorder import Recorder
from chatbot.core.store.schema import MIGRATIONS
from chatbot.core.store.usage_log import UsageLog
from chatbot.core.store.writer import Writer
from fake_openai import Error, FakeOpenAI, Reply
from support import TEST_API_KEY as KEY
from support import SleepRecorder


@pytest.fixture
async def make_session(fake: FakeOpenAI, make_settings: Any) -> AsyncIterator[Callable[..., Session]]:
    """make_session(store, sleep=..., max_retries=..., **settings flags) -> a Session recording into `store`."""
    made: list[tuple[ChatClient, Writer]] = []

    def make(store: HistoryStore, *, max_retries: int = 0, sleep: Any = None, usage_log: UsageLog | None = None,
             **flags: Any) -> Session:
        client = ChatClient(api_key=KEY, base_url=fake.base_url, timeout=30.0, max_retries=max_retries,
                            sleep=sleep or SleepRecorder())
        writer = Writer(store.path)
        made.append((client, writer))
        observers: list[Observer] = [Recorder(writer)] + ([usage_log] if usage_log else [])
        return Session(make_settings(**flags), client, observers=observers)

    yield make
    for client, writer in made:
        await client.aclose()
        writer.close()


def recorder_of(session: Session) -> Recorder:
    return next(o for o in session.observers if isinstance(o, Recorder))


def written(session: Session) -> None:
    assert recorder_of(session).writer.drain(60)


async def turn(session: Session, text: str | None) -> None:
    """Send `text` (regenerate the last reply if None) and wait until the history has it all."""
    try:
        async for _ in session.send(text) if text is not None else session.regenerate():
            pass
    finally:
        written(session)


async def stopped_after_first_piece(session: Session, text: str) -> None:
    """What the app's escape does: the reply is stopped once its first piece has arrived."""
    first_piece = asyncio.Event()

    async def consume() -> None:
        async for event in session.send(text):
            if isinstance(event, TextDelta):
                first_piece.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(first_piece.wait(), 60)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    written(session)


def ledger(store: HistoryStore) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in store.db.execute(
        "SELECT conversation_id, status, error, prompt_tokens, completion_tokens, cost FROM requests ORDER BY id")]


# -- every request once ----------------------------------------------------------------------------------------


async def test_a_stopped_reply_and_two_regenerations_are_three_requests_everywhere(
        fake: FakeOpenAI, make_session: Any, store: HistoryStore, tmp_path: Path) -> None:
    fake.queue(Reply([f"w{i} " for i in range(40)], chunk_delay=0.05, prompt_tokens=30),
               Reply("second draft", prompt_tokens=40, completion_tokens=3),
               Reply("third draft", prompt_tokens=40, completion_tokens=4))
    log = UsageLog(tmp_path / "usage.jsonl")
    session = make_session(store, model="gpt-4o", usage_log=log)

    await stopped_after_first_piece(session, "write something")
    await turn(session, None)
    await turn(session, None)

    assert [m.content for m in session.conversation.messages] == ["write something", "third draft"]
    assert session.totals.requests == 3
    [used] = store.usage()
    assert (used.requests, used.prompt_tokens) == (3, session.totals.prompt_tokens)
    assert used.cost == session.totals.spent and used.cost.known > session.conversation.messages[-1].cost
    [listed] = store.conversations()
    assert listed.cost == session.totals.spent  # the conversation's cost counts the replies it replaced
    assert [s for _, s, *_ in ledger(store)] == ["stopped", "ok", "ok"]
    assert len(log.path.read_text("utf-8").splitlines()) == 3


async def test_a_retried_429_is_a_request_billed_nothing(fake: FakeOpenAI, make_session: Any,
                                                         store: HistoryStore, tmp_path: Path) -> None:
    fake.queue(Error(429, "slow down", type="requests", retry_after=1),
               Reply("at last", prompt_tokens=20, completion_tokens=2))
    log = UsageLog(tmp_path / "usage.jsonl")
    session = make_session(store, model="gpt-4o", max_retries=1, usage_log=log)

    await turn(session, "hello")

    conversation = recorder_of(session).conversation_id
    assert ledger(store) == [(conversation, "retried", "RateLimitError", 0, 0, "0"),
                             (conversation, "ok", None, 20, 2, "0.00007")]
    assert session.totals.requests == 2 and session.totals.spent == Spent(Decimal("0.00007"))
    assert [(u.requests, u.cost) for u in store.usage()] == [(2, Spent(Decimal("0.00007")))]
    lines = [json.loads(line) for line in log.path.read_text("utf-8").splitlines()]
    assert [(line["status"], line["error"], line["cost_usd"]) for line in lines] == [
        ("retried", "RateLimitError", "0"), ("ok", None, "0.00007")]


async def test_stopped_while_waiting_to_retry_counts_only_the_request_that_went_out(
        fake: FakeOpenAI, make_session: Any, store: HistoryStore) -> None:
    fake.queue(Error(429, "slow down", type="requests", retry_after=30), Reply("never asked for"))
    session = make_session(store, max_retries=1, sleep=asyncio.sleep)
    retrying = asyncio.Event()

    async def consume() -> None:
        async for event in session.send("hello"):
            if isinstance(event, Retrying):
                retrying.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(retrying.wait(), 60)
    task.cancel()  # escape during the 30 s wait
    with pytest.raises(asyncio.CancelledError):
        await task
    written(session)

    assert len(fake.chat_requests) == 1
    assert [s for _, s, *_ in ledger(store)] == ["retried"]
    assert session.totals.requests == 1


async def test_a_failed_first_message_leaves_its_request_when_the_conversation_goes(
        fake: FakeOpenAI, make_session: Any, store: HistoryStore) -> None:
    fake.queue(Error(400, "nope"))
    session = make_session(store)
    with pytest.raises(Exception):  # noqa: B017 - BadRequestError
        await turn(session, "my unsent words")

    assert store.conversations() == []  # the message was taken back, and its conversation with it
    assert ledger(store) == [(None, "error", "BadRequestError", 0, 0, "0")]
    assert [u.requests for u in store.usage()] == [1]


async def test_a_request_cut_off_by_the_app_ending_is_still_in_the_ledger(
        fake: FakeOpenAI, make_session: Any, store: HistoryStore) -> None:
    fake.queue(Reply([f"w{i} " for i in range(40)], chunk_delay=0.05))
    session = make_session(store)
    events = session.send("a long one")
    async for event in events:
        if isinstance(event, TextDelta):
            break
    written(session)  # what a kill -9 now leaves behind: the request went out, it never settled
    assert [s for _, s, *_ in ledger(store)] == ["sent"]
    await events.aclose()
    written(session)
    assert [s for _, s, *_ in ledger(store)] == ["stopped"]  # settled once, not counted twice


async def test_an_unpriced_reply_leaves_the_known_part_of_the_total(fake: FakeOpenAI, make_session: Any,
                                                                    store: HistoryStore) -> None:
    fake.queue(Reply("priced", prompt_tokens=20, completion_tokens=2), Reply("unpriced"))
    session = make_session(store, model="gpt-4o")
    await turn(session, "one")
    session.set_model("my-local-llama")
    await turn(session, "two")

    spent = Spent(Decimal("0.00007"), unpriced=True)
    assert session.totals.spent == spent and costs(session)[1] == spent
    assert store.conversations()[0].cost == spent
    assert sum((u.cost for u in store.usage()), Spent()) == spent


# -- settings kept when they are made --------------------------------------------------------------------------


async def test_model_preset_and_system_prompt_are_stored_when_changed(fake: FakeOpenAI, make_session: Any,
                                                                      store: HistoryStore) -> None:
    session = make_session(store, model="gpt-4o-mini", preset="balanced")
    session.set_model("gpt-4.1")  # nothing stored yet: the first message stores the settings
    written(session)
    assert store.conversations() == []

    fake.queue(Reply("ok"))
    await turn(session, "hello")
    session.set_model("gpt-4o")
    session.set_preset("writing")
    session.set_system_prompt("Answer in haiku.")
    written(session)

    stored = store.load(recorder_of(session).conversation_id)
    assert (stored.model, stored.preset, stored.conversation.system_prompt) == ("gpt-4o", "writing",
                                                                              "Answer in haiku.")
    assert len(fake.chat_requests) == 1  # kept without another message


# -- upgrading from the schema before the ledger ---------------------------------------------------------------

# What `chat usage` and `chat history` read before the ledger: every stored reply, '?' for one that used tokens
# without a price, '0' for one that never reported usage.
V2_COSTS = ("GROUP_CONCAT(CASE WHEN cost IS NOT NULL THEN cost WHEN COALESCE(prompt_tokens, completion_tokens,"
            " cached_tokens) IS NOT NULL THEN '?' ELSE '0' END, ' ')")
V2_USAGE = ("SELECT date(created, 'unixepoch', 'localtime') AS day, model, COUNT(*), SUM(prompt_tokens),"
            f" SUM(cached_tokens), SUM(completion_tokens), {V2_COSTS} FROM messages WHERE role = 'assistant'"
            " GROUP BY day, model ORDER BY day, model")
V2_CONVERSATION_COSTS = (f"SELECT conversation_id, {V2_COSTS} FROM messages WHERE role = 'assistant'"
                         " GROUP BY conversation_id ORDER BY conversation_id")


def v2_total(costs: str | None) -> Decimal | None:
    terms = (costs or "").split()
    return None if "?" in terms else sum((Decimal(t) for t in terms), Decimal(0))


def v2_database(path: Path) -> None:
    """A history as the schema before the ledger (version 2) wrote it: finished, stopped, crashed, unpriced and
    usage-less replies, over two days and two conversations."""
    db = sqlite3.connect(path, isolation_level=None)
    for version in (1, 2):
        db.executescript(MIGRATIONS[version])
    db.execute("PRAGMA user_version = 2")
    for conversation in (1, 2):
        db.execute("INSERT INTO conversations (id, title, created, updated, model, preset) VALUES"
                   " (?, 'old', 1704110400.0, 1704110400.0, 'gpt-4o', 'balanced')", (conversation,))
    replies = [  # conversation, model, prompt, completion, cached, estimated, cost, stopped, error, streaming, day
        (1, "gpt-4o", 100, 10, 20, 0, "0.1", 0, None, 0, 1704110400.0),
        (1, "gpt-4o", 200, 20, 0, 1, "0.2", 1, None, 0, 1704110400.0),
        (1, "gpt-4o", None, None, None, 0, None, 0, None, 1, 1704110400.0),  # a crash before any usage
        (2, "gpt-4o-mini", 50, 5, 0, 0, "0.00012", 0, "stream dropped", 0, 1704196800.0),
        (2, "local-model", 70, 7, 0, 0, None, 0, None, 0, 1704196800.0),
    ]
    for conversation, model, prompt, completion, cached, estimated, cost, stopped, error, streaming, when in replies:
        db.execute("INSERT INTO messages (conversation_id, role, content, created) VALUES (?, 'user', 'q', ?)",
                   (conversation, when))
        db.execute("INSERT INTO messages (conversation_id, role, content, model, prompt_tokens, completion_tokens,"
                   " cached_tokens, usage_estimated, cost, stopped, error, streaming, created)"
                   " VALUES (?, 'assistant', 'a', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                   (conversation, model, prompt, completion, cached, estimated, cost, stopped, error, streaming, when))
    db.close()


def test_upgrading_makes_every_stored_reply_a_request_and_changes_no_total(tmp_path: Path) -> None:
    path = tmp_path / "history.db"
    v2_database(path)
    db = sqlite3.connect(path)
    before = [(*r[:6], v2_total(r[6])) for r in db.execute(V2_USAGE)]
    before_conversations = {c: v2_total(costs) for c, costs in db.execute(V2_CONVERSATION_COSTS)}
    db.close()

    store = HistoryStore(path)
    try:
        after = [(u.day, u.model, u.requests, u.prompt_tokens, u.cached_tokens, u.completion_tokens, u.cost.exact)
                 for u in store.usage()]
        assert after == before
        assert before[0][2] == 3 and before[-1][-1] is None  # the crashed reply is a request; unpriced is unknown
        assert {s.id: s.cost.exact for s in store.conversations()} == before_conversations
        assert [s for _, s, *_ in ledger(store)] == ["ok", "stopped", "stopped", "error", "ok"]
    finally:
        store.close()

