"""The message cursor: a highlighted message in the transcript, moved from the keyboard and put by a click, and
the actions asked of the message under it.

The transcript takes the focus from the prompt (the screen's key); then up/down (j/k) move the cursor over the
messages, home/end (g/G) jump to the first and the newest, and escape gives the focus back to the prompt. Only the
mounted messages are reachable: the transcript keeps the newest MAX_VIEWS (see transcript.py). The widget knows no
session: what the user asks of a message goes to the `act` it was given.

Its keys act in the order they were typed, however fast. They are priority bindings, run as the app reads them,
so a key that leaves the cursor (escape, or e, which edits in the prompt) has moved the focus before the next
key of a burst is handed on. Text that is none of its keys (a space, an x) leaves it too, but only once the
cursor handles that key, and the app may have read more of the burst by then: a key of the cursor read while
keys wait here waits behind them (check_action), and the keys that reach the cursor after it was left are typed
into the prompt, in order (on_key). Once left, the cursor binds nothing until it is entered again. Its keys are
letters a message is made of (e, d, r, h, l, y): taken by the cursor, they would edit, delete or regenerate.

Notes (the welcome line, an error) are in the transcript but are not messages: the cursor passes over them.

Code blocks carry their number (1-9, what the digits copy) while the message has the cursor and the transcript
the focus: that is where the digits work, and elsewhere the numbers would only clutter the reply.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, ClassVar, Literal

from textual import events
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widget import Widget

from chatbot.ui.widgets.message_view import MessageView
from chatbot.ui.widgets.prompt_input import PromptInput
from chatbot.ui.widgets.tool_call import ToolCallBlock

if TYPE_CHECKING:
    from textual.widgets._markdown import MarkdownFence

What = Literal["copy", "code", "edit", "regenerate", "fork", "delete", "switch", "leave"]
# The user asked `what` of the message a view shows (None: there is none); the int is the code block's number, or
# the step of a switch.
Act = Callable[[MessageView | None, What, int], None]
ALTERNATIVE = Binding.Group("Alternative")
CODE_BLOCKS = 9  # the digits 1-9
MESSAGE_ROLES = ("user", "assistant")  # the views of other roles are notes
CURSOR_ACTIONS = ("move", "jump", "act", "fold")


def code_blocks(view: MessageView) -> list[MarkdownFence]:
    """The code blocks of a message in the order they are numbered: as the reply shows them, top to bottom
    (a block inside a list counts where it stands)."""
    # Imported here: Textual's Markdown module brings the Markdown parser, which the first paint need not wait for.
    from textual.widgets._markdown import MarkdownFence

    return list(view.query(MarkdownFence))


class MessageCursor(VerticalScroll):
    """A scrolling list of MessageViews with a cursor on one of them."""

    can_focus = True
    BINDINGS: ClassVar[list[BindingType]] = [
        # The arrows need no word in the footer, which has no room for one.
        Binding("up,k", "move(-1)", "Up a message", id="message_up", show=False, priority=True),
        Binding("down,j", "move(1)", "Down a message", id="message_down", show=False, priority=True),
        Binding("home,g", "jump(0)", "First message", id="message_first", show=False, priority=True),
        Binding("end,G", "jump(-1)", "Newest message", id="message_last", show=False, priority=True),
        Binding("y", "act('copy')", "Copy", id="message_copy", priority=True),
        Binding("e", "act('edit')", "Edit", id="message_edit", priority=True),
        Binding("r", "act('regenerate')", "Regenerate", id="message_regenerate", priority=True),
        Binding("f", "act('fork')", "Fork", id="message_fork", priority=True),
        Binding("d,delete", "act('delete')", "Delete", id="message_delete", priority=True),
        Binding("left,h", "act('switch', -1)", "Previous alternative", id="message_previous", group=ALTERNATIVE,
                priority=True),
        Binding("right,l", "act('switch', 1)", "Next alternative", id="message_next", group=ALTERNATIVE,
                priority=True),
        Binding("escape", "act('leave')", "Prompt", id="message_leave", priority=True),
        # Only on a message that made tool calls (check_action): elsewhere enter does nothing here.
        Binding("enter", "fold", "Open tool calls", id="message_tool_calls", priority=True),
        # Not remappable: nine ids for nine digits would crowd the keymap for no gain.
        *(Binding(str(n), f"act('code', {n})", f"Copy code block {n}", show=False, priority=True)
          for n in range(1, CODE_BLOCKS + 1)),
    ]

    def __init__(self, *, act: Act | None = None, prompt: Callable[[], PromptInput] | None = None,
                 **kwargs: object) -> None:
        """`prompt`: where the keys go that are not the cursor's (text typed while it is active leaves it)."""
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._act = act
        self._prompt = prompt
        self._cursor: MessageView | None = None
        self.active = False  # the cursor's keys act: from `enter` (or the focus coming here) to `leave`
        self._waiting = 0  # keys handed here and not handled yet
        self._in_turn = False  # a key that waited is handled now

    @property
    def cursor(self) -> MessageView | None:
        """The message under the cursor, if it is still shown."""
        view = self._cursor
        return view if view is not None and view.parent is self and view.display else None

    def reachable(self) -> list[MessageView]:
        """The messages the cursor can go to: the mounted ones, not those hidden while a regenerate runs, and not
        the notes."""
        return [v for v in self.query_children(MessageView) if v.display and v.role in MESSAGE_ROLES]

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action not in CURSOR_ACTIONS:
            return True
        if action == "fold" and not self.tool_calls():
            return False
        # Left, the cursor binds nothing. And a key of the cursor read while keys before it wait here (text,
        # which may leave the cursor) must not overtake them: it waits too, and acts in its turn (see on_key).
        return self.active and (self._in_turn or not self._waiting)

    def post_message(self, message: Message) -> bool:
        # The app hands a key here as it reads it, in the order typed: count those not yet handled.
        posted = super().post_message(message)
        if posted and isinstance(message, events.Key):
            self._waiting += 1
        return posted

    def put(self, view: MessageView | None, *, scroll: bool = True) -> None:
        """Put the cursor on `view` (None: nowhere), scrolled into view, and number its code blocks."""
        if self._cursor is not None:
            self._cursor.remove_class("cursor")
        self._cursor = view
        self.refresh_bindings()  # enter's word in the footer comes and goes with the tool calls under the cursor
        if view is None:
            return
        view.add_class("cursor")
        for number, block in enumerate(code_blocks(view), 1):
            block.border_title = str(number) if number <= CODE_BLOCKS else ""
        if scroll:
            self.scroll_to_widget(view, animate=False)

    def tool_calls(self) -> list[ToolCallBlock]:
        """The tool calls of the message under the cursor (a reply that made some), top to bottom."""
        view = self.cursor
        return list(view.query(ToolCallBlock)) if view is not None else []

    def enter(self) -> None:
        """Take the focus with the cursor on the newest message: what is most often acted on."""
        views = self.reachable()
        self.put(views[-1] if views else None)
        # At once, not as focus() does, after the keys already read: those typed after this one come here.
        self.screen.set_focus(self)
        self.active = True

    def leave(self, to: Widget) -> None:
        """Give the focus to `to` now, as the key that leaves is read, and bind nothing from here on."""
        self.screen.set_focus(to)  # not focus(): that moves it only after the keys already read
        self.active = self.screen.focused is self  # still here if `to` cannot take the focus
        self.refresh_bindings()  # the footer drops the cursor's keys

    async def on_key(self, event: events.Key) -> None:
        # Each key reaches the widget that was focused as the app read it, and all the keys of a burst may be read
        # before the first is handled here. So the keys that came here are handled here, in the order they came:
        # once the cursor is left, as the prompt's (typed into it before any key the prompt got itself); while it
        # is active, a key of the cursor as its binding, and text, which is for the prompt, leaves the cursor.
        self._waiting = max(self._waiting - 1, 0)
        focused = self.screen.focused
        prompt = self._prompt() if self._prompt is not None else None
        if prompt is None or (focused is not None and focused is not self and self in focused.ancestors):
            return  # no prompt, or a key of a widget inside a message (a fold's title)
        if self.active:
            self._in_turn = True
            try:
                bound = self.screen.active_bindings.get(event.key)
                if bound is not None and bound.node is self and await self.app.run_action(bound.binding.action, self):
                    event.stop()
                    return
            finally:
                self._in_turn = False
            if not (event.is_printable and event.character) or event.key in self.screen.active_bindings:
                return
            self.leave(prompt)
        if await prompt.typed(event):
            event.stop()
            event.prevent_default()

    def on_focus(self) -> None:
        # The Focus event comes after the keys read with it: a burst may have left the cursor already.
        self.active = self.screen.focused is self
        # Focused another way (tab, a click): a cursor that is gone goes to the newest message. Not scrolled: a
        # click that focused the transcript puts the cursor where it landed, and must not move what is under it.
        if self.cursor is None:
            views = self.reachable()
            self.put(views[-1] if views else None, scroll=False)

    def on_click(self, event: events.Click) -> None:
        node: Widget | None = event.widget
        while node is not None and node is not self and not isinstance(node, MessageView):
            node = node.parent if isinstance(node.parent, Widget) else None
        if isinstance(node, MessageView) and node in self.reachable():
            self.put(node, scroll=False)

    def action_move(self, step: int) -> None:
        views = self.reachable()
        if not views:
            return
        current = self.cursor
        index = views.index(current) + step if current in views else len(views) - 1
        self.put(views[min(max(index, 0), len(views) - 1)])

    def action_jump(self, index: int) -> None:
        if views := self.reachable():
            self.put(views[index])

    def action_fold(self) -> None:
        """Open all the tool calls of the message under the cursor, or, if all are open, fold them all: one key
        for a reply that made several, which are most often read together."""
        blocks = self.tool_calls()
        fold = all(not block.collapsed for block in blocks)
        for block in blocks:
            block.collapsed = fold

    def action_act(self, what: What, number: int = 0) -> None:
        if self._act is not None:
            self._act(self.cursor, what, number)
