"""The conversation tree in the history: the migration that adds parent links to a store written by schema 3,
the recorder writing alternatives and edits with their parents, resume restoring the active branch, and export
and import of the active path or of the whole tree."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from chatbot.core import paths
from chatbot.core.assembly import Assembly
from chatbot.core.conversation import Conversation, Message
from chatbot.core.pricing import Spent
from chatbot.core.session import Session
from chatbot.core.store.export import import_json, to_json, to_markdown
from chatbot.core.store.history import HistoryStore
from chatbot.core.store.recorder import Recorder
from chatbot.core.store.schema import MIGRATIONS
from fake_openai import FakeOpenAI, Reply
from support import offline


def recorder_of(session: Session) -> Recorder:
    return next(o for o in session.observers if isinstance(o, Recorder))


async def run(session: Session, turn: Any) -> None:
    try:
        async for _ in turn:
            pass
    finally:
        assert recorder_of(session).writer.drain(60)


def contents(messages: list[Message]) -> list[str]:
    return [m.content for m in messages]


def shape(conversation: Conversation) -> list[tuple[str, str | None, tuple[int, int]]]:
    """Every message with its parent's text and its place among its alternatives: the tree, by content."""
    rows = []
    for m in conversation.tree():
        parent = conversation.parent_of(m)
        rows.append((m.content, None if parent is None else parent.content, conversation.position(m)))
    return rows


# -- the migration ----------------------------------------------------------------------------------------


def v3_database(path: Path) -> None:
    """A history as schema 3 wrote it: two conversations whose messages interleave (written turn about), one
    with a reply cut off by a crash, one conversation with no messages, and the ledger's rows."""
    db = sqlite3.connect(path, isolation_level=None)
    for version in (1, 2, 3):
        db.executescript(MIGRATIONS[version])
    db.execute("PRAGMA user_version = 3")
    for cid, title in ((1, "Axolotls"), (2, "Nudibranchs"), (3, "")):
        db.execute("INSERT INTO conversations (id, title, created, updated, model, preset, system_prompt)"
                   " VALUES (?, ?, 1700000000, 1700000100, 'gpt-4o', 'balanced', 'Be brief.')", (cid, title))
    rows = [(10, 1, "user", "Tell me about axolotls", 0), (11, 2, "user", "And nudibranchs?", 0),
            (12, 1, "assistant", "They regrow limbs", 0), (13, 2, "assistant", "Sea slugs, col", 1),
            (14, 1, "user", "How long do they live?", 0), (15, 1, "assistant", "About fifteen years", 0)]
    for row, cid, role, content, streaming in rows:
        db.execute("INSERT INTO messages (id, conversation_id, role, content, created, streaming, token_counts)"
                   " VALUES (?, ?, ?, ?, 1700000050, ?, ?)",
                   (row, cid, role, content, streaming, json.dumps({"o200k_base": 7})))
    db.execute("INSERT INTO requests (conversation_id, model, status, prompt_tokens, completion_tokens,"
               " cached_tokens, cost, created) VALUES (1, 'gpt-4o', 'ok', 30, 6, 0, '0.0001', 1700000060)")
    db.close()


def test_a_schema_3_store_opens_with_every_conversation_whole_and_linear(tmp_path: Path) -> None:
    path = tmp_path / "history.db"
    v3_database(path)
    store = HistoryStore(path)
    try:
        parents = dict(store.db.execute("SELECT id, parent_id FROM messages").fetchall())
        assert parents == {10: None, 12: 10, 14: 12, 15: 14, 11: None, 13: 11}
        leaves = dict(store.db.execute("SELECT id, active_leaf FROM conversations").fetchall())
        assert leaves == {1: 15, 2: 13, 3: None}

        axolotls = store.load(1)
        assert contents(axolotls.conversation.messages) == [
            "Tell me about axolotls", "They regrow limbs", "How long do they live?", "About fifteen years"]
        assert all(axolotls.conversation.position(m) == (1, 1) for m in axolotls.conversation.messages)
        assert all(m.token_counts == {"o200k_base": 7} for m in axolotls.conversation.messages)
        slugs = store.load(2).conversation.messages
        assert contents(slugs) == ["And nudibranchs?", "Sea slugs, col"] and slugs[1].stopped
        assert store.load(3).conversation.messages == []

        # What is added after the migration continues the line it found.
        store.add(1, Message("user", "And in captivity?"))
        assert contents(store.load(1).conversation.messages)[-2:] == ["About fifteen years", "And in captivity?"]
        assert store.search("axolotls")[0].conversation_id == 1
        assert {s.id: s.turns for s in store.conversations()} == {1: 3, 2: 1, 3: 0}
    finally:
        store.close()


