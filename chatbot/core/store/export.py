"""Conversations to Markdown (with a front-matter header) and to JSON with every field, and JSON back.

An export holds the active path, the conversation as it was last read and sent. It may hold every branch instead
(`tree=True`): JSON gives every message a number and the number of the one it follows, and names the active
leaf, and an import reads either form; Markdown puts a heading "Alternative 2/3" before each of a message's
alternatives, which is followed by everything under it, the alternatives of the alternatives named "2/3 > 1/2".
Attached files are in JSON once per content, base64 under "blobs" by their sha256, which each attachment names;
a Markdown export links them, written beside it (save). The summary of the oldest turns, if the export holds
the message it ends at, is a section after that message in Markdown and a field in JSON (export_summary.py)."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

from chatbot.core.attachments import Attachment, language_of
from chatbot.core.conversation import Conversation, Message
from chatbot.core.events import Usage
from chatbot.core.image_tokens import DETAILS
from chatbot.core.pricing import format_cost
from chatbot.core.store.blobs import digest
from chatbot.core.store.calls import calls_json, calls_of
from chatbot.core.store.export_summary import exported, field_of, read_field, summary_markdown
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


def to_markdown(stored: Stored, *, tree: bool = False, files: dict[str, str] | None = None) -> str:
    """`files`: where each attached file (by its sha256) was written, relative to the Markdown file; a file not
    there is named but not linked."""
    files = files or {}
    conversation = stored.conversation
    messages = conversation.tree() if tree else conversation.messages
    # Tokens as the cost counts them: every request made for the conversation, from the ledger. One that made no
    # request here (imported, forked, or exported from the screen without history) has its messages' own.
    used = stored.used
    prompt, completion, cached = (_tokens(messages) if used is None or not used.requests
                                  else (used.prompt_tokens, used.completion_tokens, used.cached_tokens))
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
    summary = exported(conversation, messages)
    labels: dict[int, str] = {}  # Message.id -> the alternatives it is in, outermost first ("2/3 > 1/2")
    for m in messages:
        parent = conversation.parent_of(m)
        label = labels.get(parent.id, "") if parent is not None else ""
        if tree and len(conversation.alternatives(m)) > 1:
            label = " > ".join(filter(None, [label, "{}/{}".format(*conversation.position(m))]))
            lines += [f"## Alternative {label}{' (active)' if m.id in active else ''}", ""]
        labels[m.id] = label
        lines += _tool_result_markdown(m) if m.role == "tool" else _markdown_message(m, files)
        if summary is not None and m.id == summary.covers:
            lines += summary_markdown(summary)  # where requests carry it: in place of the turns above
    return "\n".join(lines)


def _markdown_message(m: Message, files: dict[str, str]) -> list[str]:
    title = "You" if m.role == "user" else f"Assistant ({m.model})" if m.model else m.role.title()
    state = " (stopped)" if m.stopped else f" (broke off: {m.error})" if m.error else ""
    lines = [f"## {title}{state}", ""]
    if m.reasoning:
        # Folded, as the app shows it: a renderer that knows HTML shows one "Thinking" line to open.
        lines += ["<details><summary>Thinking</summary>", "", m.reasoning, "", "</details>", ""]
    if m.content or not m.tool_calls:
        lines += [m.content, ""]
    for call in m.tool_calls:
        lines += [f"**Tool call** `{call.name}` ({call.id})", "", *_fenced(call.raw_arguments, "json")]
    if m.attachments:
        lines += [*(_attachment_line(a, files.get(digest(a.data))) for a in m.attachments), ""]
    return lines


def _tool_result_markdown(m: Message) -> list[str]:
    """A tool's result: the tool's text, fenced, so nothing in it reads as Markdown of the export's own."""
    state = " (error)" if m.tool_error else ""
    return [f"### Tool result `{m.tool_name or ''}` ({m.tool_call_id or ''}){state}", "", *_fenced(m.content, "")]


