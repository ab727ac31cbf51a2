"""Where to export the open conversation: a path to edit (a file in the current folder to start with); a file
that is already there is overwritten only after a yes."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import Input, Static

from chatbot.ui.screens.dialog import Dialog
from chatbot.ui.shown import shown, shown_text
from chatbot.ui.widgets.confirm_bar import ConfirmBar


class ExportScreen(Dialog[Path | None]):
    """Closes with the path to write (None on escape)."""

    CSS_PATH = Path(__file__).with_suffix(".tcss")
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss(None)", "Cancel", show=False)]

    def __init__(self, title: str, default: Path) -> None:
        super().__init__()
        self.title_text = title
        self.default = default
        self.asked: Path | None = None  # the existing file the overwrite question is about

    def compose(self) -> ComposeResult:
        with Vertical(id="export"):
            yield Static(shown(self.title_text), id="export-title")
            yield Input(shown_text(str(self.default)), id="export-path", select_on_focus=False)
            yield ConfirmBar(id="export-confirm")
            yield Static(Content("enter writes · escape cancels"),
                         id="export-footer")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if not event.value.strip():
            return
        path = Path(event.value.strip()).expanduser()
        if path.is_dir():
            path = path / self.default.name
        if path.exists():
            self.asked = path
            self.query_one(ConfirmBar).ask(f"{path} exists. Overwrite it? enter/y overwrites, escape keeps it")
            return
        self.dismiss(path)

    def on_confirm_bar_answered(self, event: ConfirmBar.Answered) -> None:
        event.stop()
        if event.yes and self.asked is not None:
            self.dismiss(self.asked)
        self.asked = None
