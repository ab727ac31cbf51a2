"""What is done to a message of the transcript: copy it or one of its code blocks, edit a user message in the
prompt, regenerate from it, fork a new conversation from it, delete it and what follows (after asking), and
switch between its alternatives. The message cursor's keys (message_cursor.py) ask for these, the last reply's
keys (ctrl+y, alt+left and alt+right) are the same actions on the newest reply, and the palette offers them for
the message under the cursor, else the newest one.

The chat screen calls in; this module calls the session. An action that changes which branch is active draws the
transcript again from the conversation: the views of the old branch no longer say what is sent. A turn it starts
(an edit, a regenerate from an earlier message) hides the views it replaces while it runs, and takes them down
once a reply came, or draws the old branch again if none did.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from textual.app import SystemCommand

from chatbot.core.conversation import Conversation, Message
from chatbot.core.events import TurnSettled
from chatbot.core.session import Session
from chatbot.core.text import plural
from chatbot.core.turn import Turn
from chatbot.ui import clipboard
from chatbot.ui.screens.turn_worker import TurnViews
from chatbot.ui.shown import shown_text
from chatbot.ui.widgets.confirm_bar import ConfirmBar
from chatbot.ui.widgets.message_cursor import CODE_BLOCKS, What, code_blocks
from chatbot.ui.widgets.message_view import MessageView

if TYPE_CHECKING:
    from chatbot.ui.screens.chat import ChatScreen

WAIT = "Wait for the reply to finish, or stop it with escape."
EDITING = "editing a message: enter sends it as a new branch, escape cancels"


@dataclass
class Editing:
    """A user message whose text is in the prompt, and what the prompt held before (escape gives it back)."""

    message: Message
    held: str


@dataclass
class Replacing:
    """A turn that replaces part of the transcript: the views it hid, and the edit it sends, if it is one."""

    views: TurnViews
    hidden: list[MessageView] = field(default_factory=list)
    editing: Editing | None = None


class DeleteQuestion(ConfirmBar):
    """The delete question, asked in place above the prompt while the message it is about is marked; `answered`
    hears the answer."""

    DEFAULT_CSS = """
    DeleteQuestion {
        background: $error-muted;
        color: $text-error;
        text-style: bold;
        padding: 0 1;
    }
    """

    def __init__(self, view: MessageView, answered: Callable[[bool], Awaitable[None]]) -> None:
        super().__init__(id="delete-confirm")
        self.view = view
        self.answered = answered

    def on_mount(self) -> None:
        self.view.add_class("deleting")

    def on_unmount(self) -> None:
        self.view.remove_class("deleting")

    async def on_confirm_bar_answered(self, event: ConfirmBar.Answered) -> None:
        event.stop()
        await self.remove()
        await self.answered(event.yes)


def subtree(conversation: Conversation, message: Message) -> list[Message]:
    """`message` and every message under it, on every branch: what a delete from `message` removes."""
    found, stack = [], [message]
    while stack:
        found.append(node := stack.pop())
        stack.extend(conversation.children_of(node))
    return found


class MessageActions:
    def __init__(self, screen: ChatScreen) -> None:
        self.screen = screen
        self.editing: Editing | None = None
        self.replacing: Replacing | None = None

    @property
    def session(self) -> Session:
        return self.screen.session

    def notify(self, text: str) -> None:
        self.screen.notify(text, markup=False)

    # -- from the cursor --

    def do(self, view: MessageView | None, what: What, number: int = 0) -> None:
        """Do `what` to the message `view` shows (`number`: the code block, or the step of a switch). Run as the key
        is read: what moves the focus (back to the prompt, an edit) moves it now, so the next key of a burst goes
        there; the rest runs once the keys before it have been handled."""
        if what == "leave":
            self.screen.transcript.leave(self.screen.prompt)
        elif what == "edit" and view is not None:
            if self.screen.busy:
                self.notify(WAIT)
            elif (message := self.message_of(view)) is not None:
                self.edit(message)
        else:
            self.screen.call_later(self._do, view, what, number)

    async def _do(self, view: MessageView | None, what: What, number: int) -> None:
        if view is None:
            self.notify("There is no message here yet.")
        elif what == "copy":
            await self.copy(view.text, "the message")
        elif what == "code":
            await self.copy_code(view, number)
        elif (message := self.message_of(view)) is not None:
            if what == "switch":
                await self.switch(message, number)
            elif self.screen.busy:
                self.notify(WAIT)
            elif what == "regenerate":
                self.regenerate(message)
            elif what == "fork":
                await self.fork(message)
            elif what == "delete":
                await self.ask_delete(view, message)

    def target(self, role: str | None = None) -> MessageView | None:
        """What a palette command acts on: the message under the cursor while the transcript has the focus, else
        the newest message of the conversation (of `role`, if given), not a note."""
        transcript, focused = self.screen.transcript, self.screen.focused
        cursor = transcript.cursor
        if cursor is not None and focused is not None and transcript in focused.ancestors_with_self \
                and role in (None, cursor.role):
            return cursor
        return next((v for v in reversed(transcript.reachable())
                     if v.message is not None and role in (None, v.role)), None)

    def message_of(self, view: MessageView) -> Message | None:
        """The conversation's message `view` shows; None (and why, to the user) for a note or a queued message."""
        message = view.message
        if view in self.screen.queued:
            self.notify("This message waits to be sent: up in the empty prompt takes it back.")
        elif message is None or message not in self.session.conversation:
            self.notify("This is a note, not a message of the conversation: only copying works on it.")
        else:
            return message
        return None

    # -- copying --

    async def copy(self, text: str, what: str) -> None:
        if not text:
            self.notify(f"There is nothing in {what} to copy.")
            return
        # What is copied is what the screen shows: pasted into a shell, the raw reply's sequences would act.
        self.screen.app.copy_to_clipboard(copied := shown_text(text))  # OSC 52: it also works over ssh
        self.notify(clipboard.said(copied, await asyncio.to_thread(clipboard.copy, copied), what))

    async def copy_code(self, view: MessageView, number: int) -> None:
        blocks = code_blocks(view)
        if not 0 < number <= len(blocks):
            self.notify(f"This message has {plural(len(blocks), 'code block')}." if blocks else
                        "This message has no code block.")
            return
        await self.copy(blocks[number - 1].code, f"code block {number}")

    async def copy_last_reply(self) -> None:
        reply = self.session.conversation.last_reply()
        if reply is None or not reply.content:
            self.notify("There is no reply to copy yet.")
            return
        await self.copy(reply.content, "the last reply")

    # -- editing a user message in the prompt --

    def edit(self, message: Message) -> None:
        """Put `message` in the prompt to be edited; on a reply, the message of yours it answers (the cursor
        starts on the newest reply, and e there means the question that got it)."""
        conversation = self.session.conversation
        asked: Message | None = message
        while asked is not None and asked.role != "user":
            asked = conversation.parent_of(asked)
        if asked is None:
            self.notify("Only your own messages can be edited: regenerate (r) asks for another reply.")
            return
        message = asked
        prompt = self.screen.prompt
        held = self.editing.held if self.editing is not None else prompt.text
        self._mark(None)
        self.editing = Editing(message, held)
        self._mark(self.editing)
        prompt.set_text(message.content)
        self.screen.transcript.leave(prompt)  # at once, as the key is read: the keys typed after it edit the text

    def _mark(self, editing: Editing | None) -> None:
        """Show in the prompt and on the message which message is being edited (None: take the marks away)."""
        prompt = self.screen.prompt
        prompt.border_title = EDITING if editing is not None else None
        for view in self.screen.transcript.views():
            editing_this = editing is not None and view.message is editing.message
            if view.has_class("editing") != editing_this:
                view.set_class(editing_this, "editing")
                view.set_note("editing" if editing_this else "")

    def shown(self) -> None:
        """The transcript shows the conversation anew: the message being edited is marked again, or, if it is
        not in this conversation (another one was opened), the edit is over."""
        if self.editing is not None and self.editing.message not in self.session.conversation:
            self.cancel_edit()
        self._mark(self.editing)

    def cancel_edit(self) -> bool:
        """Escape while editing: the prompt gets back what it held. False if nothing was being edited."""
        if self.editing is None:
            return False
        held, self.editing = self.editing.held, None
        self._mark(None)
        self.screen.prompt.set_text(held)
        return True

    def submitted(self, text: str) -> bool:
        """The prompt sent `text`: if it was an edit, send it as one (True); else it is an ordinary message."""
        editing = self.editing
        if editing is None:
            return False
        if editing.message not in self.session.conversation:  # another conversation opened meanwhile
            self.editing = None
            self._mark(None)
            return False
        if self.screen.busy:
            self.notify(WAIT)
            self.screen.prompt.set_text(text)
            return True
        self.editing = None
        self._mark(None)
        self._start(editing.message, text, lambda session: session.edit(editing.message, text), editing)
        self.screen.prompt.set_text(editing.held)  # the edit is on its way: what the prompt held comes back
        return True

    # -- the turns that replace part of the transcript --

    def regenerate(self, message: Message) -> None:
        """A new reply to `message` (a user message) or beside it (a reply); what came after stays on the old
        branch."""
        if not any(m is message for m in self.session.conversation.messages):
            self.notify("Only a message of the branch shown can be regenerated.")
            return
        self._start(message, None, lambda session: session.regenerate(at=message))

    def _start(self, message: Message, text: str | None, begin: Callable[[Session], Turn],
               editing: Editing | None = None) -> None:
        """Start a turn that replaces the views from `message` on (after it, for a regenerate of a user
        message)."""
        views = self.screen.transcript.views()
        anchor = next((i for i, v in enumerate(views) if v.message is message), len(views))
        keep = anchor + 1 if text is None and message.role == "user" else anchor
        hidden = views[keep:]
        for view in hidden:
            view.display = False
        self.replacing = Replacing(self.screen.start_turn(text, begin=begin), hidden, editing)

    async def settled(self, views: TurnViews, outcome: TurnSettled) -> None:
        """A turn ended: if it replaced part of the transcript, take the old views down, or, if no reply came,
        draw the old branch again (an unsent edit goes back into the prompt, still an edit)."""
        replacing = self.replacing
        if replacing is None or replacing.views is not views:
            return
        self.replacing = None
        transcript = self.screen.transcript
        if outcome.reply is not None and not transcript.query_children("#newer-note"):
            await transcript.remove_children([v for v in replacing.hidden if v.is_attached])
            if views.user is not None and views.user.message is not None:
                views.user.set_alternatives(*self.session.conversation.position(views.user.message))
            return
        await self.redraw()
        if (editing := replacing.editing) is not None and outcome.reply is None and views.text is not None:
            # Back into the prompt, still an edit; what the prompt holds now is what escape gives back. (An empty
            # prompt has been given the text already, as for any message that was not sent.)
            prompt = self.screen.prompt
            held = "" if prompt.text == views.text else prompt.text
            prompt.set_text(views.text)
            self.editing = Editing(editing.message, held)
            self._mark(self.editing)

    # -- changes of branch and of conversation --

    async def redraw(self, cursor: Message | None = None) -> None:
        """Draw the transcript again from the conversation; `cursor`: the message the cursor goes to."""
        transcript = self.screen.transcript
        await transcript.clear()
        await self.screen.show_conversation()
        if cursor is not None and (view := transcript.view_of(cursor)) is not None:
            transcript.call_after_refresh(transcript.put, view)

    async def switch(self, message: Message, step: int) -> None:
        """Show the alternative `step` places from `message`, and the rest of its branch."""
        if self.screen.busy:
            self.notify(WAIT)
        elif self.session.conversation.position(message)[1] < 2:
            self.notify("This message has no alternatives: regenerate it (or edit yours) to make one.")
        else:
            await self.screen.app.ready.wait()  # the switch measures the new branch's window: the tokenizer loads
            if (chosen := self.session.switch(message, step)) is not message:
                await self.redraw(chosen)

    async def alternative(self, step: int) -> None:
        """The last reply's alternatives (alt+left, alt+right)."""
        reply = self.session.conversation.last_reply()
        if reply is None:
            self.notify("There is no reply yet.")
        else:
            await self.switch(reply, step)

    async def fork(self, message: Message) -> None:
        self.cancel_edit()  # the message being edited stays in the old conversation
        self.session.fork_conversation(message)
        copied = self.session.conversation.messages
        await self.redraw(copied[-1])
        self.notify(f"Forked: a new conversation with the {plural(len(copied), 'message')} up to here; the old one "
                    "is kept in the history.")

    async def ask_delete(self, view: MessageView, message: Message) -> None:
        count = len(subtree(self.session.conversation, message))
        after = f" and what follows it on every branch ({plural(count, 'message')} in all)" if count > 1 else ""
        for asked in self.screen.query(DeleteQuestion):  # asked again: one question at a time
            await asked.remove()
        question = DeleteQuestion(view, lambda yes: self._delete(message, yes))
        await self.screen.mount(question, before=self.screen.prompt)
        question.ask(f"Delete this message{after}? enter/y deletes, escape keeps")

    async def _delete(self, message: Message, yes: bool) -> None:
        if not yes or self.screen.busy or message not in self.session.conversation:
            return  # a turn began, or another conversation opened, while the question waited
        path = self.session.conversation.messages
        index = next((i for i, m in enumerate(path) if m is message), None)
        if self.editing is not None and any(m is self.editing.message
                                            for m in subtree(self.session.conversation, message)):
            self.cancel_edit()
        self.session.delete_from(message)
        path = self.session.conversation.messages
        # The cursor stays where it was: on what took the deleted message's place, else on the one before.
        await self.redraw(path[min(index, len(path) - 1)] if index is not None and path else None)
        self.screen.transcript.focus()


