"""Attached files in the history: each content stored once (the blobs table, keyed by its sha256), and each
message's attachments in order, naming their blob.

A file is stored as it was sent (an image after its downscaling), so a resumed conversation sends the same bytes
again. The same image attached twice, or copied into a fork, is one blob; a blob goes when the last attachment
naming it does (a trigger), so deleting conversations gives their files' room back.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterable

from chatbot.core.attachments import Attachment
from chatbot.core.image_tokens import DETAILS, Detail, image_tokens
from chatbot.core.models import CATALOGUE, match_catalogue

# `tokens`: what the file was counted at for the model it was sent to, as the sender counted it (an image without a
# count by that model's rule in the catalogue); NULL for a text file nobody counted alone (its tokens are in its
# message's count, messages.token_counts).
MIGRATION = """
    CREATE TABLE blobs (
        hash TEXT PRIMARY KEY,
        data BLOB NOT NULL
    );
    CREATE TABLE attachments (
        message_id INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        name TEXT NOT NULL,
        kind TEXT NOT NULL,
        mime TEXT NOT NULL,
        width INTEGER NOT NULL DEFAULT 0,
        height INTEGER NOT NULL DEFAULT 0,
        detail TEXT NOT NULL DEFAULT 'auto',
        language TEXT NOT NULL DEFAULT '',
        tokens INTEGER,
        blob TEXT NOT NULL REFERENCES blobs(hash),
        PRIMARY KEY (message_id, position)
    );
    CREATE INDEX attachments_by_blob ON attachments(blob);
    CREATE TRIGGER attachments_ad AFTER DELETE ON attachments BEGIN
        DELETE FROM blobs WHERE hash = old.blob AND NOT EXISTS (SELECT 1 FROM attachments WHERE blob = old.blob);
    END;
"""


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def counted(attachment: Attachment, model: str | None) -> int | None:
    """An image's prompt tokens for `model`, as the session counted them (the rule is the catalogue's alone; a
    model it does not know is counted by the assumed rule); None for a text file."""
    if not attachment.is_image:
        return None
    spec = match_catalogue(model, CATALOGUE) if model else None
    return image_tokens(attachment.width, attachment.height, attachment.detail,
                        spec.image_rule if spec else None)


def insert(db: sqlite3.Connection, message_row: int, attachments: Iterable[Attachment], model: str | None) -> None:
    """Store a message's attachments, in order; a content already stored is not stored again."""
    for position, a in enumerate(attachments):
        blob = digest(a.data)
        db.execute("INSERT OR IGNORE INTO blobs (hash, data) VALUES (?, ?)", (blob, a.data))
        tokens = a.tokens if a.tokens is not None else counted(a, model)
        db.execute("INSERT INTO attachments (message_id, position, name, kind, mime, width, height, detail,"
                   " language, tokens, blob) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                   (message_row, position, a.name, a.kind, a.mime, a.width, a.height, a.detail, a.language,
                    tokens, blob))


def of_conversation(db: sqlite3.Connection, conversation_id: int) -> dict[int, tuple[Attachment, ...]]:
    """The attachments of the conversation's messages, in order, by message row; in one query."""
    found: dict[int, list[Attachment]] = {}
    rows = db.execute(
        "SELECT a.*, b.data FROM attachments a JOIN blobs b ON b.hash = a.blob"
        " JOIN messages m ON m.id = a.message_id WHERE m.conversation_id = ? ORDER BY a.message_id, a.position",
        (conversation_id,))
    for r in rows:
        found.setdefault(r["message_id"], []).append(Attachment(
            r["name"], "image" if r["kind"] == "image" else "text", bytes(r["data"]), r["mime"], r["width"],
            r["height"], _detail(r["detail"]), r["language"], tokens=r["tokens"]))
    return {row: tuple(files) for row, files in found.items()}


def _detail(value: str) -> Detail:
    return next((d for d in DETAILS if d == value), "auto")

