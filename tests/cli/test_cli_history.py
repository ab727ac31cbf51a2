"""The history from the command line: export/import, search, --no-history, --clear, delete, continue and
resume, a newer or broken database, a kill -9 mid-reply, and a one-shot chat writing beside a session.

The subprocesses share this process's isolated XDG dirs (the `chat` fixture), so they use the same history.db as
`chatbot.core.store.history.default_path()` does here."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from chatbot.core.conversation import Message, Summary
from chatbot.core.events import Usage
from chatbot.core.store.export import FORMAT, to_json
from chatbot.core.store.history import HistoryStore
from chatbot.core.store.schema import SCHEMA_VERSION
from fake_openai import Error, FakeOpenAI, Reply
from stored_history import (
    data_files,
    db_path,
    export_fields,
    front_matter,
    integrity,
    key_is_absent,
    recorder_of,
    turn,
    v1_database,
)
from support import TEST_API_KEY as KEY


def poll(condition: Callable[[], Any], steps: int = 600, step: float = 0.05) -> Any:
    """Check `condition` up to `steps` times, pausing `step` seconds between checks; returns its first truthy value."""
    for _ in range(steps):
        value = condition()
        if value:
            return value
        time.sleep(step)
    raise AssertionError("condition never held")


def test_cli_export_json_then_import(chat: Any) -> None:
    # `chat` uses the default path; this test's store is elsewhere, so fill the default one.
    default = HistoryStore(db_path())
    conversation_id = default.create("gpt-4o", "support", "Be kind.", title="Exported")
    default.add(conversation_id, Message("user", "Where is «Zürich»?"))
    default.add(conversation_id, Message("assistant", "In Switzerland.", model="gpt-4o", usage=Usage(9, 3, 0),
                                         cost=Decimal("0.0000525"), finish_reason="stop"))
    default.close()
    out = Path.cwd() / "exported.json"

    exported = chat("export", str(conversation_id), "--format", "json", "-o", str(out))
    assert exported.returncode == 0, exported.stderr
    imported = chat("import", str(out))
    assert imported.returncode == 0, imported.stderr
    new_id = int(imported.stdout.strip())
    assert f"chat --resume {new_id}" in imported.stderr

    default = HistoryStore(db_path())
    try:
        assert new_id != conversation_id
        assert export_fields(to_json(default.load(new_id))) == export_fields(json.loads(out.read_text("utf-8")))
        assert default.load(new_id).conversation.messages[1].cost == Decimal("0.0000525")
    finally:
        default.close()
    markdown = chat("export", str(conversation_id))
    assert markdown.returncode == 0
    assert front_matter(markdown.stdout)["title"] == "Exported"
    assert "Where is «Zürich»?" in markdown.stdout


def test_cli_export_and_import_carry_the_summary_of_the_oldest_turns(chat: Any) -> None:
    default = HistoryStore(db_path())
    cid = default.create("gpt-4o", "balanced", "", title="Summed")
    default.add(cid, Message("user", "first question"))
    covers = default.add(cid, Message("assistant", "first answer", model="gpt-4o"))
    default.add(cid, Message("user", "second question"))
    default.add(cid, Message("assistant", "second answer", model="gpt-4o"))
    default.set_summary(cid, Summary("They asked a first question.", 0, 1, "gpt-4o-mini", Usage(70, 5, 0),
                                     Decimal("0.0000135")), covers)
    default.close()

    markdown = chat("export", str(cid))
    assert markdown.returncode == 0, markdown.stderr
    body = markdown.stdout
    section = body.index("## Summary of 1 earlier turn (by gpt-4o-mini)")
    assert body.index("first answer") < section < body.index("They asked a first question.") < body.index(
        "second question")
    for flags in ([], ["--all-branches"]):
        out = Path.cwd() / f"summed{len(flags)}.json"
        assert chat("export", str(cid), "--format", "json", *flags, "-o", str(out)).returncode == 0
        exported = json.loads(out.read_text("utf-8"))
        assert exported["summary"] == {
            "text": "They asked a first question.", "covers": 2, "turns": 1, "model": "gpt-4o-mini",
            "usage": {"prompt_tokens": 70, "completion_tokens": 5, "cached_tokens": 0, "estimated": False,
                      "reasoning_tokens": 0}, "cost_usd": "0.0000135"}
        imported = chat("import", str(out))
        assert imported.returncode == 0, imported.stderr
        default = HistoryStore(db_path())
        try:
            copy = default.load(int(imported.stdout.strip()))
            summary = copy.conversation.summary
            assert summary is not None and summary.covers == copy.conversation.messages[1].id
            assert (summary.text, summary.turns, summary.model, summary.cost) == (
                "They asked a first question.", 1, "gpt-4o-mini", Decimal("0.0000135"))
            assert export_fields(to_json(copy, tree=bool(flags))) == export_fields(exported)
        finally:
            default.close()


def test_cli_export_of_an_unknown_id_is_a_usage_error(chat: Any) -> None:
    done = chat("export", "4242")
    assert done.returncode == 2
    assert "no conversation 4242" in done.stderr


GOOD = {"format": FORMAT, "version": 1, "title": "t", "model": "gpt-4o", "preset": "balanced", "system_prompt": "",
        "messages": [{"role": "user", "content": "hi"}]}


@pytest.mark.parametrize(("content", "says"), [
    ("this is { not json", "cannot import"),
    (json.dumps([1, 2, 3]), "not a chatbot-conversation export"),
    (json.dumps({"format": "something-else", "messages": []}), "not a chatbot-conversation export"),
    (json.dumps({**GOOD, "messages": [{"role": "system", "content": "x"}]}), "unknown role 'system'"),
    (json.dumps({**GOOD, "messages": [{"role": "wizard", "content": "x"}]}), "unknown role 'wizard'"),
    (json.dumps({k: v for k, v in GOOD.items() if k != "messages"}), "malformed export"),
    (json.dumps({k: v for k, v in GOOD.items() if k != "model"}), "malformed export"),
    (json.dumps({**GOOD, "messages": [{"role": "assistant", "content": "x", "cost_usd": "lots"}]}), "malformed"),
    (json.dumps({**GOOD, "messages": [{"role": "assistant", "content": "x", "usage": {"prompt_tokens": 1}}]}),
     "malformed"),
    (json.dumps({**GOOD, "messages": None}), "malformed export"),
])
def test_cli_import_of_junk_is_a_clear_usage_error(chat: Any, content: str, says: str) -> None:
    path = Path.cwd() / "junk.json"
    path.write_text(content, encoding="utf-8")

    done = chat("import", str(path))

    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("chat: usage error: cannot import")
    assert says in done.stderr
    assert "chat export --format json" in done.stderr  # the hint
    store = HistoryStore(db_path())
    try:
        assert store.conversations() == []  # nothing half-imported
    finally:
        store.close()


def test_cli_import_of_a_missing_file_is_a_usage_error(chat: Any) -> None:
    done = chat("import", str(Path.cwd() / "nowhere.json"))
    assert done.returncode == 2
    assert "cannot import" in done.stderr


def test_cli_import_with_a_message_that_is_not_an_object_is_a_usage_error(inherited_env: dict[str, str]) -> None:
    path = Path.cwd() / "junk.json"
    path.write_text(json.dumps({**GOOD, "messages": ["hello"]}), encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "chatbot", "import", str(path)], capture_output=True, text=True,
                          env=inherited_env, stdin=subprocess.DEVNULL, timeout=120)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr


BAD_MESSAGES = {
    "a reason that is not text": {"role": "assistant", "content": "x", "finish_reason": {"why": "stop"}},
    "content that is not text": {"role": "user", "content": 42},
    "an unknown role": {"role": "wizard", "content": "x"},
    "a token count too large to store": {"role": "assistant", "content": "x",
                                         "usage": {"prompt_tokens": 10**30, "completion_tokens": 1}},
    "a lone surrogate in the text": {"role": "user", "content": "half a pair: \ud800"},
}


@pytest.mark.parametrize("bad", BAD_MESSAGES.values(), ids=BAD_MESSAGES)
def test_cli_import_with_a_bad_message_in_the_middle_imports_nothing(chat: Any, bad: dict[str, Any]) -> None:
    default = HistoryStore(db_path())
    conversation_id = default.create("gpt-4o", "balanced", "", title="Kept")
    for text in ("first question", "first answer", "second question", "second answer"):
        default.add(conversation_id, Message("user" if "question" in text else "assistant", text))
    data = to_json(default.load(conversation_id))
    default.close()
    data["messages"].insert(2, bad)  # two good messages before it, two after
    path = Path.cwd() / "bad.json"
    path.write_text(json.dumps(data), encoding="utf-8")

    done = chat("import", str(path))

    assert done.returncode == 2, done.stderr
    [line] = done.stderr.splitlines()
    assert line.startswith(f"chat: usage error: cannot import {path}: malformed export, message 3: ")
    assert done.stdout == ""
    assert [c["id"] for c in json.loads(chat("history", "--json").stdout)] == [conversation_id]


@pytest.mark.parametrize("args", [["history"], ["usage", "--json"], ["-p", "hello", "--save"], ["-c", "-p", "hi"]])
def test_chat_refuses_a_newer_database_with_exit_2_and_the_path(fake: FakeOpenAI, chat: Any,
                                                               args: list[str]) -> None:
    path = db_path()
    path.parent.mkdir(parents=True)
    v1_database(path)
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    db.commit()
    db.close()

    done = chat(*args)

    assert done.returncode == 2
    assert str(path) in done.stderr
    assert "newer" in done.stderr
    assert fake.chat_requests == []


def test_a_failed_request_in_a_resumed_conversation_prints_no_old_reply(fake: FakeOpenAI, chat: Any) -> None:
    fake.queue(Reply("The first answer.", prompt_tokens=10, completion_tokens=4),
               Error(400, "bad parameter", code="invalid_value"))
    assert chat("-p", "hello", "--save").returncode == 0

    done = chat("-c", "-p", "again", "--json")

    assert done.returncode == 2
    result = json.loads(done.stdout)
    assert result["reply"] == "" and result["usage"] is None and result["error"]
    assert "The first answer." not in done.stdout


def test_chat_refuses_a_file_that_is_not_a_database(fake: FakeOpenAI, chat: Any) -> None:
    path = db_path()
    path.parent.mkdir(parents=True)
    path.write_bytes(b"this is not SQLite at all, just some bytes " * 100)
    done = chat("-p", "hello", "--save")
    assert done.returncode == 2
    assert str(path) in done.stderr and "--no-history" in done.stderr
    assert fake.chat_requests == []


def test_cli_history_search_and_list(chat: Any) -> None:
    store = HistoryStore(db_path())
    a = store.create("gpt-4o", "balanced", "")
    store.add(a, Message("user", "How do penguins keep warm?"))
    b = store.create("gpt-4o-mini", "balanced", "")
    store.add(b, Message("user", "Tell me about penguins (emperor)"))
    store.close()

    hits = json.loads(chat("history", "--search", "penguins", "--json").stdout)
    assert {h["conversation"] for h in hits} == {a, b}
    # Punctuation-only words hold no token and are ignored, never read as syntax.
    assert json.loads(chat("history", "--search", 'penguins "( -', "--json").stdout) == hits
    assert json.loads(chat("history", "--search", "emperor NEAR(", "--json").stdout) == []
    assert all("«penguins»" in h["snippet"] for h in hits)
    listed = json.loads(chat("history", "--json").stdout)
    assert [c["id"] for c in listed] == [b, a]  # newest first
    assert listed[0]["title"] == "Tell me about penguins (emperor)" and listed[0]["turns"] == 1
    table = chat("history").stdout.splitlines()
    assert table[0].split() == ["id", "updated", "model", "turns", "cost", "title"]
    assert len(table) == 3 and "Tell me about penguins (emperor)" in table[1]


# -- crash safety ----------------------------------------------------------------------------------------------


class CountedPieces:
    """The pieces of a reply, counting how many the fake has taken to send (it takes them one at a time)."""

    def __init__(self, pieces: list[str]) -> None:
        self._pieces = pieces
        self.taken = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._pieces)

    def __iter__(self) -> Iterator[str]:
        for piece in self._pieces:
            with self._lock:
                self.taken += 1
            yield piece


@dataclass
class CountedReply(Reply):
    counted: CountedPieces = field(default_factory=lambda: CountedPieces([]))

    def pieces(self) -> Any:  # the fake only iterates it and takes its len()
        return self.counted


def test_kill_9_mid_reply_keeps_the_question_and_the_partial_reply(fake: FakeOpenAI,
                                                                   inherited_env: dict[str, str]) -> None:
    words = [f"word{i:02d} " for i in range(60)]
    full = "".join(words)
    counted = CountedPieces(words)
    fake.queue(CountedReply(chunks=words, chunk_delay=0.1, counted=counted))
    path = db_path()

    def saved_partial() -> str | None:
        if not path.exists():
            return None
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        try:
            row = db.execute("SELECT content FROM messages WHERE role = 'assistant'").fetchone()
        except sqlite3.OperationalError:  # the schema is still being created
            return None
        finally:
            db.close()
        return row[0] if row and row[0] else None

    proc = subprocess.Popen([sys.executable, "-m", "chatbot", "-p", "count to sixty", "--save"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=inherited_env, cwd=os.getcwd())
    try:
        poll(lambda: counted.taken >= 26 and saved_partial(), steps=1200)
        assert proc.poll() is None, "the reply finished before the kill"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
        proc.stdout.close()
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    assert counted.taken < len(words)

    key_is_absent(path)  # before anything reopens it: the WAL of the killed process as it was left
    store = HistoryStore(path)
    try:
        [summary] = store.conversations()
        stored = store.load(summary.id)
        user, reply = stored.conversation.messages
        assert (user.role, user.content) == ("user", "count to sixty")
        assert reply.role == "assistant" and reply.model == "gpt-4o-mini"
        assert reply.content and full.startswith(reply.content) and len(reply.content) < len(full)
        assert reply.stopped
        assert stored.title == "count to sixty"
        assert store.search("word01")  # the partial text is searchable
        [used] = store.usage()
        assert used.requests == 1  # the request that went out is counted, though it never settled
    finally:
        store.close()
    assert integrity(path) == "ok"
    key_is_absent(path)


# -- two writers -----------------------------------------------------------------------------------------------


async def test_a_one_shot_chat_and_a_session_write_the_same_history_at_once(
        fake: FakeOpenAI, make_session: Any, inherited_env: dict[str, str]) -> None:
    turns = 3
    fake.queue(*(Reply([f"sub{t}w{i} " for i in range(30)], chunk_delay=0.02) for t in range(turns)))
    path = db_path()
    path.parent.mkdir(parents=True, exist_ok=True)

    async def one_shots() -> int:
        conversation_id = 0
        for t in range(turns):
            resume = ["--resume", str(conversation_id)] if t else ["--save"]
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "chatbot", "-p", f"subprocess turn {t}", *resume, env=inherited_env,
                cwd=os.getcwd(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            _out, err = await proc.communicate()
            assert proc.returncode == 0, err.decode()
            assert "Traceback" not in err.decode()
            if not t:
                db = sqlite3.connect(path, timeout=10)
                conversation_id = db.execute("SELECT id FROM conversations WHERE title = 'subprocess turn 0'"
                                             ).fetchone()[0]
                db.close()
        return conversation_id

    async def in_process() -> int:
        with FakeOpenAI() as other:
            other.queue(*(Reply([f"in{t}w{i} " for i in range(30)], chunk_delay=0.02) for t in range(turns)))
            store = HistoryStore(path)
            try:
                # A clock that always says a second has passed: the partial reply is saved on every chunk.
                session = make_session(store, base_url=other.base_url,
                                       recorder_clock=itertools.count(step=1.0).__next__)
                for t in range(turns):
                    await turn(session, f"in-process turn {t}")
                assert recorder_of(session).error is None
                return recorder_of(session).conversation_id
            finally:
                store.close()

    sub_id, own_id = await asyncio.gather(one_shots(), in_process())

    store = HistoryStore(path)
    try:
        assert {s.id for s in store.conversations()} == {sub_id, own_id}
        for conversation_id, prefix, user in ((sub_id, "sub", "subprocess turn"), (own_id, "in", "in-process turn")):
            messages = store.load(conversation_id).conversation.messages
            expected = []
            for t in range(turns):
                expected += [("user", f"{user} {t}", False),
                             ("assistant", "".join(f"{prefix}{t}w{i} " for i in range(30)), False)]
            assert [(m.role, m.content, m.stopped) for m in messages] == expected
    finally:
        store.close()
    assert integrity(path) == "ok"
    key_is_absent(path)


# -- the key is never written ----------------------------------------------------------------------------------


async def test_the_key_is_never_written_even_when_the_server_echoes_it(
        fake: FakeOpenAI, make_session: Any, store: HistoryStore, chat: Any) -> None:
    echo = f"Incorrect API key provided: {KEY}"
    fake.queue(
        Reply("fine", prompt_tokens=5),
        Error(401, echo, code="invalid_api_key"),
        Reply(["partial ", "text "], error_in_stream={"message": echo, "type": "server_error"}),
        Error(400, echo),
    )
    session = make_session(store, model="gpt-4o")
    await turn(session, "one")
    for text in ("two", "three", "four"):
        with pytest.raises(Exception):  # noqa: B017 - each of these fails, one after a partial reply
            await turn(session, text)
    messages = store.load(recorder_of(session).conversation_id).conversation.messages
    assert [m.content for m in messages] == ["one", "fine", "three", "partial text "]
    assert messages[-1].error and "[redacted]" in messages[-1].error
    store.close()
    key_is_absent(store.path)

    fake.queue(Reply("cli reply"), Error(401, echo))
    assert chat("-p", "from the cli", "--save").returncode == 0
    assert chat("-c", "-p", "again").returncode == 3
    key_is_absent(db_path())


# A plain `-p` keeps its request's ledger row (test_cli_ledger.py); --no-history keeps nothing at all.
@pytest.mark.parametrize("args", [["-p", "hello", "--no-history"], ["-p", "hello", "--save", "--no-history"]])
def test_nothing_is_kept_without_history(fake: FakeOpenAI, chat: Any, args: list[str]) -> None:
    fake.queue(Reply("hi"))
    done = chat(*args)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "hi\n"
    assert data_files() == []


@pytest.mark.parametrize("how", ["config", "env"])
def test_history_false_disables_it(fake: FakeOpenAI, chat: Any, how: str) -> None:
    env: dict[str, str | None] = {}
    if how == "config":
        config = Path(os.environ["XDG_CONFIG_HOME"]) / "chatbot" / "config.toml"
        config.parent.mkdir(parents=True)
        config.write_text("history = false\n", encoding="utf-8")
    else:
        env["CHAT_HISTORY"] = "false"
    fake.queue(Reply("hi"))
    done = chat("-p", "hello", "--save", env=env)
    assert done.returncode == 0, done.stderr
    assert data_files() == []
    refused = chat("-c", "-p", "hello", env=env)
    assert refused.returncode == 2
    assert "history" in refused.stderr
    assert len(fake.chat_requests) == 1


@pytest.mark.parametrize("args", [["-c", "-p", "x", "--no-history"], ["--resume", "1", "-p", "x", "--no-history"]])
def test_continue_with_no_history_is_a_usage_error(fake: FakeOpenAI, chat: Any, args: list[str]) -> None:
    done = chat(*args)
    assert done.returncode == 2
    assert done.stderr.startswith("chat: usage error: -c/--resume need the history")
    assert fake.chat_requests == [] and data_files() == []


def test_history_clear_deletes_every_conversation_and_keeps_the_usage(fake: FakeOpenAI, chat: Any) -> None:
    fake.queue(Reply("first reply"), Reply("second reply"))
    assert chat("-p", "first", "--save").returncode == 0
    assert chat("-p", "second", "--save").returncode == 0
    assert len(json.loads(chat("history", "--json").stdout)) == 2
    usage = json.loads(chat("usage", "--json").stdout)
    assert [row["requests"] for row in usage] == [2]

    done = chat("history", "--clear", "--yes")

    assert done.returncode == 0 and str(db_path()) in done.stderr and "chat usage keeps" in done.stderr
    assert json.loads(chat("history", "--json").stdout) == []
    assert json.loads(chat("usage", "--json").stdout) == usage  # what was spent was spent
    store = HistoryStore(db_path())
    try:
        assert store.db.execute("SELECT COUNT(*) FROM messages").fetchone()[0] == 0
        assert store.search("first") == [] and store.search("reply") == []
        assert store.last_id() is None
    finally:
        store.close()
    assert chat("-c", "-p", "x").returncode == 2  # nothing left to continue

    done = chat("history", "--clear", "--with-usage")

    assert done.returncode == 0 and "history and usage deleted" in done.stderr
    assert json.loads(chat("usage", "--json").stdout) == []


def test_with_usage_needs_clear(chat: Any) -> None:
    done = chat("history", "--with-usage")
    assert done.returncode == 2 and "--with-usage goes with --clear" in done.stderr


def test_history_clear_leaves_no_word_of_the_old_messages_in_the_file(fake: FakeOpenAI, chat: Any) -> None:
    fake.queue(Reply("the zanzibarquokka answer"))
    assert chat("-p", "my secret xylophonicword", "--save").returncode == 0
    assert chat("history", "--clear", "--yes").returncode == 0
    for file in (db_path(), Path(f"{db_path()}-wal")):
        if file.exists():
            data = file.read_bytes()
            assert b"xylophonicword" not in data
            assert b"zanzibarquokka" not in data


def test_history_delete_removes_one_conversation(chat: Any) -> None:
    store = HistoryStore(db_path())
    keep = store.create("gpt-4o", "balanced", "")
    store.add(keep, Message("user", "keep me"))
    drop = store.create("gpt-4o", "balanced", "")
    store.add(drop, Message("user", "drop me"))
    store.close()
    assert chat("history", "--delete", str(drop)).returncode == 0
    assert [c["id"] for c in json.loads(chat("history", "--json").stdout)] == [keep]
    assert json.loads(chat("history", "--search", "drop", "--json").stdout) == []


def test_deleting_a_conversation_keeps_its_usage(fake: FakeOpenAI, chat: Any) -> None:
    fake.queue(Reply("a", prompt_tokens=20, completion_tokens=3), Reply("b", prompt_tokens=40, completion_tokens=2))
    assert chat("-p", "one", "--save", "-m", "gpt-4o").returncode == 0
    assert chat("-p", "two", "--save", "-m", "gpt-4o").returncode == 0
    before = json.loads(chat("usage", "--json").stdout)
    [newest, _] = json.loads(chat("history", "--json").stdout)

    assert chat("history", "--delete", str(newest["id"])).returncode == 0

    assert len(json.loads(chat("history", "--json").stdout)) == 1
    assert json.loads(chat("usage", "--json").stdout) == before
    assert before[0]["requests"] == 2 and before[0]["cost"] == "0.00020"
    # A new conversation that takes the deleted one's id is not charged for its requests.
    fake.queue(Reply("c", prompt_tokens=10, completion_tokens=1))
    assert chat("-p", "three", "--save", "-m", "gpt-4o").returncode == 0
    listed = json.loads(chat("history", "--json").stdout)
    assert next((c["id"], c["cost_usd"]) for c in listed) == (newest["id"], "0.000035")


# -- continuing from the command line --------------------------------------------------------------------------


def test_continue_sends_the_earlier_turns(fake: FakeOpenAI, chat: Any) -> None:
    fake.queue(Reply("Blue."), Reply("Because of Rayleigh scattering."))
    assert chat("-p", "What colour is the sky?", "--save", "-m", "gpt-4.1-nano", "--preset", "support").returncode == 0

    done = chat("-c", "-p", "Why?")

    assert done.returncode == 0, done.stderr
    assert done.stdout == "Because of Rayleigh scattering.\n"
    body = fake.last_body
    assert body["model"] == "gpt-4.1-nano" and body["temperature"] == 0.3  # the stored model and preset
    assert [(m["role"], m["content"]) for m in body["messages"][1:]] == [
        ("user", "What colour is the sky?"), ("assistant", "Blue."), ("user", "Why?")]
    store = HistoryStore(db_path())
    try:
        [summary] = store.conversations()
        assert summary.turns == 2
        assert [m.content for m in store.load(summary.id).conversation.messages][-1] == (
            "Because of Rayleigh scattering.")
    finally:
        store.close()


def test_continue_flags_win_over_the_stored_settings(fake: FakeOpenAI, chat: Any) -> None:
    fake.queue(Reply("one"), Reply("two"))
    assert chat("-p", "first", "--save", "-m", "gpt-4.1-nano", "-s", "old system").returncode == 0
    assert chat("-c", "-p", "second", "-m", "gpt-4o", "-s", "new system").returncode == 0
    body = fake.last_body
    assert body["model"] == "gpt-4o"
    assert body["messages"][0] == {"role": "system", "content": "new system"}
    assert [m["content"] for m in body["messages"][1:]] == ["first", "one", "second"]


def test_resume_picks_the_given_conversation(fake: FakeOpenAI, chat: Any) -> None:
    fake.queue(Reply("about cats"), Reply("about dogs"), Reply("more about cats"))
    assert chat("-p", "cats?", "--save").returncode == 0
    assert chat("-p", "dogs?", "--save").returncode == 0
    store = HistoryStore(db_path())
    cats = next(s.id for s in store.conversations() if s.title == "cats?")
    store.close()

    done = chat("--resume", str(cats), "-p", "and kittens?")

    assert done.returncode == 0, done.stderr
    assert [m["content"] for m in fake.last_body["messages"][1:]] == ["cats?", "about cats", "and kittens?"]
    store = HistoryStore(db_path())
    try:
        assert [m.content for m in store.load(cats).conversation.messages] == [
            "cats?", "about cats", "and kittens?", "more about cats"]
        assert len(store.conversations()) == 2
    finally:
        store.close()


def test_resume_of_an_unknown_id_exits_2(fake: FakeOpenAI, chat: Any) -> None:
    done = chat("--resume", "999", "-p", "hello")
    assert done.returncode == 2
    assert "no conversation 999" in done.stderr
    assert fake.chat_requests == []


def test_continue_with_an_empty_history_exits_2(fake: FakeOpenAI, chat: Any) -> None:
    done = chat("-c", "-p", "hello")
    assert done.returncode == 2
    assert "no conversation to continue" in done.stderr
    assert fake.chat_requests == []



def test_cli_export_all_branches_in_markdown_and_json_and_the_json_imports_whole(chat: Any) -> None:
    default = HistoryStore(db_path())
    cid = default.create("gpt-4o", "balanced", "", title="Birds")
    q = default.add(cid, Message("user", "name a bird"), parent=None)
    default.add(cid, Message("assistant", "a heron", model="gpt-4o"), parent=q)
    default.add(cid, Message("assistant", "a wren", model="gpt-4o"), parent=q)
    default.close()

    markdown = chat("export", str(cid), "--all-branches")
    assert markdown.returncode == 0, markdown.stderr
    assert [line for line in markdown.stdout.splitlines() if line.startswith("## Alternative")] == [
        "## Alternative 1/2", "## Alternative 2/2 (active)"]
    assert "a heron" in markdown.stdout and "a wren" in markdown.stdout
    assert "a heron" not in chat("export", str(cid)).stdout  # by default, the active path only

    out = Path.cwd() / "all.json"
    assert chat("export", str(cid), "--format", "json", "--all-branches", "-o", str(out)).returncode == 0
    alias = chat("export", str(cid), "--format", "json", "--tree")  # the older name of the flag
    assert json.loads(alias.stdout) == json.loads(out.read_text("utf-8"))
    imported = chat("import", str(out))
    assert imported.returncode == 0, imported.stderr
    default = HistoryStore(db_path())
    try:
        copy = default.load(int(imported.stdout.strip())).conversation
        assert [m.content for m in copy.tree()] == ["name a bird", "a heron", "a wren"]
        assert [m.content for m in copy.messages] == ["name a bird", "a wren"]
    finally:
        default.close()
