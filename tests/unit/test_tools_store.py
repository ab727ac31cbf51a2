"""Tool calls and results in the history: recorded as a turn makes them, restored on resume and sent again as the
API wants them, exported (Markdown and JSON) and imported back, found by search, and a history of the schema
before brought up to date with its rows."""

from __future__ import annotations

import json
import sqlite3
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from chatbot.core.client import ChatClient
from chatbot.core.conversation import Message
from chatbot.core.events import ToolCall, Usage
from chatbot.core.session import Session
from chatbot.core.settings.schema import McpServerConfig
from chatbot.core.store.export import import_json, to_json, to_markdown
from chatbot.core.store.history import HistoryStore
from chatbot.core.store.recorder import Recorder
from chatbot.core.store.schema import MIGRATIONS, SCHEMA_VERSION, statements
from chatbot.core.store.writer import Writer
from chatbot.core.tools.servers import ToolServers
from fake_openai import FakeOpenAI, Reply, tool_call
from stored_history import integrity, resume, turn
from support import PROJECT, SleepRecorder

NOTES = str(PROJECT / "tests" / "mcp_servers" / "notes.py")
TOOLS_SCHEMA = 6  # the version that added tool calls; the one before is what older chats wrote
CALL = ToolCall("call_w", "notes__write_note", {"title": "a", "text": "b"}, '{"title": "a", "text": "b"}')
BAD = ToolCall("call_x", "notes__read_note", {}, '{"title": ', "the arguments are not valid JSON")


@pytest.fixture
async def recording(fake: FakeOpenAI, make_settings: Any, api_key: str) -> AsyncIterator[Callable[..., Session]]:
    made: list[tuple[ChatClient, Writer, ToolServers]] = []

    def make(store: HistoryStore) -> Session:
        client = ChatClient(api_key=api_key, base_url=fake.base_url, max_retries=0, sleep=SleepRecorder())
        servers = ToolServers({"notes": McpServerConfig(command=sys.executable, args=[NOTES], approve="always")})
        made.append((client, writer := Writer(store.path), servers))
        return Session(make_settings(model="gpt-4o"), client, observers=[Recorder(writer)], tools=servers)

    yield make
    for client, writer, servers in made:
        await client.aclose()
        writer.close()
        await servers.aclose()


def tool_fields(m: Message) -> tuple[Any, ...]:
    return m.role, m.content, m.tool_calls, m.tool_call_id, m.tool_name, m.tool_error


def a_tool_turn(store: HistoryStore) -> int:
    conversation_id = store.create("gpt-4o", "balanced", "")
    store.add(conversation_id, Message("user", "note it"))
    store.add(conversation_id, Message("assistant", "Writing.", model="gpt-4o", usage=Usage(10, 5, 0),
                                       tool_calls=(CALL, BAD)))
    store.add(conversation_id, Message("tool", "saved a", tool_call_id="call_w", tool_name="notes__write_note"))
    store.add(conversation_id, Message("tool", "error: ```not json```", tool_call_id="call_x",
                                       tool_name="notes__read_note", tool_error=True))
    store.add(conversation_id, Message("assistant", "Done.", model="gpt-4o"))
    return conversation_id


async def test_a_tool_turn_is_recorded_and_resumed_as_the_api_wants_it(
        fake: FakeOpenAI, recording: Callable[..., Session], store: HistoryStore) -> None:
    session = recording(store)
    fake.queue(Reply([], tool_calls=tool_call("call_w", "notes__write_note", '{"title": "a", "text": "b"}'),
                     finish_reason="tool_calls"), Reply("Saved."))
    await turn(session, "note it")
    before = [tool_fields(m) for m in session.conversation.messages]
    stored = store.load(store.last_id() or 0)
    assert [tool_fields(m) for m in stored.conversation.messages] == before
    assert [m.role for m in stored.conversation.messages] == ["user", "assistant", "tool", "assistant"]
    # Each round was a request, in the ledger once, with what the server reported.
    rows = store.db.execute("SELECT status, prompt_tokens FROM requests WHERE conversation_id = ?",
                            (stored.id,)).fetchall()
    assert [tuple(r) for r in rows] == [("ok", 10), ("ok", 10)]

    again = recording(store)
    resume(again, stored)
    fake.queue(Reply("Still saved."))
    await turn(again, "and now?")
    sent = fake.last_body["messages"]
    assert [m["role"] for m in sent[-5:]] == ["user", "assistant", "tool", "assistant", "user"]
    assert sent[-4]["tool_calls"][0]["function"] == {"name": "notes__write_note",
                                                     "arguments": '{"title": "a", "text": "b"}'}
    assert sent[-3] == {"role": "tool", "tool_call_id": "call_w", "content": "saved a"}


