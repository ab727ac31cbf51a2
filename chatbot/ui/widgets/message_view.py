"""One message of the transcript: who spoke, a note on its state, and its text.

User text is shown as plain text and assistant text as Markdown; neither is ever read as markup.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.geometry import Size
from textual.layout import DockArrangeResult
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import Static

from chatbot.core.attachments import Attachment
from chatbot.core.conversation import Message
from chatbot.ui.shown import ShownStream, shown, shown_text

if TYPE_CHECKING:
    from chatbot.ui.widgets.reply_markdown import ReplyMarkdown
    from chatbot.ui.widgets.thinking_block import ThinkingBlock


# Seconds between two updates of a streaming reply: 24 a second reads as smooth motion, and each update costs a
# parse of the reply's last block and a frame.
FRAME = 1 / 24


class MessageView(Vertical):
    """A message in the transcript. `message` is the core's Message once the turn has settled."""

    def __init__(self, role: str, text: str = "", *, model: str | None = None, message: Message | None = None,
                 attachments: tuple[Attachment, ...] = (), blocks: tuple[Widget, ...] = ()) -> None:
        """`blocks`: what a reply shows after its text (the tool calls it made)."""
        super().__init__(classes=f"message {role}")
        self._blocks = blocks
        self.role = role
        self.attachments = attachments or (message.attachments if message else ())  # shown as chips
        self.model = model
        self.message = message
        self._parts = [text]  # joined when read: appending to one string would copy the reply on every delta
        self._note = ""
        self._replying = False  # streamed reply text has begun
        self._alternatives = ""
        self._streaming = False  # text has gone to the Markdown widget since the stream began
        self.flushed_at = 0.0  # when text last went to the Markdown widget (time.monotonic())
        self._shown = ShownStream()  # a sequence split across two frames is still removed whole
        self._pending: list[str] = []
        self.unflushed = 0  # lines appended since the last flush (the newlines in them)
        self._flush_timer: Timer | None = None

    def arrange(self, size: Size, optimal: bool = False) -> DockArrangeResult:
        # The header and the body are as tall as their content: the view's own height, which grows on every
        # frame of a streaming reply, would only defeat the cache of their box models (see ReplyMarkdown).
        return super().arrange(Size(size.width, 0), optimal)

    def compose(self) -> ComposeResult:
        yield Static(shown(self._header()), classes="header")
        if self.role == "assistant":
            # Imported here: the Markdown widget and its parser are not needed for the first paint of an empty chat.
            from chatbot.ui.widgets.reply_markdown import ReplyMarkdown
            from chatbot.ui.widgets.thinking_block import ThinkingBlock

            # A stored reply has one only if it reasoned: a long transcript mounts no hidden blocks.
            if self.message is None or self.message.reasoning:
                yield ThinkingBlock(self.message.reasoning if self.message else "")
            yield ReplyMarkdown(shown_text(self.text), classes="body", open_links=False)
            yield from self._blocks
        else:
            # Model and user text are data: never markup, never terminal escape sequences.
            yield Static(shown(self.text), classes="body")
            if self.attachments:
                from chatbot.ui.widgets.attachment_chips import sent_files

                settings = getattr(self.app, "settings", None)
                yield from sent_files(self.attachments, thumbnails=settings is None or settings.attachments.thumbnails)

    def _header(self) -> str:
        who = {"user": "you", "assistant": "assistant", "error": "error", "info": "chat"}.get(self.role, self.role)
        parts = [who] + ([self.model] if self.model else []) + [p for p in (self._alternatives, self._note) if p]
        return " · ".join(parts)

    def set_alternatives(self, position: int, count: int) -> None:
        """Which of the message's alternatives (regenerated replies, edits) this is, between single angle
        quotes (the second of three reads "2/3" between them); nothing for a message that has none."""
        self._alternatives = f"\u2039 {position}/{count} \u203a" if count > 1 else ""
        self._update_header()

    @property
    def note(self) -> str:
        """What the header says after the speaker and the model: how the message is doing, or what it cost."""
        return self._note

    def set_note(self, note: str) -> None:
        if note != self._note:
            self._note = note
            self._update_header()

    def _update_header(self) -> None:
        if self.is_mounted:
            self.query_one(".header", Static).update(shown(self._header()))

    def set_dropped(self, dropped: bool) -> None:
        self.set_class(dropped, "dropped")

    @property
    def text(self) -> str:
        if len(self._parts) > 1:
            self._parts[:] = ["".join(self._parts)]
        return self._parts[0]

    def append_reasoning(self, fragment: str) -> None:
        """Streamed reasoning: into the thinking block above the reply, open while it streams."""
        if (block := self._thinking_block()) is not None:
            block.add(fragment)

    @property
    def thinking(self) -> ThinkingBlock | None:
        """The block of the reply's reasoning, None if the reply has none to show."""
        block = self._thinking_block()
        return block if block is not None and block.display else None

    def _thinking_block(self) -> ThinkingBlock | None:
        """The block, shown or not yet (a streaming reply has one, hidden until reasoning comes)."""
        from chatbot.ui.widgets.thinking_block import ThinkingBlock

        return next(iter(self.query_children(ThinkingBlock)), None)

    async def append(self, fragment: str) -> None:
        """Append streamed text: kept as it came, shown through the boundary. The Markdown widget gets it at
        most once a frame: a server can send thousands of deltas a second, and re-parsing the reply's last
        block for each one would make the UI the bottleneck."""
        if not self._replying:
            self._replying = True
            if (block := self.thinking) is not None:
                block.reply_started()  # the reasoning is over: the reply is what was asked for
        self._parts.append(fragment)
        self._pending.append(fragment)
        self.unflushed += fragment.count("\n")
        if self._flush_timer is None:
            # A frame after the last update, not after this piece: pieces a few milliseconds apart would
            # otherwise stretch every frame by the wait for the first of them.
            due = max(0.0, FRAME - (time.monotonic() - self.flushed_at))
            self._flush_timer = self.set_timer(due, self._flush)

    async def flush(self) -> None:
        """Hand the text appended so far to the Markdown widget now, not at the next frame, and return once the
        widget holds it (its new blocks mounted): a caller that then waits for a frame sees all of it drawn."""
        if self._flush_timer is not None:
            self._flush_timer.stop()
        await self._flush()

    async def _flush(self) -> None:
        self._flush_timer = None
        self.flushed_at = time.monotonic()
        if not self._pending:
            return
        text = "".join(self._pending)
        self._pending.clear()
        self.unflushed = 0
        if not self._streaming:
            self._streaming = True
            self._markdown().streaming = True
        # Awaited here rather than queued for a task of the widget's own: the turn worker waits for it, so it
        # never reads faster than the screen shows, and what it has read is on screen a frame later.
        await self._markdown().append(self._shown.shown_text(text))

    async def continuation(self) -> MessageView:
        """A new reply view right after this one: for the reply that answers this one's tool calls."""
        view = MessageView(self.role, model=self.model)
        parent = self.parent
        assert isinstance(parent, Widget), "a reply view streams only while it is in the transcript"
        await parent.mount(view, after=self)
        return view

    async def finish(self, text: str | None = None) -> None:
        """End streaming and settle the whole reply, so nothing stays half-parsed."""
        await self._end_stream()
        if text is not None:
            self._parts = [text]
        if self.role == "assistant":
            if (block := self._thinking_block()) is not None:
                block.settled(self.message.reasoning if self.message else "")
            await self._markdown().settle(shown_text(self.text))

    async def _end_stream(self) -> None:
        if self._flush_timer is not None:
            self._flush_timer.stop()
            self._flush_timer = None
        if self._streaming:
            # The last fragments are appended too, so settling finds the reply whole and has nothing left to
            # rebuild.
            await self._flush()
            if rest := self._shown.shown_rest():
                await self._markdown().append(rest)
            self._streaming = False
            self._markdown().stop_reserving()
        self._pending.clear()
        self.unflushed = 0

    def _markdown(self) -> ReplyMarkdown:
        from chatbot.ui.widgets.reply_markdown import ReplyMarkdown

        return self.query_one(ReplyMarkdown)
