"""Reasoning in the store, against the fake and real files: the reply's reasoning and its tokens are kept, the
ledger, the usage log and `chat usage` count them, an export carries them and an import reads them back, and a
history written by the schema before is brought up to date with its rows intact."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest

from chatbot.core.conversation import Message
from chatbot.core.events import Usage
from chatbot.core.request import Request
from chatbot.core.session import Session
from chatbot.core.store.export import import_json, to_json, to_markdown
from chatbot.core.store.history import HistoryStore
from chatbot.core.store.recorder import Recorder
from chatbot.core.store.schema import MIGRATIONS, SCHEMA_VERSION, statements
from chatbot.core.store.usage_log import UsageLog
from fake_openai import FakeOpenAI, Reply

REASONING_SCHEMA = 4  # the version that added reasoning; the one before is what older chats wrote


@pytest.fixture
def recording(make_session: Callable[..., Session], tmp_path: Path) -> Callable[..., Session]:
    """recording(store, **flags) -> a Session whose recorder writes into `store`, with a usage log beside it."""
    return lambda store, **flags: make_session(store, usage_log=UsageLog(tmp_path / "usage.jsonl"), **flags)


async def turn(session: Session, text: str) -> None:
    async for _ in session.send(text):
        pass
    recorder = next(o for o in session.observers if isinstance(o, Recorder))
    assert recorder.writer.drain(60)


async def test_a_reply_keeps_its_reasoning_and_the_ledger_and_log_count_it(
        fake: FakeOpenAI, recording: Callable[..., Session], store: HistoryStore, tmp_path: Path) -> None:
    fake.queue(Reply("Paris.", reasoning="Capital of France.", prompt_tokens=40, completion_tokens=900,
                     reasoning_tokens=850))
    session = recording(store, model="o4-mini", presets={"deep": {"reasoning_effort": "high"}}, preset="deep")
    await turn(session, "capital of France?")

    recorder = next(o for o in session.observers if isinstance(o, Recorder))
    assert recorder.error is None
    stored = store.load(recorder.conversation_id)
    reply = stored.conversation.messages[-1]
    assert (reply.content, reply.reasoning) == ("Paris.", "Capital of France.")
    assert reply.usage is not None and (reply.usage.completion_tokens, reply.usage.reasoning_tokens) == (900, 850)
    params = store.db.execute("SELECT params FROM messages WHERE role = 'assistant'").fetchone()[0]
    assert json.loads(params)["reasoning_effort"] == "high"
    [used] = store.usage()
    assert (used.completion_tokens, used.reasoning_tokens) == (900, 850)
    [line] = (tmp_path / "usage.jsonl").read_text().splitlines()
    assert json.loads(line)["reasoning_tokens"] == 850
    assert "Capital of France" not in line  # the log holds no content


def old_database(path: Path) -> None:
    """A history as the chat before reasoning wrote it: every earlier migration, and real rows in each table."""
    db = sqlite3.connect(path, isolation_level=None)
    for version in range(1, REASONING_SCHEMA):
        for statement in statements(MIGRATIONS[version]):
            db.execute(statement)
    db.execute(f"PRAGMA user_version = {REASONING_SCHEMA - 1}")
    db.execute("INSERT INTO conversations (id, title, created, updated, model, preset, system_prompt)"
               " VALUES (3, 'Axolotls', 1700000000.0, 1700000100.0, 'gpt-4o', 'balanced', 'Be brief.')")
    db.execute("INSERT INTO messages (id, conversation_id, role, content, created) VALUES"
               " (21, 3, 'user', 'Tell me about the axolotl', 1700000000.0)")
    db.execute("INSERT INTO messages (id, conversation_id, role, content, model, params, prompt_tokens,"
               " completion_tokens, cached_tokens, usage_estimated, cost, finish_reason, stopped, created) VALUES"
               " (22, 3, 'assistant', 'It regrows limbs.', 'gpt-4o', '{\"preset\": \"balanced\"}', 30, 6, 10, 0,"
               " '0.0001125', 'stop', 0, 1700000001.0)")
    db.execute("INSERT INTO requests (conversation_id, created, model, status, prompt_tokens, cached_tokens,"
               " completion_tokens, usage_estimated, cost) VALUES (3, 1700000001.0, 'gpt-4o', 'ok', 30, 10, 6, 0,"
               " '0.0001125')")
    db.close()


def test_a_history_of_the_schema_before_is_upgraded_with_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "history.db"
    old_database(path)

    store = HistoryStore(path)
    try:
        assert store.version == SCHEMA_VERSION
        stored = store.load(3)
        user, reply = stored.conversation.messages
        assert (user.content, reply.content, reply.reasoning) == ("Tell me about the axolotl", "It regrows limbs.", "")
        assert reply.usage == Usage(30, 6, 10) and reply.cost == Decimal("0.0001125")
        [used] = store.usage()
        assert (used.requests, used.completion_tokens, used.reasoning_tokens) == (1, 6, 0)
        assert stored.cost.known == Decimal("0.0001125")
        # And it takes the new fields from now on.
        store.add(3, Message("assistant", "ok", model="o4-mini", usage=Usage(5, 50, 0, reasoning_tokens=45),
                             reasoning="Thought."))
        store.add_request(3, Request("o4-mini", "ok", Usage(5, 50, 0, reasoning_tokens=45), Decimal("0.0002")))
        assert store.load(3).conversation.messages[-1].reasoning == "Thought."
        assert sum(u.reasoning_tokens for u in store.usage()) == 45
    finally:
        store.close()


def test_export_carries_the_reasoning_and_import_reads_it_back(store: HistoryStore) -> None:
    conversation_id = store.create("o4-mini", "deep", "")
    store.add(conversation_id, Message("user", "2+2?"))
    store.add(conversation_id, Message("assistant", "4", model="o4-mini", usage=Usage(10, 200, 0, reasoning_tokens=190),
                                       cost=Decimal("0.0009"), finish_reason="stop", reasoning="Two plus two."))
    stored = store.load(conversation_id)

    data = to_json(stored)
    reply = data["messages"][-1]
    assert reply["reasoning"] == "Two plus two." and reply["usage"]["reasoning_tokens"] == 190
    markdown = to_markdown(stored)
    assert "<details><summary>Thinking</summary>\n\nTwo plus two.\n\n</details>\n\n4\n" in markdown
    assert markdown.index("Thinking") < markdown.index("\n4\n")  # above the answer, as the app shows it

    again = store.load(import_json(store, json.loads(json.dumps(data))))
    imported = again.conversation.messages[-1]
    assert imported.reasoning == "Two plus two."
    assert imported.usage is not None and imported.usage.reasoning_tokens == 190


def test_an_export_from_before_reasoning_imports_without_it(store: HistoryStore) -> None:
    conversation_id = store.create("gpt-4o", "balanced", "")
    store.add(conversation_id, Message("assistant", "hi", model="gpt-4o", usage=Usage(1, 2, 0)))
    data = to_json(store.load(conversation_id))
    for message in data["messages"]:
        del message["reasoning"]
        del message["usage"]["reasoning_tokens"]
    imported = store.load(import_json(store, data)).conversation.messages[-1]
    assert imported.reasoning == "" and imported.usage == Usage(1, 2, 0)


def test_an_import_refuses_reasoning_that_is_not_text(store: HistoryStore) -> None:
    conversation_id = store.create("gpt-4o", "balanced", "")
    store.add(conversation_id, Message("assistant", "hi"))
    data = to_json(store.load(conversation_id))
    data["messages"][0]["reasoning"] = 5
    with pytest.raises(ValueError, match="message 1: reasoning is not text"):
        import_json(store, data)
