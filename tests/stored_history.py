"""What the history tests share: where the history is, what a stored message keeps, a turn that waits until
the history has it, an old database, a usage ledger with known totals, and conversations seeded into a file."""

from __future__ import annotations

import json
import os
import sqlite3
from decimal import Decimal
from pathlib import Path
from typing import Any

from chatbot.core import paths
from chatbot.core.assembly import Assembly
from chatbot.core.conversation import Message
from chatbot.core.events import Usage
from chatbot.core.request import ERROR, OK, RETRIED, STOPPED, Request
from chatbot.core.session import Session
from chatbot.core.store.history import HistoryStore, Stored
from chatbot.core.store.recorder import Recorder
from chatbot.core.store.schema import MIGRATIONS
from support import TEST_API_KEY as KEY


def fields(message: Message) -> tuple[Any, ...]:
    """Everything a stored message must keep (Message.id is per process, so it is left out)."""
    return (message.role, message.content, message.model, message.usage, message.cost, message.finish_reason,
            message.stopped, message.error)


def export_fields(data: dict[str, Any]) -> dict[str, Any]:
    """A JSON export without what an import is allowed to change: its new id, its timestamps, and what its
    requests used (an import sends none)."""
    return {k: v for k, v in data.items() if k not in ("id", "created", "updated", "used")}


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


def front_matter(markdown: str) -> dict[str, Any]:
    lines = markdown.splitlines()
    assert lines[0] == "---"
    end = lines.index("---", 1)
    header = {}
    for line in lines[1:end]:
        key, _, value = line.partition(": ")
        header[key] = json.loads(value)
    return header


def data_files() -> list[Path]:
    root = Path(os.environ["XDG_DATA_HOME"])
    return sorted(p for p in root.rglob("*"))


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


PRICED = (Usage(100, 10, 0), Decimal("0.00035"), OK)


def seed(db: Path, title: str, model: str, turns: list[tuple[str, str]], *, updated: float,
         preset: str = "balanced", system_prompt: str = "You are a helpful assistant.") -> int:
    """A stored conversation with these (question, answer) turns, last touched at `updated`."""
    store = HistoryStore(db)
    try:
        conversation_id = store.create(model, preset, system_prompt, title=title)
        for question, answer in turns:
            store.add(conversation_id, Message("user", question))
            store.add(conversation_id, Message("assistant", answer, model=model, usage=Usage(10, 2, 0),
                                               cost=Decimal("0.00001"), finish_reason="stop"))
            store.add_request(conversation_id, Request(model, OK, Usage(10, 2, 0), Decimal("0.00001")))
        store.db.execute("UPDATE conversations SET updated = ? WHERE id = ?", (updated, conversation_id))
        return conversation_id
    finally:
        store.close()
