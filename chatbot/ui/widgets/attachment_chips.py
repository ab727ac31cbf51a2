"""Attached files as chips: name, size, an image's dimensions and the tokens it costs the current model.

Above the prompt the row holds the files waiting to be sent: it takes the focus (tab, shift+tab) while it has
some, left and right pick one, delete or backspace removes it. In the transcript a sent message shows its files
the same way, read-only.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.content import Content
from textual.message import Message
from textual.reactive import reactive
from textual.style import Style
from textual.widget import Widget

from chatbot.core.attachments import Attachment
from chatbot.ui.shown import shown


def size_text(n: int) -> str:
    return f"{n} B" if n < 1000 else f"{n / 1000:.1f} KB" if n < 1_000_000 else f"{n / 1_000_000:.1f} MB"


def chip_text(attachment: Attachment, tokens: int | None) -> str:
    """`photo.png · 84.2 KB · 1024x768 · 765 tok`; the tokens left out while they are not counted yet."""
    parts = [attachment.name, size_text(len(attachment.data))]
    if attachment.is_image:
        parts.append(f"{attachment.width}\u00d7{attachment.height}")
    if tokens is not None:
        parts.append(f"{tokens:,} tok")
    return " · ".join(parts)


def sent_files(attachments: tuple[Attachment, ...], *, thumbnails: bool) -> list[Widget]:
    """What a sent message shows of its files: their chips, and its images small (thumbnail.py) if asked."""
    shown_files: list[Widget] = [AttachmentChips(attachments, (a.tokens for a in attachments))]
    images = [a for a in attachments if a.is_image]
    if thumbnails and images:
        from chatbot.ui.widgets.thumbnail import Thumbnail

        shown_files.append(Horizontal(*(Thumbnail(a.data, a.name) for a in images), classes="thumbnails"))
    return shown_files


class AttachmentChips(Widget):
    """A row of chips. `removable`: the prompt's row, which the user edits; else a sent message's."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("left", "pick(-1)", "Previous file", show=False),
        Binding("right", "pick(1)", "Next file", show=False),
        Binding("delete,backspace", "remove", "Remove file", show=False),
        Binding("escape,enter", "back", "Back to the prompt", show=False),
    ]

    COMPONENT_CLASSES: ClassVar[set[str]] = {"attachment-chips--chip", "attachment-chips--picked"}

    picked: reactive[int] = reactive(0)

    class Changed(Message):
        """The files waiting to be sent changed (one was added or removed)."""

    def __init__(self, attachments: Iterable[Attachment] = (), tokens: Iterable[int | None] = (), *,
                 removable: bool = False, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.removable = removable
        self.attachments: list[Attachment] = list(attachments)
        self.tokens: list[int | None] = list(tokens) or [None] * len(self.attachments)
        self._shown()

    def allow_focus(self) -> bool:
        return self.removable and bool(self.attachments)

    def _shown(self) -> None:
        self.display = bool(self.attachments)
        self.refresh(layout=True)

    def add(self, attachment: Attachment, tokens: int | None) -> None:
        self.attachments.append(attachment)
        self.tokens.append(tokens)
        self._changed()

    def set_tokens(self, tokens: Iterable[int | None]) -> None:
        """Each file's tokens counted again (for another model)."""
        self.tokens = list(tokens)
        self.refresh(layout=True)

    def take(self) -> tuple[Attachment, ...]:
        """The files, which leave the row (they go with the message being sent), each with the tokens it was
        counted at."""
        files = tuple(a if t is None else replace(a, tokens=t) for a, t in zip(self.attachments, self.tokens,
                                                                                strict=True))
        if files:
            self.attachments, self.tokens = [], []
            self._changed()
        return files

    def give_back(self, files: Iterable[Attachment], tokens: Iterable[int | None]) -> None:
        """Files of a message that was not sent come back first, before any attached since."""
        files = list(files)
        if files:
            self.attachments[:0], self.tokens[:0] = files, list(tokens)
            self._changed()

    @property
    def total(self) -> int:
        """The tokens the files add to the next request, as far as they are counted."""
        return sum(t for t in self.tokens if t is not None)

    def _changed(self) -> None:
        self.picked = min(self.picked, max(len(self.attachments) - 1, 0))
        self._shown()
        if not self.attachments and self.has_focus:
            self.action_back()
        self.post_message(self.Changed())

    def action_pick(self, step: int) -> None:
        if self.attachments:
            self.picked = (self.picked + step) % len(self.attachments)

    def action_remove(self) -> None:
        if self.removable and self.attachments:
            del self.attachments[self.picked], self.tokens[self.picked]
            self._changed()

    def action_back(self) -> None:
        from chatbot.ui.widgets.prompt_input import PromptInput

        prompt = next(iter(self.screen.query(PromptInput)), None)
        if prompt is not None:
            prompt.focus()

    def render(self) -> Content:
        chips = []
        for n, (attachment, tokens) in enumerate(zip(self.attachments, self.tokens, strict=True)):
            chip = shown(f" {chip_text(attachment, tokens)} ")
            part = "picked" if self.has_focus and n == self.picked else "chip"
            chips.append(chip.stylize(Style.from_rich_style(self.get_component_rich_style(f"attachment-chips--{part}"))))
        row = Content(" ").join(chips)
        if self.has_focus:
            row += shown("  ←→ pick · del removes · esc back").stylize("dim")
        return row

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()