def _fenced(text: str, language: str) -> list[str]:
    """`text` in a code fence longer than any run of backticks it holds."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return [fence + language, text, fence, ""]


def _attachment_line(a: Attachment, where: str | None) -> str:
    size = f", {a.width}x{a.height}" if a.is_image else ""
    label = f"{a.name} ({a.mime}{size})".replace("[", "(").replace("]", ")")
    if where is None:
        return f"- attached: {label}"
    link = where.replace(" ", "%20").replace("(", "%28").replace(")", "%29")
    return f"- attached: {'!' if a.is_image else ''}[{label}]({link})"


def attached(stored: Stored, *, tree: bool = False) -> list[Attachment]:
    """The attached files of the messages an export holds (the active path, or every branch), each content once."""
    seen: dict[str, Attachment] = {}
    for m in stored.conversation.tree() if tree else stored.conversation.messages:
        for a in m.attachments:
            seen.setdefault(digest(a.data), a)
    return list(seen.values())


def save(stored: Stored, fmt: str, path: Path, *, tree: bool = False) -> list[Path]:
    """Write the export of `stored` to `path`; for Markdown, its attached files too, in a folder beside it
    (`chat-12.md`: `chat-12_files/`). A file there is never overwritten: another name is found. Returns the
    attached files written."""
    if fmt != "md":
        path.write_text(render(stored, fmt, tree=tree) + "\n", encoding="utf-8")
        return []
    folder = path.with_name(f"{path.stem}_files")
    written: dict[str, str] = {}
    paths: list[Path] = []
    for a in attached(stored, tree=tree):
        target = _free_name(folder, _file_name(a), a.data)
        if not target.exists():
            folder.mkdir(exist_ok=True)
            target.write_bytes(a.data)
        written[digest(a.data)] = f"{folder.name}/{target.name}"
        paths.append(target)
    path.write_text(to_markdown(stored, tree=tree, files=written) + "\n", encoding="utf-8")
    return paths


_EXTENSIONS = {"image/png": ".png", "image/jpeg": ".jpg", "image/gif": ".gif", "image/webp": ".webp"}


def _file_name(a: Attachment) -> str:
    """The attachment's own name, without any folder it was attached from, with an extension for its type."""
    name = "".join(ch if ch.isprintable() and ch not in '/\\:*?"<>|' else "_" for ch in Path(a.name).name)
    name = name.lstrip(".") or "attachment"
    extension = _EXTENSIONS.get(a.mime, ".txt")
    if a.is_image and Path(name).suffix.lower() not in (extension, ".jpeg" if extension == ".jpg" else extension):
        name += extension  # `stdin`, or a GIF sent as PNG
    elif not a.is_image and not Path(name).suffix:
        name += extension
    return name


def _free_name(folder: Path, name: str, data: bytes) -> Path:
    """`name` in `folder`, or `name-2`, `name-3`, ...: the first that is free or already holds `data`."""
    stem, suffix = Path(name).stem, Path(name).suffix
    n = 1
    while True:
        target = folder / (name if n == 1 else f"{stem}-{n}{suffix}")
        if not target.exists() or (target.is_file() and target.read_bytes() == data):
            return target
        n += 1


def to_json(stored: Stored, *, tree: bool = False) -> dict[str, Any]:
    conversation = stored.conversation
    data: dict[str, Any] = {
        "format": FORMAT, "version": TREE_VERSION if tree else FORMAT_VERSION, "id": stored.id,
        "title": stored.title, "model": stored.model, "preset": stored.preset,
        "system_prompt": conversation.system_prompt, "created": _iso(stored.created), "updated": _iso(stored.updated),
    }
    if (used := stored.used) is not None:  # what its requests used and cost, as `chat history` counts it
        data["used"] = {"requests": used.requests, "prompt_tokens": used.prompt_tokens,
                        "cached_tokens": used.cached_tokens, "completion_tokens": used.completion_tokens,
                        "reasoning_tokens": used.reasoning_tokens,
                        "cost_usd": None if used.cost.unpriced else str(used.cost.known),
                        "known_cost_usd": str(used.cost.known)}
    if not tree:
        data["messages"] = [_message_json(m) for m in conversation.messages]
        return _with_summary(_with_blobs(data, conversation.messages), conversation, conversation.messages)
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
    return _with_summary(_with_blobs(data, every), conversation, every)


