"""The message cursor: a highlighted message in the transcript, moved from the keyboard and put by a click, and
the actions asked of the message under it.

The transcript takes the focus from the prompt (the screen's key); then up/down (j/k) move the cursor over the
messages, home/end (g/G) jump to the first and the newest, and escape gives the focus back to the prompt. Only the
mounted messages are reachable: the transcript keeps the newest MAX_VIEWS (see transcript.py). The widget knows no
session: what the user asks of a message goes to the `act` it was given.

Its keys are priority bindings, run as the app reads them, in the order they were typed: a key that moves the
focus (escape, or e, which edits in the prompt) has moved it before the next key of a burst is handed on, so that
key goes where the focus went, as it would have for a slower typist.

Code blocks carry their number (1-9, what the digits copy) while the message has the cursor and the transcript
the focus: that is where the digits work, and elsewhere the numbers would only clutter the reply.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar, Literal

from textual import events
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widget import Widget
from textual.widgets._markdown import MarkdownFence

from chatbot.ui.widgets.message_view import MessageView

What = Literal["copy", "code", "edit", "regenerate", "fork", "delete", "switch", "leave"]
# The user asked `what` of the message a view shows (None: there is none); the int is the code block's number, or
# the step of a switch.
Act = Callable[[MessageView | None, What, int], None]
ALTERNATIVE = Binding.Group("Alternative")
CODE_BLOCKS = 9  # the digits 1-9


def code_blocks(view: MessageView) -> list[MarkdownFence]:
    """The code blocks of a message in the order they are numbered: as the reply shows them, top to bottom
    (a block inside a list counts where it stands)."""
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
        # Not remappable: nine ids for nine digits would crowd the keymap for no gain.
        *(Binding(str(n), f"act('code', {n})", f"Copy code block {n}", show=False, priority=True)
          for n in range(1, CODE_BLOCKS + 1)),
    ]

    def __init__(self, *, act: Act | None = None, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._act = act
        self._cursor: MessageView | None = None

    @property
    def cursor(self) -> MessageView | None:
        """The message under the cursor, if it is still shown."""
        view = self._cursor
        return view if view is not None and view.parent is self and view.display else None

    def reachable(self) -> list[MessageView]:
        """The messages the cursor can go to: the mounted ones, not those hidden while a regenerate runs."""
        return [v for v in self.query_children(MessageView) if v.display]

    def put(self, view: MessageView | None, *, scroll: bool = True) -> None:
        """Put the cursor on `view` (None: nowhere), scrolled into view, and number its code blocks."""
        if self._cursor is not None:
            self._cursor.remove_class("cursor")
        self._cursor = view
        if view is None:
            return
        view.add_class("cursor")
        for number, block in enumerate(code_blocks(view), 1):
            block.border_title = str(number) if number <= CODE_BLOCKS else ""
        if scroll:
            self.scroll_to_widget(view, animate=False)

    def enter(self) -> None:
        """Take the focus with the cursor on the newest message: what is most often acted on."""
        views = self.reachable()
        self.put(views[-1] if views else None)
        # At once, not as focus() does, after the keys already read: those typed after this one come here.
        self.screen.set_focus(self)

    def on_focus(self) -> None:
        # Focused another way (tab, a click): a cursor that is gone goes to the newest message. Not scrolled: a
        # click that focused the transcript puts the cursor where it landed, and must not move what is under it.
        if self.cursor is None:
            views = self.reachable()
            self.put(views[-1] if views else None, scroll=False)

    def on_click(self, event: events.Click) -> None:
        node: Widget | None = event.widget
        while node is not None and node is not self and not isinstance(node, MessageView):
            node = node.parent if isinstance(node.parent, Widget) else None
        if isinstance(node, MessageView) and node.parent is self:
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

    def action_act(self, what: What, number: int = 0) -> None:
        if self._act is not None:
            self._act(self.cursor, what, number)
