"""Summaries instead of drops: the oldest turns that fell out of the window, summarised by the model.

With budget.strategy "summarize", when the sliding window (chatbot.core.budget) leaves turns out, one extra
request asks the model (budget.summary_model, else the current one) to summarise them, and later requests carry
the summary, as a system message right after the system prompt, in their place. The summary is kept beside the
conversation's tree (Conversation.summary), never in it: the turns stay on screen, in the history and on the
path. It is made again, over the old summary and the turns that fell out since, only once `summary_every` more
turns have fallen out. A summary request is a request like a reply: the spend guard is asked first, and it is
counted once in the totals and the ledger. If it fails, the turns are left out as with "drop", and the turn's
outcome says so.
"""

from __future__ import annotations

from contextlib import aclosing
from dataclasses import replace
from functools import lru_cache
from typing import TYPE_CHECKING

from chatbot.core import journal
from chatbot.core.budget import Window, build_window
from chatbot.core.conversation import Conversation, Message, Summary
from chatbot.core.errors import ChatError
from chatbot.core.events import Retrying, TextDelta, Usage, UsageReport
from chatbot.core.pricing import billed, worst_case
from chatbot.core.request import ERROR, OK, RETRIED, STOPPED, Request, error_class
from chatbot.core.request_body import reply_reserve
from chatbot.core.totals import InFlight

if TYPE_CHECKING:
    from chatbot.core.session import Session
    from chatbot.core.turn import Ending

HEADING = "Summary of the earlier conversation:\n\n"
SUMMARY_ID = -1  # the summary's message is in no tree: no message of one has a negative id


@lru_cache(maxsize=8)
def summary_message(text: str) -> Message:
    """The summary as requests carry it; one message per text, so its token count is cached with it."""
    return Message("system", HEADING + text, id=SUMMARY_ID)


def covered(conversation: Conversation) -> list[Message]:
    """The messages of the active path the summary stands for; none if there is no summary or the path no longer
    goes through the last message it covers (another branch, or that message was deleted)."""
    summary = conversation.summary
    if summary is None:
        return []
    path = conversation.messages
    return next((path[:i + 1] for i, m in enumerate(path) if m.id == summary.covers), [])


def in_effect(session: Session) -> Summary | None:
    """The summary the next request carries in place of the oldest turns, if there is one."""
    if session.settings.budget.strategy != "summarize" or not covered(session.conversation):
        return None
    return session.conversation.summary


def summarized_window(session: Session, tools: int) -> Window:
    """The window of the next request: build_window's, over the summary in place of the turns it covers."""
    conversation, counter, budget = session.conversation, session.counter, session.budget()
    summary = in_effect(session)
    if summary is None:
        return build_window(conversation.all_messages(), counter, budget, tools)
    done = covered(conversation)
    system = conversation.system_message()
    messages = [*([system] if system else []), summary_message(summary.text), *conversation.messages[len(done):]]
    window = build_window(messages, counter, budget, tools)
    turns = summary.turns
    return Window(window.kept, done + window.dropped, window.prompt_tokens, budget,
                  window.dropped_turns + turns, summarized_turns=turns, summarized=len(done))


def due(session: Session, window: Window) -> bool:
    """Whether the turns that fell out of `window` are to be summarised now: the first that fall out at once,
    later ones once `summary_every` more have fallen out since the summary."""
    config = session.settings.budget
    fresh = window.dropped_turns - window.summarized_turns
    if config.strategy != "summarize" or fresh == 0:
        return False
    return window.summarized_turns == 0 or fresh >= config.summary_every


async def refresh(session: Session, ending: Ending) -> None:
    """Before a turn's request: summarise the turns that fell out of its window, if that is due. A failed summary
    leaves them out, as "drop" does, with a note in `ending`; a stopped one stops the turn."""
    if session.settings.budget.strategy != "summarize":
        return
    await session.server_windows.learn(session.settings, session.model, session.spec)  # what fits: as reply() does
    try:
        window = session.window()
    except ChatError:
        return  # the newest turn cannot fit: the request says so itself
    if not due(session, window):
        return
    conversation = session.conversation
    old = conversation.summary if window.summarized_turns else None
    fresh = window.dropped[len(covered(conversation)) if old else 0:]
    try:
        made = await _request(session, old, fresh, window.dropped_turns)
    except ChatError as exc:
        ending.summary_note = f"could not summarise the earlier turns: {exc.message}; they were left out"
        return
    conversation.summary = Summary(made.text, window.dropped[-1].id, window.dropped_turns, made.model,
                                   made.usage, made.cost)
    session._tell(journal.SummaryMade(conversation.summary))