# -- the recorder and resume ------------------------------------------------------------------------------


async def test_alternatives_and_edits_are_stored_and_a_resume_restores_the_active_branch(
        fake: FakeOpenAI, make_session: Any, store: HistoryStore) -> None:
    fake.queue(Reply("first draft"), Reply("second draft"), Reply("r2"), Reply("edited reply"), Reply("onwards"))
    session = make_session(store)
    await run(session, session.send("write something"))
    await run(session, session.regenerate())
    second = session.conversation.last_reply()
    assert second is not None
    session.switch(second, -1)
    await run(session, session.send("go on"))
    await run(session, session.edit(session.conversation.messages[0], "write something else"))
    edited = session.conversation.messages[0]
    session.switch(edited, -1)  # back to the first branch, whose leaf is the reply to "go on"
    assert recorder_of(session).writer.drain(60)

    conversation_id = recorder_of(session).conversation_id
    assert conversation_id is not None
    stored = store.load(conversation_id)
    assert shape(stored.conversation) == shape(session.conversation)
    assert contents(stored.conversation.messages) == ["write something", "first draft", "go on", "r2"]

    later = make_session(store)
    Assembly(later, recorder_of(later)).resume(stored)
    await run(later, later.send("more"))
    assert [m["content"] for m in fake.last_body["messages"] if m["role"] != "system"] == [
        "write something", "first draft", "go on", "r2", "more"]
    again = store.load(conversation_id).conversation
    assert contents(again.messages)[-2:] == ["more", "onwards"]
    assert [contents(again.alternatives(m)) for m in again.messages[:2]] == [
        ["write something", "write something else"], ["first draft", "second draft"]]


async def test_a_switch_in_a_resumed_conversation_is_kept(fake: FakeOpenAI, make_session: Any,
                                                          store: HistoryStore) -> None:
    fake.queue(Reply("one"), Reply("two"))
    session = make_session(store)
    await run(session, session.send("q"))
    await run(session, session.regenerate())
    conversation_id = recorder_of(session).conversation_id
    assert conversation_id is not None

    later = make_session(store)
    stored = store.load(conversation_id)
    assert contents(stored.conversation.messages) == ["q", "two"]
    Assembly(later, recorder_of(later)).resume(stored)
    reply = later.conversation.last_reply()
    assert reply is not None
    later.select(later.conversation.alternatives(reply)[0])  # as a search hit on that reply opens it
    assert recorder_of(later).writer.drain(60)
    assert contents(store.load(conversation_id).conversation.messages) == ["q", "one"]


# -- export and import ------------------------------------------------------------------------------------


def branch(store: HistoryStore) -> int:
    """A stored conversation with two replies to its first message and an edit of its second."""
    cid = store.create("gpt-4o", "balanced", "Be brief.")
    q = store.add(cid, Message("user", "question"), parent=None)
    store.add(cid, Message("assistant", "old answer"), parent=q)
    a = store.add(cid, Message("assistant", "new answer"), parent=q)
    follow = store.add(cid, Message("user", "follow-up"), parent=a)
    store.add(cid, Message("assistant", "its reply"), parent=follow)
    edit = store.add(cid, Message("user", "follow-up, edited"), parent=a)
    store.add(cid, Message("assistant", "the edit's reply"), parent=edit)
    return cid


@pytest.fixture
def branched(store: HistoryStore) -> int:
    return branch(store)


def test_markdown_and_the_default_json_hold_the_active_path(store: HistoryStore, branched: int) -> None:
    stored = store.load(branched)
    markdown = to_markdown(stored)
    assert "new answer" in markdown and "the edit's reply" in markdown
    assert "old answer" not in markdown and "its reply" not in markdown
    data = to_json(stored)
    assert [m["content"] for m in data["messages"]] == [
        "question", "new answer", "follow-up, edited", "the edit's reply"]
    imported = store.load(import_json(store, data)).conversation
    assert contents(imported.messages) == contents(stored.conversation.messages)
    assert all(imported.position(m) == (1, 1) for m in imported.messages)


