"""The key footer: Textual's, made to fit narrow terminals, where its last keys were cut off mid-word.

Below 80 columns the keys move closer together and the palette's label goes (ctrl+p still opens it); below 64
the new-conversation key goes too. Both stay in F1's list and in the palette. While the message cursor has the
focus, the footer shows its keys, and of the screen's only help: all of them would not fit.
"""

from __future__ import annotations

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

from chatbot.ui.widgets.message_cursor import MessageCursor

NARROW = 80  # columns
NARROWER = 64
LEFT_OUT_NARROWER = frozenset({"new_conversation"})  # actions
KEPT_BESIDE_THE_CURSOR = frozenset({"help", "command_palette"})  # actions


class ChatFooter(Footer):
    width = 0
    cursor = False  # the message cursor has the focus: its keys are shown

    def on_resize(self, event: events.Resize) -> None:
        before, self.width = self.width, event.size.width
        self.compact = self.width < NARROW
        self.show_command_palette = self.width >= NARROW
        if (before < NARROWER) != (self.width < NARROWER):
            self.refresh(recompose=True)

    def compose(self) -> ComposeResult:
        focused = self.screen.focused
        self.cursor = cursor = focused is not None and any(isinstance(node, MessageCursor)
                                                           for node in focused.ancestors_with_self)
        kept = KEPT_BESIDE_THE_CURSOR | {b.action for b in MessageCursor.BINDINGS if isinstance(b, Binding)}
        for widget in super().compose():
            if isinstance(widget, FooterKey) and (widget.action not in kept if cursor else
                                                  self.width < NARROWER and widget.action in LEFT_OUT_NARROWER):
                continue
            yield widget

    async def recompose(self) -> None:
        await super().recompose()
        self.call_after_refresh(self._fit)

    def _fit(self) -> None:
        """The cursor's keys that run past the edge (or under the palette's key) are left out, the last first:
        help (F1 still opens it) and escape's go before the message actions."""
        if not self.cursor:
            return
        keys = list(self.query(FooterKey))
        palette = [k for k in keys if k.has_class("-command-palette")]
        edge = palette[0].region.x if palette else self.region.right
        for key in keys:
            if key not in palette and key.region.right > edge:
                key.display = False
