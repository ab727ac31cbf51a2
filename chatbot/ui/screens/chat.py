"""The chat screen: transcript, prompt and status bar, and what a turn does to them.

For a turn the screen mounts the user's message and an empty reply view, then runs a TurnWorker
(turn_worker.py), which talks only to the session and that reply view. The screen hears from it in messages:
each Progress sets the status bar's figures, and the one Settled (the session's outcome of the turn) decides
what the transcript and the prompt show. Anything else that changes the figures (a model or preset chosen,
a conversation opened or cleared) sets them too: the screen never polls the session.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from textual import events, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from chatbot.core.events import TurnSettled
from chatbot.core.status import status_of
from chatbot.core.summary import in_effect
from chatbot.ui.attaching import AttachActions
from chatbot.ui.compositor import PartialCompositor, one_layout
from chatbot.ui.queued import QueuedMessages
from chatbot.ui.screens.info import InfoScreen, dropped_screen
from chatbot.ui.screens.menus import MenuActions
from chatbot.ui.screens.message_actions import MessageActions
from chatbot.ui.screens.turn_worker import Progress, Settled, TurnViews, TurnWorker, reply_note
from chatbot.ui.widgets.footer import ChatFooter
from chatbot.ui.widgets.message_view import MessageView
from chatbot.ui.widgets.prompt_input import PromptInput
from chatbot.ui.widgets.status_bar import StatusBar, cost_hint
from chatbot.ui.widgets.transcript import Transcript

if TYPE_CHECKING:
    from chatbot.core.attachments import Attachment
    from chatbot.core.session import Session
    from chatbot.core.store.history import HistoryStore
    from chatbot.core.store.writer import Writer
    from chatbot.core.turn import Turn
    from chatbot.ui.app import ChatApp
    from chatbot.ui.screens.history import Opened


class ChatScreen(AttachActions, MenuActions, QueuedMessages, Screen[None]):
    CSS_PATH = Path(__file__).with_suffix(".tcss")
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f1", "help", "Help", id="help"),
        Binding("f2", "model_menu", "Model", id="model_menu"),
        Binding("f3", "preset_menu", "Preset", id="preset_menu"),
        # Terminals without the kitty keyboard protocol send ctrl+h as backspace: f4 works everywhere.
        Binding("f4,ctrl+h", "history", "History", id="history"),
        Binding("escape", "stop", "Stop", id="stop"),
        Binding("ctrl+n", "new_conversation", "New", id="new_conversation"),
        Binding("ctrl+r", "regenerate", "Regenerate", id="regenerate", show=False),
        # The prompt's TextArea moves by word on ctrl+left and ctrl+right; alt+left and alt+right it leaves alone.
        Binding("alt+left", "alternative(-1)", "Previous reply", id="previous_alternative", show=False),
        Binding("alt+right", "alternative(1)", "Next reply", id="next_alternative", show=False),
        # TextArea takes ctrl+y for redo; priority keeps it for copying the reply.
        Binding("ctrl+y", "copy_reply", "Copy reply", id="copy_reply", priority=True, show=False),
        Binding("ctrl+o", "dropped", "Dropped turns", id="dropped_turns", show=False),
        Binding("ctrl+t", "thinking", "Thinking", id="thinking", show=False),
        Binding("f5", "attach", "Attach", id="attach", show=False),
        Binding("f8", "effort_menu", "Effort", id="effort_menu", show=False),
        Binding("f9", "tools", "Tools", id="tools", show=False),
        # shift+tab reaches the app from every terminal, tmux and ssh (\e[Z); ctrl+up is at hand where it does.
        # Priority: the focus moves as the key is read, so the keys typed after it go to the transcript.
        Binding("shift+tab,ctrl+up", "messages", "Message cursor", id="messages", show=False, priority=True),
    ]

    app: ChatApp

    def __init__(self, session: Session, store: HistoryStore | None = None, writer: Writer | None = None) -> None:
        """`store` and `writer`: the history read here and written through the writer's thread (None: off)."""
        super().__init__()
        self._compositor = PartialCompositor()  # a frame draws only the widgets it changes (ui/compositor.py)
        self.session = session
        self.store = store
        self.writer = writer
        self.queued: list[MessageView] = []  # messages sent while a reply streams, shown as waiting
        self.reply_view: MessageView | None = None
        self.turn: TurnViews | None = None  # the turn under way, until its outcome is on screen
        self.turn_worker: Worker[None] | None = None
        self.clear_after_turn = False
        self.history_error_shown = False
        self.actions = MessageActions(self)  # what the message cursor's keys do

    def _refresh_layout(self, size: Size | None = None, scroll: bool = False) -> None:
        with one_layout():  # a layout, not two (ui/compositor.py)
            super()._refresh_layout(size, scroll)

    def compose(self) -> ComposeResult:
        yield Transcript(id="transcript", act=self.actions.do, prompt=lambda: self.prompt)
        yield self.chip_row()
        key = self.app.key_of  # as remapped in [keymap]
        yield PromptInput(id="prompt", placeholder=f"Message ({key('send')} sends, {key('newline')} newline, "
                                                   f"{key('help')} help)", sent=self.sent_messages,
                          take_back=self.take_back_queued)
        yield StatusBar(id="status")
        yield ChatFooter()

    async def on_mount(self) -> None:
        self.query_one(PromptInput).focus()
        self.refresh_status()
        if welcome := self.app.first_run_message():
            await self.add_note("info", welcome)
        await self.show_conversation()

    async def show_conversation(self, jump_to: int | None = None) -> None:
        """Show the session's conversation (after a resume); `jump_to` is a message id to scroll to."""
        messages = self.session.conversation.messages
        target = await self.transcript.show(self.session.conversation, jump_to, note=reply_note)
        self.transcript.mark_dropped(self.session.dropped(), in_effect(self.session))
        self.actions.shown()
        self.refresh_status()
        if messages:
            self._measure()
        if target is not None:
            target.add_class("found")
            self.transcript.scroll_to_widget(target, animate=False, top=True)

    @work(group="measure", exclusive=True, exit_on_error=False)
    async def _measure(self) -> None:
        """The context a shown conversation uses, in the status bar once the tokenizer has loaded."""
        await self.app.ready.wait()
        self.session.measure()
        self.refresh_status()

    @property
    def transcript(self) -> Transcript:
        return self.query_one(Transcript)

    @property
    def prompt(self) -> PromptInput:
        return self.query_one(PromptInput)

    @property
    def busy(self) -> bool:
        """A turn is under way: its worker runs, or its outcome is not on screen yet."""
        return self.turn is not None

    def refresh_status(self) -> None:
        """Give the status bar the session's figures as they are now (after anything that changed them)."""
        status = self.query_one(StatusBar).status = status_of(self.session, self.attached_tokens())
        self.prompt.border_subtitle = cost_hint(status.next_worst_case)

    def on_progress(self, event: Progress) -> None:
        self.query_one(StatusBar).status = event.status

    async def add_note(self, role: str, text: str) -> MessageView:
        return await self.transcript.add(MessageView(role, text))

    # -- sending --

    def on_prompt_input_submitted(self, event: PromptInput.Submitted) -> None:
        if self.actions.submitted(event.text):
            return  # an edit of an earlier message
        # What is sent shows, and the reply, or why it was not sent: scrolled up, the transcript follows again.
        self.transcript.scroll_end(animate=False)
        if self.busy:
            self.queue(MessageView("user", event.text, attachments=self.chips.take()))
            return
        self.start_turn(event.text)

    def on_prompt_input_scroll_transcript(self, event: PromptInput.ScrollTranscript) -> None:
        scroll = {"page_up": self.transcript.scroll_page_up, "page_down": self.transcript.scroll_page_down,
                  "home": self.transcript.scroll_home, "end": self.transcript.scroll_end}[event.where]
        scroll(animate=False)

    def on_key(self, event: events.Key) -> None:
        # Focus left the prompt (tab, a click on the transcript): what is typed still goes to the prompt, unless the
        # focused widget binds it (y answers the delete question).
        prompt = self.query_one(PromptInput)
        if event.is_printable and event.character and self.focused is not prompt and not prompt.read_only \
                and event.key not in self.active_bindings:
            event.stop()
            prompt.focus()
            prompt.insert(event.character)

    def sent_messages(self) -> list[str]:
        """The user's messages in this conversation, oldest first, which up and down in the prompt walk through."""
        return [v.text for v in self.transcript.views() if v.role == "user" and v not in self.queued]

    def start_turn(self, text: str | None, queued: MessageView | None = None,
                   begin: Callable[[Session], Turn] | None = None) -> TurnViews:
        """Send `text` and the files attached (or regenerate the last reply when None; `queued` is its view if it
        waited, with its files; `begin` another turn, see TurnViews, which takes no files). Busy from here: a
        message sent meanwhile waits."""
        files = queued.attachments if queued else self.chips.take() if text is not None and begin is None else ()
        self.turn = views = TurnViews(text, MessageView("assistant", model=self.session.model), user=queued,
                                      files=files, begin=begin)
        self.turn_worker = self.run_worker(self._turn(views), group="reply", exclusive=True, exit_on_error=False)
        return views

    async def _turn(self, views: TurnViews) -> None:
        """Mount the turn's views, then let its worker stream the reply into them."""
        if views.user is not None and views.user.is_attached:  # it waited in the transcript: the reply follows it
            views.user.set_note("")
            await self.transcript.mount(views.reply, after=views.user)
        elif (text := views.text) is not None:  # (a queued view the transcript dropped when it was redrawn, too)
            views.user = await self.transcript.add(MessageView("user", text, attachments=views.files))
        elif views.begin is None:
            views.replaced = self.transcript.view_of(self.session.conversation.last_reply())
            if views.replaced is not None:
                views.replaced.display = False  # shown again if no new reply replaces it
        if not views.reply.is_attached:
            self.reply_view = await self.transcript.add(views.reply)
        self.reply_view = views.reply
        await TurnWorker(self.session, views, self.post_message, ready=self.app.ready,
                         server_turn=self.app.server_turn).run()

    async def on_settled(self, event: Settled) -> None:
        await self._settle(event.views, event.outcome)

    async def _settle(self, views: TurnViews, outcome: TurnSettled) -> None:
        """Show how the turn ended, then start what waited for it."""
        if views is not self.turn:
            return
        self.reply_view = None
        session, view, reply = self.session, views.reply, outcome.reply
        gave_back = False  # the user's message came back to the prompt: what waited goes after it
        files_back: tuple[Attachment, ...] = ()
        if (old_view := views.replaced) is not None:
            if outcome.replaced is None:
                old_view.display = True
            else:
                await old_view.remove()
        if reply is not None:
            view.message = reply
            view.set_alternatives(*session.conversation.position(reply))
            if views.user is not None:
                views.user.message = session.conversation.last_user()
            await view.finish(reply.content)
            view.set_note(reply_note(reply, outcome.note))
        else:
            if view.is_mounted:  # a turn stopped before its views were mounted has none to take down
                await view.finish()
                await view.remove()
            if views.user is not None:
                views.user.set_note("not sent: back in the prompt" if not self.prompt.text else "not sent")
                if not self.prompt.text and views.text is not None:
                    self.prompt.set_text(views.text)
                    gave_back = True
                files_back = views.files  # given back after what waited: its files come first
        await self.actions.settled(views, outcome)
        if (error := outcome.error) is not None:
            await self.add_note("error", f"{error.headline()}\n{error.hint}".rstrip())
        self.transcript.mark_dropped(session.dropped(), in_effect(session))
        self.refresh_status()
        self.turn = None
        recorder = self.app.recorder
        if recorder is not None and recorder.error and not self.history_error_shown:
            self.history_error_shown = True
            self.notify(recorder.error, title="History", severity="warning", timeout=15, markup=False)
        if self.clear_after_turn:
            await self._clear()
            self.unqueue(after_prompt=False)  # sent as the conversation was ending: back in the prompt
        elif self.queued and outcome.ended == "finished":
            view = self.queued.pop(0)
            self.start_turn(view.text, view)
        else:
            self.unqueue(after_prompt=gave_back)
        self.give_back(files_back)

    async def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker is self.turn_worker and event.state in (WorkerState.SUCCESS, WorkerState.ERROR,
                                                                  WorkerState.CANCELLED):
            if event.state == WorkerState.ERROR:
                self.notify(f"{event.worker.error}", title="Unexpected error", severity="error", markup=False)
            if self.turn is not None:
                # Its worker ended without a word (cancelled before it began, or failed): nothing was sent. A
                # Settled it posted is handled before this, so a turn still here has none.
                await self._settle(self.turn, TurnSettled("stopped", text_returned=True))

    # -- actions --

    def action_stop(self) -> None:
        if self.busy and self.turn_worker is not None:
            self.turn_worker.cancel()
        else:
            self.actions.cancel_edit()

    def action_messages(self) -> None:
        """Up from the prompt: to the files waiting above it if there are any, else (and from them) the cursor."""
        if self.prompt.has_focus and self.chips.allow_focus():
            self.set_focus(self.chips)
        else:
            self.transcript.enter()

    def action_regenerate(self) -> None:
        if self.busy:
            self.notify("Wait for the reply to finish, or stop it with escape.")
        elif self.session.conversation.last_reply() is None:
            self.notify("There is no reply to regenerate yet.")
        else:
            self.start_turn(None)

    async def action_alternative(self, step: int) -> None:
        await self.actions.alternative(step)

    async def action_new_conversation(self) -> None:
        self.unqueue(after_prompt=False)  # typed for the conversation that ends: back in the prompt, not lost
        if self.busy and self.turn_worker is not None:
            # The turn settles first (its partial reply is counted), then the screen clears.
            self.clear_after_turn = True
            self.turn_worker.cancel()
            return
        await self._clear()

    async def _clear(self) -> None:
        self.clear_after_turn = False
        self.actions.cancel_edit()
        self.session.new_conversation()
        await self.transcript.clear()
        self.refresh_status()

    async def action_copy_reply(self) -> None:
        await self.actions.copy_last_reply()

    def action_thinking(self) -> None:
        """Open or fold the reasoning of the newest reply that has some (the one streaming, if it does)."""
        blocks = [block for view in self.transcript.views() if (block := view.thinking) is not None]
        if not blocks:
            self.notify("No reply here has reasoning to show.")
            return
        blocks[-1].collapsed = not blocks[-1].collapsed

    # The screens below are imported when first opened: the first paint needs none of them.
    def action_tools(self) -> None:
        from chatbot.ui.screens.tools import open_tools
        open_tools(self)

    def action_help(self) -> None:
        self.app.push_screen(InfoScreen("Keys", self.app.binding_rows(),
                                        'escape closes · [keymap] in config.toml remaps an id'))

    def action_dropped(self) -> None:
        self.app.push_screen(dropped_screen(self.session.next_window()))

    def action_history(self) -> None:
        if self.store is None or self.writer is None:
            self.notify("History is off (--no-history or history = false).")
            return
        from chatbot.ui.screens.history import HistoryScreen
        self.app.push_screen(HistoryScreen(self.store, self._deleted, writer=self.writer), self._history_chosen)

    def _deleted(self, conversation_id: int) -> None:
        recorder = self.app.recorder
        if recorder is not None and conversation_id == recorder.conversation_id:
            recorder.deleted(conversation_id)
            # What the user deleted is not sent again with the next message: the screen starts over, as ctrl+n does.
            self.call_later(self.action_new_conversation)

    async def _history_chosen(self, chosen: Opened | None) -> None:
        if chosen is None or self.store is None:
            return
        if self.busy:
            self.notify("Wait for the reply to finish, or stop it with escape.")
            return
        try:
            stored = self.store.load(chosen.conversation_id)
        except KeyError:
            self.notify("That conversation is gone.")
            return
        self.queued.clear()
        self.app.assembly.resume(stored)
        await self.transcript.clear()
        rows = {row: message_id for message_id, row in stored.row_ids.items()}
        jump_to = rows.get(chosen.message_row) if chosen.message_row else None
        hit = None if jump_to is None else stored.conversation.get(jump_to)
        if hit is not None and all(m is not hit for m in self.session.conversation.messages):
            self.session.select(hit)  # a hit on another branch opens that branch
        await self.show_conversation(jump_to=jump_to)
        self.notify(f"Opened: {stored.title or stored.id}", markup=False)

    @work(group="export", exit_on_error=False)
    async def export(self, fmt: str) -> None:
        from chatbot.ui import export as exporting
        await exporting.export(self.app, self.session, self.app.recorder, self.store, fmt)

    def action_edit_system_prompt(self) -> None:
        from chatbot.ui.screens.system_prompt import SystemPromptScreen
        self.app.push_screen(SystemPromptScreen(self.session.conversation.system_prompt), self._system_prompt_saved)

    def action_edit_summary(self) -> None:
        from chatbot.ui.screens.summary_edit import edit_summary
        edit_summary(self)

    def _system_prompt_saved(self, text: str | None) -> None:
        if text is not None:
            self.session.set_system_prompt(text)
            self.notify("System prompt updated; it applies from the next request.")
