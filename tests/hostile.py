"""Hostile text, as a server or a user could send it, and the checks that it never reaches a terminal raw.

"What reaches the terminal" in the app is checked on the compositor's full update, the exact strips the app
would write (App._display renders the same update with `render_segments`): no segment of text may hold an
escape or control character, and the rendered sequence may hold no OSC at all (Textual's own output is CSI
only). export_screenshot() and the widgets' plain text are checked too. A one-shot `chat` is run with its
stdout on a pseudo-terminal.
"""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

from rich.cells import cell_len

from chatbot.core.conversation import Message
from chatbot.core.events import Usage
from chatbot.core.request import Request
from chatbot.core.store.export import FORMAT, FORMAT_VERSION
from chatbot.core.store.history import HistoryStore
from chatbot.core.terminal import PASTE_END, PASTE_START, neutralize
from support import screen_text

ESC, BEL, ST = "\x1b", "\x07", "\x1b\\"
# Every C0 and C1 control, DEL included: none may be in the text the app draws.
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")

HOSTILE_ESCAPES = (
    f"{ESC}[31mred{ESC}[0m "
    f"{ESC}[2J{ESC}[Hcleared "
    f"{ESC}]0;pwned-title{BEL}title "
    f"{ESC}]2;other-title{ST}title2 "
    f"{ESC}]52;c;cHduZWQgY2xpcGJvYXJk{BEL}clip "
    f"{ESC}]8;;https://evil.invalid/{ST}hyperlink{ESC}]8;;{ST} "
    f"{ESC}P1$qm{ST}dcs "
    f"\x9b31mc1csi \x9d0;c1osc\x9c "
    f"bell{BEL} back\x08space tab\tend"
)
H = HOSTILE_ESCAPES  # short, as it fills every field of a stored conversation

# What lives only inside a sequence (a window title, a clipboard payload, a link target, a DCS query): it is
# never printed, not even as the leftover of a sequence cut in two.
HIDDEN = ("pwned", "other-title", "cHduZWQ", "evil.invalid", "1$qm")
VISIBLE_WORDS = ["red", "cleared", "title", "title2", "clip", "hyperlink", "dcs", "c1csi", "bell", "tab", "end"]

# A key, an arrow, a paste holding CRLF, a colour sequence on its last line and a carriage return after it, a key.
STREAM = f"x{ESC}[A{PASTE_START}one\r\ntwo {ESC}[31mred{ESC}[0m\rfour{PASTE_END}y"
PASTED = f"one\r\ntwo {ESC}[31mred{ESC}[0m\rfour"


def split_everywhere(text: str, size: int = 3) -> list[str]:
    """Chunks of `size` characters, so every escape sequence is split across deltas."""
    return [text[i:i + size] for i in range(0, len(text), size)]


def terminal_update(app: Any) -> tuple[list[str], str]:
    """The text of every line the app would draw, and the exact string it would write to the terminal."""
    update = app.screen._compositor.render_full_update()
    lines = ["".join(segment.text for strip in line for segment in strip) for line in update.strips]
    return lines, update.render_segments(app.console)


def assert_terminal_clean(app: Any, *, forbidden: tuple[str, ...] = ()) -> None:
    lines, written = terminal_update(app)
    bad = [line for line in lines if CONTROL.search(line)]
    assert not bad, f"control characters drawn: {bad!r}"
    assert f"{ESC}]" not in written, "an OSC sequence would be written to the terminal"
    assert BEL not in written and f"{ESC}P" not in written and "\x9b" not in written and "\x9d" not in written
    for text in forbidden:
        assert text not in written
    svg = app.export_screenshot()
    assert ESC not in svg and BEL not in svg and "\x9b" not in svg
    assert not CONTROL.search(screen_text(app).replace("\n", "").replace("\t", ""))


def find_on_screen(app: Any, needle: str) -> tuple[int, int]:
    """Screen cell (x, y) of the first character of `needle` as drawn."""
    lines, _ = terminal_update(app)
    for y, line in enumerate(lines):
        if needle in line:
            return cell_len(line[: line.index(needle)]), y
    raise AssertionError(f"{needle!r} is not on screen:\n" + "\n".join(lines))


def run_in_pty(env: dict[str, str], cwd: Path, *args: str, stderr_to_tty: bool = False) -> tuple[int, str, str]:
    """`chat *args` with stdout (and optionally stderr) on a pseudo-terminal; returns (code, tty text, stderr)."""
    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen([sys.executable, "-m", "chatbot", *args], stdin=subprocess.DEVNULL, stdout=slave,
                                stderr=slave if stderr_to_tty else subprocess.PIPE, env=env, cwd=cwd)
    finally:
        os.close(slave)
    chunks = []
    try:
        while True:
            ready, _, _ = select.select([master], [], [], 120)
            if not ready:
                proc.kill()
                raise AssertionError("chat wrote nothing for 120 s")
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: every writer closed the terminal
                break
            if not data:
                break
            chunks.append(data)
    finally:
        os.close(master)
    code = proc.wait(timeout=120)
    err = proc.stderr.read().decode("utf-8", "replace") if proc.stderr else ""
    if proc.stderr:
        proc.stderr.close()
    # The terminal's line discipline turns \n into \r\n.
    return code, b"".join(chunks).decode("utf-8", "replace").replace("\r\n", "\n"), err


def assert_nothing_raw(out: str) -> None:
    """No control character (newline and tab aside) and nothing that lived inside a sequence."""
    assert not CONTROL.search(out.replace("\n", "").replace("\t", "")), repr(out)
    for payload in HIDDEN:
        assert payload not in out, (payload, out)


def clean_line(text: str) -> str:
    return " ".join(neutralize(text).split())


def seed_old_database(db: Path) -> int:
    """The conversation as a database written before titles and names were cleaned on entry holds it."""
    store = HistoryStore(db)
    try:
        conversation_id = store.create("gpt-4o", "balanced", H)
        store.add(conversation_id, Message("user", H))
        store.add(conversation_id, Message("assistant", H, model="gpt-4o", usage=Usage(10, 2, 0),
                                           cost=Decimal("0.00001"), finish_reason="stop"))
        store.add(conversation_id, Message("user", "and again " + H))
        store.add(conversation_id, Message("assistant", H, model="gpt-4o", usage=Usage(12, 3, 0),
                                           cost=Decimal("0.00002"), error=H))
        store.db.execute("UPDATE conversations SET title = ?, model = ?, preset = ? WHERE id = ?",
                         (H, H, H, conversation_id))
        store.db.execute("UPDATE messages SET model = ? WHERE role = 'assistant'", (H,))
        for usage, cost in ((Usage(10, 2, 0), Decimal("0.00001")), (Usage(12, 3, 0), Decimal("0.00002"))):
            store.add_request(conversation_id, Request(H, "ok", usage, cost))
        return conversation_id
    finally:
        store.close()


def hostile_export() -> dict[str, Any]:
    """A `chat export --format json` file as another program, or a hostile sender, could write it."""
    reply = {"role": "assistant", "content": H, "model": H, "finish_reason": "stop", "stopped": False, "error": None,
             "usage": {"prompt_tokens": 10, "completion_tokens": 2, "cached_tokens": 0, "estimated": False},
             "cost_usd": "0.00001"}
    return {"format": FORMAT, "version": FORMAT_VERSION, "title": H, "model": H, "preset": H, "system_prompt": H,
            "messages": [{"role": "user", "content": H}, reply, {"role": "user", "content": "and again " + H},
                         {**reply, "error": H}]}
