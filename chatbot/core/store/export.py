"""Conversations to Markdown (with a front-matter header) and to JSON with every field, and JSON back."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

from chatbot.core.conversation import Message
from chatbot.core.events import Usage
from chatbot.core.pricing import format_cost
from chatbot.core.store.history import HistoryStore, Stored

FORMAT = "chatbot-conversation"
FORMAT_VERSION = 1


def render(stored: Stored, fmt: str) -> str:
    """The export of `stored` as a file holds it, less the final newline: Markdown for "md", JSON for "json"."""
    return to_markdown(stored) if fmt == "md" else json.dumps(to_json(stored), ensure_ascii=False, indent=2)


def _iso(timestamp: float) -> str:
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).isoformat(timespec="seconds")


def _tokens(messages: list[Message]) -> tuple[int, int, int]:
    usages = [m.usage for m in messages if m.usage]
    return (sum(u.prompt_tokens for u in usages), sum(u.completion_tokens for u in usages),
            sum(u.cached_tokens for u in usages))


def to_markdown(stored: Stored) -> str:
    messages = stored.conversation.messages
    prompt, completion, cached = _tokens(messages)
    header = {
        "title": stored.title, "id": stored.id, "model": stored.model, "preset": stored.preset,
        "created": _iso(stored.created), "updated": _iso(stored.updated), "prompt_tokens": prompt,
        "cached_tokens": cached, "completion_tokens": completion,
        "cost": format_cost(stored.cost),  # the store's figure: what `chat history` and `chat usage` say
    }
    # JSON scalars are valid YAML, so the front matter needs no YAML library.
    lines = ["---", *(f"{key}: {json.dumps(value, ensure_ascii=False)}" for key, value in header.items()), "---", ""]
    if stored.conversation.system_prompt:
        lines += ["## System", "", stored.conversation.system_prompt, ""]
    for m in messages:
        title = "You" if m.role == "user" else f"Assistant ({m.model})" if m.model else m.role.title()
        state = " (stopped)" if m.stopped else f" (broke off: {m.error})" if m.error else ""
        lines += [f"## {title}{state}", ""]
        if m.reasoning:
            # Folded, as the app shows it: a renderer that knows HTML shows one "Thinking" line to open.
            lines += ["<details><summary>Thinking</summary>", "", m.reasoning, "", "</details>", ""]
        lines += [m.content, ""]
    return "\n".join(lines)


def to_json(stored: Stored) -> dict[str, Any]:
    return {
        "format": FORMAT, "version": FORMAT_VERSION, "id": stored.id, "title": stored.title,
        "model": stored.model, "preset": stored.preset, "system_prompt": stored.conversation.system_prompt,
        "created": _iso(stored.created), "updated": _iso(stored.updated),
        "messages": [_message_json(m) for m in stored.conversation.messages],
    }


def _message_json(m: Message) -> dict[str, Any]:
    return {
        "role": m.role, "content": m.content, "model": m.model,
        "usage": None if m.usage is None else {
            "prompt_tokens": m.usage.prompt_tokens, "completion_tokens": m.usage.completion_tokens,
            "cached_tokens": m.usage.cached_tokens, "estimated": m.usage.estimated,
            "reasoning_tokens": m.usage.reasoning_tokens},
        "cost_usd": None if m.cost is None else str(m.cost), "finish_reason": m.finish_reason,
        "stopped": m.stopped, "error": m.error, "reasoning": m.reasoning,
    }


def import_json(store: HistoryStore, data: dict[str, Any]) -> int:
    """Store a conversation exported by to_json, all of it or none of it; returns its new id. Its replies keep
    what they cost, but nothing was sent: the ledger gets no rows, so `chat usage` and the conversation's cost
    stay as they were, however often the same export is imported.

    Raises ValueError, naming the message at fault, for anything to_json would not have written."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ValueError(f"not a {FORMAT} export")
    where = "malformed export"
    try:
        with store.transaction():
            conversation_id = store.create(str(data["model"]), str(data["preset"]),
                                           str(data.get("system_prompt", "")), title=str(data.get("title", "")))
            for number, raw in enumerate(data["messages"], 1):
                where = f"malformed export, message {number}"
                store.add(conversation_id, _message(raw))  # may still fail: a lone surrogate, a huge number
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from None
    except (KeyError, TypeError, AttributeError, ArithmeticError) as exc:
        raise ValueError(f"{where}: {exc!r}") from None
    return conversation_id


def _message(raw: object) -> Message:
    if not isinstance(raw, dict):
        raise ValueError(f"not an object: {raw!r:.40}")
    if raw.get("role") not in ("user", "assistant"):
        raise ValueError(f"unknown role {raw.get('role')!r}")
    if not isinstance(raw["content"], str):
        raise ValueError(f"content is not text: {raw['content']!r:.40}")
    for key in ("model", "finish_reason", "error"):
        if not isinstance(raw.get(key), str | None):
            raise ValueError(f"{key} is not text: {raw[key]!r:.40}")
    # Exports written before replies kept their reasoning have neither field: none.
    if not isinstance(reasoning := raw.get("reasoning", ""), str):
        raise ValueError(f"reasoning is not text: {reasoning!r:.40}")
    usage = raw.get("usage")
    return Message(
        raw["role"], raw["content"], model=raw.get("model"),
        usage=None if usage is None else Usage(int(usage["prompt_tokens"]), int(usage["completion_tokens"]),
                                               int(usage.get("cached_tokens", 0)), bool(usage.get("estimated")),
                                               reasoning_tokens=int(usage.get("reasoning_tokens", 0))),
        cost=None if raw.get("cost_usd") is None else Decimal(raw["cost_usd"]),
        finish_reason=raw.get("finish_reason"), stopped=bool(raw.get("stopped")), error=raw.get("error"),
        reasoning=reasoning,
    )
