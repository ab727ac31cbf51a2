"""The model's reasoning above its reply: a folded "thinking" block.

Open while the reasoning streams, so the user sees the model is working; folded once the reply's text starts
(or when a stored reply is shown), since the reply is what was asked for. Enter on its title (tab reaches it), a
click, or the chat screen's key opens and folds it. Reasoning is model text: drawn as plain text through the
terminal boundary, never as markup or Markdown (it is often half-formed, and it is not the answer).
"""

from __future__ import annotations

from textual.timer import Timer
from textual.widgets import Collapsible, Static

from chatbot.ui.shown import ShownStream, shown

FRAME = 1 / 30  # seconds between two updates of streaming reasoning, as for the reply
STREAMING, DONE = "thinking…", "thinking"


class FoldedBlock(Collapsible):
    """The look of a dimmed, folded block of a reply's side text (its reasoning, a summary of old turns): a title
    line to open it, its text indented and in italics (the Static with class "folded-text")."""

    DEFAULT_CSS = """
    FoldedBlock {
        background: transparent;
        border-top: none;
        padding: 0;
        margin: 0 0 1 0;
        color: $text-muted;
        & > CollapsibleTitle { padding: 0; }
        & > Contents { padding: 0 0 0 2; }
        & .folded-text { height: auto; text-style: italic; }
    }
    """


class ThinkingBlock(FoldedBlock):
    """Hidden until there is reasoning to show."""

    def __init__(self, text: str = "") -> None:
        self._shown = ShownStream()  # a sequence split across two pieces is still removed whole
        self._drawn = [self._shown.shown_text(text) + self._shown.shown_rest()] if text else []
        self._pending = False
        self._timer: Timer | None = None
        self._folded_by_reply = False
        super().__init__(Static(shown("".join(self._drawn)), classes="folded-text thinking-text"), title=DONE,
                         collapsed=True, classes="thinking")
        self.display = bool(text)

    @property
    def text(self) -> str:
        """The reasoning as drawn."""
        return "".join(self._drawn)

    def add(self, piece: str) -> None:
        """A piece of streaming reasoning: the block shows, open, and draws it within a frame."""
        if not self.display:
            self.display = True
            self.title = STREAMING
            self.collapsed = False
        self._drawn.append(self._shown.shown_text(piece))
        self._pending = True
        if self._timer is None:
            self._timer = self.set_timer(FRAME, self._draw)

    def reply_started(self) -> None:
        """The reply's text has begun: the reasoning is over, and folds once (the user may open it again)."""
        if self._folded_by_reply or not self.display:
            return
        self._folded_by_reply = True
        self._finish()
        self.collapsed = True

    def settled(self, text: str) -> None:
        """The reply is over: show `text` (the reasoning as kept), folded unless the user has it open."""
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        if not text:
            self.display = False
            return
        if not self._folded_by_reply:
            self._folded_by_reply = True
            self.collapsed = True
        self._shown = ShownStream()
        self._drawn = [self._shown.shown_text(text) + self._shown.shown_rest()]
        self.title = DONE
        self.display = True
        self._pending = True
        self._draw()

    def _finish(self) -> None:
        self._drawn.append(self._shown.shown_rest())
        self.title = DONE
        self._draw()

    def _draw(self) -> None:
        self._timer = None
        if self._pending:
            self._pending = False
            self.query_one(".thinking-text", Static).update(shown(self.text))
