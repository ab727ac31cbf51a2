"""One tool call in a reply, between its text: folded to a line (the tool, its arguments in short, how it went),
open to its arguments and its result.

A running call counts its seconds on that line. Everything in it (the tool's name, the model's arguments, the
server's result) is someone else's text: drawn as data through the terminal boundary, never as markup. A long
result is shown cut, with a button that shows all of it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.reactive import reactive
from textual.timer import Timer
from textual.widgets import Button, Static

from chatbot.core.events import ToolCall
from chatbot.core.text import plural
from chatbot.core.tool_round import DECLINED, INTERRUPTED, NOT_RUN
from chatbot.ui.shown import shown

SUMMARY_CELLS = 60  # the arguments on the folded line, cut to this
RESULT_LINES = 12  # a result longer than this is shown cut, with a button for the rest
RESULT_CHARS = 2000
CLOCK = 1.0  # seconds between two updates of a running call's time


def short_arguments(call: ToolCall) -> str:
    """The arguments on one line (`title="a", n=2`), cut to SUMMARY_CELLS; what did not parse says so."""
    if call.error is not None:
        return "arguments that did not parse"
    text = ", ".join(f"{key}={json.dumps(value, ensure_ascii=False)}" for key, value in call.arguments.items())
    text = " ".join(text.split())  # one line, whatever the values hold
    return text if len(text) <= SUMMARY_CELLS else text[: SUMMARY_CELLS - 1] + "…"


def pretty_arguments(arguments: Mapping[str, Any] | None, raw: str) -> str:
    """The arguments indented as JSON; the model's own text when it did not parse."""
    if arguments is None:
        return raw or "(none)"
    return json.dumps(dict(arguments), indent=2, ensure_ascii=False) if arguments else "(none)"


def cut_result(text: str) -> tuple[str, bool]:
    """The part of a result shown before "show all", and whether anything was left out."""
    lines = text.splitlines()
    head = "\n".join(lines[:RESULT_LINES])
    return head[:RESULT_CHARS], len(lines) > RESULT_LINES or len(head) > RESULT_CHARS


class FoldLine(Static, can_focus=True):
    """The block's one line: enter or a click opens or folds the block (tab reaches it)."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("enter", "fold", "Open or fold", show=False)]

    def __init__(self, toggle: Callable[[], None]) -> None:
        super().__init__(classes="tool-line")
        self._toggle = toggle

    def action_fold(self) -> None:
        self._toggle()

    def on_click(self, event: events.Click) -> None:
        event.stop()
        self._toggle()


class ToolCallBlock(Vertical):
    """A call from its start (`finished()` once it is answered), or one shown from the conversation (`result`
    given)."""

    collapsed: reactive[bool] = reactive(True)

    def __init__(self, call: ToolCall, server: str = "", *, result: str | None = None, error: bool = False,
                 seconds: float | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(classes="tool-call")
        self.call = call
        self.server = server
        self.result = result
        self.error = error
        self.seconds = seconds
        self._clock = clock
        self._started = clock()
        self._timer: Timer | None = None
        self.set_class(error, "failed")

    @property
    def running(self) -> bool:
        return self.result is None

    def compose(self) -> ComposeResult:
        yield FoldLine(self.toggle)
        with Vertical(classes="tool-details"):
            yield Static(shown("arguments"), classes="tool-label")
            yield Static(shown(pretty_arguments(None if self.call.error else self.call.arguments,
                                                self.call.raw_arguments)), classes="tool-arguments")
            yield Static(shown("result"), classes="tool-label")
            yield Static(shown(""), classes="tool-result")
            yield Button("Show all", classes="tool-show-all", compact=True)

    def on_mount(self) -> None:
        self._draw()
        if self.running:
            self._timer = self.set_interval(CLOCK, self._draw_line)

    def toggle(self) -> None:
        self.collapsed = not self.collapsed

    def watch_collapsed(self) -> None:
        if self.is_mounted:
            self._draw_line()
            self.query_one(".tool-details").display = not self.collapsed

    def finished(self, result: str, error: bool, seconds: float) -> None:
        """The call is answered: its line says how long it took, and the result is there to open."""
        self.result, self.error, self.seconds = result, error, seconds
        self.set_class(error, "failed")
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        if self.is_mounted:
            self._draw()

    def line(self) -> str:
        """The folded line's text, without its arrow."""
        # The model knows a tool as SERVER__TOOL (a stored call, too, whose server is not kept apart).
        server, qualified, name = self.call.name.partition("__")
        tool = f"{server}: {name}" if qualified and (not self.server or server == self.server) else self.call.name
        state = self._state()
        return f"{tool}({short_arguments(self.call)})" + (f" · {state}" if state else "")

    def _state(self) -> str:
        if self.result is None:
            return f"running {int(self._clock() - self._started)}s (escape stops)"
        took = f"{self.seconds:.1f}s" if self.seconds else ""
        if self.error:
            # A call the user declined or stopped did not fail: it never ran.
            what = ("declined" if self.result == DECLINED else "not run" if self.result.startswith(NOT_RUN)
                    else "stopped" if self.result == INTERRUPTED else "failed")
            return " ".join(x for x in (what, took) if x)
        return " · ".join(x for x in (took, plural(len(self.result.splitlines()), "line")) if x)

    def _draw_line(self) -> None:
        arrow = "▶" if self.collapsed else "▼"
        self.query_one(FoldLine).update(shown(f"{arrow} {self.line()}"))

    def _draw(self) -> None:
        self._draw_line()
        self.query_one(".tool-details").display = not self.collapsed
        result = self.result
        head, cut = cut_result(result or "")
        if result is None:
            head = "(running)"
        self.query_one(".tool-result", Static).update(shown(head or "(empty)"))
        button = self.query_one(".tool-show-all", Button)
        button.label = shown(f"Show all {plural(len((result or '').splitlines()), 'line')}")
        button.display = cut

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.show_all()

    def show_all(self) -> None:
        """The whole result in place of its first lines."""
        self.query_one(".tool-result", Static).update(shown(self.result or ""))
        self.query_one(".tool-show-all", Button).display = False
