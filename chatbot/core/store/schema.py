"""The history's schema: one migration per version, each taking the file from the version before it.

A file written by an older chat is brought up to date when it is opened (HistoryStore.migrate); one written by a
newer chat is refused, never downgraded.
"""

from __future__ import annotations

import sqlite3

from chatbot.core.store import blobs, ledger

SCHEMA_VERSION = 8

# Each entry takes the schema from the version before it to its own number.
MIGRATIONS: dict[int, str] = {
    1: """
        CREATE TABLE conversations (
            id INTEGER PRIMARY KEY,
            title TEXT NOT NULL DEFAULT '',
            created REAL NOT NULL,
            updated REAL NOT NULL,
            model TEXT NOT NULL,
            preset TEXT NOT NULL,
            system_prompt TEXT NOT NULL DEFAULT ''
        );
        CREATE TABLE messages (
            id INTEGER PRIMARY KEY,
            conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
            role TEXT NOT NULL,
            content TEXT NOT NULL,
            model TEXT,
            params TEXT,
            prompt_tokens INTEGER,
            completion_tokens INTEGER,
            cached_tokens INTEGER,
            usage_estimated INTEGER NOT NULL DEFAULT 0,
            cost TEXT,
            finish_reason TEXT,
            stopped INTEGER NOT NULL DEFAULT 0,
            error TEXT,
            created REAL NOT NULL
        );
        CREATE INDEX messages_by_conversation ON messages(conversation_id, id);
    """,
    2: """
        ALTER TABLE messages ADD COLUMN streaming INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE messages ADD COLUMN token_counts TEXT;
        CREATE VIRTUAL TABLE messages_fts USING fts5(content, content='messages', content_rowid='id');
        INSERT INTO messages_fts(rowid, content) SELECT id, content FROM messages;
        CREATE TRIGGER messages_ai AFTER INSERT ON messages BEGIN
            INSERT INTO messages_fts(rowid, content) VALUES (new.id, new.content);
        END;
        CREATE TRIGGER messages_ad AFTER DELETE ON messages BEGIN
            INSERT INTO messages_fts(messages_fts, rowid, content) VALUES ('delete', old.id, old.content);
        END;
        CREATE TRIGGER messages_au AFTER UPDATE OF content ON messages BEGIN
            INSERT INTO messages_fts(messages_fts, rowid, content) VALUES ('delete', old.id, old.content);
            INSERT INTO messages_fts(rowid, content) VALUES (new.id, new.content);
        END;
    """,
    3: ledger.MIGRATION,
    # A reasoning model's reply keeps its reasoning and how many of its output tokens it spent on it; a request
    # counts them too. Rows written before have none (''/0): no reply stored then kept its reasoning.
    4: """
        ALTER TABLE messages ADD COLUMN reasoning TEXT NOT NULL DEFAULT '';
        ALTER TABLE messages ADD COLUMN reasoning_tokens INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE requests ADD COLUMN reasoning_tokens INTEGER NOT NULL DEFAULT 0;
    """,
    # The conversation tree: each message names the one it follows (NULL for a first message), and each
    # conversation the last message of its active path. Every conversation stored before was one line, so each
    # message follows the one stored before it, and the path ends at its newest message.
    5: """
        ALTER TABLE messages ADD COLUMN parent_id INTEGER;
        ALTER TABLE conversations ADD COLUMN active_leaf INTEGER;
        UPDATE messages SET parent_id = (SELECT MAX(p.id) FROM messages p
                                         WHERE p.conversation_id = messages.conversation_id AND p.id < messages.id);
        UPDATE conversations SET active_leaf = (SELECT MAX(m.id) FROM messages m
                                                WHERE m.conversation_id = conversations.id);
        CREATE INDEX messages_by_parent ON messages(parent_id);
    """,
    # Tools: an assistant row keeps the calls it made (JSON: id, name, the arguments as written, why they did
    # not parse); a tool row (role 'tool') the call it answers, the tool's name, and whether the result is an
    # error. Rows written before called no tools. A result's text is its content, so search finds it.
    6: """
        ALTER TABLE messages ADD COLUMN tool_calls TEXT;
        ALTER TABLE messages ADD COLUMN tool_call_id TEXT;
        ALTER TABLE messages ADD COLUMN tool_name TEXT;
        ALTER TABLE messages ADD COLUMN tool_error INTEGER NOT NULL DEFAULT 0;
    """,
    7: blobs.MIGRATION,
    # budget.strategy "summarize": what stands in requests for a conversation's oldest turns (JSON: its text, the
    # row of the last message it covers, how many turns, what it cost), so a resume does not pay for it again.
    8: "ALTER TABLE conversations ADD COLUMN summary TEXT;",
}


def statements(script: str) -> list[str]:
    """Split a migration into statements, keeping trigger bodies whole."""
    found, current = [], ""
    for line in script.strip().splitlines():
        current += line + "\n"
        if sqlite3.complete_statement(current):
            found.append(current.strip())
            current = ""
    return found
