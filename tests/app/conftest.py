"""Fixtures of the app tests: a history file in tmp, stores opened on it to read what the app wrote, and `chat`
on a pseudo-terminal (spawn)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pty_terminal import spawn  # noqa: F401 - a fixture of the app tests: `chat` on a pseudo-terminal


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "history.db"


@pytest.fixture
def reader(db: Path) -> Iterator[Callable[[], Any]]:
    """reader() -> a fresh HistoryStore on the test's file, closed after the test."""
    from chatbot.core.store.history import HistoryStore

    opened: list[HistoryStore] = []

    def open_() -> HistoryStore:
        store = HistoryStore(db)
        opened.append(store)
        return store

    yield open_
    for store in opened:
        store.close()
