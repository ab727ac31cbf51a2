"""An assistant message's tool calls as the history and its exports keep them: JSON, the arguments as the model
wrote them (so a call whose arguments did not parse is kept as it came)."""

from __future__ import annotations

import json

from chatbot.core.events import ToolCall, parse_arguments


def calls_json(calls: tuple[ToolCall, ...]) -> str | None:
    """An assistant message's calls as stored (and exported): the arguments as the model wrote them."""
    if not calls:
        return None
    return json.dumps([{"id": c.id, "name": c.name, "arguments": c.raw_arguments, "error": c.error} for c in calls],
                      ensure_ascii=False)


def calls_of(text: str | None) -> tuple[ToolCall, ...]:
    """Calls as calls_json stored them; their arguments parsed again, as when they arrived."""
    if not text:
        return ()
    calls = []
    for entry in json.loads(text):
        raw = str(entry.get("arguments") or "")
        arguments, error = parse_arguments(raw)
        calls.append(ToolCall(str(entry["id"]), str(entry.get("name") or ""), arguments, raw,
                              entry.get("error") or error))
    return tuple(calls)
