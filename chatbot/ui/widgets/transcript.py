"""The scrolling transcript. Anchored, so it follows a streaming reply until the user scrolls up."""

from __future__ import annotations

from textual.containers import VerticalScroll

from chatbot.core.conversation import Message
from chatbot.ui.widgets.message_view import MessageView


class Transcript(VerticalScroll):
    can_focus = True

    def on_mount(self) -> None:
        self.anchor()

    async def add(self, view: MessageView) -> MessageView:
        await self.mount(view)
        return view

    def views(self) -> list[MessageView]:
        return list(self.query_children(MessageView))

    def mark_dropped(self, dropped: list[Message]) -> None:
        """Dim the messages that the sliding window leaves out of the next request."""
        ids = {m.id for m in dropped}
        for view in self.views():
            view.set_dropped(view.message is not None and view.message.id in ids)

    async def clear(self) -> None:
        await self.remove_children()
