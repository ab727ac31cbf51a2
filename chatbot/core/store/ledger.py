"""The ledger: one row per request sent to a model, with its usage and cost, apart from the conversation tree.

Every request is in it once, however it ended: finished, stopped, failed, broken off, or failed and retried
(billed nothing). `chat usage` and every per-conversation cost read it, so a regenerated or deleted reply is
still counted, a deleted conversation keeps its usage, and an imported one adds none (nothing was sent).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from decimal import Decimal

from chatbot.core.pricing import Spent
from chatbot.core.request import Request

# Schema version 3. The conversation is a reference that a delete sets to NULL: the usage stays. Replies stored
# before the ledger existed become its rows, so `chat usage` says after the upgrade what it said before: the
# same costs, '?' (NULL) for a reply that used tokens without a price, 0 for one that never reported usage.
MIGRATION = """
    CREATE TABLE requests (
        id INTEGER PRIMARY KEY,
        conversation_id INTEGER REFERENCES conversations(id) ON DELETE SET NULL,
        created REAL NOT NULL,
        model TEXT,
        status TEXT NOT NULL,
        error TEXT,
        request_id TEXT,
        prompt_tokens INTEGER NOT NULL DEFAULT 0,
        cached_tokens INTEGER NOT NULL DEFAULT 0,
        completion_tokens INTEGER NOT NULL DEFAULT 0,
        usage_estimated INTEGER NOT NULL DEFAULT 0,
        cost TEXT,
        first_token_seconds REAL,
        total_seconds REAL
    );
    CREATE INDEX requests_by_conversation ON requests(conversation_id);
    INSERT INTO requests (conversation_id, created, model, status, prompt_tokens, cached_tokens, completion_tokens,
                          usage_estimated, cost)
        SELECT conversation_id, created, model,
               CASE WHEN error IS NOT NULL THEN 'error' WHEN stopped OR streaming THEN 'stopped' ELSE 'ok' END,
               COALESCE(prompt_tokens, 0), COALESCE(cached_tokens, 0), COALESCE(completion_tokens, 0),
               usage_estimated,
               CASE WHEN cost IS NOT NULL THEN cost
                    WHEN COALESCE(prompt_tokens, completion_tokens, cached_tokens) IS NOT NULL THEN NULL
                    ELSE '0' END
        FROM messages WHERE role = 'assistant' ORDER BY id;
"""

# The costs of a set of rows, gathered for total(): '?' for a row without a price. Summed in Python, as Decimal,
# because SQLite would add the prices as floats.
COSTS = "GROUP_CONCAT(COALESCE(cost, '?'), ' ')"


def total(costs: str | None) -> Spent:
    """The sum of what COSTS gathered: the known part, and whether some row had no price."""
    terms = (costs or "").split()
    return Spent(sum((Decimal(t) for t in terms if t != "?"), Decimal(0)), "?" in terms)


def insert(db: sqlite3.Connection, conversation_id: int | None, request: Request) -> int:
    # A conversation deleted meanwhile (from the history screen, or `chat history --delete` elsewhere) leaves the
    # row unattached instead of failing on the reference.
    cur = db.execute(
        "INSERT INTO requests (conversation_id, created, model, status) VALUES"
        " ((SELECT id FROM conversations WHERE id = ?), ?, ?, ?)",
        (conversation_id, request.timestamp, request.model, request.status))
    row = int(cur.lastrowid or 0)
    settle(db, row, request)
    return row


def settle(db: sqlite3.Connection, row: int, request: Request) -> None:
    usage = request.usage
    db.execute(
        "UPDATE requests SET model = ?, status = ?, error = ?, request_id = ?, prompt_tokens = ?, cached_tokens = ?,"
        " completion_tokens = ?, reasoning_tokens = ?, usage_estimated = ?, cost = ?, first_token_seconds = ?,"
        " total_seconds = ? WHERE id = ?",
        (request.model, request.status, request.error, request.request_id, usage.prompt_tokens, usage.cached_tokens,
         usage.completion_tokens, usage.reasoning_tokens, int(usage.estimated),
         None if request.cost is None else str(request.cost), request.first_token_seconds, request.total_seconds,
         row))


@dataclass(frozen=True, slots=True)
class Used:
    """What the requests of one day and model (or of a whole ledger) used."""

    day: str
    model: str | None  # None: replies stored without a model before the ledger existed
    requests: int
    prompt_tokens: int
    cached_tokens: int
    completion_tokens: int
    cost: Spent
    reasoning_tokens: int = 0  # the part of completion_tokens spent reasoning

    def __add__(self, other: Used) -> Used:
        return Used(self.day, self.model, self.requests + other.requests, self.prompt_tokens + other.prompt_tokens,
                    self.cached_tokens + other.cached_tokens, self.completion_tokens + other.completion_tokens,
                    self.cost + other.cost, self.reasoning_tokens + other.reasoning_tokens)


# What a set of rows used, read back by _used(): a SUM over no rows is NULL, so every one has a 0 to fall back on.
SUMS = ("COUNT(*) AS requests, COALESCE(SUM(prompt_tokens), 0) AS prompt, COALESCE(SUM(cached_tokens), 0) AS cached,"
        " COALESCE(SUM(completion_tokens), 0) AS completion, COALESCE(SUM(reasoning_tokens), 0) AS reasoning,"
        f" {COSTS} AS costs")


def _used(r: sqlite3.Row, day: str = "", model: str | None = None) -> Used:
    return Used(day, model, r["requests"], r["prompt"], r["cached"], r["completion"], total(r["costs"]),
                r["reasoning"])


def usage(db: sqlite3.Connection) -> list[Used]:
    """Requests, tokens and cost per day and model; days in local time, as `chat history` shows its dates."""
    rows = db.execute(
        f"SELECT date(created, 'unixepoch', 'localtime') AS day, model, {SUMS} FROM requests GROUP BY day, model"
        " ORDER BY day, model").fetchall()
    return [_used(r, r["day"], r["model"]) for r in rows]


def of_conversation(db: sqlite3.Connection, conversation_id: int) -> Used:
    """What every request made for the conversation used and cost (regenerated, stopped and summary requests
    too): the figures an export gives beside its cost, which `chat history` shows."""
    return _used(db.execute(f"SELECT {SUMS} FROM requests WHERE conversation_id = ?", (conversation_id,)).fetchone())
