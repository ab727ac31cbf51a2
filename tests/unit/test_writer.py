"""The history's writer thread: writes in order, a locked file delays them and loses none, a hopeless one is
reported and given up, and closing says what could not be written."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from chatbot.core.conversation import Message
from chatbot.core.store.history import HistoryStore
from chatbot.core.store.writer import Handle, Writer


def poll(condition: Callable[[], Any], steps: int = 1200, step: float = 0.05) -> Any:
    """Check `condition` up to `steps` times, pausing `step` seconds between checks; returns its first truthy value."""
    for _ in range(steps):
        if value := condition():
            return value
        time.sleep(step)
    raise AssertionError("condition never held")


def fresh(tmp_path: Path) -> Path:
    path = tmp_path / "history.db"
    HistoryStore(path).close()  # the schema, as the app's own store makes it before the writer starts
    return path


def titles(path: Path) -> list[str]:
    store = HistoryStore(path)
    try:
        return [s.title for s in reversed(store.conversations())]
    finally:
        store.close()


def test_writes_are_made_in_order_and_a_handle_is_filled_in_for_the_writes_after_it(tmp_path: Path) -> None:
    path = fresh(tmp_path)
    writer = Writer(path)
    conversation = Handle()

    def create(store: HistoryStore) -> None:
        conversation.id = store.create("gpt-4o", "balanced", "")

    writer.submit(create)
    added = writer.submit(lambda store: store.add(conversation.id, Message("user", "first words")))
    assert writer.close() == 0

    assert conversation.id is not None and added.result() > 0
    assert titles(path) == ["first words"]


def test_a_locked_file_delays_the_writes_reports_it_and_loses_none(tmp_path: Path) -> None:
    path = fresh(tmp_path)
    other = sqlite3.connect(path, isolation_level=None)  # another chat, holding the write lock
    other.execute("BEGIN IMMEDIATE")
    writer = Writer(path, busy_timeout=0.05, retry_delay=0.01)
    done = [writer.submit(lambda store, n=n: store.create("gpt-4o", "balanced", "", title=f"t{n}")) for n in range(3)]

    error = poll(lambda: writer.error)  # the first try gave up waiting for the lock: said, and kept
    assert "database is locked" in error and str(path) in error and "tried again" in error
    assert writer.pending == 3 and not any(d.done() for d in done)
    other.execute("COMMIT")
    other.close()

    assert writer.drain(60)
    assert [d.result() for d in done] == [1, 2, 3]
    assert titles(path) == ["t0", "t1", "t2"]  # in the order they were queued
    assert writer.close() == 0


def test_a_write_that_can_never_succeed_is_reported_and_the_ones_after_it_are_stored(tmp_path: Path) -> None:
    path = fresh(tmp_path)
    writer = Writer(path)
    hopeless = writer.submit(lambda store: store.add(999, Message("user", "to no conversation")))
    unencodable = writer.submit(lambda store: store.create("gpt-4o", "balanced", "", title="half a pair \ud800"))
    kept = writer.submit(lambda store: store.create("gpt-4o", "balanced", "", title="kept"))

    assert writer.drain(60)
    assert kept.result() == 1 and hopeless.exception() is not None and unencodable.exception() is not None
    assert writer.error is not None and "history is not being saved: FOREIGN KEY" in writer.error
    assert titles(path) == ["kept"]
    assert writer.close() == 2  # what closing reports as not stored


def test_closing_while_the_file_stays_locked_reports_what_was_not_written(tmp_path: Path) -> None:
    path = fresh(tmp_path)
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        writer = Writer(path, busy_timeout=0.05, retry_delay=0.01)
        for n in range(2):
            writer.submit(lambda store, n=n: store.create("gpt-4o", "balanced", "", title=f"t{n}"))
        poll(lambda: writer.error)
        assert writer.close(timeout=0.1) == 2
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert titles(path) == []


def test_a_failed_commit_is_undone_whole_so_the_next_try_starts_clean(tmp_path: Path) -> None:
    path = fresh(tmp_path)
    store = HistoryStore(path)
    try:
        # A deferred foreign key fails at COMMIT, not at the insert: the transaction must not stay open.
        try:
            with store.transaction():
                store.db.execute("PRAGMA defer_foreign_keys = ON")
                store.add(999, Message("user", "to no conversation"))
        except sqlite3.IntegrityError:
            pass
        assert not store.db.in_transaction
        assert store.create("gpt-4o", "balanced", "", title="next") == 1
    finally:
        store.close()
