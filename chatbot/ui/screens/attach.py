"""The file picker: a directory tree of the current folder, filtered as you type, to attach a file.

What is typed filters the tree's file names (folders stay, to open); enter on a file, a typed path that names one,
or a filter that leaves one file in the folder picks it (with several, the tree gets the focus on the first);
down goes from the filter to the tree; escape closes with nothing picked. Beside the tree, the image the tree's
cursor is on is shown small, with its file size, the size it is sent at and what it costs the current model (worked
out off the UI thread by the `preview` the screen is given, as attaching it would).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.widgets import DirectoryTree, Input, Static, Tree

from chatbot.ui.screens.dialog import Dialog
from chatbot.ui.shown import shown
from chatbot.ui.widgets.thumbnail import Thumbnail

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".webp", ".gif"})


@dataclass(frozen=True, slots=True)
class Preview:
    """What the picker shows of one file: lines of text, and the image's bytes (as sent) to draw small."""

    text: str
    image: bytes | None = None


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


class AttachScreen(Dialog[Path | None]):
    """Closes with the file picked (None on escape)."""

    CSS_PATH = Path(__file__).with_suffix(".tcss")
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss(None)", "Cancel", show=False)]

    def __init__(self, folder: Path, preview: Callable[[Path], Preview] | None = None) -> None:
        super().__init__()
        self.folder = folder
        self.preview = preview  # runs in a thread: it reads and prepares the file
        self.previewed: Path | None = None  # the image the preview shows, once it is drawn

    def compose(self) -> ComposeResult:
        with Vertical(id="attach"):
            yield Static(Content("Attach a file"), id="attach-title")
            yield Input(placeholder="filter, or a path", id="attach-filter")
            with Horizontal(id="attach-body"):
                yield FilteredTree(self.folder, id="attach-tree")
                with Vertical(id="attach-preview"):
                    yield Static(id="attach-preview-text")
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
            # At once, not after the keys already queued (as focus() would): the rest of a burst ("down down")
            # goes to the tree.
            self.set_focus(self.files)

    def on_tree_node_highlighted(self, event: Tree.NodeHighlighted[object]) -> None:
        data = event.node.data
        path = getattr(data, "path", None)
        if self.preview is None or not isinstance(path, Path):
            return
        self.run_worker(self._show_preview(path, self.preview), group="preview", exclusive=True,
                        exit_on_error=False)

    async def _show_preview(self, path: Path, preview: Callable[[Path], Preview]) -> None:
        found = await asyncio.to_thread(preview, path) if path.suffix.lower() in IMAGE_SUFFIXES else Preview("")
        box = self.query_one("#attach-preview", Vertical)
        await box.query(Thumbnail).remove()
        self.query_one("#attach-preview-text", Static).update(shown(found.text))
        if found.image is not None:
            await box.mount(Thumbnail(found.image, path.name, still=True))
        self.previewed = path if found.image is not None else None

    def on_directory_tree_file_selected(self, event: DirectoryTree.FileSelected) -> None:
        event.stop()
        self.dismiss(event.path)
