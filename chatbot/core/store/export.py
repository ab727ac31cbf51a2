"""Conversations to Markdown (with a front-matter header) and to JSON with every field, and JSON back.

An export holds the active path, the conversation as it was last read and sent. It may hold every branch instead
(`tree=True`): JSON gives every message a number and the number of the one it follows, and names the active
leaf, and an import reads either form; Markdown puts a heading "Alternative 2/3" before each of a message's
alternatives, which is followed by everything under it, the alternatives of the alternatives named "2/3 > 1/2"."""

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
FORMAT_VERSION = 1  # the active path, one message after another
TREE_VERSION = 2  # every branch: each message names its parent


def render(stored: Stored, fmt: str, *, tree: bool = False) -> str:
    """The export of `stored` as a file holds it, less the final newline: Markdown for "md", JSON for "json",
    with every branch if `tree`."""
    if fmt == "md":
        return to_markdown(stored, tree=tree)
    return json.dumps(to_json(stored, tree=tree), ensure_ascii=False, indent=2)


def _iso(timestamp: float) -> str:
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).isoformat(timespec="seconds")


def _tokens(messages: list[Message]) -> tuple[int, int, int]:
    usages = [m.usage for m in messages if m.usage]
    return (sum(u.prompt_tokens for u in usages), sum(u.completion_tokens for u in usages),
            sum(u.cached_tokens for u in usages))


def to_markdown(stored: Stored, *, tree: bool = False) -> str:
    conversation = stored.conversation
    messages = conversation.tree() if tree else conversation.messages
    prompt, completion, cached = _tokens(messages)
    header = {
        "title": stored.title, "id": stored.id, "model": stored.model, "preset": stored.preset,
        "created": _iso(stored.created), "updated": _iso(stored.updated), "prompt_tokens": prompt,
        "cached_tokens": cached, "completion_tokens": completion,
        "cost": format_cost(stored.cost),  # the store's figure: what `chat history` and `chat usage` say
    }
    if tree:
        header["branches"] = "all"
    # JSON scalars are valid YAML, so the front matter needs no YAML library.
    lines = ["---", *(f"{key}: {json.dumps(value, ensure_ascii=False)}" for key, value in header.items()), "---", ""]
    if conversation.system_prompt:
        lines += ["## System", "", conversation.system_prompt, ""]
    active = {m.id for m in conversation.messages}
    labels: dict[int, str] = {}  # Message.id -> the alternatives it is in, outermost first ("2/3 > 1/2")
    for m in messages:
        parent = conversation.parent_of(m)
        label = labels.get(parent.id, "") if parent is not None else ""
        if tree and len(conversation.alternatives(m)) > 1:
            label = " > ".join(filter(None, [label, "{}/{}".format(*conversation.position(m))]))
            lines += [f"## Alternative {label}{' (active)' if m.id in active else ''}", ""]
        labels[m.id] = label
        lines += _markdown_message(m)
    return "\n".join(lines)


def _markdown_message(m: Message) -> list[str]:
    title = "You" if m.role == "user" else f"Assistant ({m.model})" if m.model else m.role.title()
    state = " (stopped)" if m.stopped else f" (broke off: {m.error})" if m.error else ""
    lines = [f"## {title}{state}", ""]
    if m.reasoning:
        # Folded, as the app shows it: a renderer that knows HTML shows one "Thinking" line to open.
        lines += ["<details><summary>Thinking</summary>", "", m.reasoning, "", "</details>", ""]
    return [*lines, m.content, ""]


def to_json(stored: Stored, *, tree: bool = False) -> dict[str, Any]:
    conversation = stored.conversation
    data: dict[str, Any] = {
        "format": FORMAT, "version": TREE_VERSION if tree else FORMAT_VERSION, "id": stored.id,
        "title": stored.title, "model": stored.model, "preset": stored.preset,
        "system_prompt": conversation.system_prompt, "created": _iso(stored.created), "updated": _iso(stored.updated),
    }
    if not tree:
        data["messages"] = [_message_json(m) for m in conversation.messages]
        return data
    # Numbered in the order written, so a parent always comes before its children and an import can add them so.
    every = conversation.tree()
    number = {m.id: n for n, m in enumerate(every, 1)}
    messages = []
    for m in every:
        parent = conversation.parent_of(m)
        messages.append({"n": number[m.id], "parent": None if parent is None else number[parent.id],
                         **_message_json(m)})
    leaf = conversation.leaf()
    data["messages"], data["active"] = messages, None if leaf is None else number[leaf.id]
    return data


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
    tree = data.get("version") == TREE_VERSION
    try:
        with store.transaction():
            conversation_id = store.create(str(data["model"]), str(data["preset"]),
                                           str(data.get("system_prompt", "")), title=str(data.get("title", "")))
            rows: dict[int, int] = {}  # a message's number in the export -> its row
            for number, raw in enumerate(data["messages"], 1):
                where = f"malformed export, message {number}"
                message = _message(raw)  # may still fail in add: a lone surrogate, a huge number
                if not tree:
                    store.add(conversation_id, message)
                    continue
                parent = raw.get("parent")
                if parent is not None and parent not in rows:
                    raise ValueError(f"parent {parent!r:.40} is not a message before it")
                if not isinstance(raw.get("n"), int) or raw["n"] in rows:
                    raise ValueError(f"n is not a new message number: {raw.get('n')!r:.40}")
                rows[raw["n"]] = store.add(conversation_id, message, parent=None if parent is None else rows[parent])
            if tree:
                where = "malformed export, active"
                if data.get("active") is not None and data["active"] not in rows:
                    raise ValueError(f"no message {data['active']!r:.40}")
                store.set_active_leaf(conversation_id, rows.get(data["active"]) if data.get("active") else None)
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
