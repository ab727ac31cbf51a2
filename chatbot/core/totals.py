"""The running figures of a session: what its requests used, each counted once (`Totals`), and the reply being
streamed, for the live counters (`InFlight`)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from chatbot.core.budget import Window
from chatbot.core.conversation import Message
from chatbot.core.errors import SpendLimitError
from chatbot.core.events import ReasoningDelta, TextDelta, ToolCall, ToolCalls, Usage, UsageReport
from chatbot.core.models import ModelSpec
from chatbot.core.pricing import Spent, format_cost
from chatbot.core.tokens import TokenCounter


@dataclass
class Totals:
    """What the session's requests used, each counted once, as the ledger counts them. `cost` is the known
    part; `cost_complete` is False once any request used tokens at an unknown price."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    cost: Decimal = Decimal(0)
    cost_complete: bool = True
    requests: int = 0

    def add(self, usage: Usage, cost: Decimal | None) -> None:
        self.requests += 1
        self.prompt_tokens += usage.prompt_tokens
        self.completion_tokens += usage.completion_tokens
        self.cached_tokens += usage.cached_tokens
        if cost is None:
            self.cost_complete = False
        else:
            self.cost += cost

    @property
    def known_cost(self) -> Decimal | None:
        return self.cost if self.cost_complete else None

    @property
    def spent(self) -> Spent:
        return Spent(self.cost, not self.cost_complete)

    def check_limit(self, limit: Decimal | None, worst: Decimal | None) -> None:
        """Refuse a request that could take the session past `limit` (None: no limit) if it cost `worst` (None:
        its price is unknown), before it goes out."""
        if limit is None or worst is None or self.cost + worst <= limit:
            return
        raise SpendLimitError(
            f"this request could cost up to {format_cost(worst)}, taking the session past its "
            f"{format_cost(limit)} limit (spent {format_cost(self.cost)})",
            "raise max_session_cost, lower max_tokens, or start a new session",
            # One run of chat -p is one session: a new one starts at $0, and is refused the same way.
            one_shot_hint="raise max_session_cost, or lower --max-tokens",
        )


@dataclass
class InFlight:
    """The reply being streamed (or the summary asked for before it), for live counters. Completion tokens are
    counted per delta as they arrive."""

    window: Window
    clock: Callable[[], float] = time.monotonic
    started: float = 0.0
    first_token_at: float | None = None
    parts: list[str] = field(default_factory=list)
    reasoning_parts: list[str] = field(default_factory=list)  # the model's reasoning, kept beside the reply
    completion_tokens: int = 0  # reasoning included: the server bills it as output
    reasoning_tokens: int = 0
    usage: Usage | None = None
    retry_until: float | None = None
    retry_note: str = ""
    request_id: str | None = None
    spec: ModelSpec | None = None  # the model the request went to, whose prices it is billed at
    parent: Message | None = None  # the message the reply answers: the active leaf when the request went out
    tool_calls: tuple[ToolCall, ...] = ()  # the calls the reply asked for, complete once it ended
    summarizing: int = 0  # not a reply: the request that summarises this many turns (chatbot.core.summary)

    def __post_init__(self) -> None:
        self.started = self.clock()

    @property
    def text(self) -> str:
        return "".join(self.parts)

    @property
    def reasoning(self) -> str:
        return "".join(self.reasoning_parts)

    def record(self, event: TextDelta | ReasoningDelta | ToolCalls | UsageReport, counter: TokenCounter) -> bool:
        """Take in what the stream delivered; True when it is more of the reply's text or reasoning."""
        if isinstance(event, ToolCalls):
            self.tool_calls = event.calls
            return False
        if isinstance(event, UsageReport):
            self.usage, self.request_id = event.usage, event.request_id
            return False
        tokens = counter.count_text(event.text)
        if isinstance(event, TextDelta):
            self.parts.append(event.text)
        else:
            self.reasoning_parts.append(event.text)
            self.reasoning_tokens += tokens
        self.completion_tokens += tokens
        return True

    def estimated_usage(self, counter: TokenCounter) -> Usage:
        """The usage of a reply the server reported none for. The whole reply is counted once here: the running
        count adds up deltas, which splits the tokens that straddle two of them. Reasoning and calls are output
        the server bills, so they are counted with the text: a reply that only reasoned (cut at max_tokens) or
        only called tools is never billed $0."""
        reasoning = counter.count_text(self.reasoning) if self.reasoning_parts else 0
        calls = sum(counter.count_text(c.name) + counter.count_text(c.raw_arguments) for c in self.tool_calls)
        completion = counter.count_text(self.text) + reasoning + calls
        return Usage(self.window.prompt_tokens, completion, 0, estimated=True, reasoning_tokens=reasoning)

    def tokens_per_second(self) -> float | None:
        if self.first_token_at is None or self.completion_tokens < 2:
            return None
        elapsed = self.clock() - self.first_token_at
        return self.completion_tokens / elapsed if elapsed > 0 else None

    def live_usage(self) -> Usage:
        return self.usage or Usage(self.window.prompt_tokens, self.completion_tokens, 0, estimated=True,
                                   reasoning_tokens=self.reasoning_tokens)
