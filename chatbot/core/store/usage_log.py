"""The optional usage log: one JSON line of metadata per request. Never message content, never the key.

It observes the session (chatbot.core.journal) for settled requests.
"""

from __future__ import annotations

import json
from pathlib import Path

from chatbot.core import paths
from chatbot.core.journal import Entry, RequestSettled
from chatbot.core.request import Request


def default_path() -> Path:
    return paths.state_dir() / "usage.jsonl"


class UsageLog:
    def __init__(self, path: Path | None = None) -> None:
        self.path = path or default_path()
        self.broken = False  # a write failed: the log stops, and the chat goes on

    def observe(self, event: Entry) -> None:
        if isinstance(event, RequestSettled) and not self.broken:
            try:
                self.write(event.request)
            except OSError:
                self.broken = True  # a log that cannot be written must not break the chat

    def write(self, request: Request) -> None:
        """One line per request, as the ledger has it: status ok, stopped, error or retried (billed nothing)."""
        usage = request.usage
        record = {
            "timestamp": request.timestamp, "request_id": request.request_id, "model": request.model,
            "prompt_tokens": usage.prompt_tokens, "cached_tokens": usage.cached_tokens,
            "completion_tokens": usage.completion_tokens, "reasoning_tokens": usage.reasoning_tokens,
            "usage_estimated": usage.estimated,
            "cost_usd": None if request.cost is None else str(request.cost),
            "first_token_seconds": request.first_token_seconds, "total_seconds": request.total_seconds,
            "status": request.status, "error": request.error,
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps(record, separators=(",", ":")) + "\n"
        # One write of a short line in append mode: lines from concurrent processes do not interleave.
        with self.path.open("a", encoding="utf-8") as f:
            f.write(line)
