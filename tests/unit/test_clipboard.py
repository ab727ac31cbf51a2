"""Copying a reply: the desktop's clipboard tool, and tmux's buffer inside tmux.

The tools are real programs run as `chat` runs them: a stand-in `xclip` on PATH that keeps what it reads, and
a real tmux server on a socket of the test's own."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from chatbot.ui import clipboard
from support import stand_in


def test_the_desktops_tool_is_picked_by_what_the_environment_has(tmp_path: Path) -> None:
    for name in ("xclip", "xsel", "wl-copy", "pbcopy"):
        stand_in(tmp_path / "bin", name, tmp_path / name)
    path = str(tmp_path / "bin")
    assert [t.label for t in clipboard.tools({"PATH": path}, "linux")] == []
    assert [t.label for t in clipboard.tools({"PATH": path, "DISPLAY": ":0"}, "linux")] == ["xclip"]
    assert [t.label for t in clipboard.tools({"PATH": path, "WAYLAND_DISPLAY": "w"}, "linux")] == ["wl-copy"]
    assert [t.label for t in clipboard.tools({"PATH": path}, "darwin")] == ["pbcopy"]
    (tmp_path / "bin" / "xclip").unlink()
    assert [t.label for t in clipboard.tools({"PATH": path, "DISPLAY": ":0"}, "linux")] == ["xsel"]


def test_the_text_reaches_the_tool_whole(tmp_path: Path) -> None:
    stand_in(tmp_path / "bin", "xclip", tmp_path / "kept")
    env = {"PATH": f"{tmp_path / 'bin'}:{os.environ['PATH']}", "DISPLAY": ":0"}
    text = "naïve 日本語 ```code```\nsecond line\n"
    assert clipboard.copy(text, env, "linux") == ["xclip"]
    assert (tmp_path / "kept").read_text(encoding="utf-8") == text
    assert (tmp_path / "kept.args").read_text().split() == ["-selection", "clipboard"]


def test_a_tool_that_fails_is_not_named(tmp_path: Path) -> None:
    stand_in(tmp_path / "bin", "xclip", tmp_path / "kept", status=1)  # e.g. "Can't open display"
    env = {"PATH": f"{tmp_path / 'bin'}:{os.environ['PATH']}", "DISPLAY": ":0"}
    assert clipboard.copy("text", env, "linux") == []


@pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")
def test_inside_tmux_the_text_goes_to_its_paste_buffer(tmp_path: Path) -> None:
    socket = tmp_path / "tmux.sock"
    tmux = ["tmux", "-S", str(socket), "-f", "/dev/null"]
    subprocess.run([*tmux, "new-session", "-d", "-x", "80", "-y", "24", "sleep 60"], check=True)
    try:
        server_pid = subprocess.run([*tmux, "display-message", "-p", "#{pid}"], check=True, capture_output=True,
                                    text=True).stdout.strip()
        # What tmux sets for a program inside it: the socket, the server's pid, the session.
        env = {"PATH": os.environ["PATH"], "TMUX": f"{socket},{server_pid},0"}
        text = "from inside tmux\nline two"
        assert clipboard.copy(text, env, "linux") == ["tmux's paste buffer"]
        shown = subprocess.run([*tmux, "show-buffer"], check=True, capture_output=True, text=True).stdout
        assert shown == text
    finally:
        subprocess.run([*tmux, "kill-server"], check=False)

