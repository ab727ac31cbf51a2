"""Copying a reply: to the desktop's clipboard tool when there is one, to tmux's buffer inside tmux, and always
through the terminal (OSC 52), which is the only way that works over ssh.

Inside tmux, OSC 52 from a program reaches the outer terminal only with `set-clipboard on`; the default,
`external`, drops it without a word. So inside tmux the text goes to `tmux load-buffer -w`, which tmux itself
passes on to the outer terminal's clipboard. Each way that took the text is named to the user; OSC 52 alone is
named as sent, since no terminal answers whether it kept it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass

TIMEOUT = 3.0  # seconds: a clipboard tool that hangs (no display after all) must not hold the copy up


@dataclass(frozen=True)
class Tool:
    """A command that reads the text to copy on its standard input."""

    label: str
    argv: tuple[str, ...]


def tools(env: Mapping[str, str] | None = None, platform: str = sys.platform) -> list[Tool]:
    """The ways to copy that this environment offers, best first; OSC 52 is not among them (always sent)."""
    env = os.environ if env is None else env
    found: list[Tool] = []
    if env.get("TMUX") and shutil.which("tmux", path=env.get("PATH")):
        found.append(Tool("tmux's paste buffer", ("tmux", "load-buffer", "-w", "-")))
    candidates: list[tuple[bool, str, tuple[str, ...]]] = [
        (platform == "darwin", "pbcopy", ("pbcopy",)),
        (bool(env.get("WAYLAND_DISPLAY")), "wl-copy", ("wl-copy",)),
        (bool(env.get("DISPLAY")), "xclip", ("xclip", "-selection", "clipboard")),
        (bool(env.get("DISPLAY")), "xsel", ("xsel", "--clipboard", "--input")),
    ]
    for usable, name, argv in candidates:
        if usable and shutil.which(argv[0], path=env.get("PATH")):
            found.append(Tool(name, argv))
            break  # one desktop clipboard is enough
    return found


def copy_with(tool: Tool, text: str, env: Mapping[str, str] | None = None) -> bool:
    """Run `tool` with `text` on its input. Its output is not kept: xclip and xsel stay behind to serve the
    selection, and a pipe they inherited would keep this call waiting for them."""
    try:
        done = subprocess.run(tool.argv, input=text.encode(), stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, timeout=TIMEOUT, check=False,
                              env=None if env is None else dict(env))
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0


def copy(text: str, env: Mapping[str, str] | None = None, platform: str = sys.platform) -> list[str]:
    """Copy `text` every way this environment offers; the labels of those that took it."""
    return [tool.label for tool in tools(env, platform) if copy_with(tool, text, env)]


def said(copied: str, ways: list[str], what: str = "the last reply") -> str:
    """What the user is told after copying `what`: the ways that took the text, or that OSC 52 alone was sent."""
    size = f"{len(copied):,} characters"
    if ways:
        return f"Copied {what} ({size}) to {' and '.join(ways)}, and sent it to the terminal."
    return (f"Sent {what} ({size}) to the terminal's clipboard (OSC 52). A terminal that does not allow "
            "OSC 52 drops it: README's Clipboard section says what to set.")
