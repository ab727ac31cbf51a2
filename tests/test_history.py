"""The conversation history: the SQLite store, the recorder, resume, export/import, usage, and the CLI around them.

In-process tests drive a real Session (real ChatClient, real HTTP) against the fake server with a Recorder on a
HistoryStore in tmp. CLI tests run `python -m chatbot` as a subprocess; the autouse fixture in conftest.py has
already put XDG_CONFIG_HOME / XDG_DATA_HOME / XDG_STATE_HOME in tmp and removed every CHAT_*/OPENAI_* variable
from os.environ, so a subprocess started with a copy of os.environ uses the same history.db as
`chatbot.core.store.history.default_path()` does here.
"""

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
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from fake_openai import Error, FakeOpenAI, Reply
from support import SleepRecorder, offline

from chatbot.core import paths
from chatbot.core.client import ChatClient
from chatbot.core.conversation import Message
from chatbot.core.errors import ConfigError
from chatbot.core.events import TextDelta, Usage
from chatbot.core.assembly import Assembly
from chatbot.core.journal import Observer
from chatbot.core.pricing import Spent, format_cost
from chatbot.core.request import ERROR, OK, RETRIED, SENT, STOPPED, Request
from chatbot.core.session import Session, Totals
from chatbot.core.store.export import FORMAT, import_json, to_json, to_markdown
from chatbot.core.store.history import TITLE_LENGTH, HistoryStore, Stored, title_from
from chatbot.core.store.recorder import Recorder
from chatbot.core.store.schema import MIGRATIONS, SCHEMA_VERSION
from chatbot.core.store.usage_log import UsageLog
from chatbot.core.store.writer import Writer
from chatbot.core.tokens import TokenCounter

KEY = "sk-test-SECRETSECRET1234"  # the recognisable key of conftest.TEST_API_KEY
USAGE_LOG_FIELDS = {"timestamp", "request_id", "model", "prompt_tokens", "cached_tokens", "completion_tokens",
                    "reasoning_tokens", "usage_estimated", "cost_usd", "first_token_seconds", "total_seconds", "status", "error"}


# -- helpers ---------------------------------------------------------------------------------------------------


def fields(message: Message) -> tuple[Any, ...]:
    """Everything a stored message must keep (Message.id is per process, so it is left out)."""
    return (message.role, message.content, message.model, message.usage, message.cost, message.finish_reason,
            message.stopped, message.error)


def export_fields(data: dict[str, Any]) -> dict[str, Any]:
    """A JSON export without what an import is allowed to change (its new id and its timestamps)."""
    return {k: v for k, v in data.items() if k not in ("id", "created", "updated")}


def db_path() -> Path:
    """Where both this process and a `chat` subprocess keep the history (XDG_DATA_HOME is in tmp)."""
    return paths.data_dir() / "history.db"


def key_is_absent(path: Path) -> None:
    """The key, or anything shaped like it, appears nowhere in the database or its WAL and shared-memory files."""
    for file in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        if file.exists():
            data = file.read_bytes()
            assert KEY.encode() not in data, file
            assert b"SECRETSECRET" not in data, file
            assert KEY.encode("utf-16-le") not in data, file


