"""The scrolling transcript. Anchored, so it follows a streaming reply until the user scrolls up.

Only the newest messages stay mounted: a Markdown message costs about half a megabyte of widgets, and a long
conversation must not grow the app without bound. Older messages stay in the conversation and the history;
a line at the top says how many are not shown, and the message cursor does not reach them. A jump to an old
message (a search hit) shows the messages from there on, and a line after them says how many newer ones are not
shown.
"""

from __future__ import annotations

from collections.abc import Callable

from textual.actions import SkipAction
from textual.widgets import Static

from chatbot.core.conversation import Conversation, Message, Summary
from chatbot.core.events import ToolCall
from chatbot.core.text import plural
from chatbot.ui.shown import shown
from chatbot.ui.widgets.message_cursor import Act, MessageCursor, What
from chatbot.ui.widgets.message_view import MessageView
from chatbot.ui.widgets.prompt_input import PromptInput
from chatbot.ui.widgets.summary_block import SummaryBlock
from chatbot.ui.widgets.tool_call import ToolCallBlock

MAX_VIEWS = 60


def stored_call(call: ToolCall, result: Message | None) -> ToolCallBlock:
    """The block of a call shown from the conversation, with its result (a call without one ended unanswered)."""
    if result is None:
        return ToolCallBlock(call, result="(no result: the reply ended before the call was answered)", error=True)
    return ToolCallBlock(call, result=result.content, error=result.tool_error)


class Transcript(MessageCursor):
    """The conversation's messages, with the message cursor over them (message_cursor.py)."""

    def __init__(self, *, act: Act | None = None, prompt: Callable[[], PromptInput] | None = None,
                 **kwargs: object) -> None:
        super().__init__(act=act, prompt=prompt, **kwargs)
        self.hidden = 0

    def on_mount(self) -> None:
        self.anchor()

    async def show(self, conversation: Conversation, jump_to: int | None = None, *,
                   note: Callable[[Message], str]) -> MessageView | None:
        """Mount the views of `conversation`'s active path: its newest MAX_VIEWS, or from the message `jump_to`
        on (a search hit) when that is older. A reply's header says `note(reply)`. Returns the view of `jump_to`."""
        messages = conversation.messages
        # Only what stays mounted is built: a resumed 500-turn conversation opens at once.
        start = max(len(messages) - MAX_VIEWS, 0)
        if jump_to is not None and all(m.id != jump_to for m in messages[start:]):
            start = next(i for i, m in enumerate(messages) if m.id == jump_to)
        shown_messages = messages[start : start + MAX_VIEWS]
        newer = len(messages) - start - len(shown_messages)
        if start:
            await self.note_hidden(start)
        views, target = [], None
        results = {m.tool_call_id: m for m in shown_messages if m.role == "tool"}
        for message in shown_messages:
            if message.role == "tool":
                continue  # shown in the block of its call, in the reply that made it
            view = MessageView(message.role, message.content, model=message.model, message=message,
                               blocks=tuple(stored_call(call, results.get(call.id)) for call in message.tool_calls))
            view.set_alternatives(*conversation.position(message))
            if message.role == "assistant":
                view.set_note(note(message))
            if message.id == jump_to:
                target = view
            views.append(view)
        await self.add_all(views)
        if newer:
            await self.note_newer(newer)
        return target

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

    def mark_dropped(self, dropped: list[Message], summary: Summary | None = None) -> None:
        """Dim the messages that the sliding window leaves out of the next request, and show the `summary` sent
        in place of the oldest of them after the last one it covers (before the first message shown if that one
        is not)."""
        ids = {m.id for m in dropped}
        views = self.views()
        for view in views:
            view.set_dropped(view.message is not None and view.message.id in ids)
        for block in self.query_children(SummaryBlock):
            if block.summary is summary:
                return
            block.remove()
        if summary is None or not views:
            return
        after = next((v for v in views if v.message is not None and v.message.id == summary.covers), None)
        if after is not None:
            self.mount(SummaryBlock(summary), after=after)
        else:
            self.mount(SummaryBlock(summary), before=views[0])

    def action_act(self, what: What, number: int = 0) -> None:
        focused = self.screen.focused
        if what == "edit" and focused is not None and any(isinstance(n, SummaryBlock) for n in focused.ancestors):
            raise SkipAction  # e on the summary block edits the summary (its own binding), not a message
        super().action_act(what, number)

    def view_of(self, message: Message | None) -> MessageView | None:
        """The view showing `message`, if it is mounted."""
        return next((v for v in self.views() if message is not None and v.message is message), None)

    async def clear(self) -> None:
        self.hidden = 0
        self.put(None)
        await self.remove_children()
