"""What the status bar shows, as one value computed from the session: the bar only formats it.

The token counts, the context and the costs describe the request in flight if there is one, else the last one;
the dropped turns (a summary may stand in for the oldest) are those the sliding window leaves out of the next
request (what ctrl+o lists and the transcript dims), so all three agree.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from decimal import Decimal

from chatbot.core.budget import Window
from chatbot.core.events import Usage
from chatbot.core.models import ModelSpec
from chatbot.core.pricing import Spent, cost_of, worst_case
from chatbot.core.request_body import reply_reserve
from chatbot.core.session import Session


@dataclass(frozen=True, slots=True)
class Retry:
    """A request that failed before its first token and is tried again. `seconds_left` counts down to the next
    attempt; None once that attempt has gone out and is waiting for its first token."""

    seconds_left: int | None
    reason: str


@dataclass(frozen=True, slots=True)
class Status:
    model: str
    preset: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    reasoning_tokens: int = 0  # the part of completion_tokens the model spent reasoning
    estimated: bool = False  # the token counts are ours, not the server's
    ctx_used: int = 0
    ctx_limit: int = 0
    budget_limited: bool = False  # ctx_limit is the configured budget, which is below the model's window
    window_assumed: bool = False  # nothing says the model's window (not the catalogue, the config, the server)
    # An OpenAI model the catalogue lacks and the config does not describe: its window is a guess (ctx_limit is
    # default_context_window) and its price unknown; OpenAI reports neither, so only [models.NAME] can say.
    window_unknown: bool = False
    dropped_turns: int = 0  # left out of the next request, those a summary stands in for included
    summarized_turns: int = 0  # of the dropped turns, those the summary stands in for (budget.strategy "summarize")
    effort: str | None = None  # the reasoning effort the next request sends; None: the model takes none, or none set
    # False while nothing of the request the counts describe has been billed (no request yet, or one still
    # waiting for its first token): the previous reply's cost beside the new request's tokens would mix two.
    replied: bool = False
    last_cost: Decimal | None = None  # None: the price is unknown
    session_cost: Spent = Spent()
    tokens_per_second: float | None = None
    in_flight: bool = False
    waiting_seconds: int | None = None  # a request in flight, no token yet: how long since it (or its retry) went out
    retry: Retry | None = None
    # The most the next request can cost (its prompt and all of max_tokens), when cost_hint_above is set and this
    # is above it; None otherwise, and while a request is in flight.
    next_worst_case: Decimal | None = None
    attached_tokens: int = 0  # of the files waiting to go with the next message (in ctx_used too)
    tools_on: int | None = None  # the tools offered to the model now; None: no MCP server is configured
    tools_listed: bool = False  # the servers have started (or failed to): tools_on is known
    summarizing: int = 0  # the request in flight summarises this many turns (it is no reply)
    reasoning_model: bool = False  # the model reasons before it answers (the catalogue says so)


def status_of(session: Session, attached: int = 0) -> Status:
    """The figures of the session as they are now (the clock is the session's). `attached`: the tokens of the
    files waiting to go with the next message, which the next request will use; no part of one in flight."""
    spec = session.spec
    flight = session.in_flight
    usage = flight.live_usage() if flight else session.last_usage
    window = flight.window if flight else session.last_window
    budget = session.settings.budget.max_context_tokens
    budget_limited = budget is not None and budget < spec.context_window
    last, total = costs(session)
    tools_on, tools_listed = _tools(session)
    left_out = _left_out(session)
    status = Status(
        model=spec.name,
        preset=session.preset_name,
        prompt_tokens=usage.prompt_tokens if usage else 0,
        completion_tokens=usage.completion_tokens if usage else 0,
        cached_tokens=usage.cached_tokens if usage else 0,
        reasoning_tokens=usage.reasoning_tokens if usage else 0,
        estimated=usage.estimated if usage else False,
        ctx_used=_ctx_used(session, window, usage),
        ctx_limit=budget if budget is not None and budget_limited else spec.context_window,
        budget_limited=budget_limited,
        window_assumed=spec.window_source == "assumed" and not budget_limited,
        window_unknown=undescribed(spec, openai=session.client.is_openai) and not budget_limited,
        dropped_turns=left_out.dropped_turns if left_out else 0,
        summarized_turns=left_out.summarized_turns if left_out else 0,
        effort=_effort(session),
        replied=flight.first_token_at is not None if flight else session.last_usage is not None,
        last_cost=last,
        session_cost=total,
        tokens_per_second=flight.tokens_per_second() if flight else None,
        in_flight=flight is not None,
        summarizing=flight.summarizing if flight else 0,
        reasoning_model=spec.reasoning,
        tools_on=tools_on,
        tools_listed=tools_listed,
    )
    if flight is None:
        if attached:
            status = replace(status, ctx_used=status.ctx_used + attached, attached_tokens=attached)
        return replace(status, next_worst_case=_next_worst_case(session))
    if flight.first_token_at is not None:
        return status
    now = session.clock()
    if flight.retry_until is None:
        return replace(status, waiting_seconds=int(now - flight.started))
    if now < flight.retry_until:
        return replace(status, retry=Retry(math.ceil(flight.retry_until - now), flight.retry_note))
    return replace(status, waiting_seconds=int(now - flight.retry_until), retry=Retry(None, flight.retry_note))


def _ctx_used(session: Session, window: Window | None, usage: Usage | None) -> int:
    """The context the conversation uses: the request's window and the reply written into it. A window measured
    after the reply (another alternative chosen, a conversation resumed) ends with that reply, so the reply is in
    it already: it counts as it did after its request, the window without it and what the server said that reply
    wrote, so resuming or switching shows the figure the reply was left with. (A request's window never ends
    with a reply: it ends with what the model is to answer.)"""
    if window is None:
        return 0
    last = window.kept[-1] if window.kept else None
    if last is not None and last.role == "assistant":
        wrote = last.usage.completion_tokens if last.usage else usage.completion_tokens if usage else None
        return window.prompt_tokens - (session.counter.count_message(last) - wrote if wrote is not None else 0)
    return window.prompt_tokens + (usage.completion_tokens if usage else 0)


def _next_worst_case(session: Session) -> Decimal | None:
    """The next request's worst case before the message being typed (the conversation's window as it stands, and
    all of max_tokens), if the config asks to hear of it and it is above the threshold. A conversation is measured
    only once it has been (as the dropped turns are): never on the way to the first paint."""
    threshold = session.settings.cost_hint_above
    if threshold is None:
        return None
    if not session.conversation.messages:
        prompt = 0  # nothing to count yet: the reply's max_tokens is the worst case
    elif session.last_window is None or (window := session.next_window()) is None:
        return None
    else:
        prompt = window.prompt_tokens
    spec = session.spec
    worst = worst_case(spec, prompt, reply_reserve(spec, session.preset))
    return worst if worst is not None and worst > threshold else None


def undescribed(spec: ModelSpec, *, openai: bool) -> bool:
    """Whether `spec` is an OpenAI model nothing describes: not in the catalogue, no window in the config.
    Unlike a local server, OpenAI says nothing of a model's window, so the assumed one is likely far too small."""
    return openai and not spec.known and spec.window_source == "assumed"