def integrity(path: Path) -> str:
    db = sqlite3.connect(path)
    try:
        return str(db.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        db.close()


def poll(condition: Callable[[], Any], steps: int = 600, step: float = 0.05) -> Any:
    """Check `condition` up to `steps` times, pausing `step` seconds between checks; returns its first truthy value."""
    for _ in range(steps):
        value = condition()
        if value:
            return value
        time.sleep(step)
    raise AssertionError("condition never held")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[HistoryStore]:
    s = HistoryStore(tmp_path / "history.db")
    yield s
    s.close()


@pytest.fixture
async def make_session(fake: FakeOpenAI, make_settings: Any) -> AsyncIterator[Callable[..., Session]]:
    """make_session(store, clock=..., **settings flags) -> a Session recording into `store`."""
    clients: list[ChatClient] = []
    writers: list[Writer] = []

    def make(store: HistoryStore | None, *, recorder_clock: Callable[[], float] | None = None,
             base_url: str | None = None, usage_log: UsageLog | None = None, max_retries: int = 0,
             **flags: Any) -> Session:
        settings = make_settings(**flags)
        client = ChatClient(api_key=KEY, base_url=base_url or fake.base_url, timeout=30.0, max_retries=max_retries,
                            sleep=SleepRecorder())
        clients.append(client)
        observers: list[Observer] = []
        if store is not None:
            writers.append(writer := Writer(store.path))
            observers.append(Recorder(writer, clock=recorder_clock) if recorder_clock else Recorder(writer))
        if usage_log is not None:
            observers.append(usage_log)
        return Session(settings, client, observers=observers)

    yield make
    for client in clients:
        await client.aclose()
    for writer in writers:
        writer.close()


def recorder_of(session: Session) -> Recorder:
    """The recorder among the session's observers."""
    return next(o for o in session.observers if isinstance(o, Recorder))


def resume(session: Session, stored: Stored) -> None:
    """Resume `stored` as the app and `chat -c` do: the session and its recorder together."""
    Assembly(session, recorder_of(session)).resume(stored)


def written(session: Session) -> None:
    """Wait until the session's writer has stored everything queued so far (the tests read the file after)."""
    if any(isinstance(o, Recorder) for o in session.observers):
        assert recorder_of(session).writer.drain(60)


async def turn(session: Session, text: str) -> None:
    try:
        async for _ in session.send(text):
            pass
    finally:
        written(session)


@pytest.fixture
def chat_env(fake: FakeOpenAI) -> dict[str, str]:
    """The environment of a `chat` subprocess: the isolated XDG dirs, the test key, the fake, no way out."""
    env = dict(os.environ)
    env["OPENAI_API_KEY"] = KEY
    env["OPENAI_BASE_URL"] = fake.base_url
    env["CHAT_CATALOGUE_PRICES"] = "true"  # the fake stands in for OpenAI
    return offline(env)


@pytest.fixture
def chat(chat_env: dict[str, str]) -> Callable[..., subprocess.CompletedProcess]:
    """chat(*args, env={...}) -> the finished `chat` subprocess, output decoded."""

    def run(*args: str, env: dict[str, str | None] | None = None) -> subprocess.CompletedProcess:
        full = dict(chat_env)
        for name, value in (env or {}).items():
            if value is None:
                full.pop(name, None)
            else:
                full[name] = value
        done = subprocess.run([sys.executable, "-m", "chatbot", *args], stdin=subprocess.DEVNULL,
                              capture_output=True, env=full, cwd=os.getcwd(), timeout=120)
        result = subprocess.CompletedProcess(done.args, done.returncode, done.stdout.decode("utf-8", "replace"),
                                             done.stderr.decode("utf-8", "replace"))
        assert "Traceback" not in result.stderr, result.stderr
        assert "SECRETSECRET" not in result.stdout + result.stderr
        return result

    return run


def v1_database(path: Path) -> None:
    """A schema-version-1 history, as the first release wrote it: one conversation, three messages."""
    db = sqlite3.connect(path, isolation_level=None)
    db.executescript(MIGRATIONS[1])
    db.execute("PRAGMA user_version = 1")
    db.execute("INSERT INTO conversations (id, title, created, updated, model, preset, system_prompt)"
               " VALUES (7, 'Old times', 1700000000.0, 1700000100.0, 'gpt-4o', 'writing', 'Be brief.')")
    rows = [
        (11, "user", "Tell me about the axolotl", None, None, None, None, None, 0, None, None, 0, None),
        (12, "assistant", "The axolotl regrows limbs", "gpt-4o", '{"preset": "writing"}', 30, 6, 10, 0,
         "0.0001125", "stop", 0, None),
        (13, "assistant", "Half a sentence about nudibranchs", "gpt-4o", None, 40, 5, 0, 1, "0.00015", None, 1,
         "stream dropped"),
    ]
    for i, r in enumerate(rows):
        db.execute("INSERT INTO messages (id, conversation_id, role, content, model, params, prompt_tokens,"
                   " completion_tokens, cached_tokens, usage_estimated, cost, finish_reason, stopped, error,"
                   " created) VALUES (?, 7, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", (*r, 1700000000.0 + i))
    db.close()


# -- round trips through a recording session -------------------------------------------------------------------


async def test_two_turns_round_trip_every_field(fake: FakeOpenAI, make_session: Any, store: HistoryStore) -> None:
    fake.queue(Reply("Hi there!", prompt_tokens=20, completion_tokens=3, cached_tokens=4),
               Reply("Second answer.", prompt_tokens=40, completion_tokens=2, finish_reason="length"))
    session = make_session(store, model="gpt-4o", preset="writing", system_prompt="Be terse.")

    await turn(session, "What is an axolotl?")
    await turn(session, "And a quokka?")

    assert recorder_of(session).error is None
    stored = store.load(recorder_of(session).conversation_id)
    assert [fields(m) for m in stored.conversation.messages] == [fields(m) for m in session.conversation.messages]
    user1, reply1, user2, reply2 = stored.conversation.messages
    assert (user1.role, user1.content, user2.content) == ("user", "What is an axolotl?", "And a quokka?")
    assert reply1.usage == Usage(20, 3, 4)
    # (16 uncached x $2.50 + 4 cached x $1.25 + 3 out x $10) per 1M, exactly, as a Decimal.
    assert reply1.cost == Decimal("0.000075") and isinstance(reply1.cost, Decimal)
    assert reply2.cost == Decimal("0.00012")
    assert (reply1.model, reply1.finish_reason, reply2.finish_reason) == ("gpt-4o", "stop", "length")
    assert not reply1.stopped and reply1.error is None
    assert stored.title == "What is an axolotl?"
    assert (stored.model, stored.preset, stored.conversation.system_prompt) == ("gpt-4o", "writing", "Be terse.")
    [summary] = store.conversations()
    assert (summary.id, summary.turns, summary.cost) == (stored.id, 2, Spent(Decimal("0.000195")))
    assert integrity(store.path) == "ok"
    key_is_absent(store.path)


async def test_switching_model_and_preset_mid_reply_applies_to_the_next_request(
        fake: FakeOpenAI, make_session: Any, store: HistoryStore) -> None:
    fake.queue(Reply(chunks=["one ", "two ", "three"], prompt_tokens=10, completion_tokens=3))
    session = make_session(store, model="gpt-4o-mini", preset="balanced")
    async for event in session.send("count"):
        if isinstance(event, TextDelta) and event.text == "one ":
            session.set_model("gpt-4.1")
            session.set_preset("extraction")
    written(session)

    reply = session.conversation.messages[-1]
    assert reply.model == "gpt-4o-mini"
    assert reply.cost == Decimal("0.0000033")  # gpt-4o-mini's price: 10 x $0.15 + 3 x $0.60 per 1M
    row = recorder_of(session).row_id(reply)
    with sqlite3.connect(store.path) as db:
        params = json.loads(db.execute("SELECT params FROM messages WHERE id = ?", (row,)).fetchone()[0])
    assert (params["preset"], params["response_format"]) == ("balanced", "text")


async def test_long_first_message_makes_a_truncated_title(fake: FakeOpenAI, make_session: Any,
                                                          store: HistoryStore) -> None:
    fake.queue(Reply("ok"), Reply("ok"))
    session = make_session(store)
    first = "Please   explain\nthe difference between " + "very " * 30 + "long words"

    await turn(session, first)
    await turn(session, "a second message never renames it")

    title = store.load(recorder_of(session).conversation_id).title
    assert title.endswith("…") and len(title) <= TITLE_LENGTH
    assert title.startswith("Please explain the difference between very")  # whitespace collapsed
    assert " ".join(first.split()).startswith(title[:-1])


@pytest.mark.parametrize(("text", "title"), [
    ("short", "short"),
    ("  spaced \n\t out  ", "spaced out"),
    ("x" * TITLE_LENGTH, "x" * TITLE_LENGTH),
    ("x" * (TITLE_LENGTH + 1), "x" * (TITLE_LENGTH - 1) + "…"),
])
def test_title_from(text: str, title: str) -> None:
    assert title_from(text) == title


async def test_resume_restores_model_preset_and_system_prompt_and_keeps_recording(
        fake: FakeOpenAI, make_session: Any, store: HistoryStore) -> None:
    fake.queue(Reply("first reply"), Reply("third reply"))
    first = make_session(store, model="gpt-4.1-nano", preset="support", system_prompt="Answer in French.")
    await turn(first, "bonjour")
    conversation_id = recorder_of(first).conversation_id

    later = make_session(store)  # the defaults: gpt-4o-mini, balanced, the default system prompt
    resume(later, store.load(conversation_id))
    assert (later.model, later.preset_name) == ("gpt-4.1-nano", "support")
    assert later.conversation.system_prompt == "Answer in French."
    await turn(later, "encore")

    body = fake.last_body
    assert body["model"] == "gpt-4.1-nano"
    assert (body["temperature"], body["top_p"], body["max_tokens"]) == (0.3, 0.8, 1500)
    assert body["messages"] == [{"role": "system", "content": "Answer in French."},
                                {"role": "user", "content": "bonjour"},
                                {"role": "assistant", "content": "first reply"},
                                {"role": "user", "content": "encore"}]
    assert len(store.conversations()) == 1  # the same conversation, not a new one
    assert [m.content for m in store.load(conversation_id).conversation.messages] == [
        "bonjour", "first reply", "encore", "third reply"]


async def test_resume_with_a_preset_no_longer_configured_keeps_the_current_one(
        fake: FakeOpenAI, make_session: Any, store: HistoryStore) -> None:
    conversation_id = store.create("gpt-4o", "gone-preset", "sys")
    store.add(conversation_id, Message("user", "hello"))
    session = make_session(store, preset="writing")
    resume(session, store.load(conversation_id))
    assert (session.model, session.preset_name) == ("gpt-4o", "writing")


class CountingCounter(TokenCounter):
    """A TokenCounter that remembers every text it tokenized."""

    def __init__(self, encoding: str) -> None:
        super().__init__(encoding)
        self.texts: list[str] = []

    def count_text(self, text: str) -> int:
        self.texts.append(text)
        return super().count_text(text)


async def resumed_counter(fake: FakeOpenAI, make_session: Any, store: HistoryStore) -> tuple[Session, CountingCounter]:
    fake.queue(Reply("The first reply, with several words in it."), Reply("The second reply, also wordy."))
    first = make_session(store, model="gpt-4o")
    await turn(first, "a first question to count")
    await turn(first, "a second question to count")
    later = make_session(store)
    resume(later, store.load(recorder_of(first).conversation_id))
    counter = CountingCounter(later.spec.encoding)
    later._counters[later.spec.encoding] = counter
    window = later.window()
    assert len(window.kept) == 5 and window.prompt_tokens > 0
    return later, counter


async def test_resume_reuses_stored_token_counts_of_user_messages(fake: FakeOpenAI, make_session: Any,
                                                                  store: HistoryStore) -> None:
    _, counter = await resumed_counter(fake, make_session, store)
    assert "a first question to count" not in counter.texts
    assert "a second question to count" not in counter.texts


async def test_resume_reuses_stored_token_counts_of_replies(fake: FakeOpenAI, make_session: Any,
                                                            store: HistoryStore) -> None:
    session, counter = await resumed_counter(fake, make_session, store)
    stored = store.load(recorder_of(session).conversation_id)
    assert all(m.token_counts for m in stored.conversation.messages)
    assert "The first reply, with several words in it." not in counter.texts
    assert "The second reply, also wordy." not in counter.texts


async def test_regenerate_keeps_the_stored_reply_as_an_alternative(fake: FakeOpenAI, make_session: Any,
                                                                   store: HistoryStore) -> None:
    fake.queue(Reply("first draft"), Reply("second draft"))
    session = make_session(store)
    await turn(session, "write something")
    async for _ in session.regenerate():
        pass
    written(session)
    messages = store.load(recorder_of(session).conversation_id).conversation.messages
    assert [(m.role, m.content) for m in messages] == [("user", "write something"), ("assistant", "second draft")]
    assert [hit.snippet for hit in store.search("first")] == ["«first» draft"]  # kept, on the other branch


async def test_regenerate_in_a_resumed_conversation_keeps_the_stored_reply_beside_the_new_one(
        fake: FakeOpenAI, make_session: Any, store: HistoryStore) -> None:
    fake.queue(Reply("first draft"), Reply("second draft"))
    first = make_session(store)
    await turn(first, "write something")
    conversation_id = recorder_of(first).conversation_id

    later = make_session(store)
    resume(later, store.load(conversation_id))
    async for _ in later.regenerate():
        pass
    written(later)

    assert recorder_of(later).conversation_id == conversation_id and store.count() == 1
    conversation = store.load(conversation_id).conversation
    messages = conversation.messages
    assert [(m.role, m.content) for m in messages] == [("user", "write something"), ("assistant", "second draft")]
    assert [m.content for m in conversation.alternatives(messages[1])] == ["first draft", "second draft"]


async def test_a_message_that_got_no_reply_is_taken_back_out_of_the_store(fake: FakeOpenAI, make_session: Any,
                                                                          store: HistoryStore) -> None:
    fake.queue(Reply("ok"), Error(400, "nope"))
    session = make_session(store)
    await turn(session, "kept")
    with pytest.raises(Exception):  # noqa: B017, PT011 - BadRequestError
        await turn(session, "taken back")
    assert [m.content for m in store.load(recorder_of(session).conversation_id).conversation.messages] == ["kept", "ok"]
    assert store.search("taken") == []


async def test_a_first_message_taken_back_does_not_name_the_conversation(fake: FakeOpenAI, make_session: Any,
                                                                         store: HistoryStore) -> None:
    fake.queue(Error(400, "nope"), Reply("ok"))
    session = make_session(store)
    with pytest.raises(Exception):  # noqa: B017, PT011 - BadRequestError
        await turn(session, "my unsent private words")
    await turn(session, "resent in other words")
    assert [s.title for s in store.conversations()] == ["resent in other words"]


# -- export and import -----------------------------------------------------------------------------------------


def front_matter(markdown: str) -> dict[str, Any]:
    lines = markdown.splitlines()
    assert lines[0] == "---"
    end = lines.index("---", 1)
    header = {}
    for line in lines[1:end]:
        key, _, value = line.partition(": ")
        header[key] = json.loads(value)
    return header


async def test_markdown_export_has_front_matter_and_every_message(fake: FakeOpenAI, make_session: Any,
                                                                  store: HistoryStore) -> None:
    fake.queue(Reply("Hi there!", prompt_tokens=20, completion_tokens=3, cached_tokens=4),
               Reply("Second answer.", prompt_tokens=40, completion_tokens=2))
    session = make_session(store, model="gpt-4o", preset="writing", system_prompt="Be terse.")
    await turn(session, "What is an axolotl?")
    await turn(session, "And a quokka?")
    stored = store.load(recorder_of(session).conversation_id)

    text = to_markdown(stored)

    header = front_matter(text)
    assert {"title", "model", "preset", "created", "updated", "prompt_tokens", "completion_tokens",
            "cached_tokens", "cost"} <= set(header)
    assert (header["title"], header["model"], header["preset"]) == ("What is an axolotl?", "gpt-4o", "writing")
    assert (header["prompt_tokens"], header["cached_tokens"], header["completion_tokens"]) == (60, 4, 5)
    assert header["cost"] == "$0.000195"
    assert header["created"].endswith("+00:00") and header["created"] <= header["updated"]
    body = text[text.index("---", 3) + 3:]
    for expected in ("## System", "Be terse.", "## You", "What is an axolotl?", "## Assistant (gpt-4o)",
                     "Hi there!", "And a quokka?", "Second answer."):
        assert expected in body
    assert body.index("What is an axolotl?") < body.index("Hi there!") < body.index("And a quokka?")


def test_markdown_marks_stopped_and_broken_replies(store: HistoryStore) -> None:
    conversation_id = store.create("gpt-4o", "balanced", "")
    store.add(conversation_id, Message("user", "go"))
    store.add(conversation_id, Message("assistant", "half", model="gpt-4o", stopped=True))
    store.add(conversation_id, Message("user", "again"))
    store.add(conversation_id, Message("assistant", "broken", model="gpt-4o", error="stream dropped"))
    text = to_markdown(store.load(conversation_id))
    assert "## Assistant (gpt-4o) (stopped)" in text
    assert "## Assistant (gpt-4o) (broke off: stream dropped)" in text


async def test_json_export_then_import_gives_an_equal_conversation(fake: FakeOpenAI, make_session: Any,
                                                                   store: HistoryStore) -> None:
    fake.queue(Reply("Hi there!", prompt_tokens=20, completion_tokens=3, cached_tokens=4),
               Reply(["cut ", "short"], drop_after=1))
    session = make_session(store, model="gpt-4o", preset="writing", system_prompt="Be terse.")
    await turn(session, "What is an axolotl?")
    with pytest.raises(Exception):  # noqa: B017, PT011 - the dropped stream; its partial reply is kept
        await turn(session, "And a quokka?")
    original = store.load(recorder_of(session).conversation_id)
    assert original.conversation.messages[-1].error  # the broken reply round-trips too

    exported = json.loads(json.dumps(to_json(original)))
    assert exported["format"] == FORMAT
    new_id = import_json(store, exported)

    imported = store.load(new_id)
    assert new_id != original.id
    assert export_fields(to_json(imported)) == export_fields(exported)
    assert [fields(m) for m in imported.conversation.messages] == [fields(m) for m in original.conversation.messages]
    assert store.search("axolotl")  # imported messages are indexed too


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


def test_cli_import_with_a_message_that_is_not_an_object_is_a_usage_error(chat_env: dict[str, str]) -> None:
    path = Path.cwd() / "junk.json"
    path.write_text(json.dumps({**GOOD, "messages": ["hello"]}), encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "chatbot", "import", str(path)], capture_output=True, text=True,
                          env=chat_env, stdin=subprocess.DEVNULL, timeout=120)
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


