"""The question before a tool call runs: whose tool, what it says of itself, the arguments the model passes,
and four answers (once, for this conversation, always, deny), each a key and a button. Escape denies the call
and stops the turn.

The tool's description and annotations are the server's text and the arguments the model's: drawn as data,
never markup. `approver(app)` is the Approver the session asks: it opens this dialog and waits for the answer.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, Static

from chatbot.core.tools.approval import Approval, ApprovalRequest, Approver
from chatbot.ui.screens.dialog import Dialog
from chatbot.ui.shown import shown

# A letter that comes this soon after the question appears was typed for the prompt (the dialog opens while the
# user may be writing the next message): it answers nothing, so no call runs, or is denied, by a word's letter.
ANSWER_DELAY = 0.5

# (answer, key, button) in the order the buttons stand.
ANSWERS = (
    (Approval.ONCE, "o", "Allow once (o)"),
    (Approval.CONVERSATION, "c", "This conversation (c)"),
    (Approval.ALWAYS, "a", "Always (a)"),
    (Approval.DENY, "d", "Deny (d)"),
)


def arguments_text(request: ApprovalRequest) -> str:
    """The arguments indented as JSON; the model's own text, said to be unreadable, when it did not parse."""
    if request.arguments is None:
        return f"(not valid JSON, the call will fail)\n{request.raw_arguments}"
    if not request.arguments:
        return "(none)"
    return json.dumps(request.arguments, indent=2, ensure_ascii=False)


def annotations_text(annotations: dict[str, object]) -> str:
    """The tool's annotations one a line: what the server says the tool does (its word, not a guarantee)."""
    if not annotations:
        return "(none)"
    return "\n".join(f"{key}: {json.dumps(value, ensure_ascii=False)}" for key, value in annotations.items())


class ApprovalScreen(Dialog[Approval]):
    CSS_PATH = Path(__file__).with_suffix(".tcss")
    BINDINGS: ClassVar[list[BindingType]] = [
        *(Binding(key, f"answer('{answer.value}')", show=False) for answer, key, _ in ANSWERS),
        Binding("escape", "answer('stop')", "Deny and stop", show=False),
    ]

    def __init__(self, request: ApprovalRequest, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.request = request
        self.clock = clock
        self.opened: float | None = None  # when the question was first drawn; letters before ANSWER_DELAY are ignored

    def compose(self) -> ComposeResult:
        request = self.request
        with Vertical(id="approval"):
            yield Static(shown("Run this tool?"), id="approval-title")
            yield Static(shown(f"server  {request.server}\ntool    {request.tool}"), id="approval-tool")
            with VerticalScroll(id="approval-body"):
                yield Static(shown(request.description or "(no description)"), id="approval-description")
                yield Static(shown("annotations"), classes="approval-label")
                yield Static(shown(annotations_text(request.annotations)), id="approval-annotations")
                yield Static(shown("arguments"), classes="approval-label")
                yield Static(shown(arguments_text(request)), id="approval-arguments")
            with Horizontal(id="approval-buttons"):
                for answer, _, label in ANSWERS:
                    yield Button(shown(label), id=f"approval-{answer.value}", compact=True,
                                 variant="error" if answer is Approval.DENY else "default")
            yield Static(shown("always: written to the config · escape: deny and stop the reply"),
                         id="approval-footer")
            yield Static("", id="approval-early")

    def on_mount(self) -> None:
        # No button has the focus: the dialog opens while the user may be typing the next message, and a space
        # or an enter meant for the prompt must not answer for them. The letters answer, and tab reaches the buttons.
        self.query_one("#approval-body").focus()
        self.call_after_refresh(self._drawn)

    def _drawn(self) -> None:
        self.opened = self.clock()

    @property
    def taking_answers(self) -> bool:
        """Whether a letter now answers: the question has been on screen for ANSWER_DELAY."""
        return self.opened is not None and self.clock() - self.opened >= ANSWER_DELAY

    def action_answer(self, value: str) -> None:
        answer = Approval(value)
        if answer is not Approval.STOP and not self.taking_answers:  # escape, which runs nothing, always counts
            early = self.query_one("#approval-early", Static)
            early.update(shown("a key typed as this question opened answers nothing: press it again to answer"))
            early.display = True
            return
        self.dismiss(answer)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id is not None:
            self.dismiss(Approval(event.button.id.removeprefix("approval-")))


def approver(app: App[Any], clock: Callable[[], float] = time.monotonic) -> Approver:
    """The session's Approver in `app`: each question opens a dialog and waits for its answer. A turn stopped
    meanwhile (the app quits) takes its dialog down."""

    async def approve(request: ApprovalRequest) -> Approval:
        answered: asyncio.Future[Approval] = asyncio.get_running_loop().create_future()

        def answer(approval: Approval | None) -> None:
            if not answered.done():
                answered.set_result(approval or Approval.STOP)

        screen = ApprovalScreen(request, clock)
        app.push_screen(screen, answer)
        try:
            return await answered
        except asyncio.CancelledError:
            if app.screen is screen:
                screen.dismiss(Approval.STOP)
            raise

    return approve
