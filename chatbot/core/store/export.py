"""Conversations to Markdown (with a front-matter header) and to JSON with every field, and JSON back.

An export holds the active path, the conversation as it was last read and sent. JSON may hold the whole tree
instead (`tree=True`): every message with a number and the number of the one it follows, and the active leaf's;
an import reads either."""

from __future__ import annotations

import datetime as dt
import json
import re
from decimal import Decimal
from typing import Any

from chatbot.core.conversation import Message
from chatbot.core.events import Usage
from chatbot.core.pricing import format_cost
from chatbot.core.store.calls import calls_json, calls_of
from chatbot.core.store.history import HistoryStore, Stored

FORMAT = "chatbot-conversation"
FORMAT_VERSION = 1  # the active path, one message after another
TREE_VERSION = 2  # every branch: each message names its parent


def render(stored: Stored, fmt: str, *, tree: bool = False) -> str:
    """The export of `stored` as a file holds it, less the final newline: Markdown for "md", JSON for "json"
    (with every branch if `tree`; Markdown is always the active path)."""
    if fmt == "md":
        return to_markdown(stored)
    return json.dumps(to_json(stored, tree=tree), ensure_ascii=False, indent=2)


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
        if m.role == "tool":
            lines += _tool_result_markdown(m)
            continue
        title = "You" if m.role == "user" else f"Assistant ({m.model})" if m.model else m.role.title()
        state = " (stopped)" if m.stopped else f" (broke off: {m.error})" if m.error else ""
        lines += [f"## {title}{state}", ""]
        if m.reasoning:
            # Folded, as the app shows it: a renderer that knows HTML shows one "Thinking" line to open.
            lines += ["<details><summary>Thinking</summary>", "", m.reasoning, "", "</details>", ""]
        if m.content or not m.tool_calls:
            lines += [m.content, ""]
        for call in m.tool_calls:
            lines += [f"**Tool call** `{call.name}` ({call.id})", "", *_fenced(call.raw_arguments, "json")]
    return "\n".join(lines)


def _tool_result_markdown(m: Message) -> list[str]:
    """A tool's result: the tool's text, fenced, so nothing in it reads as Markdown of the export's own."""
    state = " (error)" if m.tool_error else ""
    return [f"### Tool result `{m.tool_name or ''}` ({m.tool_call_id or ''}){state}", "", *_fenced(m.content, "")]


def _fenced(text: str, language: str) -> list[str]:
    """`text` in a code fence longer than any run of backticks it holds."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return [fence + language, text, fence, ""]


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
        # Only a message of a tool call has these: exports of conversations without tools stay as they were.
        **({"tool_calls": json.loads(calls_json(m.tool_calls) or "[]")} if m.tool_calls else {}),
        **({"tool_call_id": m.tool_call_id, "tool_name": m.tool_name, "tool_error": m.tool_error}
           if m.role == "tool" else {}),
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
    if raw.get("role") not in ("user", "assistant", "tool"):
        raise ValueError(f"unknown role {raw.get('role')!r}")
    if not isinstance(raw["content"], str):
        raise ValueError(f"content is not text: {raw['content']!r:.40}")
    for key in ("model", "finish_reason", "error", "tool_call_id", "tool_name"):
        if not isinstance(raw.get(key), str | None):
            raise ValueError(f"{key} is not text: {raw[key]!r:.40}")
    # Exports written before replies kept their reasoning have neither field: none.
    if not isinstance(reasoning := raw.get("reasoning", ""), str):
        raise ValueError(f"reasoning is not text: {reasoning!r:.40}")
    usage = raw.get("usage")
    calls = raw.get("tool_calls", [])
    if not isinstance(calls, list) or not all(
            isinstance(c, dict) and isinstance(c.get("id"), str) and isinstance(c.get("name"), str)
            and isinstance(c.get("arguments"), str) and isinstance(c.get("error"), str | None) for c in calls):
        raise ValueError(f"tool_calls is not a list of calls: {calls!r:.40}")
    if raw["role"] == "tool" and not raw.get("tool_call_id"):
        raise ValueError("a tool message names no tool_call_id")
    return Message(
        raw["role"], raw["content"], model=raw.get("model"),
        usage=None if usage is None else Usage(int(usage["prompt_tokens"]), int(usage["completion_tokens"]),
                                               int(usage.get("cached_tokens", 0)), bool(usage.get("estimated")),
                                               reasoning_tokens=int(usage.get("reasoning_tokens", 0))),
        cost=None if raw.get("cost_usd") is None else Decimal(raw["cost_usd"]),
        finish_reason=raw.get("finish_reason"), stopped=bool(raw.get("stopped")), error=raw.get("error"),
        reasoning=reasoning, tool_calls=calls_of(json.dumps(calls)), tool_call_id=raw.get("tool_call_id"),
        tool_name=raw.get("tool_name"), tool_error=bool(raw.get("tool_error")),
    )
