"""Messages sent while a reply streams: the chat screen's part (a mixin of ChatScreen).

Each waits in the transcript, marked queued, and is sent when the reply before it finishes. A reply that ends any
other way (stopped with escape, failed, broken off) sends nothing more: whatever made the user stop it, or the
server fail, the next request would be sent and billed without the user choosing it, on a conversation that is not
the one they queued it for. The waiting messages go back to the prompt instead, in the order they were sent.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from chatbot.ui.widgets.message_view import MessageView

if TYPE_CHECKING:
    from chatbot.ui.screens.chat import ChatScreen

QUEUED_NOTE = "queued: sends when this reply finishes · up takes it back"


class QueuedMessages:
    queued: list[MessageView]

    def queue(self, view: MessageView) -> None:
        screen = cast("ChatScreen", self)
        view.set_note(QUEUED_NOTE)
        self.queued.append(view)
        screen.call_later(screen.transcript.add, view)

    def take_back_queued(self) -> str | None:
        """Up in the empty prompt while messages wait: the newest comes back to the prompt, unsent."""
        if not self.queued:
            return None
        view = self.queued.pop()
        self._unmount(view)
        return view.text

    def unqueue(self, *, after_prompt: bool) -> None:
        """Every waiting message back to the prompt, unsent, oldest first; before what the prompt holds (typed
        since), or after it when it holds the message the ended turn gave back (sent before them)."""
        if not self.queued:
            return
        screen = cast("ChatScreen", self)
        views, self.queued = self.queued, []
        for view in reversed(views):  # the chips of each go back before those of the ones after it
            self._unmount(view)
        texts = [v.text for v in views]
        editing = screen.actions.editing
        if editing is not None:
            # The prompt holds an edit of an earlier message: what waited is no part of it. It goes with what the
            # prompt held before the edit, which sending the edit or escape gives back.
            editing.held = _joined([*texts, editing.held])
        else:
            held = screen.prompt.text
            screen.prompt.set_text(_joined([held, *texts] if after_prompt else [*texts, held]))
        waiting = "The queued message is" if len(views) == 1 else f"The {len(views)} queued messages are"
        where = "back in the prompt once this edit is sent or escaped" if editing else "back in the prompt"
        screen.notify(f"{waiting} {where}, unsent.")

    def _unmount(self, view: MessageView) -> None:
        screen = cast("ChatScreen", self)
        screen.call_later(view.remove)
        screen.give_back(view.attachments)


def _joined(texts: list[str]) -> str:
    return "\n\n".join(t for t in texts if t.strip())
