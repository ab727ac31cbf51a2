"""The multi-line prompt: enter sends, ctrl+j / shift+enter insert a newline, up in an empty prompt walks back
through the messages sent, down walks forward again; tab after `@` and a path completes a file name, and a file
completed so is to be attached."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import ClassVar

from textual import events
from textual.app import SuspendNotSupported
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import TextArea

from chatbot.core.terminal import neutralize
from chatbot.ui import editor
from chatbot.ui.path_completion import complete, fragment_before
from chatbot.ui.shown import shown, shown_text

SHOWN_NAMES = 6  # the matches a tab lists under the prompt when it cannot choose


class PromptInput(TextArea):
    BINDINGS_IN_ORDER: ClassVar[bool] = True  # _on_key runs them: the app need not hold the keys after them
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "submit", "Send", id="send", show=False),
        Binding("ctrl+j,shift+enter", "newline", "Newline", id="newline", show=False),
        Binding("ctrl+g", "open_editor", "Editor", id="editor", show=False),
        # The prompt is a few lines high: paging and jumping act on the transcript above it instead.
        Binding("pageup", "scroll_transcript('page_up')", "Scroll transcript", show=False),
        Binding("pagedown", "scroll_transcript('page_down')", "Scroll transcript", show=False),
        Binding("ctrl+home", "scroll_transcript('home')", "Transcript top", show=False),
        Binding("ctrl+end", "scroll_transcript('end')", "Transcript end", show=False),
        # Only after `@` and a path (check_action): elsewhere tab moves the focus, as it did.
        Binding("tab", "complete_path", "Complete path", show=False),
    ]

    class Submitted(Message):
        """The user sent `text` (never empty or only whitespace)."""

        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    class AttachPath(Message):
        """`@` and a path completed to the file `path`: the user means to attach it."""

        def __init__(self, path: Path) -> None:
            super().__init__()
            self.path = path

    class Pasted(Message):
        """`text` was pasted into the prompt (as it went in: cleaned of terminal controls)."""

        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    class ScrollTranscript(Message):
        """Page the transcript (`page_up`, `page_down`) or jump to its `home` or `end`."""

        def __init__(self, where: str) -> None:
            super().__init__()
            self.where = where

    def __init__(self, *, sent: Callable[[], Sequence[str]] | None = None,
                 take_back: Callable[[], str | None] | None = None, **kwargs: object) -> None:
        """`sent` gives the messages the user sent, oldest first, that up and down walk through; `take_back` a
        message still waiting to be sent, which up in the empty prompt brings back first."""
        super().__init__(soft_wrap=True, show_line_numbers=False, tab_behavior="focus", **kwargs)  # type: ignore[arg-type]
        self._sent = sent
        self._take_back = take_back
        self._walk: int | None = None  # how far back up has gone, while the prompt shows that message unedited

    async def _on_key(self, event: events.Key) -> None:
        # Textual runs a focused widget's binding only once its key has bubbled up, through the screen's queue, to
        # the app; the keys typed after it are already queued here and go first ("explain monads" + enter in one
        # burst sent "Ex"). The prompt's own bindings (send, newline, recall, and the editing keys) run here
        # instead, in the order the keys were typed. A priority binding has had its turn before the key got here,
        # and a printable key is text: TextArea inserts it whatever is bound to it.
        if not event.is_printable and await self._own_binding(event.key):
            # Handled: TextArea would insert a newline for enter, and the app would run the binding again.
            event.stop()
            event.prevent_default()

    async def _own_binding(self, key: str) -> bool:
        active = self.screen.active_bindings.get(key)
        if active is None or active.node is not self or active.binding.priority:
            return False
        return await self.app.run_action(active.binding.action, self)

    async def typed(self, event: events.Key) -> bool:
        """A key that reached another widget on its way here (read before the focus came): typed here as the
        keys that come here are, text or one of the prompt's keys. False if it is neither."""
        if self.read_only:
            return False
        if event.is_printable and event.character:
            self.replace(event.character, *self.selection)
            return True
        return await self._own_binding(event.key)

    async def _on_paste(self, event: events.Paste) -> None:
        # Pasted text is drawn as it is: terminal controls in it would reach the terminal.
        event.prevent_default()
        event.stop()
        if not self.read_only:
            self.replace(text := neutralize(event.text), *self.selection)
            self.post_message(self.Pasted(text))

    def _fragment(self) -> str | None:
        """The path after an `@` that the cursor ends, if it ends one."""
        row, column = self.cursor_location
        return fragment_before(self.document.get_line(row)[:column])

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "complete_path":
            return self._fragment() is not None
        return super().check_action(action, parameters)

    def action_complete_path(self) -> None:
        """Complete the path after `@` as far as its matches agree; one file matched is to be attached. Several
        are listed under the prompt until the text changes."""
        fragment = self._fragment()
        if fragment is None:
            return
        done = complete(fragment, Path.cwd())
        if done.fragment != fragment:
            self.insert(done.fragment[len(fragment):])
        if done.file is not None:
            self.insert(" ")
            self.post_message(self.AttachPath(done.file))
        elif len(done.names) > 1 and done.fragment == fragment:
            more = len(done.names) - SHOWN_NAMES
            self.border_subtitle = shown("  ".join(done.names[:SHOWN_NAMES]) + (f"  +{more}" if more > 0 else ""))
        elif not done.names:
            self.border_subtitle = shown(f"no file matches @{fragment}")

    def _on_text_area_changed(self, _: TextArea.Changed) -> None:
        self.border_subtitle = None  # the matches a tab listed were for the text before

    def action_submit(self) -> None:
        text = self.text
        if text.strip():
            # Emptied here, as the key is handled: keys typed before the screen sees the message are kept.
            self.clear()
            self.post_message(self.Submitted(text))

    def action_scroll_transcript(self, where: str) -> None:
        self.post_message(self.ScrollTranscript(where))

    def action_open_editor(self) -> None:
        """Compose in $VISUAL / $EDITOR: the prompt's text goes there, what is saved comes back to the prompt."""
        try:
            edited = editor.edit(self.text, self.app.suspend)
        except SuspendNotSupported:
            edited = editor.Edited(None, "This terminal cannot hand itself to an editor.")
        if edited.text is None:
            self.app.notify(edited.problem or "", severity="warning", markup=False)
        else:
            self.set_text(edited.text)
            self._walk = None

    def action_newline(self) -> None:
        self.insert("\n")

    def _walking(self) -> Sequence[str] | None:
        """The sent messages while the prompt shows one of them as recalled; an edit ends the walk, so up and
        down move the cursor again and never throw the edited text away."""
        sent = self._sent() if self._sent is not None else ()
        if self._walk is None or not 0 < self._walk <= len(sent) or self.text != shown_text(sent[-self._walk]):
            self._walk = None
            return None
        return sent

    def _recall(self, sent: Sequence[str], back: int) -> None:
        """Show the message `back` steps from the newest; 0 is the empty prompt the walk started from."""
        self._walk = back or None
        self.set_text(sent[-back] if back else "")

    def action_cursor_up(self, select: bool = False) -> None:
        # The message is put in the prompt at once, so the keys typed after up edit it.
        if not select and not self.text and self._take_back is not None \
                and (waiting := self._take_back()) is not None:
            self.set_text(waiting)
            return
        if not select:
            sent = self._walking()
            if sent is not None and self.cursor_location[0] == 0:
                if self._walk is not None and self._walk < len(sent):
                    self._recall(sent, self._walk + 1)
                return
            if sent is None and not self.text and self._sent is not None:
                if sent := self._sent():
                    self._recall(sent, 1)
                return
        super().action_cursor_up(select)

    def action_cursor_down(self, select: bool = False) -> None:
        if not select and (sent := self._walking()) is not None and self._walk is not None \
                and self.cursor_location[0] == self.document.line_count - 1:
            self._recall(sent, self._walk - 1)
            return
        super().action_cursor_down(select)

    def set_text(self, text: str) -> None:
        """Replace the prompt's text and put the cursor at its end."""
        self.load_text(shown_text(text))
        self.move_cursor(self.document.end)
