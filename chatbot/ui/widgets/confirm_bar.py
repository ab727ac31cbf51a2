"""A one-line question in place, before something is destroyed: enter or y says yes, escape or n says no."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from textual import events
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Static

from chatbot.ui.shown import shown

YES = ("enter", "y")
NO = ("escape", "n")


class ConfirmBar(Static, can_focus=True):
    """Hidden until `ask`. While it asks it holds the focus and takes every key but the answers, so nothing typed
    reaches the widgets below it (nor moves what the question is about); answered, it gives the focus back.
    Anything that takes the focus away (a click elsewhere) answers no."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(",".join(YES), "answer(True)", "Yes"),
        Binding(",".join(NO), "answer(False)", "No"),
    ]

    @dataclass
    class Answered(Message):
        """The question was answered; `yes` only for enter or y."""

        bar: ConfirmBar
        yes: bool

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002 - Textual's name for a widget's id
        super().__init__(id=id)
        self.display = False
        self._return_focus: Widget | None = None

    def ask(self, question: str) -> None:
        """Show `question` (stored text is welcome: it is shown as plain text) and take the focus."""
        self.update(shown(question))
        if self.screen.focused is not self:  # asked again while asking: the focus still goes back there
            self._return_focus = self.screen.focused
        self.display = True
        self.focus()

    def action_answer(self, yes: bool) -> None:
        if not self.display:
            return
        self.display = False
        back = self._return_focus
        self._return_focus = None
        if back is not None and back is not self and back.is_attached:
            back.focus()
        self.post_message(self.Answered(self, yes))

    def on_key(self, event: events.Key) -> None:
        if event.key not in YES + NO:
            event.stop()  # not to the screen's or the app's (non-priority) bindings either
            event.prevent_default()

    def on_blur(self, _: events.Blur) -> None:
        if self.display:
            self._return_focus = None  # the focus has gone where the user put it
            self.action_answer(False)
