"""Keys from the terminal, handed to the app in the order they were typed and each to what it was meant for.

Textual hands a key to the focused widget's queue at once, and what the key does happens later, in other queues:
f2 goes to the prompt, bubbles back to the app and opens the model menu only then. Keys that arrived meanwhile
were already handed to the prompt. One write of f2, "4.1-mini", enter and "still here" (a script, a fast typist
over ssh) sent "4.1-mini" as a message; enter on a menu, with keys after it, changed the menu's filter before the
menu read it; ctrl+u in a menu's filter cleared what was typed after it. So a key that runs a binding is
*settled* before the next one is handed on: followed until its binding has run, then until what it started has
reached its screen (enter's Submitted message) or a screen it opened has built itself and taken the focus. Text
keys pass at once unless keys wait before them, and so do the keys of a widget that runs its own bindings in the
order they come (`BINDINGS_IN_ORDER`, the prompt): typing into the prompt costs nothing while a reply streams.

Keys are also held from start-up until the prompt first has the focus (`opened`): Textual would hand them to the
screen or to the transcript that has the focus first, and both drop them.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from textual import events
from textual.app import App
from textual.message_pump import MessagePump
from textual.screen import Screen
from textual.widget import Widget

# How many rounds over the focused widget's chain, at most, a settle waits for a command's messages to reach its
# screen: enter's Submitted is posted to the widget and bubbles one level a round.
ROUNDS = 12
# Seconds between two looks at whether a widget that was asked for a callback has closed meanwhile (its queue is
# dropped with the callback in it). Only a closing widget ever makes a settle wait this long.
CLOSED_CHECK = 0.05

Dispatch = Callable[[events.Event], Awaitable[None]]


class KeyOrder:
    def __init__(self, app: App[Any], dispatch: Dispatch, held: Iterable[events.Event]) -> None:
        self._app = app
        self._dispatch = dispatch  # hands one event on as Textual would
        self._waiting: deque[events.Event] = deque(held)
        self._open = False  # the prompt has had the focus once
        self._settling: asyncio.Task[None] | None = None

    async def take(self, event: events.Key | events.Paste) -> None:
        """An event from the terminal: handed on now, or after those already waiting."""
        if not self._open or self._settling is not None or self._waiting:
            self._waiting.append(event)
            return
        await self._hand_on(event)

    def opened(self) -> None:
        """The prompt has the focus: what was typed before it had goes to it, in order."""
        if not self._open:
            self._open = True
            self._settling = asyncio.create_task(self._drain())

    @property
    def holding(self) -> bool:
        return bool(self._waiting) or self._settling is not None

    async def _hand_on(self, event: events.Event) -> None:
        """Hand `event` on; one that runs a command is settled in a task, and what comes meanwhile waits."""
        if not self._runs_command(event):
            await self._dispatch(event)
            return
        focused, screen = self._app.focused, self._app.screen
        await self._dispatch(event)
        self._settling = asyncio.create_task(self._settle_then_drain(focused, screen))

    async def _settle_then_drain(self, focused: Widget | None, screen: Screen[object]) -> None:
        try:
            await self._settle(focused, screen)
        finally:
            await self._drain()

    async def _drain(self) -> None:
        """Hand on what waits, one at a time, until none is left or one needs settling (which drains after)."""
        try:
            while self._waiting:
                event = self._waiting.popleft()
                if self._runs_command(event):
                    focused, screen = self._app.focused, self._app.screen
                    await self._dispatch(event)
                    await self._settle(focused, screen)
                else:
                    await self._dispatch(event)
        finally:
            self._settling = None

    def _runs_command(self, event: events.Event) -> bool:
        if not isinstance(event, events.Key):
            return False
        bound = self._app.active_bindings.get(event.key)
        return bound is not None and not getattr(bound.node, "BINDINGS_IN_ORDER", False)

    async def _settle(self, focused: Widget | None, screen: Screen[object]) -> None:
        """Wait until the key handed to `focused` on `screen` has done what it does."""
        app = self._app
        chain = [] if focused is None else [node for node in focused.ancestors_with_self if isinstance(node, Widget)]
        chain = chain or [screen]
        # The key goes up from the focused widget, each level handing it to the next, and a command bound to it
        # runs when it is back at the app.
        for node in chain:
            await _after(node)
        await _after(app)
        # What the command posted (enter's Submitted, a list's Selected) goes up a level a round, to its screen.
        for _ in range(ROUNDS):
            if app.screen is not screen or not any(node.message_queue_size for node in chain):
                break
            await asyncio.gather(*(_after(node) for node in chain))
        if app.screen is not screen:
            # A screen opened (or this one closed): the next key is for the screen now on top, once it is built
            # and has given the focus to its widget.
            await _after(app.screen)


async def _after(node: MessagePump) -> None:
    """Return once `node` has handled what is in its queue now, or at once if it is closed or closes first."""
    done = asyncio.get_running_loop().create_future()

    def finish(_: object = None) -> None:
        if not done.done():
            done.set_result(None)

    if not node.call_later(finish):
        return
    # A screen just pushed is not running yet; one that stopped after it ran has dropped its queue.
    started = node.is_running
    while not done.done():
        await asyncio.wait([done], timeout=CLOSED_CHECK)
        if node.is_running:
            started = True
        elif started:
            return