def test_calls_and_results_survive_the_store(store: HistoryStore) -> None:
    conversation_id = a_tool_turn(store)
    messages = store.load(conversation_id).conversation.messages
    assert messages[1].tool_calls == (CALL, BAD)  # the bad call kept as it came, with why it did not parse
    assert [tool_fields(m) for m in messages[2:4]] == [
        ("tool", "saved a", (), "call_w", "notes__write_note", False),
        ("tool", "error: ```not json```", (), "call_x", "notes__read_note", True)]


def test_search_finds_a_tool_result(store: HistoryStore) -> None:
    conversation_id = a_tool_turn(store)
    (hit,) = store.search("saved")
    assert (hit.conversation_id, hit.role) == (conversation_id, "tool")


def test_markdown_shows_each_call_and_result(store: HistoryStore) -> None:
    markdown = to_markdown(store.load(a_tool_turn(store)))
    assert '**Tool call** `notes__write_note` (call_w)\n\n```json\n{"title": "a", "text": "b"}\n```' in markdown
    assert "### Tool result `notes__write_note` (call_w)\n\n```\nsaved a\n```" in markdown
    # A result holding a fence cannot close the one around it.
    assert "### Tool result `notes__read_note` (call_x) (error)\n\n````\nerror: ```not json```\n````" in markdown


@pytest.mark.parametrize("tree", [False, True])
def test_json_carries_the_fields_and_imports_back(store: HistoryStore, tree: bool) -> None:
    original = store.load(a_tool_turn(store))
    data = json.loads(json.dumps(to_json(original, tree=tree)))
    assert data["messages"][1]["tool_calls"][1] == {"id": "call_x", "name": "notes__read_note",
                                                    "arguments": '{"title": ', "error": BAD.error}
    assert {k: data["messages"][3][k] for k in ("tool_call_id", "tool_name", "tool_error")} == {
        "tool_call_id": "call_x", "tool_name": "notes__read_note", "tool_error": True}
    assert "tool_calls" not in data["messages"][0] and "tool_call_id" not in data["messages"][0]
    imported = store.load(import_json(store, data))
    assert [tool_fields(m) for m in imported.conversation.messages] == [
        tool_fields(m) for m in original.conversation.messages]


def test_an_import_refuses_calls_that_are_not_calls(store: HistoryStore) -> None:
    data = to_json(store.load(a_tool_turn(store)))
    data["messages"][1]["tool_calls"] = [{"id": 1}]
    with pytest.raises(ValueError, match="message 2: tool_calls"):
        import_json(store, data)
    data = to_json(store.load(a_tool_turn(store)))
    del data["messages"][2]["tool_call_id"]
    with pytest.raises(ValueError, match="message 3: a tool message names no tool_call_id"):
        import_json(store, data)


def schema_5_database(path: Path) -> None:
    db = sqlite3.connect(path)
    for version in range(1, TOOLS_SCHEMA):
        for statement in statements(MIGRATIONS[version]):
            db.execute(statement)
    db.execute(f"PRAGMA user_version = {TOOLS_SCHEMA - 1}")
    db.execute("INSERT INTO conversations (id, title, created, updated, model, preset, system_prompt, active_leaf)"
               " VALUES (4, 'Newts', 1700000000.0, 1700000100.0, 'gpt-4o', 'balanced', '', 22)")
    db.execute("INSERT INTO messages (id, conversation_id, role, content, created, parent_id) VALUES"
               " (21, 4, 'user', 'Tell me about newts', 1700000001.0, NULL),"
               " (22, 4, 'assistant', 'Newts are salamanders', 1700000002.0, 21)")
    db.commit()
    db.close()


def test_a_history_of_the_schema_before_is_upgraded_with_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "history.db"
    schema_5_database(path)
    store = HistoryStore(path)
    try:
        assert store.version == SCHEMA_VERSION
        messages = store.load(4).conversation.messages
        assert [tool_fields(m) for m in messages] == [
            ("user", "Tell me about newts", (), None, None, False),
            ("assistant", "Newts are salamanders", (), None, None, False)]
        store.add(4, Message("assistant", "", tool_calls=(CALL,)))
        store.add(4, Message("tool", "saved a", tool_call_id="call_w", tool_name="notes__write_note"))
        assert [m.role for m in store.load(4).conversation.messages] == ["user", "assistant", "assistant", "tool"]
        assert sorted(h.message_id for h in store.search("newts")) == [21, 22]
    finally:
        store.close()
    assert integrity(path) == "ok"