# -- migrations ------------------------------------------------------------------------------------------------


def test_a_version_1_database_is_migrated_and_keeps_everything(tmp_path: Path) -> None:
    path = tmp_path / "history.db"
    v1_database(path)

    store = HistoryStore(path)
    try:
        assert store.version == SCHEMA_VERSION
        [summary] = store.conversations()
        assert (summary.id, summary.title, summary.model, summary.preset, summary.turns) == (
            7, "Old times", "gpt-4o", "writing", 1)
        assert summary.cost == Spent(Decimal("0.0002625"))
        stored = store.load(7)
        assert (stored.created, stored.updated, stored.conversation.system_prompt) == (
            1700000000.0, 1700000100.0, "Be brief.")
        assert [fields(m) for m in stored.conversation.messages] == [
            ("user", "Tell me about the axolotl", None, None, None, None, False, None),
            ("assistant", "The axolotl regrows limbs", "gpt-4o", Usage(30, 6, 10), Decimal("0.0001125"), "stop",
             False, None),
            ("assistant", "Half a sentence about nudibranchs", "gpt-4o", Usage(40, 5, 0, estimated=True),
             Decimal("0.00015"), None, True, "stream dropped"),
        ]
        assert stored.row_ids == {m.id: row for m, row in zip(stored.conversation.messages, (11, 12, 13))}
        # The old messages were indexed by the migration, and new ones by the triggers.
        hits = store.search("axolotl")
        assert {(h.conversation_id, h.message_id) for h in hits} == {(7, 11), (7, 12)}
        assert [h.message_id for h in store.search("nudibranchs")] == [13]
        store.add(7, Message("user", "and the axolotl's cousins?"))
        assert len(store.search("axolotl")) == 3
    finally:
        store.close()
    assert integrity(path) == "ok"

    again = HistoryStore(path)  # opening a current database changes nothing
    try:
        assert again.version == SCHEMA_VERSION
        assert len(again.load(7).conversation.messages) == 4
        assert len(again.search("axolotl")) == 3
    finally:
        again.close()


