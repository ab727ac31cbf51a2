"""Composing in $VISUAL / $EDITOR, with real editor processes (shell scripts) and no terminal to hand over.

The hand-over itself (the app leaving and retaking the terminal) is in test_pty_input.py.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from chatbot.ui import editor


def script(tmp_path: Path, body: str) -> str:
    path = tmp_path / "ed"
    path.write_text(f"#!/bin/sh\n{body}\n", encoding="utf-8")
    path.chmod(0o755)
    return str(path)


def run(text: str, **env: str) -> editor.Edited:
    return editor.edit(text, contextlib.nullcontext, {"PATH": os.environ["PATH"], **env})


def test_visual_wins_over_editor_and_arguments_are_kept(tmp_path: Path) -> None:
    assert editor.editor_command({"VISUAL": "code --wait", "EDITOR": "vi"}) == ["code", "--wait"]
    assert editor.editor_command({"EDITOR": "vi"}) == ["vi"]
    assert editor.editor_command({"VISUAL": " ", "EDITOR": ""}) is None


def test_what_is_saved_comes_back_without_the_editors_final_newline(tmp_path: Path) -> None:
    edited = run("draft", EDITOR=script(tmp_path, 'printf "draft, finished\\n" > "$1"'))
    assert edited == editor.Edited("draft, finished")


def test_the_editor_gets_the_text_and_its_own_arguments_first(tmp_path: Path) -> None:
    seen = tmp_path / "seen"
    ed = script(tmp_path, f'echo "$@" > "{seen}.args"; cp "$2" "{seen}"')
    assert run("héllo\nthere", VISUAL=f"{ed} --wait").text == "héllo\nthere"
    assert seen.read_text(encoding="utf-8") == "héllo\nthere"
    assert (tmp_path / "seen.args").read_text().split()[0] == "--wait"


def test_no_editor_set_says_how_to_set_one() -> None:
    edited = run("draft")
    assert edited.text is None and "set $VISUAL or $EDITOR" in (edited.problem or "")


def test_an_editor_that_is_not_installed_is_named(tmp_path: Path) -> None:
    edited = run("draft", EDITOR="no-such-editor-here")
    assert edited.text is None and "'no-such-editor-here' was not found" in (edited.problem or "")


def test_a_failed_edit_that_changed_nothing_leaves_no_file(tmp_path: Path) -> None:
    edited = run("draft", EDITOR=script(tmp_path, f'echo "$1" > "{tmp_path}/where"; exit 1'))
    assert edited.text is None and "exited with status 1" in (edited.problem or "")
    assert not Path((tmp_path / "where").read_text().strip()).exists()


def test_a_failed_edit_keeps_what_was_written_and_says_where(tmp_path: Path) -> None:
    edited = run("draft", EDITOR=script(tmp_path, 'printf "half an essay" > "$1"; kill -9 $$'))
    assert edited.text is None and edited.problem is not None and "stopped by signal 9" in edited.problem
    kept = Path(edited.problem.split("What it saved is in ")[1].rstrip("."))
    assert kept.read_text() == "half an essay"
    kept.unlink()
    kept.parent.rmdir()


def test_an_editor_that_removes_its_file_changes_nothing(tmp_path: Path) -> None:
    edited = run("draft", EDITOR=script(tmp_path, 'rm "$1"'))
    assert edited.text is None and "left no file" in (edited.problem or "")
