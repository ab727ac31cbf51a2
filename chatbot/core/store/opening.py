"""Opening the history store as a command opens it: a file that cannot be opened is a ConfigError naming it."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from chatbot.core.errors import ConfigError
from chatbot.core.store.history import HistoryStore, default_path


def open_store(path: Path | None = None) -> HistoryStore:
    try:
        return HistoryStore(path)
    except (sqlite3.Error, OSError) as exc:
        where = path or default_path()
        raise ConfigError(f"cannot open the history at {where}: {exc}",
                          "move the file aside, or run with --no-history") from None