def test_migrations_cover_every_version() -> None:
    assert sorted(MIGRATIONS) == list(range(1, SCHEMA_VERSION + 1))


def test_a_database_from_a_newer_chat_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "history.db"
    v1_database(path)
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.commit()
    db.close()

    with pytest.raises(sqlite3.DatabaseError, match="newer"):
        HistoryStore(path)
    with pytest.raises(ConfigError) as raised:
        from chatbot.core.store.opening import open_store

        open_store(path)
    assert str(path) in raised.value.message and raised.value.exit_code == 2

    db = sqlite3.connect(path)
    try:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION + 1
        assert db.execute("SELECT COUNT(*) FROM messages").fetchone()[0] == 3
        assert "messages_fts" not in {r[0] for r in db.execute("SELECT name FROM sqlite_master")}
    finally:
        db.close()


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


# -- full-text search ------------------------------------------------------------------------------------------


@pytest.fixture
def searchable(store: HistoryStore) -> tuple[HistoryStore, int, int]:
    a = store.create("gpt-4o", "balanced", "")
    store.add(a, Message("user", "How do penguins keep warm?"))
    store.add(a, Message("assistant", "Penguins huddle together, and feathers trap air.", model="gpt-4o"))
    b = store.create("gpt-4o-mini", "balanced", "")
    store.add(b, Message("user", "Write a poem about emperor penguins"))
    store.add(b, Message("assistant", "Upon the ice the emperors stand", model="gpt-4o-mini"))
    return store, a, b


