"""The history's one writer: a thread fed by a queue, so no write ever runs on (or waits on) the event loop.

A write is a function of the store, run in a transaction of its own, in the order it was queued. A locked or
full database delays it: the writer tries it again, later and later, and the writes queued behind it wait their
turn; nothing is dropped for being late. A write that can never succeed (a constraint, text SQLite refuses) is
reported and given up. Rows that later writes refer to are Handles, filled in by the writer when it inserts them,
so whoever queues a write never waits for an id.
"""

from __future__ import annotations

import asyncio
import queue
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path

from chatbot.core.store.history import BUSY_TIMEOUT, HistoryStore

RETRY_FIRST = 0.5  # seconds before a write that failed is tried again; doubled each time, up to RETRY_MAX
RETRY_MAX = 30.0
DRAIN_TIMEOUT = BUSY_TIMEOUT + 5  # what quitting waits for queued writes: longer than one wait for the lock

# Failures that may pass: another writer holds the lock, the disk is full or the file is not writable for now.
_TRANSIENT = {sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_FULL,
              sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_READONLY, sqlite3.SQLITE_PROTOCOL}


class Handle:
    """The id of a row the writer inserts: None until it has (and for good if that insert was given up)."""

    __slots__ = ("id",)

    def __init__(self, id: int | None = None) -> None:  # noqa: A002 - it is the row's id
        self.id = id


Write = Callable[[HistoryStore], object]


@dataclass(frozen=True, slots=True)
class _Job:
    write: Write | None  # None: nothing to write, the caller waits for the writes queued before it
    done: Future[object]


class Writer:
    def __init__(self, path: Path, *, retry_delay: float = RETRY_FIRST, busy_timeout: float = BUSY_TIMEOUT) -> None:
        self.path = path
        self._busy_timeout = busy_timeout
        self.error: str | None = None  # the first failure, for the UI to show
        self.given_up = 0  # writes that could never succeed
        self._retry_delay = retry_delay
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._pending = 0
        self._idle = threading.Condition()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="history writer", daemon=True)
        self._thread.start()

    def submit(self, write: Write | None) -> Future[object]:
        """Queue `write`; the future holds what it returned once it is committed (or its error if given up)."""
        done: Future[object] = Future()
        with self._idle:
            self._pending += 1
        self._jobs.put(_Job(write, done))
        return done

    async def caught_up(self) -> None:
        """Wait, without blocking the event loop, until everything queued so far is written or given up."""
        await asyncio.wrap_future(self.submit(None))

    @property
    def pending(self) -> int:
        """Writes queued and not yet committed or given up."""
        with self._idle:
            return self._pending

    def drain(self, timeout: float | None = None) -> bool:
        """Wait until every queued write is done; False if `timeout` seconds passed first."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout)

    def close(self, timeout: float = DRAIN_TIMEOUT) -> int:
        """Write what is queued, waiting at most `timeout` seconds, and stop. Returns how many writes were not
        stored: given up, or still queued when the time was up."""
        drained = self.drain(timeout)
        self._stopping.set()
        self._jobs.put(None)
        if drained:
            self._thread.join()
        return self.pending + self.given_up

    # -- the thread --

    def _run(self) -> None:
        store: HistoryStore | None = None
        try:
            while (job := self._jobs.get()) is not None and not self._stopping.is_set():
                store = self._do(job, store)
                if self._stopping.is_set() and not job.done.done():
                    return  # closed while this write kept failing: it is counted as lost
                with self._idle:
                    self._pending -= 1
                    self._idle.notify_all()
        finally:
            if store is not None:
                store.close()

    def _do(self, job: _Job, store: HistoryStore | None) -> HistoryStore | None:
        delay = self._retry_delay
        while job.write is not None:
            try:
                if store is None:
                    store = HistoryStore(self.path, busy_timeout=self._busy_timeout)
                with store.transaction():
                    result = job.write(store)
            except sqlite3.Error as exc:
                if (getattr(exc, "sqlite_errorcode", None) or 0) & 0xFF not in _TRANSIENT:
                    return self._give_up(job, exc, store)
                self._report(f"{exc} ({self.path}); kept, and tried again")
                if self._stopping.wait(delay):
                    return store
                delay = min(delay * 2, RETRY_MAX)
            except Exception as exc:  # noqa: BLE001 - one write that cannot be stored must not stop the others
                return self._give_up(job, exc, store)
            else:
                job.done.set_result(result)
                return store
        job.done.set_result(None)
        return store

    def _give_up(self, job: _Job, exc: BaseException, store: HistoryStore | None) -> HistoryStore | None:
        self._report(f"{exc} ({self.path})")
        self.given_up += 1
        job.done.set_exception(exc)
        return store

    def _report(self, what: str) -> None:
        if self.error is None:
            self.error = f"history is not being saved: {what}"
