"""Typed events that a streaming reply yields, so callers never see SDK objects."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from decimal import Decimal

    from chatbot.core.conversation import Message
    from chatbot.core.errors import ChatError


@dataclass(frozen=True, slots=True)
class Usage:
    """Tokens of one request. `estimated` is True when we counted them ourselves.

    `reasoning_tokens` are the part of `completion_tokens` the model spent reasoning (OpenAI's
    usage.completion_tokens_details.reasoning_tokens): already inside completion_tokens and billed with them as
    output, so they are never added to them again. Keyword-only: stored rows build Usage positionally."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    estimated: bool = False
    reasoning_tokens: int = field(default=0, kw_only=True)


@dataclass(frozen=True, slots=True)
class TextDelta:
    """A piece of the assistant's reply."""

    text: str


@dataclass(frozen=True, slots=True)
class ReasoningDelta:
    """A piece of the model's reasoning, as OpenAI-compatible servers stream it beside the reply (llama.cpp,
    vLLM, DeepSeek). Never part of the reply's text."""

    text: str


@dataclass(frozen=True, slots=True)
class UsageReport:
    """The request's usage as the server reported it (None if it sent none), and the request's id."""

    usage: Usage | None
    request_id: str | None = None


@dataclass(frozen=True, slots=True)
class Retrying:
    """The request failed before its first token and will be tried again after `delay` seconds."""

    attempt: int
    delay: float
    error: ChatError


@dataclass(frozen=True, slots=True)
class Finished:
    """The reply is complete. `reason` is the API's finish_reason (None if the server sent none)."""

    reason: str | None

    @property
    def note(self) -> str | None:
        """What the user should know about how the reply ended, if anything."""
        if self.reason == "length":
            return "cut off at max_tokens: raise max_tokens or ask the model to continue"
        if self.reason == "content_filter":
            return "stopped by the provider's content filter"
        return None


@dataclass(frozen=True, slots=True)
class ToolCall:
    """One function call the model asked for, complete: its fragments joined and its arguments parsed.

    `raw_arguments` is the JSON text the model wrote; `arguments` the object it parses to. A call whose text is
    not a JSON object has `error` saying why and empty `arguments`: it is answered with that error as its result,
    never run, so the model can write it again."""

    id: str
    name: str
    arguments: Mapping[str, Any] = field(default_factory=dict)
    raw_arguments: str = ""
    error: str | None = None

    def to_api(self) -> dict[str, Any]:
        """The call as the assistant message's `tool_calls` carries it back to the model. A call whose arguments
        did not parse goes back as "{}": servers that apply a chat template (llama.cpp, vLLM) parse every call
        of the history and refuse a request holding one they cannot."""
        arguments = "{}" if self.error is not None else self.raw_arguments or "{}"
        return {"id": self.id, "type": "function", "function": {"name": self.name, "arguments": arguments}}


def parse_arguments(raw: str) -> tuple[dict[str, Any], str | None]:
    """The arguments object of a call, or {} and why the text is not one. No arguments at all are {}: servers
    send "" for a function without parameters."""
    if not raw.strip():
        return {}, None
    try:
        value = json.loads(raw)
    except ValueError as exc:
        return {}, f"the arguments are not valid JSON ({exc}); write the call again with a JSON object"
    if not isinstance(value, dict):
        return {}, f"the arguments must be a JSON object, not {type(value).__name__}; write the call again"
    return value, None


@dataclass(frozen=True, slots=True)
class ToolCalls:
    """The reply asked for these calls, in the order it began them; yielded once, before `Finished`."""

    calls: tuple[ToolCall, ...]


@dataclass(frozen=True, slots=True)
class ToolCallStarted:
    """A call the turn is running now (after the user's yes, if it needed one), on `server`."""

    call: ToolCall
    server: str


@dataclass(frozen=True, slots=True)
class ToolCallFinished:
    """A call is answered: `result` is the text the model gets, `error` says the call failed, was declined or
    could not run; `seconds` is how long it ran (0 when it never ran)."""

    call: ToolCall
    result: str
    error: bool
    seconds: float


@dataclass(frozen=True, slots=True)
class ToolProblem:
    """Something about tools the user should know, the turn going on: a server that did not start (its tools are
    not offered; the error holds the end of its stderr), or an "always" that could not be written to the config."""

    error: ChatError


Event = TextDelta | ReasoningDelta | UsageReport | Retrying | Finished
ToolEvent = Event | ToolCalls
"""What a reply yields when the request carried tools."""
TurnEvent = ToolEvent | ToolCallStarted | ToolCallFinished | ToolProblem
"""What a turn yields: its replies' events, and between two replies the calls the first asked for, answered."""


@dataclass(frozen=True, slots=True)
class TurnSettled:
    """How a turn ended: the one value the screen, the one-shot command and the tests read afterwards.

    `ended` is "finished", "stopped" (the user stopped it; what arrived is kept), "broken off" (it failed after
    text arrived, which is kept and marked) or "failed" (no reply). `reply` is the reply the turn added to the
    conversation, `replaced` the reply a regenerate put it beside (kept, as an alternative), and `text_returned`
    says the user's message was taken back out because nothing came, so the caller can hand it back to the user."""

    ended: str
    reply: Message | None = None
    replaced: Message | None = None
    error: ChatError | None = None
    finish_reason: str | None = None
    text_returned: bool = False
    tool_note: str | None = None  # why a turn with tools ended before the model answered in text
    summary_note: str | None = None  # the turns that fell out of the window could not be summarised, and why

    @property
    def note(self) -> str | None:
        """What the user should know about how a finished reply ended (cut at max_tokens, filtered, a chain of
        tool calls cut at max_tool_rounds), and about the earlier turns it was sent without."""
        if self.ended != "finished":
            return None
        notes = [n for n in (self.summary_note, self._ending_note()) if n]
        return "; ".join(notes) if notes else None

    def _ending_note(self) -> str | None:
        if self.tool_note is not None:
            return self.tool_note
        reply = self.reply
        if self.finish_reason == "length" and reply is not None and not reply.content and reply.reasoning:
            return "max_tokens was spent on reasoning: raise max_tokens or lower reasoning_effort"
        return Finished(self.finish_reason).note

    @property
    def usage(self) -> Usage | None:
        return self.reply.usage if self.reply else None

    @property
    def cost(self) -> Decimal | None:
        return self.reply.cost if self.reply else None