def edit(session: Session, text: str) -> Summary:
    """The user's words in place of the summary in effect: it stands for the same turns, and the next request
    carries the new text (as does the next summary made over it). Kept in the history as a made one is."""
    summary = in_effect(session)
    if summary is None or not text.strip():
        raise ValueError("no summary in effect, or no text for it")
    edited = session.conversation.summary = replace(summary, text=text.strip())
    session._tell(journal.SummaryMade(edited))
    return edited


def transcript(old: Summary | None, messages: list[Message]) -> str:
    """The turns to summarise as one text: a tool call and its result go as what they are, never as API
    messages, so no pair can be split and no model is refused a call without its answer."""
    lines = [f"(summary of what came before)\n{old.text}"] if old else []
    for m in messages:
        if m.role == "tool":
            lines.append(f"tool result ({m.tool_name}): {m.content}")
            continue
        calls = "".join(f"\n[called {c.name}({c.raw_arguments})]" for c in m.tool_calls)
        lines.append(f"{m.role}: {m.content}{calls}")
    return "\n\n".join(lines)


async def _request(session: Session, old: Summary | None, messages: list[Message], turns: int) -> Summary:
    """Ask for the summary of `turns` turns; the request is counted once however it ends (a retried attempt on its
    own). It is the session's request in flight meanwhile, so the reply it comes before says it is summarising,
    and counts its seconds or its retry as a reply's."""
    config = session.settings.budget
    spec = session.settings.model_spec(config.summary_model or session.model)
    # Plain text, with no effort the summary model might refuse: the preset's JSON mode is for replies.
    preset = replace(session.settings.active_preset(session.preset_name), response_format="text",
                     reasoning_effort=None)
    counter = session._counter(spec)
    request = [Message("system", config.summary_prompt), Message("user", transcript(old, messages))]
    prompt_tokens = counter.count_prompt(request)
    session.totals.check_limit(session.settings.max_session_cost,
                               worst_case(spec, prompt_tokens, reply_reserve(spec, preset)))
    session.client.check_ready()
    clock = session.clock
    started = clock()
    parts: list[str] = []
    usage: Usage | None = None
    request_id: str | None = None
    status, error = STOPPED, None
    session._tell(journal.RequestStarted(spec.name))
    flight = session.in_flight = InFlight(Window(request, [], prompt_tokens, session.budget()), clock, spec=spec,
                                          summarizing=turns)
    try:
        async with aclosing(session.client.stream(request, spec, preset)) as stream:
            async for event in stream:
                if isinstance(event, TextDelta):
                    parts.append(event.text)
                elif isinstance(event, UsageReport):
                    usage, request_id = event.usage, event.request_id
                elif isinstance(event, Retrying):
                    session._account(Request(spec.name, RETRIED, error=error_class(event.error),
                                             request_id=event.error.request_id,
                                             total_seconds=round(clock() - started, 4)))
                    started = flight.retry_until = clock() + event.delay
                    flight.retry_note = event.error.message
                    session._tell(journal.RequestStarted(spec.name))
        status = OK
    except ChatError as exc:
        status, error = ERROR, exc
        request_id = request_id or exc.request_id
        raise
    finally:
        session.in_flight = None
        text = "".join(parts).strip()
        if usage is None and parts:  # the server sent none: counted, as a reply's would be
            usage = Usage(prompt_tokens, counter.count_text(text), estimated=True)
        usage = usage or Usage()
        cost = billed(usage, spec)
        session._account(Request(spec.name, status, usage, cost, error=error_class(error), request_id=request_id,
                                 total_seconds=round(clock() - started, 4)))
    if not text:
        raise ChatError("the model answered with no text")
    return Summary(text, 0, 0, spec.name, usage, cost)
