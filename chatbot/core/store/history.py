"""The conversation store: SQLite in WAL mode, its writes and its queries (the schema is in schema.py).

Every final message is committed at once, and a reply in flight is saved with its partial text about once a
second, so a crash or a kill -9 loses at most that second. In the app all writes go through one writer thread
(writer.py); WAL lets the app read meanwhile, and a TUI and a one-shot `chat` write the same file. The ledger of
requests (ledger.py) is in the same file. The API key is never stored: nothing here ever sees it.
"""

from __future__ import annotations

import enum
import json
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path

from chatbot.core import paths
from chatbot.core.attachments import Attachment
from chatbot.core.conversation import Conversation, Message
from chatbot.core.conversation import Summary as TurnsSummary
from chatbot.core.events import Usage
from chatbot.core.pricing import Spent
from chatbot.core.request import Request
from chatbot.core.store import blobs, ledger
from chatbot.core.store.calls import calls_json, calls_of
from chatbot.core.store.schema import MIGRATIONS, SCHEMA_VERSION, statements
from chatbot.core.store.snippet import MATCH_CLOSE, MATCH_OPEN, snippet
from chatbot.core.store.summaries import summary_json, summary_of
from chatbot.core.terminal import one_line

BUSY_TIMEOUT = 10.0  # seconds a write waits for another writer's lock before it fails
TITLE_LENGTH = 60


class After(enum.Enum):
    """Where a message goes without a parent named: after the active path's last message, as in a line."""

    LEAF = "leaf"


def default_path() -> Path:
    return paths.data_dir() / "history.db"


@dataclass(frozen=True, slots=True)
class Summary:
    id: int
    title: str
    created: float
    updated: float
    model: str
    preset: str
    turns: int
    cost: Spent  # of every request made for it, from the ledger


@dataclass(frozen=True, slots=True)
class Hit:
    conversation_id: int
    message_id: int
    title: str
    role: str
    snippet: str


@dataclass
class Stored:
    """A conversation as stored: what `chat -c` resumes."""

    id: int
    title: str
    model: str
    preset: str
    conversation: Conversation
    row_ids: dict[int, int]  # Message.id -> row id
    created: float = 0.0
    updated: float = 0.0
    used: ledger.Used | None = None  # what every request made for it used and cost; None: one not stored

    @property
    def cost(self) -> Spent:
        """Of every request made for it, as `chat history` and `chat usage` count it."""
        return self.used.cost if self.used is not None else Spent()


