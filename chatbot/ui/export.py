"""Exporting the open conversation from the app: what is on screen, whether or not the history keeps it."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from textual.app import App

from chatbot.core.session import Session
from chatbot.core.store.export import save as export_file
from chatbot.core.store.history import HistoryStore, Stored, title_from
from chatbot.core.store.recorder import Recorder
from chatbot.core.text import plural
from chatbot.ui.screens.export import ExportScreen


async def exported(session: Session, recorder: Recorder | None, store: HistoryStore | None) -> Stored | None:
    """The open conversation as an export holds it: as stored when the history keeps it (its title, dates and
    ledger cost), else as it is in memory (`--no-history`). None when nothing has been said yet."""
    if recorder is not None and store is not None:
        await recorder.writer.caught_up()  # everything said so far is in the store, and so in the file
        if recorder.conversation_id is not None:
            return store.load(recorder.conversation_id)
    conversation = session.conversation
    if not conversation.messages:
        return None
    first = next((m.content for m in conversation.messages if m.role == "user"), "")
    now = time.time()
    return Stored(0, title_from(first), session.model, session.preset_name, conversation, {}, now, now)


def default_path(stored: Stored, fmt: str) -> Path:
    return Path.cwd() / f"chat-{stored.id or time.strftime('%Y%m%d-%H%M%S')}.{fmt}"


def save(stored: Stored, fmt: str, path: Path, notify: Callable[..., Any]) -> None:
    try:
        written = export_file(stored, fmt, path)
    except OSError as exc:
        notify(f"Cannot write {path}: {exc.strerror or exc}", severity="error", markup=False)
        return
    beside = f" ({plural(len(written), 'attached file')} in {written[0].parent.name})" if written else ""
    notify(f"Exported to {path}{beside}", markup=False)


async def export(app: App[Any], session: Session, recorder: Recorder | None, store: HistoryStore | None,
                 fmt: str) -> None:
    """Ask where (a file in the current folder to start with), then write the open conversation there. Runs in a
    worker: it waits for the answer."""
    stored = await exported(session, recorder, store)
    if stored is None:
        app.notify("Nothing to export yet.")
        return
    title = f"Export as {'Markdown' if fmt == 'md' else 'JSON'} to"
    path = await app.push_screen_wait(ExportScreen(title, default_path(stored, fmt)))
    if path is not None:
        save(stored, fmt, path, app.notify)
