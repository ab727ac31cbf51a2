"""Exporting the open conversation from the app, to a file in the current folder."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from chatbot.core.store.export import render
from chatbot.core.store.history import HistoryStore
from chatbot.core.store.recorder import Recorder


async def export_to_file(fmt: str, recorder: Recorder | None, store: HistoryStore | None,
                         notify: Callable[..., Any]) -> None:
    """Write the open conversation as it is stored (`md` or `json`) to chat-ID.FMT, and say where or why not."""
    if recorder is not None:
        await recorder.writer.caught_up()  # everything said so far is in the store, and so in the file
    if store is None or recorder is None or recorder.conversation_id is None:
        notify("Nothing to export yet (the history keeps conversations once a message is sent).")
        return
    stored = store.load(recorder.conversation_id)
    path = Path.cwd() / f"chat-{stored.id}.{fmt}"
    try:
        path.write_text(render(stored, fmt) + "\n", encoding="utf-8")
    except OSError as exc:
        notify(f"Cannot write {path}: {exc.strerror}", severity="error", markup=False)
        return
    notify(f"Exported to {path}", markup=False)