class HistoryStore:
    def __init__(self, path: Path | None = None, *, busy_timeout: float = BUSY_TIMEOUT) -> None:
        self.path = path or default_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: transactions are explicit (BEGIN IMMEDIATE), so writers queue on the busy timeout
        # instead of failing on a lock upgrade.
        self.db = sqlite3.connect(self.path, timeout=busy_timeout, isolation_level=None, check_same_thread=False)
        self.db.row_factory = sqlite3.Row
        # Inside transaction(), each write joins it instead of committing. Our own flag, not db.in_transaction:
        # a write joins only a transaction that transaction() began, never one left open by anything else.
        self._in_transaction = False
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("PRAGMA foreign_keys=ON")
        try:
            self.migrate()
        except BaseException:
            self.db.close()
            raise

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Make the writes inside one transaction: an exception out of the block undoes all of them."""
        with self._write():
            yield

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        if self._in_transaction:
            yield self.db  # the enclosing transaction() commits or rolls back
            return
        self.db.execute("BEGIN IMMEDIATE")
        self._in_transaction = True
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        finally:
            self._in_transaction = False
        try:
            self.db.execute("COMMIT")
        except sqlite3.Error:
            # Undone whole, so the writer's next try of the same write starts from what was stored before.
            if self.db.in_transaction:
                self.db.execute("ROLLBACK")
            raise

    @property
    def version(self) -> int:
        return int(self.db.execute("PRAGMA user_version").fetchone()[0])

    def migrate(self) -> None:
        if self.version == SCHEMA_VERSION:
            return  # the common case takes no write lock, so opening never waits on another writer
        with self._write() as db:
            current = int(db.execute("PRAGMA user_version").fetchone()[0])
            if current > SCHEMA_VERSION:
                raise sqlite3.DatabaseError(
                    f"{self.path} was written by a newer chat (schema {current} > {SCHEMA_VERSION})")
            for version in range(current + 1, SCHEMA_VERSION + 1):
                for statement in statements(MIGRATIONS[version]):
                    db.execute(statement)
                db.execute(f"PRAGMA user_version = {version}")

    # -- writing --
    # Titles and names are cleaned as they enter (from an import, a server's model list, the first message): a
    # listing prints them as one line of plain text. Message text and the system prompt are kept as they are.

    def create(self, model: str, preset: str, system_prompt: str, title: str = "") -> int:
        now = time.time()
        with self._write() as db:
            cur = db.execute(
                "INSERT INTO conversations (title, created, updated, model, preset, system_prompt)"
                " VALUES (?, ?, ?, ?, ?, ?)", (one_line(title), now, now, one_line(model), one_line(preset),
                                               system_prompt))
            return int(cur.lastrowid or 0)

    def update_settings(self, conversation_id: int, model: str, preset: str, system_prompt: str) -> None:
        with self._write() as db:
            db.execute("UPDATE conversations SET model = ?, preset = ?, system_prompt = ?, updated = ? WHERE id = ?",
                       (one_line(model), one_line(preset), system_prompt, time.time(), conversation_id))

    def add(self, conversation_id: int, message: Message, params: dict[str, object] | None = None,
            *, streaming: bool = False, parent: int | After | None = After.LEAF) -> int:
        """Store a message after the row `parent` (None: a first message; by default the active path's last),
        which it ends now. The first user message names the conversation if it has no title yet."""
        with self._write() as db:
            if parent is After.LEAF:
                found = db.execute("SELECT active_leaf FROM conversations WHERE id = ?", (conversation_id,)).fetchone()
                parent = None if found is None else found[0]
            cur = db.execute(
                "INSERT INTO messages (conversation_id, role, content, model, params, prompt_tokens,"
                " completion_tokens, cached_tokens, usage_estimated, cost, finish_reason, stopped, error,"
                " reasoning, reasoning_tokens, tool_calls, tool_call_id, tool_name, tool_error, created, streaming,"
                f" token_counts, parent_id) VALUES ({', '.join('?' * 23)})",
                (conversation_id, message.role, message.content, *_message_fields(message, params),
                 time.time(), int(streaming), json.dumps(message.token_counts) if message.token_counts else None,
                 parent))
            row = int(cur.lastrowid or 0)
            if message.attachments:
                blobs.insert(db, row, message.attachments, message.model or _model_of(db, conversation_id))
            if message.role == "user":
                db.execute("UPDATE conversations SET title = ? WHERE id = ? AND title = ''",
                           (title_from(message.content), conversation_id))
            db.execute("UPDATE conversations SET updated = ?, active_leaf = ? WHERE id = ?",
                       (time.time(), row, conversation_id))
            return row

    def set_active_leaf(self, conversation_id: int, row_id: int | None) -> None:
        """The active path now ends at the message `row_id` (another alternative was chosen)."""
        with self._write() as db:
            db.execute("UPDATE conversations SET active_leaf = ? WHERE id = ?", (row_id, conversation_id))

    def set_summary(self, conversation_id: int, summary: TurnsSummary, covers_row: int) -> None:
        """Keep the summary of the conversation's oldest turns; `covers_row` is the last message it stands for."""
        kept = summary_json(summary, covers_row)
        with self._write() as db:
            db.execute("UPDATE conversations SET summary = ? WHERE id = ?", (kept, conversation_id))

    def save_partial(self, row_id: int, content: str) -> None:
        with self._write() as db:
            db.execute("UPDATE messages SET content = ? WHERE id = ?", (content, row_id))

    def finalize(self, row_id: int, message: Message, params: dict[str, object] | None = None) -> None:
        with self._write() as db:
            db.execute(
                "UPDATE messages SET content = ?, model = ?, params = ?, prompt_tokens = ?, completion_tokens = ?,"
                " cached_tokens = ?, usage_estimated = ?, cost = ?, finish_reason = ?, stopped = ?, error = ?,"
                " reasoning = ?, reasoning_tokens = ?, tool_calls = ?, tool_call_id = ?, tool_name = ?, tool_error = ?,"
                " streaming = 0, token_counts = ? WHERE id = ?",
                (message.content, *_message_fields(message, params),
                 json.dumps(message.token_counts) if message.token_counts else None, row_id))

    def add_request(self, conversation_id: int | None, request: Request) -> int:
        """A request was sent (or settled at once): its row in the ledger. The model's name, which a server or
        the user gave, is stored as one line of plain text, like every name."""
        with self._write() as db:
            return ledger.insert(db, conversation_id, replace(request, model=one_line(request.model)))

    def settle_request(self, row_id: int, request: Request) -> None:
        with self._write() as db:
            ledger.settle(db, row_id, replace(request, model=one_line(request.model)))

    def delete_message(self, row_id: int) -> None:
        with self._write() as db:
            # A message withdrawn is a leaf; if the active path ended there, it ends at its parent now.
            db.execute("UPDATE conversations SET active_leaf = (SELECT parent_id FROM messages WHERE id = ?)"
                       " WHERE active_leaf = ?", (row_id, row_id))
            db.execute("DELETE FROM messages WHERE id = ?", (row_id,))

    def delete_messages(self, row_ids: list[int]) -> None:
        """Delete these rows, a message and everything under it, each after its parent; the ledger keeps what
        their requests cost. A path that ended among them ends at the first one's parent."""
        if not row_ids:
            return
        marks = ", ".join("?" * len(row_ids))
        with self._write() as db:
            db.execute(f"UPDATE conversations SET updated = ?, active_leaf = (SELECT parent_id FROM messages"
                       f" WHERE id = ?) WHERE active_leaf IN ({marks})", (time.time(), row_ids[0], *row_ids))
            db.execute(f"DELETE FROM messages WHERE id IN ({marks})", row_ids)

    def title(self, conversation_id: int) -> str:
        row = self.db.execute("SELECT title FROM conversations WHERE id = ?", (conversation_id,)).fetchone()
        return "" if row is None else str(row[0])

    def rename(self, conversation_id: int, title: str) -> None:
        with self._write() as db:
            db.execute("UPDATE conversations SET title = ? WHERE id = ?", (one_line(title), conversation_id))

    def delete(self, conversation_id: int) -> None:
        with self._write() as db:
            db.execute("DELETE FROM conversations WHERE id = ?", (conversation_id,))

    def clear(self, *, usage: bool = False) -> None:
        """Delete every conversation; the ledger's requests stay (unattached) unless `usage` says to go too."""
        with self._write() as db:
            db.execute("DELETE FROM conversations")
            if usage:
                db.execute("DELETE FROM requests")
            # The index keeps deleted words until told to forget them all.
            db.execute("INSERT INTO messages_fts(messages_fts) VALUES ('delete-all')")
        self.db.execute("VACUUM")

    def exists(self, conversation_id: int) -> bool:
        return self.db.execute("SELECT 1 FROM conversations WHERE id = ?", (conversation_id,)).fetchone() is not None

    def count(self) -> int:
        """How many conversations are stored."""
        return int(self.db.execute("SELECT COUNT(*) FROM conversations").fetchone()[0])

    def message_count(self, conversation_id: int) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM messages WHERE conversation_id = ?",
                                   (conversation_id,)).fetchone()[0])

    # -- reading --

    def last_id(self) -> int | None:
        row = self.db.execute("SELECT id FROM conversations ORDER BY updated DESC, id DESC LIMIT 1").fetchone()
        return None if row is None else int(row[0])

    def conversations(self, limit: int = 200) -> list[Summary]:
        """The newest conversations, in one query however many there are."""
        # The limit is applied first, so only the conversations listed are counted and priced. The turns are the
        # active path's, walked up from its leaf: an edit on another branch is no turn of what resuming shows.
        rows = self.db.execute(
            "SELECT c.*,"
            " (WITH RECURSIVE path(id, parent_id, role) AS (SELECT id, parent_id, role FROM messages"
            "   WHERE id = c.active_leaf UNION ALL SELECT m.id, m.parent_id, m.role FROM messages m"
            "   JOIN path ON m.id = path.parent_id) SELECT COUNT(*) FROM path WHERE role = 'user') AS turns,"
            f" (SELECT {ledger.COSTS} FROM requests r WHERE r.conversation_id = c.id) AS costs"
            " FROM (SELECT * FROM conversations ORDER BY updated DESC, id DESC LIMIT ?) c"
            " ORDER BY c.updated DESC, c.id DESC", (limit,)).fetchall()
        return [Summary(r["id"], r["title"], r["created"], r["updated"], r["model"], r["preset"], r["turns"],
                        ledger.total(r["costs"])) for r in rows]

    def load(self, conversation_id: int) -> Stored:
        row = self.db.execute("SELECT * FROM conversations WHERE id = ?", (conversation_id,)).fetchone()
        if row is None:
            raise KeyError(conversation_id)
        conversation = Conversation(system_prompt=row["system_prompt"])
        row_ids: dict[int, int] = {}
        by_row: dict[int, Message] = {}
        files = blobs.of_conversation(self.db, conversation_id)
        # A parent is always stored before its children, so in row order each one finds its parent loaded.
        for m in self.db.execute("SELECT * FROM messages WHERE conversation_id = ? ORDER BY id", (conversation_id,)):
            message = _message(m, files.get(m["id"], ()))
            parent = by_row.get(m["parent_id"]) if m["parent_id"] is not None else None
            if parent is None:
                conversation.cut(None)  # a first message (an edit of the first one, too)
            conversation.add(message, parent=parent)
            row_ids[message.id] = m["id"]
            by_row[m["id"]] = message
        if (leaf := by_row.get(row["active_leaf"])) is not None:
            conversation.cut(leaf)  # the path ends where it ended when the conversation was left
        conversation.summary = summary_of(row["summary"], by_row)
        return Stored(row["id"], row["title"], row["model"], row["preset"], conversation, row_ids,
                      row["created"], row["updated"], ledger.of_conversation(self.db, conversation_id))

    def search(self, query: str, limit: int = 50) -> list[Hit]:
        """Full-text search over every message; each word matches the words it begins ("zebra" finds "zebras",
        and a search typed as it goes finds something at every letter), never read as FTS syntax."""
        # NUL and lone surrogates cannot reach SQLite's FTS parser; they match nothing anyway.
        query = "".join(ch for ch in query if ch != "\x00" and not 0xD800 <= ord(ch) <= 0xDFFF)
        terms = " ".join('"' + word.replace('"', '""') + '"*' for word in query.split())
        if not terms:
            return []
        rows = self.db.execute(
            "SELECT m.conversation_id, m.id, c.title, m.role, highlight(messages_fts, 0, ?, ?)"
            " FROM messages_fts JOIN messages m ON m.id = messages_fts.rowid"
            " JOIN conversations c ON c.id = m.conversation_id"
            " WHERE messages_fts MATCH ? ORDER BY rank LIMIT ?",
            (MATCH_OPEN, MATCH_CLOSE, terms, limit)).fetchall()
        return [Hit(r[0], r[1], r[2], r[3], snippet(r[4])) for r in rows]

    def usage(self) -> list[ledger.Used]:
        """Requests, tokens and cost per day and model, from the ledger."""
        return ledger.usage(self.db)


