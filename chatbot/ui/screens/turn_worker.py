"""The turn worker: sends one turn through the session and streams its text into the turn's reply view.

It talks to the session and to its own reply view (the text, the tool calls between it, and the note in its
header), nothing else. What
the screen needs to know it posts as messages: a Progress whenever the figures change (a piece of the reply,
a retry, a second passed while the request waits; while text streams, at most four times a second, and one Progress
replaces another not yet handled, so a fast stream cannot flood the screen's queue), and one Settled when the
turn is over, however it ended. The chat screen's handlers update the status bar and the rest of the
transcript from them.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass

from textual.message import Message

from chatbot.core import conversation
from chatbot.core.attachments import Attachment
from chatbot.core.errors import ChatError
from chatbot.core.events import (
    ReasoningDelta,
    TextDelta,
    ToolCall,
    ToolCallFinished,
    ToolCallStarted,
    ToolProblem,
    TurnSettled,
)
from chatbot.core.pricing import format_cost
from chatbot.core.session import Session
from chatbot.core.status import Status, status_of
from chatbot.core.text import plural
from chatbot.core.turn import Turn
from chatbot.ui.widgets.message_view import MessageView
from chatbot.ui.widgets.tool_call import ToolCallBlock

CLOCK = 1.0  # seconds between two looks at a request that waits (for its first token, or to be retried)
# Seconds between two reports while text streams. The figures are computed once per report, not per piece: a
# fast stream sends hundreds of pieces a second. Counters read at four a second are as current as a reader can
# take in, and each report redraws the status bar: at a frame's pace that was a tenth of what the app wrote.
REPORT_EVERY = 1 / 4
# A stream read so fast that the reply's own frame timer cannot run (reading never waits for the network: the
# bytes are there) would not be drawn until it ended. The worker hands the reply the text and waits for the screen
# to draw it when the reply has not been updated for PAINT_EVERY, or when FRAME_LINES have come since it was, and
# in either case reads for at least READ_FOR after the last frame, so a screen slow to draw slows the reading but
# never stops it. From a fast server a frame's time holds several screens of text: 3,000 Markdown tokens came in
# 0.25 s, and 40 ms of them (two dozen blocks: lists, tables, a code block) took 90 ms to draw, a freeze. What a
# frame costs is mostly its new blocks, and in Markdown a line is mostly a block (a list item, a table row, a
# heading); the block still growing (a long code block, list or table) is drawn whole again in each frame, so
# frames of fewer lines would cost it more. Prose has a line break every few hundred characters, and its frames
# come at PAINT_EVERY as before.
PAINT_EVERY = 1 / 24
FRAME_LINES = 16
READ_FOR = 1 / 100
# Until this much has streamed, every piece with a letter or digit in it is drawn as it comes: the first words are
# what the reader waits for, and a few short lines cost little to draw. A piece with nothing to read waits for the
# next: the first pieces of Markdown may be "##", " 1", "." and " Through", and a frame for each put the first word
# 60 ms behind its arrival. Two or three words, not a line: from a fast server, a frame for each piece of the
# first 80 characters held the rest of the reply 0.15-0.2 s behind (a 2,000-token reply ended at 0.49 s, now 0.29).
FIRST_CHARS = 16
PAINT_WAIT = 0.25  # the longest the worker waits for a frame: a screen busy elsewhere must not hold the stream


def draw_now(piece: str, streamed: int, unflushed: int, since_update: float, since_frame: float) -> bool:
    """Whether the worker has the screen draw the reply now, `piece` just read: `streamed` characters of text so
    far, `unflushed` lines of them not yet handed to the reply, which was updated `since_update` seconds ago, and
    the worker's last frame drawn `since_frame` ago."""
    if streamed < FIRST_CHARS:
        return any(c.isalnum() for c in piece)  # nothing to read in "##", " " or ".": the next piece's frame shows it
    return (since_update >= PAINT_EVERY or unflushed >= FRAME_LINES) and since_frame >= READ_FOR


@dataclass
class TurnViews:
    """The views of one turn: the user's message (None for a regenerate), the reply streaming into `reply`, and
    the reply a regenerate would replace (hidden meanwhile). `begin` starts another kind of turn than a send of
    `text` or a regenerate of the last reply (an edit, a regenerate from an earlier message)."""

    text: str | None
    reply: MessageView
    user: MessageView | None = None
    replaced: MessageView | None = None
    files: tuple[Attachment, ...] = ()  # attached to `text`
    begin: Callable[[Session], Turn] | None = None


@dataclass
class Progress(Message):
    """The figures of the turn in flight changed."""

    status: Status

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, Progress)


@dataclass
class Settled(Message):
    """The turn is over; `outcome` is the session's one value for how it ended."""

    views: TurnViews
    outcome: TurnSettled


