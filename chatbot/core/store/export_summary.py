"""The summary of a conversation's oldest turns in an export, and read back from one.

Markdown shows it where it stands, after the last message it covers, as a section of its own. JSON holds it as
one field, "summary", naming the message it covers by that message's number in the export (its "n" in an
export of every branch, its place in "messages", from 1, in one of the active path).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from chatbot.core.conversation import Conversation, Message, Summary
from chatbot.core.events import Usage
from chatbot.core.text import plural


def heading(summary: Summary) -> str:
    return f"## Summary of {plural(summary.turns, 'earlier turn')}"


def exported(conversation: Conversation, messages: list[Message]) -> Summary | None:
    """The summary an export of `messages` holds: the conversation's, if the message it covers is among them."""
    summary = conversation.summary
    if summary is None or all(m.id != summary.covers for m in messages):
        return None
    return summary


def summary_markdown(summary: Summary) -> list[str]:
    """The section after the last message the summary covers, with its text as requests carry it."""
    by = f" (by {summary.model})" if summary.model else ""
    return [f"{heading(summary)}{by}", "", "*Sent in place of the turns above.*", "", summary.text, ""]


def field_of(summary: Summary, numbers: dict[int, int]) -> dict[str, Any]:
    """The "summary" field; `numbers` gives each exported message's number by its Message.id."""
    usage = summary.usage
    return {
        "text": summary.text, "covers": numbers[summary.covers], "turns": summary.turns, "model": summary.model,
        "usage": None if usage is None else {
            "prompt_tokens": usage.prompt_tokens, "completion_tokens": usage.completion_tokens,
            "cached_tokens": usage.cached_tokens, "estimated": usage.estimated,
            "reasoning_tokens": usage.reasoning_tokens},
        "cost_usd": None if summary.cost is None else str(summary.cost),
    }


def read_field(raw: object, numbers: set[int]) -> tuple[Summary, int]:
    """The summary the "summary" field holds, and the number of the message it covers (one of `numbers`).
    Summary.covers is left 0: the importer names the row. Raises ValueError for what field_of would not
    have written."""
    if not isinstance(raw, dict):
        raise ValueError(f"not an object: {raw!r:.40}")
    text, covers, turns, model = raw.get("text"), raw.get("covers"), raw.get("turns"), raw.get("model")
    if not isinstance(text, str) or not text:
        raise ValueError(f"text is not text: {text!r:.40}")
    if not isinstance(covers, int) or covers not in numbers:
        raise ValueError(f"covers names no message of the export: {covers!r:.40}")
    if not isinstance(turns, int) or isinstance(turns, bool) or turns < 1:
        raise ValueError(f"turns is not a count of turns: {turns!r:.40}")
    if not isinstance(model, str | None):
        raise ValueError(f"model is not text: {model!r:.40}")
    usage = raw.get("usage")
    cost = raw.get("cost_usd")
    return Summary(text, 0, turns, model,
                   None if usage is None else Usage(
                       int(usage["prompt_tokens"]), int(usage["completion_tokens"]),
                       int(usage.get("cached_tokens", 0)), bool(usage.get("estimated")),
                       reasoning_tokens=int(usage.get("reasoning_tokens", 0))),
                   None if cost is None else Decimal(cost)), covers
