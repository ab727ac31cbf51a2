"""The scrolling transcript. Anchored, so it follows a streaming reply until the user scrolls up.

Only the newest messages stay mounted: a Markdown message costs about half a megabyte of widgets, and a long
conversation must not grow the app without bound. Older messages stay in the conversation and the history;
a line at the top says how many are not shown. A jump to an old message (a search hit) shows the messages from
there on, and a line after them says how many newer ones are not shown.
"""

from __future__ import annotations

from textual.containers import VerticalScroll
from textual.widgets import Static

from chatbot.core.conversation import Message
from chatbot.core.text import plural
from chatbot.ui.shown import shown
from chatbot.ui.widgets.message_view import MessageView

MAX_VIEWS = 60


class Transcript(VerticalScroll):
    can_focus = True

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.hidden = 0

    def on_mount(self) -> None:
        self.anchor()

    async def add(self, view: MessageView) -> MessageView:
        await self.add_all([view])
        return view

    async def add_all(self, views: list[MessageView]) -> None:
        """Mount `views` at the end in one go (one layout, not one per message), then unmount the oldest
        beyond MAX_VIEWS."""
        await self.mount_all(views)
        mounted = self.views()
        if len(mounted) > MAX_VIEWS:
            extra = mounted[: len(mounted) - MAX_VIEWS]
            await self.remove_children(extra)
            await self.note_hidden(len(extra))

    async def note_hidden(self, count: int) -> None:
        """Say that `count` more messages of the conversation are not on screen."""
        self.hidden += count
        text = (f"{plural(self.hidden, 'more message')} not shown: "
                "f4 opens the history, the palette exports the conversation")
        notes = self.query_children("#hidden-note")
        if notes:
            notes.first(Static).update(shown(text))
        else:
            await self.mount(Static(shown(text), id="hidden-note", classes="hidden-note"), before=0)

    async def note_newer(self, count: int) -> None:
        """Say that the `count` messages after the ones shown are not on screen; what is added later comes
        after this line, so the gap stays marked."""
        text = (f"{plural(count, 'newer message')} not shown here: "
                "open the conversation again from f4 to see them")
        await self.mount(Static(shown(text), id="newer-note", classes="hidden-note"))

    def views(self) -> list[MessageView]:
        return list(self.query_children(MessageView))

    def mark_dropped(self, dropped: list[Message]) -> None:
        """Dim the messages that the sliding window leaves out of the next request."""
        ids = {m.id for m in dropped}
        for view in self.views():
            view.set_dropped(view.message is not None and view.message.id in ids)

    async def clear(self) -> None:
        self.hidden = 0
        await self.remove_children()
