"""One message of the transcript: who spoke, a note on its state, and its text.

User text is shown as plain text and assistant text as Markdown; neither is ever read as markup.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import Markdown, Static
from textual.widgets.markdown import MarkdownStream

from chatbot.core.conversation import Message
from chatbot.core.terminal import neutralize


class MessageView(Vertical):
    """A message in the transcript. `message` is the core's Message once the turn has settled."""

    def __init__(self, role: str, text: str = "", *, model: str | None = None, message: Message | None = None) -> None:
        super().__init__(classes=f"message {role}")
        self.role = role
        self.model = model
        self.message = message
        self._text = text
        self._note = ""
        self._stream: MarkdownStream | None = None

    def compose(self) -> ComposeResult:
        yield Static(self._header(), classes="header")
        if self.role == "assistant":
            yield Markdown(neutralize(self._text), classes="body", open_links=False)
        else:
            # Model and user text are data: never markup, never terminal escape sequences.
            yield Static(Content(neutralize(self._text)), classes="body")

    def _header(self) -> Content:
        who = {"user": "you", "assistant": "assistant", "error": "error", "info": "chat"}.get(self.role, self.role)
        parts = [who] + ([self.model] if self.model else []) + ([self._note] if self._note else [])
        return Content(neutralize(" · ".join(parts)))

    def set_note(self, note: str) -> None:
        if note != self._note:
            self._note = note
            if self.is_mounted:
                self.query_one(".header", Static).update(self._header())

    def set_dropped(self, dropped: bool) -> None:
        self.set_class(dropped, "dropped")

    @property
    def text(self) -> str:
        return self._text

    async def write(self, fragment: str) -> None:
        """Append streamed text; Markdown.get_stream batches fragments when the screen falls behind."""
        if self._stream is None:
            self._stream = Markdown.get_stream(self.query_one(Markdown))
        self._text += fragment
        # A sequence split across fragments loses its ESC here, so what is left of it is plain text.
        await self._stream.write(neutralize(fragment))

    async def finish(self, text: str | None = None) -> None:
        """End streaming and render the whole reply once, so nothing stays half-parsed."""
        if self._stream is not None:
            stream, self._stream = self._stream, None
            await stream.stop()
        if text is not None:
            self._text = text
        if self.role == "assistant":
            await self.query_one(Markdown).update(neutralize(self._text))