def flight_note(status: Status, *, reasoning: bool = False) -> str:
    """What the reply's header says while its request is in flight; `reasoning`: only reasoning has come yet."""
    if (retry := status.retry) is not None:
        # The countdown first: a narrow header cuts the end of the line, and the server's reason can be long.
        reason = retry.reason.rstrip(".")
        if retry.seconds_left is None:
            return f"retry sent, waiting {status.waiting_seconds or 0}s (escape stops) · {reason}"
        return f"retrying in {retry.seconds_left}s (escape stops) · {reason}"
    if status.summarizing:
        return f"summarising {plural(status.summarizing, 'earlier turn')}…"
    if status.waiting_seconds is not None:
        # A reasoning model that streams no reasoning sends nothing until it has thought: say it is thinking.
        return f"{'thinking' if status.reasoning_model else 'waiting'} {status.waiting_seconds}s"
    return "reasoning…" if reasoning else "streaming"


class TurnWorker:
    """One turn: `run` is the worker's body. `text` None regenerates the last reply."""

    def __init__(self, session: Session, views: TurnViews, post: Callable[[Message], bool], *,
                 ready: asyncio.Event, server_turn: asyncio.Lock) -> None:
        self.session = session
        self.views = views
        self.post = post
        self.ready = ready  # set once what the first request needs has loaded
        self.server_turn = server_turn  # held while a request is at the server (see ChatApp.server_turn)
        self._reported = 0.0  # when the figures were last reported
        self._painted = 0.0  # when the screen last drew the stream
        self._streamed = 0  # characters of reply text so far
        self._kind = ""  # what streamed last: "text", "reasoning", or "" before anything has
        self._reported_kind = ""  # and at the last report
        self._trailing: asyncio.TimerHandle | None = None  # a report due once the stream pauses
        self._calls: dict[str, ToolCallBlock] = {}  # call id -> its block in the reply
        self._called: MessageView | None = None  # the view of a reply whose calls run, until the next reply
        self._called_view = views.reply  # the view of the last reply that made calls
        self._last_called: conversation.Message | None = None  # and that reply

    async def run(self) -> None:
        session, text = self.session, self.views.text
        self.views.reply.set_note("waiting")
        turn: Turn | None = None
        clock: asyncio.Task[None] | None = None
        try:
            await self.ready.wait()
            async with self.server_turn:
                turn = (self.views.begin(session) if self.views.begin is not None
                        else session.send(text, self.views.files) if text is not None else session.regenerate())
                clock = asyncio.create_task(self._clock())
                async for event in turn:
                    if isinstance(event, ToolCallStarted | ToolCallFinished):
                        await self._tool_event(event)
                        continue
                    if isinstance(event, ToolProblem):  # the turn goes on; the user reads why a tool is missing
                        self.views.reply.notify(f"{event.error}", title=event.error.title, severity="error",
                                                timeout=15)
                        continue
                    if self._called is not None:  # the model is answering the calls: in a reply view of its own
                        self.views.reply = await self._called.continuation()
                        if self._last_called is not None:  # its header said how the next request waited
                            self._called.set_note(reply_note(self._last_called))
                        self._called = None
                    if isinstance(event, TextDelta):
                        self._kind = "text"
                        self._streamed += len(event.text)
                        await self.views.reply.append(event.text)
                        self._report_soon()
                        await self._paint_due(event.text)
                    elif isinstance(event, ReasoningDelta):
                        self._kind = "reasoning"
                        self.views.reply.append_reasoning(event.text)
                        self._report_soon()
                        await self._paint_due(event.text)
                    else:
                        self._report()  # usage, a retry, the end: at once
        except ChatError:
            pass  # the outcome holds it
        finally:
            if self._trailing is not None:
                self._trailing.cancel()
            if clock is not None:
                clock.cancel()  # not awaited: a stop that cancels this worker must not wait on it
            if turn is not None and turn.outcome is None:
                # The stop came while the worker drew (waiting for a frame, mounting a tool call), not while the
                # turn waited for the server: closing the turn stops it the same way, and it keeps what it had.
                await turn.aclose()
            self._end_calls()
            # Stopped before the turn began (waiting for start-up or for the model list): nothing was sent.
            outcome = turn.outcome if turn is not None else None
            if outcome is not None and outcome.reply is not None and outcome.reply is self._last_called:
                # No reply answered the calls (the turn stopped or failed first): the turn's reply is the one that
                # made them, whose view has it already, and a view opened for the next one goes.
                if self.views.reply is not self._called_view:
                    self.views.reply.remove()
                self.views.reply = self._called_view
            self.post(Settled(self.views, outcome or TurnSettled("stopped", text_returned=True)))

    async def _tool_event(self, event: ToolCallStarted | ToolCallFinished) -> None:
        """A call shows in the reply from its start; a call that never ran (declined, or it could not) shows when
        it is answered."""
        block = self._calls.get(event.call.id)
        if block is None:
            if self._called is None:
                await self._settle_calling_reply(event.call)
            block = self._calls[event.call.id] = ToolCallBlock(
                event.call, event.server if isinstance(event, ToolCallStarted) else "")
            await self.views.reply.mount(block)
        if isinstance(event, ToolCallFinished):
            block.finished(event.result, event.error, event.seconds)
        self._report()

    async def _settle_calling_reply(self, call: ToolCall) -> None:
        """The reply that made `call` is complete: its view shows it as the conversation keeps it (its text, what
        it cost), and its calls follow it. The reply to their results comes in a view of its own, as a stored
        conversation shows it, so a regenerate replaces only that."""
        view = self.views.reply
        message = next((m for m in reversed(self.session.conversation.messages)
                        if any(c.id == call.id for c in m.tool_calls)), None)
        if message is not None:
            view.message = message
            await view.finish(message.content)
            view.set_note(reply_note(message))
        self._called = self._called_view = view
        self._last_called = message

    def _end_calls(self) -> None:
        """A call still running when the turn stopped was cancelled: its block shows the answer the model gets."""
        running = [block for block in self._calls.values() if block.running]
        if not running:
            return
        answers = {m.tool_call_id: m for m in self.session.conversation.messages if m.role == "tool"}
        for block in running:
            answer = answers.get(block.call.id)
            block.finished(answer.content if answer else "(stopped before it finished)", True, 0.0)

    async def _paint_due(self, piece: str) -> None:
        """Hand what has streamed to the reply and wait until the screen has drawn it, when draw_now says so: the
        reply has gone a frame without an update, or FRAME_LINES wait for one, or the piece holds the first words,
        which show as soon as they come."""
        reply, now = self.views.reply, time.monotonic()
        if not draw_now(piece, self._streamed, reply.unflushed, now - reply.flushed_at, now - self._painted):
            return
        await reply.flush()
        drawn: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def painted() -> None:
            if not drawn.done():
                drawn.set_result(None)

        if reply.is_attached:
            # Straight to the screen's callbacks after its next update, not through the view's queue as
            # call_after_refresh goes: the frame that draws this text would be under way before the view passed the
            # callback on, and the worker would wait for the frame after it (a whole frame of reading lost).
            reply.app.screen._invoke_later(painted, reply)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(drawn, PAINT_WAIT)
        self._painted = time.monotonic()

    def _report_soon(self) -> None:
        """Report now if the last report is REPORT_EVERY old, or if what streams changed kind (the first piece,
        reasoning giving way to text): the header says so at once. Else once it is (the stream may pause)."""
        wait = self._reported + REPORT_EVERY - time.monotonic()
        if wait <= 0 or self._reported_kind != self._kind:
            self._report()
        elif self._trailing is None:
            self._trailing = asyncio.get_running_loop().call_later(wait, self._report)

    def _report(self) -> Status | None:
        """Post the figures as they are now and say in the reply's header how the request is doing."""
        if self._trailing is not None:
            self._trailing.cancel()
            self._trailing = None
        self._reported = time.monotonic()
        self._reported_kind = self._kind
        if self.session.in_flight is None:
            return None
        status = status_of(self.session)
        self.views.reply.set_note(flight_note(status, reasoning=self._kind == "reasoning"))
        self.post(Progress(status))
        return status

    async def _clock(self) -> None:
        """A waiting request sends the worker nothing to hear: its seconds are counted here, until its first
        token, for every request of the turn (the one that carries tool results waits too). The first look comes
        as soon as the request is out (the session starts it before it first waits for the server), so the bar
        drops the previous reply's figures at once."""
        self._report()
        while True:
            await asyncio.sleep(CLOCK)
            flight = self.session.in_flight
            if flight is not None and flight.first_token_at is None:
                self._report()


def reply_note(reply: conversation.Message, finish_note: str | None = None) -> str:
    """What a reply's header says after its model: tokens, cost, and how it ended if not normally."""
    state = "stopped" if reply.stopped else "broke off" if reply.error else finish_note
    usage = reply.usage
    if usage is None:  # imported, or stored without usage: nothing to count
        return state or ""
    mark = "~" if usage.estimated else ""
    tokens = mark + plural(usage.completion_tokens, "token")
    if usage.reasoning_tokens:
        tokens += f" ({mark}{usage.reasoning_tokens:,} reasoning)"  # part of them, as they are billed
    return " · ".join(x for x in (tokens, format_cost(reply.cost), state) if x)
