"""The multi-line prompt: enter sends, ctrl+j / shift+enter insert a newline, up in an empty prompt recalls."""

from __future__ import annotations

from typing import ClassVar

from textual import events
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import TextArea

from chatbot.core.terminal import neutralize
from chatbot.ui.shown import shown_text


class PromptInput(TextArea):
    BINDINGS: ClassVar[list[BindingType]] = [
        # TextArea would insert a newline on enter; priority lets send win.
        Binding("enter", "submit", "Send", id="send", priority=True, show=False),
        Binding("ctrl+j,shift+enter", "newline", "Newline", id="newline", show=False),
    ]

    class Submitted(Message):
        """The user sent `text` (never empty or only whitespace)."""

        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    class Recall(Message):
        """`up` in an empty prompt: the user wants their previous message back."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(soft_wrap=True, show_line_numbers=False, tab_behavior="focus", **kwargs)  # type: ignore[arg-type]

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
        if not self.text and not select:
            self.post_message(self.Recall())
            return
        super().action_cursor_up(select)

    def set_text(self, text: str) -> None:
        """Replace the prompt's text and put the cursor at its end."""
        self.load_text(shown_text(text))
        self.move_cursor(self.document.end)
