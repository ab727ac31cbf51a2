"""A turn with tools: the reply, the calls it asks for answered, and the model asked again until it answers in text.

Every round is a request of its own, counted once in the totals and the ledger (Session.reply); the spend guard
is asked before each, so it holds for the whole turn, and so do the chain limit (`max_tool_rounds`) and stopping.
However the turn ends, every call of an assistant message is answered by a tool message, in the order of the
calls: the API refuses a history holding a call without its answer.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import TYPE_CHECKING

from chatbot.core import journal
from chatbot.core.conversation import Message
from chatbot.core.errors import ChatError
from chatbot.core.events import ToolCall, ToolCallFinished, ToolCallStarted, ToolProblem, TurnEvent
from chatbot.core.request_body import accepts_tools
from chatbot.core.tools.approval import Approval, ApprovalRequest
from chatbot.core.turn import Ending

if TYPE_CHECKING:
    from chatbot.core.session import Session
    from chatbot.core.tools.servers import ToolServers

DECLINED = "error: the user declined to run this tool call"
NOT_RUN = "error: not run"  # how every answer to a call that never ran begins
STOPPED = f"{NOT_RUN}: the user stopped the turn"
INTERRUPTED = "error: the user stopped the turn before this call finished"
TURNED_OFF = "error: the user turned this tool off"


def over_limit(rounds: int) -> str:
    return f"{NOT_RUN}: this turn already ran {rounds} rounds of tool calls, its limit"


async def answer_with_tools(session: Session, ending: Ending) -> AsyncGenerator[TurnEvent, None]:
    """Reply, run the calls the reply asks for, and reply again, until a reply calls no tools (or the turn stops,
    fails, or reaches max_tool_rounds). `ending` describes the turn: its last reply, how it ended."""
    tools = session.tools
    assert tools is not None
    limit = session.settings.max_tool_rounds
    rounds = 0
    while True:
        ending.stopped = True  # until this round ends by itself: a turn cancelled here was stopped
        box = await tools.tools()  # starts the servers the first time
        for problem in box.problems:
            yield ToolProblem(problem)
        # A model that takes no tools is sent none (request_body), so none are counted in its window either.
        offered = [spec.to_api() for spec in box.tools
                   if spec.name not in session.tools_off] if accepts_tools(session.spec) else []
        session.offered_tools = offered
        step = Ending()
        try:
            async with aclosing(session.reply(step, tools=offered or None)) as replies:
                async for event in replies:
                    yield event
        finally:
            ending.finish_reason, ending.stopped, ending.error = step.finish_reason, step.stopped, step.error
            ending.reply = step.reply or ending.reply
        reply = step.reply
        if reply is None or not reply.tool_calls or step.stopped or step.error is not None:
            return
        if rounds >= limit:
            refused = over_limit(rounds)
            for call in reply.tool_calls:
                yield ToolCallStarted(call, _server(tools, call))
                yield ToolCallFinished(call, refused, True, 0.0)
            _answer(session, reply, {c.id: (refused, True) for c in reply.tool_calls})
            ending.tool_note = (f"the model was still calling tools after {limit} rounds, so the turn ended: "
                                "ask it to go on, or raise max_tool_rounds")
            return
        rounds += 1
        ending.stopped = True
        calls = _Calls(session, tools, reply)
        async with aclosing(calls.answer()) as answering:
            async for answered in answering:
                yield answered
        if calls.stopped:
            return  # the user pressed escape at a question: the turn ends, stopped, its calls answered
        ending.stopped = False


class _Calls:
    """The calls of one reply: asked about, run, and answered."""

    def __init__(self, session: Session, tools: ToolServers, reply: Message) -> None:
        self.session, self.tools, self.reply = session, tools, reply
        self.answered: dict[str, tuple[str, bool]] = {}  # call id -> the result text and whether it is an error
        self.stopped = False

    async def answer(self) -> AsyncGenerator[TurnEvent, None]:
        """Ask about the calls that need a yes, one after another, then run the allowed ones: calls on different
        servers at once, the calls of one server in the order the model wrote them (a write, then a read of it)."""
        tasks: list[asyncio.Task[None]] = []
        try:
            allowed: dict[str, list[ToolCall]] = {}
            for call in self.reply.tool_calls:
                if self.stopped:
                    verdict = Approval.STOP
                elif call.name in self.session.tools_off:
                    verdict = Approval.DENY
                else:
                    verdict, problem = await self._verdict(call)
                    if problem is not None:
                        yield ToolProblem(problem)
                self.stopped = self.stopped or verdict is Approval.STOP
                if verdict in (Approval.DENY, Approval.STOP):
                    text = STOPPED if verdict is Approval.STOP else (
                        TURNED_OFF if call.name in self.session.tools_off else DECLINED)
                    for event in self._unrun(call, text):
                        yield event
                else:
                    allowed.setdefault(_server(self.tools, call), []).append(call)
            if self.stopped:
                for call in (c for calls in allowed.values() for c in calls):  # allowed before the escape
                    for event in self._unrun(call, STOPPED):
                        yield event
                return
            news: asyncio.Queue[TurnEvent] = asyncio.Queue()
            tasks = [asyncio.create_task(self._run(server, calls, news)) for server, calls in allowed.items()]
            for _ in range(2 * sum(len(calls) for calls in allowed.values())):  # a start and a finish per call
                yield await news.get()
        finally:
            for task in tasks:
                task.cancel()  # a call still running when the turn stops is cancelled (the SDK tells the server)
            if tasks:
                await asyncio.gather(*tasks, return_exceptions=True)
            _answer(self.session, self.reply, self.answered)

    def _unrun(self, call: ToolCall, text: str) -> tuple[TurnEvent, ...]:
        self.answered[call.id] = (text, True)
        return ToolCallStarted(call, _server(self.tools, call)), ToolCallFinished(call, text, True, 0.0)

    async def _run(self, server: str, calls: list[ToolCall], news: asyncio.Queue[TurnEvent]) -> None:
        clock = self.session.clock
        for call in calls:
            news.put_nowait(ToolCallStarted(call, server))
            began = clock()
            try:
                result = await self.tools.call(call)
                # The server's error, with the end of its stderr, for the user to read in the result.
                text = result.content if result.problem is None else f"error: {result.problem.message}"
                outcome = text, result.is_error
            except Exception as exc:  # noqa: BLE001 - a call that breaks is an error result, never the turn's end
                outcome = f"error: the call failed: {exc}", True
            self.answered[call.id] = outcome
            news.put_nowait(ToolCallFinished(call, outcome[0], outcome[1], round(clock() - began, 4)))

    async def _verdict(self, call: ToolCall) -> tuple[Approval, ChatError | None]:
        """Whether `call` runs: at once if the config, or the user for this conversation, lets it; else the
        user's answer (declined when nobody can be asked). An "always" the config could not take is the error."""
        session = self.session
        if self.tools.decide(call) == "run" or call.name in session.tools_allowed:
            return Approval.ONCE, None
        spec = self.tools.spec(call)
        if spec is None or session.approve is None:
            return Approval.DENY, None
        answer = await session.approve(ApprovalRequest(
            server=spec.server, tool=spec.tool, description=spec.description, annotations=dict(spec.annotations),
            arguments=None if call.error is not None else dict(call.arguments), raw_arguments=call.raw_arguments))
        if answer in (Approval.CONVERSATION, Approval.ALWAYS):
            session.tools_allowed.add(call.name)
        if answer is Approval.ALWAYS:
            self.tools.allow_always(call)
        if answer is Approval.ALWAYS and session.config_file is not None:
            from chatbot.core.settings.edit import set_tool_rule

            try:
                set_tool_rule(session.config_file, spec.server, spec.tool, "always")
            except ChatError as exc:
                return answer, exc
        return answer, None


def _server(tools: ToolServers, call: ToolCall) -> str:
    spec = tools.spec(call)
    return spec.server if spec is not None else ""


def _answer(session: Session, reply: Message, answered: dict[str, tuple[str, bool]]) -> None:
    """One tool message per call of `reply`, in the order of its calls, each told to the observers; a call with
    no answer yet (the turn stopped while it ran) is answered as interrupted."""
    parent: Message = reply
    for call in reply.tool_calls:
        text, error = answered.get(call.id, (INTERRUPTED, True))
        message = session.conversation.add(Message("tool", text, tool_call_id=call.id, tool_name=call.name,
                                                   tool_error=error), parent=parent)
        session.counter.count_message(message)
        session._tell(journal.MessageAdded(journal.frozen(message), session._setup(), parent.id))
        parent = message