def test_a_json_export_of_the_tree_imports_as_the_same_tree(store: HistoryStore, branched: int) -> None:
    stored = store.load(branched)
    reply = stored.conversation.messages[1]
    stored.conversation.switch(reply, -1)  # the active path as exported need not be the newest
    data = json.loads(json.dumps(to_json(stored, tree=True)))
    copy = store.load(import_json(store, data)).conversation
    assert shape(copy) == shape(stored.conversation)
    assert contents(copy.messages) == ["question", "old answer"]


@pytest.mark.parametrize(("change", "fault"), [
    (lambda data: data["messages"][1].update(parent=9), "message 2: parent 9 is not a message before it"),
    (lambda data: data["messages"][2].update(n=1), "message 3: n is not a new message number"),
    (lambda data: data.update(active=99), "active: no message 99"),
])
def test_a_tree_export_with_a_broken_link_imports_nothing(store: HistoryStore, branched: int,
                                                           change: Callable[[dict[str, Any]], None],
                                                           fault: str) -> None:
    data = to_json(store.load(branched), tree=True)
    change(data)
    before = store.count()
    with pytest.raises(ValueError, match=fault):
        import_json(store, data)
    assert store.count() == before


def test_the_history_counts_the_turns_of_the_active_path(store: HistoryStore, branched: int) -> None:
    [summary] = store.conversations()
    assert summary.turns == 2  # "question" and the edited follow-up; the follow-up it replaced is on another branch


def test_chat_export_tree_then_import_gives_the_same_tree(tmp_path: Path) -> None:
    default = HistoryStore(paths.data_dir() / "history.db")  # where `chat` looks, in this test's environment
    try:
        cid = branch(default)
    finally:
        default.close()
    out = tmp_path / "tree.json"
    env = offline(dict(os.environ))

    def chat(*args: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([sys.executable, "-m", "chatbot", *args], capture_output=True, text=True, env=env,
                              stdin=subprocess.DEVNULL, timeout=120)
        assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
        return done

    chat("export", str(cid), "--format", "json", "--tree", "-o", str(out))
    new_id = int(chat("import", str(out)).stdout.strip())
    path_only = json.loads(chat("export", str(cid), "--format", "json").stdout)
    assert len(path_only["messages"]) == 4 and "active" not in path_only

    default = HistoryStore(paths.data_dir() / "history.db")
    try:
        original, copy = default.load(cid).conversation, default.load(new_id).conversation
        assert shape(copy) == shape(original) and len(copy.tree()) == 7
        assert contents(copy.messages) == contents(original.messages)
    finally:
        default.close()


# -- deleting from a message, forking ---------------------------------------------------------------------


def ledger_rows(store: HistoryStore) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in store.db.execute(
        "SELECT id, conversation_id, prompt_tokens, completion_tokens, cost FROM requests ORDER BY id")]


async def test_a_deleted_subtree_leaves_the_store_and_the_ledger_keeps_its_cost(
        fake: FakeOpenAI, make_session: Any, store: HistoryStore) -> None:
    fake.queue(Reply("the first kestrel", prompt_tokens=10, completion_tokens=3),
               Reply("a follow-up osprey", prompt_tokens=20, completion_tokens=4),
               Reply("a second kestrel", prompt_tokens=10, completion_tokens=3))
    session = make_session(store)
    await run(session, session.send("name a bird"))
    await run(session, session.send("another"))
    await run(session, session.regenerate(at=session.conversation.messages[1]))
    first = session.conversation.alternatives(session.conversation.messages[1])[0]
    conversation_id = recorder_of(session).conversation_id
    assert conversation_id is not None
    spent, used, requests = store.load(conversation_id).cost, store.usage(), ledger_rows(store)

    session.delete_from(first)
    assert recorder_of(session).writer.drain(60)
    stored = store.load(conversation_id)
    assert shape(stored.conversation) == shape(session.conversation)
    assert contents(stored.conversation.tree()) == ["name a bird", "a second kestrel"]
    assert store.search("osprey") == [] and store.search("first kestrel") == []
    assert (stored.cost, store.usage(), ledger_rows(store)) == (spent, used, requests)

    fake.queue(Reply("a wren"))
    later = make_session(store)
    Assembly(later, recorder_of(later)).resume(stored)
    await run(later, later.send("and a small one?"))
    assert [m["content"] for m in fake.last_body["messages"] if m["role"] != "system"] == [
        "name a bird", "a second kestrel", "and a small one?"]


