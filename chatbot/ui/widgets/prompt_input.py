"""The multi-line prompt: enter sends, ctrl+j / shift+enter insert a newline, up in an empty prompt recalls."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from textual import events
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import TextArea

from chatbot.core.terminal import neutralize
from chatbot.ui.shown import shown_text


class PromptInput(TextArea):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "submit", "Send", id="send", show=False),
        Binding("ctrl+j,shift+enter", "newline", "Newline", id="newline", show=False),
    ]

    class Submitted(Message):
        """The user sent `text` (never empty or only whitespace)."""

        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    def __init__(self, *, previous: Callable[[], str | None] | None = None, **kwargs: object) -> None:
        """`previous` gives the message that `up` in an empty prompt brings back (None: there is none)."""
        super().__init__(soft_wrap=True, show_line_numbers=False, tab_behavior="focus", **kwargs)  # type: ignore[arg-type]
        self._previous = previous

    async def _on_key(self, event: events.Key) -> None:
        # Textual runs a focused widget's binding only once its key has bubbled up, through the screen's queue, to
        # the app; the keys typed after it are already queued here and go first ("explain monads" + enter in one
        # burst sent "Ex"). The prompt's own bindings (send, newline, recall, and the editing keys) run here
        # instead, in the order the keys were typed. A priority binding has had its turn before the key got here,
        # and a printable key is text: TextArea inserts it whatever is bound to it.
        if event.is_printable:
            return
        active = self.screen.active_bindings.get(event.key)
        if active is None or active.node is not self or active.binding.priority:
            return
        if await self.app.run_action(active.binding.action, self):
            # Handled: TextArea would insert a newline for enter, and the app would run the binding again.
            event.stop()
            event.prevent_default()

    async def _on_paste(self, event: events.Paste) -> None:
        # Pasted text is drawn as it is: terminal controls in it would reach the terminal.
        event.prevent_default()
        event.stop()
        if not self.read_only:
            self.replace(neutralize(event.text), *self.selection)

    def action_submit(self) -> None:
        text = self.text
        if text.strip():
            # Emptied here, as the key is handled: keys typed before the screen sees the message are kept.
            self.clear()
            self.post_message(self.Submitted(text))

    def action_newline(self) -> None:
        self.insert("\n")

    def action_cursor_up(self, select: bool = False) -> None:
        # The previous message is put in the prompt at once, so the keys typed after up edit it.
        if not self.text and not select and self._previous is not None:
            if (previous := self._previous()) is not None:
                self.set_text(previous)
            return
        super().action_cursor_up(select)

    def set_text(self, text: str) -> None:
        """Replace the prompt's text and put the cursor at its end."""
        self.load_text(shown_text(text))
        self.move_cursor(self.document.end)
