"""A turn as it happens: its events to iterate, then one outcome, however it ended.

`Session.send` and `Session.regenerate` return a Turn. Iterate it for the events (a ChatError still ends the
iteration, as before); once the iteration is over, finished, failed or stopped (cancelled or closed early),
`outcome` says how the turn ended and what it added. Callers read that instead of comparing the conversation
before and after.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

from chatbot.core.conversation import Message
from chatbot.core.errors import ChatError
from chatbot.core.events import TurnEvent, TurnSettled


@dataclass
class Ending:
    """What the reply under way has come to so far; the session fills it in as the reply settles."""

    reply: Message | None = None
    finish_reason: str | None = None
    stopped: bool = True  # until the stream ends or fails: a cancelled or closed turn stays stopped
    error: ChatError | None = None
    tool_note: str | None = None  # the turn's chain of tool calls was cut short, and why
    summary_note: str | None = None  # the earlier turns could not be summarised (chatbot.core.summary), and why

    def settled(self, *, replaced: Message | None = None, text_returned: bool = False) -> TurnSettled:
        if self.error is not None:
            ended = "broken off" if self.reply is not None else "failed"
        else:
            ended = "stopped" if self.stopped else "finished"
        return TurnSettled(ended, self.reply, replaced, self.error, self.finish_reason, text_returned,
                           self.tool_note, self.summary_note)


class Turn:
    """One send or regenerate: async-iterable over its events, closable like the generator it wraps."""

    def __init__(self, run: Callable[[Turn], AsyncGenerator[TurnEvent, None]]) -> None:
        self.outcome: TurnSettled | None = None
        self._events = run(self)

    def __aiter__(self) -> AsyncIterator[TurnEvent]:
        return self

    def __anext__(self) -> Awaitable[TurnEvent]:
        return self._events.__anext__()

    async def aclose(self) -> None:
        await self._events.aclose()
