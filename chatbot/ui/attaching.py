"""Attaching files in the app: the chat screen's part (a mixin of ChatScreen), so the screen itself only binds the
key and hands the files to the turn.

A file comes from the picker (its key, or the palette), from `@` and a path completed in the prompt, or from a
pasted path the app offers to attach. It is read and prepared for the current model off the UI thread, counted by
the session's counter, and shown as a chip above the prompt until the message is sent. A file that cannot be
attached (binary, too big, an image for a model that takes none) is refused with the core's words; the prompt
keeps what it holds.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import TYPE_CHECKING, cast

from chatbot.core.attachments import Attachment, attach, refuse_images
from chatbot.core.errors import ChatError
from chatbot.ui.widgets.attachment_chips import AttachmentChips, size_text
from chatbot.ui.widgets.prompt_input import PromptInput

if TYPE_CHECKING:
    from chatbot.core.session import Session
    from chatbot.ui.screens.attach import Preview
    from chatbot.ui.screens.chat import ChatScreen


def pasted_path(text: str, cwd: Path) -> Path | None:
    """The existing file a paste names, if it is one path: as terminals paste a dropped file too (quoted, with
    escaped spaces, or as a file:// URL)."""
    candidate = text.strip()
    if not candidate or "\n" in candidate or len(candidate) > 4096:
        return None
    if len(candidate) > 1 and candidate[0] == candidate[-1] and candidate[0] in "'\"":
        candidate = candidate[1:-1]
    candidate = candidate.removeprefix("file://").replace("\\ ", " ")
    try:
        path = cwd / Path(candidate).expanduser()
        return path if path.is_file() else None
    except (OSError, ValueError):
        return None


def prepared(session: Session, path: Path) -> tuple[Attachment, int]:
    """The file read and prepared for the session's model, and what it adds to the prompt. Raises ChatError with
    the core's reason. Runs in a thread: reading and downscaling take their time."""
    spec, limits = session.spec, session.settings.attachments
    name = os.path.relpath(path) if path.is_relative_to(Path.cwd()) else str(path)
    attachment = attach(name, spec, detail=limits.detail, max_bytes=limits.max_bytes)
    refuse_images(spec, (attachment,), session.settings.models.get(spec.name))
    return attachment, session.counter.count_attachment(attachment)


def previewed(session: Session, path: Path) -> Preview:
    """What the picker shows of an image: its file size, the size it is sent at and its tokens for the session's
    model, or why it would not be attached. Runs in a thread, as `prepared`."""
    from chatbot.ui.screens.attach import Preview

    try:
        attachment, tokens = prepared(session, path)
        size = path.stat().st_size
    except (ChatError, OSError) as exc:
        return Preview(exc.headline() if isinstance(exc, ChatError) else f"cannot read {path.name}: {exc}")
    if not attachment.is_image:
        return Preview("")
    text = (f"{size_text(size)}\n{attachment.width}\u00d7{attachment.height} as sent\n"
            f"{tokens:,} tok on {session.spec.name}")
    return Preview(text, attachment.data)


class AttachActions:
    """What the chat screen does with attachments; ChatScreen inherits it. Each method works on the screen
    (screen_of), whose prompt, session and app it uses."""

    pasted: tuple[str, Path] | None = None  # a pasted path offered for attaching, and the file it names

    def chip_row(self) -> AttachmentChips:
        """The files waiting above the prompt."""
        return AttachmentChips(id="chips", removable=True)

    @property
    def chips(self) -> AttachmentChips:
        return screen_of(self).query_one("#chips", AttachmentChips)

    def action_attach(self) -> None:
        """Attach the file whose path was just pasted (while the prompt still holds it), else open the picker."""
        screen = screen_of(self)
        offered, self.pasted = self.pasted, None
        if offered is not None and offered[0] in screen.prompt.text:
            text, path = offered
            screen.prompt.set_text(screen.prompt.text.replace(text, "", 1))
            self.attach_file(path)
            return
        from chatbot.ui.screens.attach import AttachScreen  # the picker: imported when first opened

        session = screen.session
        screen.app.push_screen(AttachScreen(Path.cwd(), lambda path: previewed(session, path)), self._picked)

    def _picked(self, path: Path | None) -> None:
        if path is not None:
            self.attach_file(path)
        screen_of(self).prompt.focus()

    def attach_file(self, path: Path) -> None:
        screen_of(self).run_worker(self._attach_file(path), group="attach", exit_on_error=False)

    async def _attach_file(self, path: Path) -> None:
        screen = screen_of(self)
        await screen.app.ready.wait()  # the counter's tokenizer
        try:
            attachment, tokens = await asyncio.to_thread(prepared, screen.session, path)
        except ChatError as exc:
            screen.notify(f"{exc.headline()}\n{exc.hint}".rstrip(), title="Not attached", severity="error",
                          timeout=10, markup=False)
            return
        self.chips.add(attachment, tokens)

    def on_prompt_input_attach_path(self, event: PromptInput.AttachPath) -> None:
        self.attach_file(event.path)

    def on_prompt_input_pasted(self, event: PromptInput.Pasted) -> None:
        path = pasted_path(event.text, Path.cwd())
        if path is not None:
            screen = screen_of(self)
            self.pasted = event.text, path
            screen.notify(f"{path.name} is a file: {screen.app.key_of('attach')} attaches it",
                          title="Pasted a path", timeout=10, markup=False)

    def on_attachment_chips_changed(self, _: AttachmentChips.Changed) -> None:
        screen_of(self).refresh_status()

    def attached_tokens(self) -> int:
        """The waiting files counted again for the current model (it may have changed), in all."""
        chips = self.chips
        if not chips.attachments:
            return 0
        counter = screen_of(self).session.counter
        chips.set_tokens(counter.count_attachment(a) for a in chips.attachments)
        return chips.total

    def give_back(self, files: tuple[Attachment, ...]) -> None:
        """The files of a message that was not sent go back above the prompt."""
        counter = screen_of(self).session.counter
        self.chips.give_back(files, (counter.count_attachment(a) for a in files))


def screen_of(actions: AttachActions) -> ChatScreen:
    """The chat screen these actions are part of."""
    return cast("ChatScreen", actions)