def title_from(text: str) -> str:
    line = one_line(text)
    return line if len(line) <= TITLE_LENGTH else line[: TITLE_LENGTH - 1].rstrip() + "…"


def _message_fields(message: Message, params: dict[str, object] | None) -> tuple[object, ...]:
    usage = message.usage
    return (
        None if message.model is None else one_line(message.model), json.dumps(params) if params else None,
        usage.prompt_tokens if usage else None, usage.completion_tokens if usage else None,
        usage.cached_tokens if usage else None, int(bool(usage and usage.estimated)),
        None if message.cost is None else str(message.cost), message.finish_reason, int(message.stopped),
        message.error, message.reasoning, usage.reasoning_tokens if usage else 0,
        calls_json(message.tool_calls), message.tool_call_id,
        None if message.tool_name is None else one_line(message.tool_name), int(message.tool_error),
    )


def _model_of(db: sqlite3.Connection, conversation_id: int) -> str | None:
    """The model the conversation goes on with: a user message's images were counted for it."""
    found = db.execute("SELECT model FROM conversations WHERE id = ?", (conversation_id,)).fetchone()
    return None if found is None else str(found[0])


def _message(row: sqlite3.Row, attachments: tuple[Attachment, ...] = ()) -> Message:
    usage = None
    if row["prompt_tokens"] is not None:
        usage = Usage(row["prompt_tokens"], row["completion_tokens"] or 0, row["cached_tokens"] or 0,
                      estimated=bool(row["usage_estimated"]), reasoning_tokens=row["reasoning_tokens"])
    counts = json.loads(row["token_counts"]) if row["token_counts"] else {}
    return Message(
        row["role"], row["content"], model=row["model"], usage=usage,
        cost=None if row["cost"] is None else Decimal(row["cost"]), finish_reason=row["finish_reason"],
        # A reply still marked streaming was cut off by a crash: it is kept, as a stopped reply.
        stopped=bool(row["stopped"]) or bool(row["streaming"]), error=row["error"], reasoning=row["reasoning"],
        token_counts=counts, tool_calls=calls_of(row["tool_calls"]), tool_call_id=row["tool_call_id"],
        tool_name=row["tool_name"], tool_error=bool(row["tool_error"]), attachments=attachments,
    )
