"""The history's schema migrations: an old database is brought up to date, a newer one refused."""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest

from chatbot.core.conversation import Message
from chatbot.core.errors import ConfigError
from chatbot.core.events import Usage
from chatbot.core.pricing import Spent
from chatbot.core.store.history import HistoryStore
from chatbot.core.store.schema import MIGRATIONS, SCHEMA_VERSION
from stored_history import fields, integrity, v1_database

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
        assert stored.row_ids == {m.id: row for m, row in zip(stored.conversation.messages, (11, 12, 13), strict=False)}
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