async def test_a_lone_deleted_reply_leaves_the_stored_path_at_its_question(
        fake: FakeOpenAI, make_session: Any, store: HistoryStore) -> None:
    fake.queue(Reply("one"))
    session = make_session(store)
    await run(session, session.send("q"))
    conversation_id = recorder_of(session).conversation_id
    assert conversation_id is not None
    reply = session.conversation.leaf()
    assert reply is not None
    session.delete_from(reply)
    assert recorder_of(session).writer.drain(60)
    assert contents(store.load(conversation_id).conversation.messages) == ["q"]


async def test_a_resume_after_regenerating_an_earlier_reply_opens_the_new_branch(
        fake: FakeOpenAI, make_session: Any, store: HistoryStore) -> None:
    fake.queue(Reply("r1"), Reply("r2"), Reply("r1, again"))
    session = make_session(store)
    await run(session, session.send("q1"))
    await run(session, session.send("q2"))
    await run(session, session.regenerate(at=session.conversation.messages[1]))
    conversation_id = recorder_of(session).conversation_id
    assert conversation_id is not None
    stored = store.load(conversation_id).conversation
    assert contents(stored.messages) == ["q1", "r1, again"] and shape(stored) == shape(session.conversation)


async def test_a_fork_is_stored_whole_as_a_new_conversation_with_no_new_requests(
        fake: FakeOpenAI, make_session: Any, store: HistoryStore) -> None:
    fake.queue(Reply("a heron", prompt_tokens=10, completion_tokens=2, reasoning="long legs"),
               Reply("it wades", prompt_tokens=20, completion_tokens=2), Reply("a bittern"))
    session = make_session(store, system_prompt="Be brief.")
    await run(session, session.send("name a tall bird"))
    await run(session, session.send("what does it do?"))
    old_id = recorder_of(session).conversation_id
    assert old_id is not None
    store.rename(old_id, "Tall birds")
    before, requests = store.load(old_id), ledger_rows(store)

    session.fork_conversation(session.conversation.messages[1])
    assert recorder_of(session).writer.drain(60)
    fork_id = recorder_of(session).conversation_id
    assert fork_id is not None and fork_id != old_id
    fork = store.load(fork_id)
    assert fork.title == "Tall birds (fork)" and (fork.model, fork.preset) == (before.model, before.preset)
    assert fork.conversation.system_prompt == "Be brief."
    assert [(m.role, m.content, m.usage, m.cost, m.reasoning) for m in fork.conversation.tree()] == [
        (m.role, m.content, m.usage, m.cost, m.reasoning) for m in before.conversation.messages[:2]]
    assert ledger_rows(store) == requests and fork.cost == Spent()  # its requests were counted once, before
    again = store.load(old_id)
    assert shape(again.conversation) == shape(before.conversation) and again.cost == before.cost

    await run(session, session.send("another?"))  # the fork goes on in its own stored conversation
    assert contents(store.load(fork_id).conversation.messages) == [
        "name a tall bird", "a heron", "another?", "a bittern"]
    assert len(store.load(old_id).conversation.tree()) == 4


async def test_a_fork_of_a_conversation_the_store_never_named_takes_its_first_message_s_title(
        fake: FakeOpenAI, make_session: Any, store: HistoryStore) -> None:
    fake.queue(Reply("r"))
    session = make_session(store)
    await run(session, session.send("why is the sky blue"))
    session.fork_conversation(session.conversation.messages[0])
    assert recorder_of(session).writer.drain(60)
    fork_id = recorder_of(session).conversation_id
    assert fork_id is not None
    assert store.load(fork_id).title == "why is the sky blue (fork)"
    assert contents(store.load(fork_id).conversation.messages) == ["why is the sky blue"]


def test_deleting_rows_under_the_active_leaf_ends_the_stored_path_at_their_parent(store: HistoryStore,
                                                                                  branched: int) -> None:
    stored = store.load(branched)
    edit = stored.conversation.messages[2]  # "follow-up, edited", whose reply ends the active path
    doomed = [stored.row_ids[m.id] for m in [edit, *stored.conversation.children_of(edit)]]
    store.delete_messages(doomed)
    again = store.load(branched).conversation
    assert contents(again.messages) == ["question", "new answer"]
    assert len(again.tree()) == 5 and store.search("edit's") == []
