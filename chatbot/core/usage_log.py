"""The optional usage log: one JSON line of metadata per request. Never message content, never the key."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from chatbot.core import paths


def default_path() -> Path:
    return paths.state_dir() / "usage.jsonl"


@dataclass(frozen=True, slots=True)
class RequestRecord:
    timestamp: float
    request_id: str | None
    model: str
    prompt_tokens: int
    cached_tokens: int
    completion_tokens: int
    usage_estimated: bool
    cost_usd: str | None
    first_token_seconds: float | None
    total_seconds: float
    status: str  # ok, stopped, error
    error: str | None  # the error's class, e.g. RateLimitError


class UsageLog:
    def __init__(self, path: Path | None = None) -> None:
        self.path = path or default_path()

    def write(self, record: RequestRecord) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps(asdict(record), separators=(",", ":")) + "\n"
        # One write of a short line in append mode: lines from concurrent processes do not interleave.
        with self.path.open("a", encoding="utf-8") as f:
            f.write(line)