def test_search_finds_words_across_conversations(searchable: tuple[HistoryStore, int, int]) -> None:
    store, a, b = searchable
    hits = store.search("penguins")
    assert {h.conversation_id for h in hits} == {a, b}
    assert len(hits) == 3
    assert all("«penguins»" in h.snippet.lower() for h in hits)
    assert {h.title for h in hits} == {"How do penguins keep warm?", "Write a poem about emperor penguins"}
    [hit] = store.search("huddle")
    assert (hit.conversation_id, hit.role, hit.snippet) == (
        a, "assistant", "Penguins «huddle» together, and feathers trap air.")
    # Every word must match; case and order do not matter.
    assert [h.conversation_id for h in store.search("EMPEROR poem")] == [b]
    assert store.search("penguins zebras") == []
    assert store.search("") == [] and store.search("   ") == []


def test_search_follows_partial_saves_edits_and_deletes(store: HistoryStore) -> None:
    c = store.create("gpt-4o", "balanced", "")
    row = store.add(c, Message("assistant", "", model="gpt-4o"), streaming=True)
    store.save_partial(row, "an early draftword")
    assert [h.message_id for h in store.search("draftword")] == [row]
    store.finalize(row, Message("assistant", "the final wording", model="gpt-4o"))
    assert store.search("draftword") == []
    assert [h.message_id for h in store.search("wording")] == [row]
    store.delete(c)
    assert store.search("wording") == []


