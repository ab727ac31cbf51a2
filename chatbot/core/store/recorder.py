"""Recorder: keeps one session's conversation, its settings and its requests in the history as they happen.

It observes the session (chatbot.core.journal): each event becomes a write on the history's writer thread, so
recording never waits on SQLite. The events hold copies, so what a write needs is fixed when it is queued; the
rows it creates are Handles the writer fills in. A failing store (a locked, full or broken file) never stops a
chat: the writer keeps the write, reports the failure for the UI to show, and tries again.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from chatbot.core import journal
from chatbot.core.conversation import Message, Summary
from chatbot.core.request import SENT, Request
from chatbot.core.store.history import HistoryStore, Stored, title_from
from chatbot.core.store.writer import Handle, Writer

SAVE_INTERVAL = 1.0  # seconds between saves of a reply in flight


class Recorder:
    def __init__(self, writer: Writer, *, clock: Callable[[], float] = time.monotonic,
                 conversation: bool = True) -> None:
        """`conversation` False: only the requests are kept, in the ledger (a one-shot run without --save)."""
        self.writer = writer
        self._keeps_conversation = conversation
        self._clock = clock
        self._conversation: Handle | None = None
        self._rows: dict[int, Handle] = {}  # Message.id -> its row
        self._streaming: Handle | None = None  # the row of the reply in flight
        self._request: tuple[Handle, Handle | None] | None = None  # the request in flight, its conversation
        self._last_save = 0.0

    @property
    def error(self) -> str | None:
        """The first write that failed, for the UI to show once."""
        return self.writer.error

    @property
    def conversation_id(self) -> int | None:
        """The stored conversation's id; None before its first message, or while that is still being written."""
        return None if self._conversation is None else self._conversation.id

    def row_id(self, message: Message) -> int | None:
        row = self._rows.get(message.id)
        return None if row is None else row.id

    def observe(self, event: journal.Entry) -> None:
        if not self._keeps_conversation and not isinstance(event, journal.RequestStarted | journal.RequestSettled):
            return
        match event:
            case journal.MessageAdded(message, setup, parent):
                self._user(message, setup, parent)
            case journal.MessageWithdrawn(message):
                self._forget(message)
            case journal.MessagesDeleted(ids):
                self._delete(ids)
            case journal.ConversationForked(setup, messages, summary):
                self._fork(setup, messages)
                if summary is not None:
                    self._summary(summary)  # written after the copies it names
            case journal.RequestStarted(model):
                self._request_started(model)
            case journal.BranchSwitched(leaf):
                self._branch_switched(leaf)
            case journal.ReplyStarted(model, setup, parent):
                self._reply_started(model, setup, parent)
            case journal.ReplyProgress(text):
                self._reply_progress(text)
            case journal.ReplyFinal(message, params, setup, parent):
                self._reply_final(message, params, setup, parent)
            case journal.RequestSettled(request):
                self._request_settled(request)
            case journal.SummaryMade(summary):
                self._summary(summary)
            case journal.SettingsChanged(setup):
                self._settings(setup)
            case journal.ConversationStarted() | journal.ConversationResumed():
                # Whatever comes next belongs to another conversation; a stored one is named by resume().
                self._detach()

    def _write(self, write: Callable[[HistoryStore], object]) -> None:
        self.writer.submit(write)

    def _conversation_for(self, setup: journal.Setup) -> Handle:
        if self._conversation is None:
            handle = self._conversation = Handle()

            def write(store: HistoryStore) -> None:
                handle.id = store.create(setup.model, setup.preset, setup.system_prompt)
            self._write(write)
        return self._conversation

    # -- the conversation --

    def _detach(self) -> None:
        self._conversation = None
        self._rows.clear()
        self._streaming = None

    def resume(self, stored: Stored) -> None:
        """The session now holds `stored`'s conversation (told after it resumed it): what comes next is
        appended to the same stored conversation, and a message withdrawn deletes its row."""
        self._conversation = Handle(stored.id)
        self._rows = {message_id: Handle(row) for message_id, row in stored.row_ids.items()}
        self._streaming = None

    def deleted(self, conversation_id: int) -> None:
        """The user deleted a stored conversation; if it is this one, the next message starts a new one."""
        if conversation_id == self.conversation_id:
            self._detach()

    def _settings(self, setup: journal.Setup) -> None:
        """The model, the preset or the system prompt changed: kept now, not only with the next message."""
        conversation = self._conversation
        if conversation is None:
            return  # nothing stored yet: the first message stores them

        def write(store: HistoryStore) -> None:
            if conversation.id is not None:
                store.update_settings(conversation.id, setup.model, setup.preset, setup.system_prompt)
        self._write(write)

    def _summary(self, summary: Summary) -> None:
        """The oldest turns were summarised: kept with the conversation, naming the row of the last one."""
        conversation, covers = self._conversation, self._rows.get(summary.covers)
        if conversation is None or covers is None:
            return  # the turns it covers were never stored

        def write(store: HistoryStore) -> None:
            if conversation.id is not None and covers.id is not None:
                store.set_summary(conversation.id, summary, covers.id)
        self._write(write)

    def _parent(self, parent: int | None) -> Handle:
        """The row a message follows: a Handle the writer fills in before it writes the child (an unknown or
        None parent is no row: a first message)."""
        return self._rows.get(parent, Handle()) if parent is not None else Handle()

    def _user(self, message: Message, setup: journal.Setup, parent: int | None) -> None:
        conversation = self._conversation_for(setup)
        after = self._parent(parent)
        row = self._rows[message.id] = Handle()

        def write(store: HistoryStore) -> None:
            if conversation.id is not None:
                store.update_settings(conversation.id, setup.model, setup.preset, setup.system_prompt)
                row.id = store.add(conversation.id, message, parent=after.id)
        self._write(write)

    def _branch_switched(self, leaf: int | None) -> None:
        conversation = self._conversation
        if conversation is None:
            return
        row = self._parent(leaf)

        def write(store: HistoryStore) -> None:
            if conversation.id is not None:
                store.set_active_leaf(conversation.id, row.id)
        self._write(write)

    def _forget(self, message: Message) -> None:
        """A message left the conversation (unsent: nothing came back)."""
        row = self._rows.pop(message.id, None)
        if row is None:
            return
        conversation = self._conversation
        # A conversation whose only message was never answered is not worth keeping (or titling).
        empty = not self._rows and self._streaming is None
        if empty:
            self._conversation = None

        def write(store: HistoryStore) -> None:
            if row.id is not None:
                store.delete_message(row.id)
            if empty and conversation is not None and conversation.id is not None \
                    and store.message_count(conversation.id) == 0:
                store.delete(conversation.id)
        self._write(write)

    def _delete(self, ids: tuple[int, ...]) -> None:
        """The user deleted messages: their rows go, the ledger's stay."""
        rows = [row for message_id in ids if (row := self._rows.pop(message_id, None)) is not None]

        def write(store: HistoryStore) -> None:
            store.delete_messages([row.id for row in rows if row.id is not None])
        self._write(write)

    def _fork(self, setup: journal.Setup, messages: tuple[Message, ...]) -> None:
        """A copy of the path up to a message goes on as a new conversation, titled after the one it came from;
        its replies keep what they cost, but the ledger has their requests once, with the old conversation."""
        old = self._conversation
        self._detach()
        conversation = self._conversation = Handle()
        rows = [self._rows.setdefault(message.id, Handle()) for message in messages]
        first = next((m.content for m in messages if m.role == "user"), "")

        def write(store: HistoryStore) -> None:
            title = (store.title(old.id) if old is not None and old.id is not None else "") or title_from(first)
            conversation.id = store.create(setup.model, setup.preset, setup.system_prompt, title=f"{title} (fork)")
            parent: int | None = None
            for message, row in zip(messages, rows, strict=True):
                row.id = parent = store.add(conversation.id, message, parent=parent)
        self._write(write)

    # -- requests and replies --

    def _request_started(self, model: str) -> None:
        """A request is going out: its ledger row now, so even a crash leaves it counted."""
        handle, conversation = Handle(), self._conversation
        self._request = handle, conversation
        started = Request(model, SENT)

        def write(store: HistoryStore) -> None:
            handle.id = store.add_request(None if conversation is None else conversation.id, started)
        self._write(write)

    def _request_settled(self, request: Request) -> None:
        handle, conversation = self._request or (Handle(), self._conversation)
        self._request = None

        def write(store: HistoryStore) -> None:
            if handle.id is None:  # its start was never stored
                handle.id = store.add_request(None if conversation is None else conversation.id, request)
            else:
                store.settle_request(handle.id, request)
        self._write(write)

    def _reply_started(self, model: str, setup: journal.Setup, parent: int | None) -> None:
        conversation = self._conversation_for(setup)
        after = self._parent(parent)
        row = self._streaming = Handle()
        placeholder = Message("assistant", "", model=model)
        self._last_save = self._clock()

        def write(store: HistoryStore) -> None:
            if conversation.id is not None:
                row.id = store.add(conversation.id, placeholder, streaming=True, parent=after.id)
        self._write(write)

    def _reply_progress(self, text: Callable[[], str]) -> None:
        """Save the partial reply if a second has passed; `text` is called only then."""
        row = self._streaming
        if row is None or self._clock() - self._last_save < SAVE_INTERVAL:
            return
        self._last_save = self._clock()
        content = text()

        def write(store: HistoryStore) -> None:
            if row.id is not None:
                store.save_partial(row.id, content)
        self._write(write)

    def _reply_final(self, message: Message, params: dict[str, object], setup: journal.Setup,
                     parent: int | None) -> None:
        streaming, self._streaming = self._streaming, None
        row = self._rows[message.id] = streaming or Handle()
        conversation = self._conversation_for(setup)
        after = self._parent(parent)

        def write(store: HistoryStore) -> None:
            if row.id is not None:
                store.finalize(row.id, message, params)
            elif conversation.id is not None:
                row.id = store.add(conversation.id, message, params, parent=after.id)
        self._write(write)

