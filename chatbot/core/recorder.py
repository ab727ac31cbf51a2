"""Recorder: writes one session's conversation to the history store as it happens.

A failing store (disk full, a locked or broken file) never stops a chat: the first error is kept for the UI
to show, and recording stops.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from chatbot.core.conversation import Message
from chatbot.core.history import HistoryStore

if TYPE_CHECKING:
    from chatbot.core.session import Session

SAVE_INTERVAL = 1.0  # seconds between saves of a reply in flight


class Recorder:
    def __init__(self, store: HistoryStore, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.store = store
        self.conversation_id: int | None = None
        self.row_ids: dict[int, int] = {}
        self.error: str | None = None
        self._clock = clock
        self._streaming_row: int | None = None
        self._last_save = 0.0

    def _guard(self, action: Callable[[], object]) -> None:
        if self.error is not None:
            return
        try:
            action()
        except sqlite3.Error as exc:
            self.error = f"history is not being saved: {exc} ({self.store.path})"

    def _conversation(self, session: Session) -> int:
        if self.conversation_id is None:
            self.conversation_id = self.store.create(session.model, session.preset_name,
                                                     session.conversation.system_prompt)
        return self.conversation_id

    def new_conversation(self) -> None:
        self.conversation_id = None
        self.row_ids.clear()
        self._streaming_row = None

    def user(self, session: Session, message: Message) -> None:
        def write() -> None:
            conversation = self._conversation(session)
            self.store.update_settings(conversation, session.model, session.preset_name,
                                       session.conversation.system_prompt)
            self.row_ids[message.id] = self.store.add(conversation, message)
        self._guard(write)

    def forget(self, message: Message) -> None:
        """A message left the conversation (unsent, or a reply replaced by regenerate)."""
        row = self.row_ids.pop(message.id, None)
        if row is None:
            return

        def write() -> None:
            self.store.delete_message(row)
            # A conversation whose only message was never answered is not worth keeping (or titling).
            if self.conversation_id is not None and self.store.message_count(self.conversation_id) == 0:
                self.store.delete(self.conversation_id)
                self.conversation_id = None
        self._guard(write)

    def deleted(self, conversation_id: int) -> None:
        """The user deleted a stored conversation; if it is this one, the next message starts a new one."""
        if conversation_id == self.conversation_id:
            self.new_conversation()

    def reply_started(self, session: Session) -> None:
        def write() -> None:
            placeholder = Message("assistant", "", model=session.model)
            self._streaming_row = self.store.add(self._conversation(session), placeholder, streaming=True)
            self._last_save = self._clock()
        self._guard(write)

    def reply_progress(self, text: Callable[[], str]) -> None:
        """Save the partial reply if a second has passed; `text` is called only then."""
        row = self._streaming_row
        if row is None or self._clock() - self._last_save < SAVE_INTERVAL:
            return
        self._last_save = self._clock()
        self._guard(lambda: self.store.save_partial(row, text()))

    def reply_final(self, session: Session, message: Message, params: dict[str, object]) -> None:
        row, self._streaming_row = self._streaming_row, None

        def write() -> None:
            if row is None:
                self.row_ids[message.id] = self.store.add(self._conversation(session), message, params)
            else:
                self.store.finalize(row, message, params)
                self.row_ids[message.id] = row
        self._guard(write)