@pytest.mark.parametrize("query", [
    '"', '""', '"penguins', 'penguins"', "'", "penguins AND", "AND", "OR penguins", "NOT", "penguins NOT warm",
    "*", "pengu*", "-", "-penguins", "penguins -warm", "(", ")", "(penguins", "penguins)", "()",
    "NEAR", "NEAR(penguins warm)", "NEAR(penguins warm, 2)", "penguins NEAR warm", "^penguins", "+", ":",
    "content:penguins", "messages_fts:penguins", "{content}: penguins", "[", "]", "penguins;", "a'b", "\\", "%", "_",
    "; DROP TABLE messages; --",
])
def test_fts_syntax_in_a_query_never_raises(searchable: tuple[HistoryStore, int, int], query: str) -> None:
    store, _, _ = searchable
    hits = store.search(query)
    assert isinstance(hits, list)
    assert len(store.search("penguins")) == 3  # and nothing was harmed


def test_fts_operators_are_searched_as_words(store: HistoryStore) -> None:
    c = store.create("gpt-4o", "balanced", "")
    store.add(c, Message("user", "salt AND pepper, NEAR the stove"))
    store.add(c, Message("user", "salt or pepper"))
    assert len(store.search("salt AND pepper")) == 1  # AND is a word to find, not an operator
    assert len(store.search("NEAR stove")) == 1
    assert len(store.search('"salt"')) == 2
    assert len(store.search("-salt")) == 2  # not an exclusion


@hsettings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(query=st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
                     max_size=40))
def test_any_typed_query_never_raises(searchable: tuple[HistoryStore, int, int], query: str) -> None:
    store, _, _ = searchable
    assert isinstance(store.search(query), list)


def test_a_query_with_a_nul_character_does_not_raise(searchable: tuple[HistoryStore, int, int]) -> None:
    store, _, _ = searchable
    assert isinstance(store.search("pen\x00guins"), list)


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