def commands(screen: ChatScreen) -> Iterator[SystemCommand]:
    """The palette's message commands: on the message under the cursor, else on the newest one."""
    actions, key = screen.actions, screen.app.key_of

    def command(title: str, help_text: str, what: What, role: str | None = None, number: int = 0) -> SystemCommand:
        return SystemCommand(title, help_text, lambda: actions.do(actions.target(role), what, number))

    yield SystemCommand("Message cursor", f"Move over the messages to act on one ({key('messages')})",
                        screen.transcript.enter)
    yield command("Copy message", f"The message under the cursor, else the newest ({key('message_copy')})", "copy")
    view = actions.target()
    for number in range(1, min(len(code_blocks(view)) if view is not None else 0, CODE_BLOCKS) + 1):
        yield command(f"Copy code block {number}", f"Of the message under the cursor, else the newest ({number})",
                      "code", number=number)
    yield command("Edit message", f"Yours under the cursor, else your newest, in the prompt ({key('message_edit')})",
                  "edit", "user")
    yield command("Regenerate from message", "A new reply there; what followed stays as an alternative "
                  f"({key('message_regenerate')})", "regenerate")
    yield command("Fork conversation", "A new conversation with the messages up to the one under the cursor "
                  f"({key('message_fork')})", "fork")
    yield command("Delete from message", "It and what follows it, after asking "
                  f"({key('message_delete')})", "delete")