def _with_summary(data: dict[str, Any], conversation: Conversation, messages: list[Message]) -> dict[str, Any]:
    """The summary of the oldest turns, naming the message it ends at by its number (left out if there is none)."""
    if (summary := exported(conversation, messages)) is not None:
        data["summary"] = field_of(summary, {m.id: n for n, m in enumerate(messages, 1)})
    return data


def _with_blobs(data: dict[str, Any], messages: list[Message]) -> dict[str, Any]:
    """Each attached content once, base64, by its sha256 (left out while nothing is attached)."""
    found = {digest(a.data): base64.b64encode(a.data).decode("ascii") for m in messages for a in m.attachments}
    if found:
        data["blobs"] = found
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
        **({"attachments": [{
            "name": a.name, "kind": a.kind, "mime": a.mime, "width": a.width, "height": a.height,
            "detail": a.detail, "language": a.language, "tokens": a.tokens, "blob": digest(a.data),
        } for a in m.attachments]} if m.attachments else {}),
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
    files = _blobs(data.get("blobs", {}))
    try:
        with store.transaction():
            conversation_id = store.create(str(data["model"]), str(data["preset"]),
                                           str(data.get("system_prompt", "")), title=str(data.get("title", "")))
            rows: dict[int, int] = {}  # a message's number in the export -> its row
            for number, raw in enumerate(data["messages"], 1):
                where = f"malformed export, message {number}"
                message = _message(raw, files)  # may still fail in add: a lone surrogate, a huge number
                if not tree:
                    rows[number] = store.add(conversation_id, message)
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
            if data.get("summary") is not None:  # exports written before summaries have none
                where = "malformed export, summary"
                summary, covers = read_field(data["summary"], set(rows))
                store.set_summary(conversation_id, summary, rows[covers])
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from None
    except (KeyError, TypeError, AttributeError, ArithmeticError) as exc:
        raise ValueError(f"{where}: {exc!r}") from None
    return conversation_id


def _blobs(raw: object) -> dict[str, bytes]:
    if not isinstance(raw, dict):
        raise ValueError(f"malformed export, blobs: not an object: {raw!r:.40}")
    found = {}
    for key, value in raw.items():
        try:
            data = base64.b64decode(value, validate=True) if isinstance(value, str) else None
        except (binascii.Error, ValueError):
            data = None
        if data is None:
            raise ValueError(f"malformed export, blob {key!r:.20}: not base64")
        if digest(data) != key:
            raise ValueError(f"malformed export, blob {key!r:.20}: its content has another sha256")
        found[key] = data
    return found


def _attachments(raw: object, files: dict[str, bytes]) -> tuple[Attachment, ...]:
    # Exports written before files were kept have none.
    if not isinstance(raw, list):
        raise ValueError(f"attachments is not a list: {raw!r:.40}")
    found = []
    for item in raw:
        if not isinstance(item, dict):
            raise ValueError(f"attachment is not an object: {item!r:.40}")
        if item.get("blob") not in files:
            raise ValueError(f"attachment {item.get('name')!r:.40} names no blob of the export")
        kind, detail = item.get("kind"), item.get("detail", "auto")
        if kind not in ("image", "text") or detail not in DETAILS:
            raise ValueError(f"attachment {item.get('name')!r:.40}: unknown kind or detail")
        name, mime = item.get("name"), item.get("mime", "text/plain")
        if not isinstance(name, str) or not isinstance(mime, str):
            raise ValueError(f"attachment name or mime is not text: {name!r:.40}")
        tokens = item.get("tokens")
        data = files[item["blob"]]
        if kind == "text":
            data.decode("utf-8")  # a UnicodeDecodeError is a ValueError: named as the message at fault
        found.append(Attachment(name, kind, data, mime, int(item.get("width", 0)), int(item.get("height", 0)),
                                detail, str(item.get("language", language_of(name))),
                                tokens=None if tokens is None else int(tokens)))
    return tuple(found)


def _message(raw: object, files: dict[str, bytes] | None = None) -> Message:
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
        attachments=_attachments(raw.get("attachments", []), files or {}),
    )
