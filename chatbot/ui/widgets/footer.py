"""The key footer: Textual's, made to fit narrow terminals, where its last keys were cut off mid-word.

Below 80 columns the keys move closer together and the palette's label goes (ctrl+p still opens it); below 64
the new-conversation key goes too. Both stay in F1's list and in the palette.
"""

from __future__ import annotations

from textual import events
from textual.app import ComposeResult
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

NARROW = 80  # columns
NARROWER = 64
LEFT_OUT_NARROWER = frozenset({"new_conversation"})  # actions


class ChatFooter(Footer):
    width = 0

    def on_resize(self, event: events.Resize) -> None:
        before, self.width = self.width, event.size.width
        self.compact = self.width < NARROW
        self.show_command_palette = self.width >= NARROW
        if (before < NARROWER) != (self.width < NARROWER):
            self.refresh(recompose=True)

    def compose(self) -> ComposeResult:
        for widget in super().compose():
            if not (self.width < NARROWER and isinstance(widget, FooterKey) and widget.action in LEFT_OUT_NARROWER):
                yield widget
