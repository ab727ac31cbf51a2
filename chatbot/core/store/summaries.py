"""A conversation's summary of its oldest turns as the history keeps it: one JSON text on its conversation row.

In memory the summary names the last message it covers by Message.id; stored, by that message's row.
"""

from __future__ import annotations

import json
from decimal import Decimal

from chatbot.core.conversation import Message, Summary
from chatbot.core.events import Usage


def summary_json(summary: Summary, covers_row: int) -> str:
    usage = summary.usage or Usage()
    return json.dumps({
        "text": summary.text, "covers": covers_row, "turns": summary.turns, "model": summary.model,
        "usage": [usage.prompt_tokens, usage.completion_tokens, usage.cached_tokens, usage.estimated,
                  usage.reasoning_tokens],
        "cost": None if summary.cost is None else str(summary.cost),
    })


def summary_of(text: str | None, by_row: dict[int, Message]) -> Summary | None:
    """The stored summary, naming the loaded message it covers; None if there is none or that message is gone."""
    if not text or (kept := json.loads(text))["covers"] not in by_row:
        return None
    prompt, completion, cached, estimated, reasoning = kept["usage"]
    return Summary(kept["text"], by_row[kept["covers"]].id, kept["turns"], kept["model"],
                   Usage(prompt, completion, cached, estimated=estimated, reasoning_tokens=reasoning),
                   None if kept["cost"] is None else Decimal(kept["cost"]))