def test_kill_9_mid_reply_keeps_the_question_and_the_partial_reply(fake: FakeOpenAI, chat_env: dict[str, str]) -> None:
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
                            env=chat_env, cwd=os.getcwd())
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
        fake: FakeOpenAI, make_session: Any, chat_env: dict[str, str]) -> None:
    turns = 3
    fake.queue(*(Reply([f"sub{t}w{i} " for i in range(30)], chunk_delay=0.02) for t in range(turns)))
    path = db_path()
    path.parent.mkdir(parents=True, exist_ok=True)

    async def one_shots() -> int:
        conversation_id = 0
        for t in range(turns):
            resume = ["--resume", str(conversation_id)] if t else ["--save"]
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "chatbot", "-p", f"subprocess turn {t}", *resume, env=chat_env,
                cwd=os.getcwd(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            out, err = await proc.communicate()
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
        with pytest.raises(Exception):  # noqa: B017, PT011 - each of these fails, one after a partial reply
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


# -- --no-history, history = false, --clear --------------------------------------------------------------------


def data_files() -> list[Path]:
    root = Path(os.environ["XDG_DATA_HOME"])
    return sorted(p for p in root.rglob("*"))


@pytest.mark.parametrize("args", [["-p", "hello", "--no-history"], ["-p", "hello", "--save", "--no-history"],
                                  ["-p", "hello"]])
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
    assert [(c["id"], c["cost_usd"]) for c in listed][0] == (newest["id"], "0.000035")


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


# -- chat usage ------------------------------------------------------------------------------------------------


DAY1 = 1704110400.0  # 2024-01-01 12:00 UTC
DAY2 = 1704196800.0  # 2024-01-02 12:00 UTC


def fill_usage(store: HistoryStore) -> None:
    """Requests on two days and four models, with costs that float arithmetic would not add up exactly, a 429
    that was retried (a request, billed nothing), and a model priced part of the way through a day."""
    c = store.create("gpt-4o", "balanced", "")
    requests = [
        (DAY1, "gpt-4o", Usage(100, 10, 20), Decimal("0.1"), OK),
        (DAY1, "gpt-4o", Usage(), Decimal(0), RETRIED),
        (DAY1, "gpt-4o", Usage(200, 20, 0), Decimal("0.2"), STOPPED),
        (DAY1, "gpt-4o-mini", Usage(1000, 300, 500), Decimal("0.000075"), OK),
        (DAY2, "gpt-4o-mini", Usage(50, 5, 0), Decimal("0.00012"), OK),
        (DAY2, "gpt-4o-mini", Usage(60, 6, 10), Decimal("0.000075"), ERROR),
        (DAY2, "local-model", Usage(70, 7, 0), None, OK),
        (DAY2, "local-model", Usage(30, 3, 0), Decimal("0.00001"), OK),
    ]
    for when, model, usage, cost, status in requests:
        store.add_request(c, Request(model, status, usage, cost, timestamp=when))


EXPECTED_USAGE = [
    {"day": "2024-01-01", "model": "gpt-4o", "requests": 3, "prompt_tokens": 300, "cached_tokens": 20,
     "completion_tokens": 30, "reasoning_tokens": 0, "cost": "0.3", "known_cost": "0.3"},
    {"day": "2024-01-01", "model": "gpt-4o-mini", "requests": 1, "prompt_tokens": 1000, "cached_tokens": 500,
     "completion_tokens": 300, "reasoning_tokens": 0, "cost": "0.000075", "known_cost": "0.000075"},
    {"day": "2024-01-02", "model": "gpt-4o-mini", "requests": 2, "prompt_tokens": 110, "cached_tokens": 10,
     "completion_tokens": 11, "reasoning_tokens": 0, "cost": "0.000195", "known_cost": "0.000195"},
    {"day": "2024-01-02", "model": "local-model", "requests": 2, "prompt_tokens": 100, "cached_tokens": 0,
     "completion_tokens": 10, "reasoning_tokens": 0, "cost": None, "known_cost": "0.00001"},
]


def test_usage_totals_per_day_and_model_are_exact(store: HistoryStore) -> None:
    fill_usage(store)
    rows = store.usage()
    assert [(r.day, r.model, r.requests) for r in rows] == [
        (e["day"], e["model"], e["requests"]) for e in EXPECTED_USAGE]
    assert [r.cost for r in rows] == [Spent(Decimal("0.3")), Spent(Decimal("0.000075")),
                                         Spent(Decimal("0.000195")), Spent(Decimal("0.00001"), unpriced=True)]


def test_cli_usage_json_and_table(chat: Any) -> None:
    store = HistoryStore(db_path())
    fill_usage(store)
    store.close()

    assert json.loads(chat("usage", "--json").stdout) == EXPECTED_USAGE
    table = chat("usage").stdout.splitlines()
    assert table[0].split() == ["day", "model", "requests", "prompt", "cached", "completion", "cost"]
    assert [line.split() for line in table[1:]] == [
        ["2024-01-01", "gpt-4o", "3", "300", "20", "30", "$0.300"],
        ["2024-01-01", "gpt-4o-mini", "1", "1,000", "500", "300", "$0.000075"],
        ["2024-01-02", "gpt-4o-mini", "2", "110", "10", "11", "$0.000195"],
        ["2024-01-02", "local-model", "2", "100", "0", "10", "$0.00001+?"],  # the known part, and a mark
        ["total", "8", "1,510", "530", "351", "$0.300+?"],
    ]
    widths = {len(line) for line in table}
    assert len(widths) == 1  # columns line up


def test_cli_usage_days_are_local_days(chat: Any) -> None:
    store = HistoryStore(db_path())
    c = store.create("gpt-4o", "balanced", "")
    store.add_request(c, Request("gpt-4o", OK, Usage(10, 1, 0), Decimal("0.1"),
                                 timestamp=DAY2 - 9 * 3600))  # 2024-01-02 03:00 UTC
    store.close()

    utc = json.loads(chat("usage", "--json", env={"TZ": "UTC0"}).stdout)
    west = json.loads(chat("usage", "--json", env={"TZ": "XYZ+08"}).stdout)  # POSIX: 8 hours behind UTC

    assert [r["day"] for r in utc] == ["2024-01-02"]
    assert [r["day"] for r in west] == ["2024-01-01"]  # 19:00 the evening before, where the user is


def test_cli_usage_counts_real_one_shot_requests(fake: FakeOpenAI, chat: Any) -> None:
    fake.queue(Reply("a", prompt_tokens=20, completion_tokens=3, cached_tokens=4),
               Reply("b", prompt_tokens=40, completion_tokens=2))
    assert chat("-p", "one", "--save", "-m", "gpt-4o").returncode == 0
    assert chat("-c", "-p", "two").returncode == 0
    [row] = json.loads(chat("usage", "--json").stdout)
    assert {k: row[k] for k in ("model", "requests", "prompt_tokens", "cached_tokens", "completion_tokens", "cost")} \
        == {"model": "gpt-4o", "requests": 2, "prompt_tokens": 60, "cached_tokens": 4, "completion_tokens": 5,
            "cost": "0.000195"}



# -- one rule for a conversation's cost ------------------------------------------------------------------------


PRICED = (Usage(100, 10, 0), Decimal("0.00035"), OK)
COST_CASES = {
    # Billed for the prompt, nothing generated (an empty reply), by a model with no price: unknown.
    "no price, prompt tokens only": ([PRICED, (Usage(50, 0, 0), None, OK)], "$0.00035+?"),
    "no price, completion tokens": ([PRICED, (Usage(50, 5, 0), None, STOPPED)], "$0.00035+?"),
    # Cut off by a crash before any usage came: nothing known was billed, so it adds nothing.
    "no usage at all": ([PRICED, (Usage(), Decimal(0), SENT)], "$0.00035"),
    # A 429 that was retried, then the retry: two requests, the first billed nothing.
    "retried": ([(Usage(), Decimal(0), RETRIED), PRICED], "$0.00035"),
    "nothing priced": ([(Usage(50, 5, 0), None, OK)], "$?"),
}


@pytest.mark.parametrize(("requests", "shown"), COST_CASES.values(), ids=COST_CASES)
def test_history_export_and_usage_agree_with_the_session_on_a_conversations_cost(
        chat: Any, requests: list[tuple[Usage, Decimal | None, str]], shown: str) -> None:
    expected = Totals()  # what the session that sent these requests showed as their total
    store = HistoryStore(db_path())
    conversation_id = store.create("local-model", "balanced", "")
    for usage, cost, status in requests:
        store.add(conversation_id, Message("user", "q"))
        store.add(conversation_id, Message("assistant", "a", model="local-model", usage=usage, cost=cost))
        store.add_request(conversation_id, Request("local-model", status, usage, cost, timestamp=DAY1))
        if status != SENT:  # the session never settled the request a crash cut off
            expected.add(usage, cost)
    store.close()
    spent = expected.spent

    [listed] = json.loads(chat("history", "--json").stdout)
    exported = front_matter(chat("export", str(conversation_id)).stdout)
    [used] = json.loads(chat("usage", "--json").stdout)
    table = chat("history").stdout

    exact = None if spent.exact is None else str(spent.exact)
    assert (listed["cost_usd"], listed["known_cost_usd"]) == (exact, str(spent.known))
    assert (used["cost"], used["known_cost"]) == (exact, str(spent.known))
    assert format_cost(spent) == shown and exported["cost"] == shown and f" {shown}  " in table


def test_listing_takes_as_many_queries_for_ten_conversations_as_for_one(store: HistoryStore) -> None:
    def listed() -> tuple[int, dict[int, Spent]]:
        statements: list[str] = []
        store.db.set_trace_callback(statements.append)
        try:
            summaries = store.conversations()
        finally:
            store.db.set_trace_callback(None)
        return len(statements), {s.id: s.cost for s in summaries}

    def conversation(*requests: tuple[Usage, Decimal | None, str]) -> int:
        conversation_id = store.create("gpt-4o", "balanced", "")
        for usage, cost, status in requests:
            store.add(conversation_id, Message("user", "q"))
            store.add(conversation_id, Message("assistant", "a", usage=usage, cost=cost))
            store.add_request(conversation_id, Request("gpt-4o", status, usage, cost))
        return conversation_id

    first = conversation(PRICED, PRICED)
    queries_for_one, costs = listed()
    assert costs == {first: Spent(Decimal("0.0007"))}

    unknown = conversation(PRICED, (Usage(50, 0, 0), None, OK))
    unanswered = conversation()
    crashed = conversation((Usage(), Decimal(0), SENT))
    others = [conversation((Usage(10, 1, 0), Decimal(n) / 1000, OK)) for n in range(1, 7)]
    queries_for_ten, costs = listed()

    assert queries_for_ten == queries_for_one
    assert costs == {first: Spent(Decimal("0.0007")), unknown: Spent(Decimal("0.00035"), unpriced=True),
                     unanswered: Spent(), crashed: Spent(),
                     **{c: Spent(Decimal(n) / 1000) for n, c in enumerate(others, 1)}}


# -- the usage log ---------------------------------------------------------------------------------------------


def usage_log_lines() -> list[dict[str, Any]]:
    path = paths.state_dir() / "usage.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_usage_log_has_one_line_per_request_and_no_content(fake: FakeOpenAI, chat: Any) -> None:
    fake.queue(Reply("Paris, naturally.", prompt_tokens=20, completion_tokens=3, cached_tokens=4),
               Reply("Berlin, naturally.", prompt_tokens=30, completion_tokens=3))
    env = {"CHAT_USAGE_LOG": "true"}
    assert chat("-p", "capital of France, confidential", "-m", "gpt-4o", env=env).returncode == 0
    assert chat("-p", "capital of Germany, confidential", env=env).returncode == 0

    lines = usage_log_lines()
    assert len(lines) == 2
    first, second = lines
    assert set(first) == USAGE_LOG_FIELDS
    assert (first["model"], first["prompt_tokens"], first["cached_tokens"], first["completion_tokens"]) == (
        "gpt-4o", 20, 4, 3)
    assert first["cost_usd"] == "0.000075" and first["usage_estimated"] is False
    assert first["status"] == "ok" and first["error"] is None
    assert first["request_id"] == "req_1" and second["request_id"] == "req_2"
    assert isinstance(first["timestamp"], float) and first["timestamp"] > 1.7e9
    assert 0 <= first["first_token_seconds"] <= first["total_seconds"]
    assert second["model"] == "gpt-4o-mini"
    raw = (paths.state_dir() / "usage.jsonl").read_text(encoding="utf-8")
    for secret in ("confidential", "Paris", "Berlin", "France", "SECRETSECRET"):
        assert secret not in raw
    assert data_files() == []  # a usage log is not history


def test_usage_log_records_a_failed_request_with_its_error_class(fake: FakeOpenAI, chat: Any) -> None:
    fake.queue(Error(401, f"Incorrect API key provided: {KEY}", code="invalid_api_key"),
               Error(400, "bad parameter"))
    env = {"CHAT_USAGE_LOG": "true"}
    assert chat("-p", "hello", env=env).returncode == 3
    assert chat("-p", "hello", env=env).returncode == 2

    auth, bad = usage_log_lines()
    assert (auth["status"], auth["error"]) == ("error", "AuthError")
    assert (bad["status"], bad["error"]) == ("error", "BadRequestError")
    assert auth["request_id"] == "req_1"
    assert (auth["completion_tokens"], auth["first_token_seconds"]) == (0, None)
    assert "SECRETSECRET" not in (paths.state_dir() / "usage.jsonl").read_text(encoding="utf-8")


def test_usage_log_is_off_by_default(fake: FakeOpenAI, chat: Any) -> None:
    fake.queue(Reply("hi"))
    assert chat("-p", "hello").returncode == 0
    assert not (paths.state_dir() / "usage.jsonl").exists()


async def test_usage_log_marks_a_dropped_and_a_stopped_reply(fake: FakeOpenAI, make_session: Any,
                                                             tmp_path: Path) -> None:
    log = UsageLog(tmp_path / "usage.jsonl")
    fake.queue(Reply(["half ", "a ", "reply"], drop_after=2),
               Reply(["one ", "two ", "three ", "four "], chunk_delay=0.05))
    session = make_session(None, usage_log=log)
    with pytest.raises(Exception):  # noqa: B017, PT011 - the dropped stream
        await turn(session, "first")
    first_piece = asyncio.Event()

    async def consume() -> None:
        async for event in session.send("second"):
            if isinstance(event, TextDelta):
                first_piece.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(first_piece.wait(), 60)
    task.cancel()  # what the app's escape does: the reply is stopped after its first piece
    with pytest.raises(asyncio.CancelledError):
        await task

    dropped, stopped = (json.loads(line) for line in log.path.read_text("utf-8").splitlines())
    assert (dropped["status"], dropped["error"]) == ("error", "StreamDroppedError")
    assert dropped["usage_estimated"] is True and dropped["completion_tokens"] > 0
    assert (stopped["status"], stopped["error"]) == ("stopped", None)