def how_to_describe(name: str) -> str:
    """Where the user says what a model the catalogue lacks holds and costs."""
    return f'set context_window, input_price and output_price under [models."{name}"] in the config'


def _tools(session: Session) -> tuple[int | None, bool]:
    """How many tools are on: those the servers offer, less those the user turned off for this conversation.
    Before the servers have started, the number is not known (they start when first needed)."""
    servers = session.tools
    if not servers:
        return None, False
    return sum(1 for spec in servers.offered if spec.name not in session.tools_off), servers.listed


def _left_out(session: Session) -> Window | None:
    """The window whose left-out turns the bar counts, as ctrl+o counts them: the next request's. In flight, the
    next request's window is the one in flight (the user's message is in the conversation already), unless that
    is the summary's, which comes before it."""
    if session.in_flight is not None and not session.in_flight.summarizing:
        return session.in_flight.window
    if session.last_window is None:
        return None  # nothing measured yet: counting now could load the tokenizer on the way to the first paint
    return session.next_window()


def _effort(session: Session) -> str | None:
    """The reasoning effort the next request sends (the effort menu's choice, else the preset's), if the model
    takes that one: a model that samples is sent none, and a value it does not take is refused before sending."""
    spec, effort = session.spec, session.preset.reasoning_effort
    return effort if spec.reasoning and effort in spec.reasoning_efforts else None


def costs(session: Session) -> tuple[Decimal | None, Spent]:
    """The last reply's cost (None if its price is unknown) and the session's, a reply still streaming
    included at its running count. A request still waiting or retrying has cost nothing yet."""
    flight = session.in_flight
    if flight is None or (flight.first_token_at is None and flight.usage is None):
        return session.last_cost, session.totals.spent
    live = None if flight.spec is None else cost_of(flight.live_usage(), flight.spec)
    return live, session.totals.spent + Spent.of(live)
