"""Composing in the user's own editor: the app steps aside, `$VISUAL` (else `$EDITOR`) opens the text, and what
was saved comes back.

The editor gets the terminal as it was before the app started (Textual's suspend), and gets it back restored
however it ends. Nothing typed is lost: an editor that fails (vim's `:cq`, a crash) leaves the prompt as it was,
and if its file was changed meanwhile, the file is kept and named.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import tempfile
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Edited:
    """What came back: the new text, or None and why not."""

    text: str | None
    problem: str | None = None


def editor_command(env: Mapping[str, str] | None = None) -> list[str] | None:
    """The editor's argv, the file to go last: `code --wait` and `emacsclient -t` are commands with arguments."""
    env = os.environ if env is None else env
    for var in ("VISUAL", "EDITOR"):
        if (value := env.get(var, "").strip()):
            try:
                return shlex.split(value)
            except ValueError:
                return [value]
    return None


def edit(text: str, suspended: Callable[[], AbstractContextManager[object]],
         env: Mapping[str, str] | None = None) -> Edited:
    """Open `text` in the editor while `suspended()` holds the terminal for it."""
    command = editor_command(env)
    if command is None:
        return Edited(None, "No editor set: set $VISUAL or $EDITOR (for example EDITOR=nano) and try again.")
    folder = Path(tempfile.mkdtemp(prefix="chat-"))
    path = folder / "prompt.md"  # .md: the editor highlights it as what it is
    path.write_text(text, encoding="utf-8")
    keep = False
    try:
        failed: OSError | None = None
        with suspended():
            # Caught in here: an error out of Textual's suspend skips its resume, and the app stays suspended
            # (a blank screen taking no keys, the prompt lost with it).
            try:
                status = subprocess.run([*command, str(path)], check=False).returncode
            except OSError as exc:
                failed = exc
        if isinstance(failed, FileNotFoundError):
            return Edited(None, f"The editor {command[0]!r} was not found: check $VISUAL / $EDITOR.")
        if failed is not None:
            return Edited(None, f"The editor could not be started: {failed.strerror or failed}.")
        try:
            saved = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return Edited(None, "The editor left no file behind; the prompt is as it was.")
        if status != 0:
            keep = saved != text
            where = f" What it saved is in {path}." if keep else ""
            how = f"was stopped by signal {-status}" if status < 0 else f"exited with status {status}"
            return Edited(None, f"The editor ({command[0]}) {how}; the prompt is as it was." + where)
        # Editors end a file with a newline the user never typed.
        return Edited(saved[:-1] if saved.endswith("\n") and not text.endswith("\n") else saved)
    finally:
        if not keep:
            path.unlink(missing_ok=True)
            folder.rmdir()
