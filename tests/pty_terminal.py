"""`chat` on a real pseudo-terminal, for what only a terminal shows: a burst of keys in one write, keys typed
before the app starts, raw sequences. `spawn` (a fixture, through tests/app/conftest.py) starts it pointed at
the fake server with nothing kept on disk."""

from __future__ import annotations

import fcntl
import os
import re
import struct
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from fake_openai import FakeOpenAI
from support import offline

COLS, ROWS = 100, 30
# Hang guards only: how long a step may take before the test gives up. Nothing is asserted about speed.
LIMIT = 120.0
READY = " sends, "  # in the prompt's placeholder ("enter sends, ..."): the prompt is drawn, empty
ALTERNATE_SCREEN = b"\x1b[?1049h"  # Textual's first write as it takes the terminal
_CONTROLS = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-_]")


class Terminal:
    """`chat *args` on a pseudo-terminal of COLS x ROWS. `typed_before` is written before the process exists, so
    the terminal's line discipline, still in its start-up (cooked) mode, has it."""

    def __init__(self, args: list[str], env: dict[str, str], cwd: Path, typed_before: bytes = b"") -> None:
        self.master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLS, 0, 0))
        if typed_before:
            os.write(self.master, typed_before)
        self.proc = subprocess.Popen([sys.executable, "-m", "chatbot", *args], stdin=slave, stdout=slave,
                                     stderr=slave, env=env, cwd=cwd, start_new_session=True)
        os.close(slave)
        self._output = bytearray()
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                data = os.read(self.master, 65536)
            except OSError:  # EIO: the program closed the terminal
                data = b""
            with self._changed:
                if data:
                    self._output += data
                self._changed.notify_all()
            if not data:
                return

    def written(self) -> bytes:
        """Everything written so far, as it was written."""
        with self._changed:
            return bytes(self._output)

    def text(self) -> str:
        """Everything written so far, control sequences removed."""
        with self._changed:
            return _CONTROLS.sub("", self._output.decode("utf-8", "replace"))

    def write(self, data: bytes) -> None:
        """One write: the program reads the whole burst at once."""
        assert os.write(self.master, data) == len(data)

    def wait_for(self, condition: Callable[[], object], what: str) -> None:
        # Woken by every write of the program, and at least every 50 ms for conditions on the fake server.
        deadline = time.monotonic() + LIMIT
        with self._changed:
            while not condition():
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise AssertionError(f"{what}: never happened; the screen ends with:\n{self.text()[-1500:]}")
                self._changed.wait(0.05)

    def hang_up(self) -> None:
        """Close the terminal under the program, as a terminal window closed or a dropped link leaves it."""
        os.close(self.master)
        self.master = -1

    def close(self) -> None:
        if self.master == -1:  # hung up: there is no terminal to quit through
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.wait()
            self._reader.join(timeout=LIMIT)
            return
        if self.proc.poll() is None:
            try:
                self.write(b"\x11")  # ctrl+q
                self.proc.wait(timeout=LIMIT)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()
        os.close(self.master)
        self._reader.join(timeout=LIMIT)


@pytest.fixture
def spawn(fake: FakeOpenAI, tmp_path: Path) -> Iterator[Callable[..., Terminal]]:
    """spawn(typed_before=b"", config="", **env) -> `chat` on a pty, pointed at the fake, with nothing kept on disk."""
    # Nothing of the terminal the tests run in: a test says which terminal it plays (TERM, a Kitty's variables).
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith(("CHAT_", "OPENAI_"))
           and k not in ("TERM_PROGRAM", "KITTY_WINDOW_ID", "GHOSTTY_RESOURCES_DIR", "WEZTERM_EXECUTABLE",
                         "KONSOLE_VERSION")}
    for var in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME"):
        (tmp_path / var).mkdir()
        env[var] = str(tmp_path / var)
    env.update(TERM="xterm-256color", OPENAI_API_KEY="sk-test", CHAT_MAX_RETRIES="0")
    env.pop("TEXTUAL_DRIVER", None)
    terminals: list[Terminal] = []

    def start(typed_before: bytes = b"", config: str = "", **more_env: str) -> Terminal:
        (tmp_path / "XDG_CONFIG_HOME" / "chatbot").mkdir(exist_ok=True)
        (tmp_path / "XDG_CONFIG_HOME" / "chatbot" / "config.toml").write_text(config, encoding="utf-8")
        terminal = Terminal(["--base-url", fake.base_url, "--no-history"], offline({**env, **more_env}), tmp_path,
                            typed_before=typed_before)
        terminals.append(terminal)
        return terminal

    yield start
    for terminal in terminals:
        terminal.close()


def ready(terminal: Terminal) -> Terminal:
    """`terminal` once its prompt is drawn, empty."""
    terminal.wait_for(lambda: READY in terminal.text(), "the prompt drawn")
    return terminal
