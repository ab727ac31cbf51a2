"""The file picker: a directory tree of the current folder, filtered as you type, to attach a file.

What is typed filters the tree's file names (folders stay, to open); enter on a file, a typed path that names one,
or a filter that leaves one file in the folder picks it (with several, the tree gets the focus on the first);
down goes from the filter to the tree; escape closes with nothing picked.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import ClassVar

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import DirectoryTree, Input, Static


class FilteredTree(DirectoryTree):
    """A DirectoryTree that lists the folders and the files whose names hold `filter` (case aside); hidden
    ones only when the filter starts with a dot."""

    def __init__(self, path: Path, **kwargs: object) -> None:
        super().__init__(path, **kwargs)  # type: ignore[arg-type]
        self.filter = ""

    def filter_paths(self, paths: Iterable[Path]) -> Iterable[Path]:
        wanted = self.filter.casefold()
        for path in paths:
            if path.name.startswith(".") and not wanted.startswith("."):
                continue
            if not wanted or wanted in path.name.casefold() or _is_dir(path):
                yield path


def _is_dir(path: Path) -> bool:
    try:
        return path.is_dir()
    except OSError:
        return False


class AttachScreen(ModalScreen[Path | None]):
    """Closes with the file picked (None on escape)."""

    CSS_PATH = Path(__file__).with_suffix(".tcss")
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss(None)", "Cancel", show=False)]

    def __init__(self, folder: Path) -> None:
        super().__init__()
        self.folder = folder

    def compose(self) -> ComposeResult:
        with Vertical(id="attach"):
            yield Static(Content("Attach a file"), id="attach-title")
            yield Input(placeholder="filter, or a path", id="attach-filter")
            yield FilteredTree(self.folder, id="attach-tree")
            yield Static(Content("type to filter · down to the tree · enter attaches · escape cancels"),
                         id="attach-footer")

    @property
    def files(self) -> FilteredTree:
        return self.query_one(FilteredTree)

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    async def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        self.files.filter = event.value.strip()
        await self.files.reload()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        typed = event.value.strip()
        path = (self.folder / Path(typed).expanduser()) if typed else None
        if path is not None and path.is_file():
            self.dismiss(path)
            return
        # A filter, not a file: the one file it leaves is the one meant; of several, the first is where to pick.
        matches = [node for node in self.files.root.children
                   if node.data is not None and not _is_dir(node.data.path)]
        if typed and len(matches) == 1 and matches[0].data is not None:
            self.dismiss(matches[0].data.path)
            return
        self.files.focus()
        if matches:
            self.files.move_cursor(matches[0])

    def on_key(self, event: events.Key) -> None:
        if event.key == "down" and isinstance(self.focused, Input):
            event.stop()
            self.files.focus()

    def on_directory_tree_file_selected(self, event: DirectoryTree.FileSelected) -> None:
        event.stop()
        self.dismiss(event.path)
