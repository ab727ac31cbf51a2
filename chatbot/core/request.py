"""One request as billed: the value the session builds when a request settles, and its statuses.

The session's totals add it up, and the store's observers keep it: the ledger as a row, the usage log as a line.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from decimal import Decimal

from chatbot.core.events import Usage

# A request's outcome. SENT is only ever seen in the store: the app ended (a crash, a kill) before the request did.
SENT, OK, STOPPED, ERROR, RETRIED = "sent", "ok", "stopped", "error", "retried"


@dataclass(frozen=True, slots=True)
class Request:
    """One request as billed: what the ledger keeps, the session's totals add up and the usage log writes."""

    model: str
    status: str
    usage: Usage = Usage()
    cost: Decimal | None = Decimal(0)  # None: it used tokens at an unknown price
    error: str | None = None  # the error's class, e.g. RateLimitError
    request_id: str | None = None
    timestamp: float = field(default_factory=time.time)
    first_token_seconds: float | None = None
    total_seconds: float = 0.0


def error_class(error: BaseException | None) -> str | None:
    """What the ledger keeps of an error: its class's name (e.g. RateLimitError; a trailing "_" dropped)."""
    return None if error is None else type(error).__name__.rstrip("_")
