"""A program in a real terminal: a fresh tmux server of its own, one pane, read through one control-mode client.

The server runs on its own socket with no user configuration (``-f /dev/null``), one 120x40 pane (no status
line) running the program. The screen is read by sending ``capture-pane -p`` to a single ``tmux -C`` client
and reading the reply between its ``%begin`` and ``%end`` lines: a read costs a fraction of a millisecond and no
process, so the screen can be read every 10 ms without the reader becoming the load it measures.

Also here: what /proc says of the program's process tree (CPU, bytes written, memory).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from benchmarks import helpers as h

CLK_TCK = os.sysconf("SC_CLK_TCK")
POLL = 0.010  # seconds between two reads of the screen


def available() -> bool:
    return shutil.which("tmux") is not None


class TmuxScreen:
    """`argv` running in a pane of a new tmux server; read the screen with :meth:`capture`."""

    def __init__(self, argv: list[str], *, env: dict[str, str], cwd: Path, size: tuple[int, int] = h.APP_SIZE) -> None:
        self.socket = f"chat-bench-{os.getpid()}-{time.monotonic_ns()}"
        env = {k: v for k, v in env.items() if k != "TMUX"}  # a pane of the caller's own tmux would nest
        cols, rows = size
        # Options are set before the session exists so its one pane is born with them: a terminal type with 256
        # colours, no status line (all 40 rows are the program's), no wait after an escape key.
        self._tmux("start-server", ";", "set", "-g", "default-terminal", "tmux-256color", ";",
                   "set", "-g", "status", "off", ";", "set", "-g", "escape-time", "0", ";",
                   "new-session", "-d", "-s", "bench", "-x", str(cols), "-y", str(rows), "-c", str(cwd),
                   "--", *argv, env=env)
        self.launched = time.perf_counter()
        # ignore-size: the control client must not resize the window; no-output: no %output notifications
        # (every byte the program writes, echoed to the reader).
        self._client = subprocess.Popen(
            ["tmux", "-L", self.socket, "-f", "/dev/null", "-C", "attach", "-t", "bench", "-f",
             "no-output,ignore-size"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
        self.pane_pid = int(self.call("display-message -p -t bench '#{pane_pid}'")[0])

    def _tmux(self, *args: str, env: dict[str, str] | None = None) -> None:
        subprocess.run(["tmux", "-L", self.socket, "-f", "/dev/null", *args], env=env, check=True,
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=30)

    def _send(self, command: str) -> None:
        assert self._client.stdin is not None
        self._client.stdin.write(command.encode() + b"\n")
        self._client.stdin.flush()

    def _block(self) -> list[str]:
        """The lines of the next %begin ... %end block answering a command sent here; notifications between
        blocks are skipped, and so is the block of the attach itself (flags 0, not 1: it may come after the
        answer to the first command)."""
        assert self._client.stdout is not None
        lines: list[str] = []
        inside = ours = False
        while True:
            raw = self._client.stdout.readline()
            if not raw:
                raise RuntimeError("the tmux control client closed")
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            if not inside:
                inside = line.startswith("%begin ")
                ours, lines = line.endswith(" 1"), []
            elif line.startswith(("%end ", "%error ")):
                inside = False
                if not ours:
                    continue
                if line.startswith("%error "):
                    raise RuntimeError(f"tmux: {' '.join(lines)}")
                return lines
            else:
                lines.append(line)

    def call(self, command: str) -> list[str]:
        self._send(command)
        return self._block()

    def capture(self) -> str:
        """The pane's text now, one line per row, without colours or trailing blanks."""
        return "\n".join(self.call("capture-pane -p -t bench"))

    def send_text(self, text: str) -> None:
        """Type `text` as keys (literally: no key names)."""
        self.call("send-keys -t bench -l '" + text.replace("'", "'\\''") + "'")

    def key(self, name: str) -> None:
        """Press one key by its tmux name (Enter, Escape, C-c...)."""
        self.call(f"send-keys -t bench {name}")

    def wait_for(self, seen: Callable[[str], bool], timeout: float) -> tuple[float, str]:
        """Read the screen every POLL seconds until `seen(screen)`; the perf_counter time and that screen."""
        deadline = time.perf_counter() + timeout
        while True:
            screen = self.capture()
            now = time.perf_counter()
            if seen(screen):
                return now, screen
            if now > deadline:
                raise TimeoutError(f"not on the screen after {timeout:g} s; the screen:\n{screen}")
            time.sleep(POLL)

    def wait_still(self, quiet: float, timeout: float = 10.0) -> str:
        """Until the screen has not changed for `quiet` seconds (or `timeout` passed); that screen."""
        deadline = time.perf_counter() + timeout
        last, since = self.capture(), time.perf_counter()
        while time.perf_counter() - since < quiet and time.perf_counter() < deadline:
            time.sleep(POLL)
            screen = self.capture()
            if screen != last:
                last, since = screen, time.perf_counter()
        return last

    def tree(self) -> ProcessTree:
        return ProcessTree(self.pane_pid)

    def record_output(self, path: Path) -> None:
        """From now on, every byte the program writes to its terminal is also appended to `path` (tmux's
        pipe-pane): what an ssh link would carry, without the program's other writes (its history file)."""
        self.call(f"pipe-pane -O -t bench 'cat >> {path}'")

    def stop_recording(self) -> None:
        self.call("pipe-pane -t bench")

    def close(self) -> None:
        pids = self.tree().pids()
        if self._client.stdin is not None:
            self._client.stdin.close()
        subprocess.run(["tmux", "-L", self.socket, "-f", "/dev/null", "kill-server"], capture_output=True,
                       stdin=subprocess.DEVNULL, timeout=30)
        try:
            self._client.wait(5)
        except subprocess.TimeoutExpired:
            self._client.kill()
            self._client.wait()
        for pid in pids:  # the program's processes only, should one outlive its terminal
            with suppress(OSError):
                os.kill(pid, signal.SIGKILL)

    def __enter__(self) -> TmuxScreen:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


# -- the program's processes, from /proc --------------------------------------------------------------------


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""  # the process has ended


def _stat(pid: int) -> list[str]:
    """The fields of /proc/PID/stat after the command name (which may hold spaces and parentheses)."""
    text = _read(f"/proc/{pid}/stat")
    return text[text.rfind(")") + 2:].split() if text else []


@dataclass
class Reading:
    """The process tree at one moment: CPU seconds (utime+stime, with those of its waited-for children),
    bytes written (wchar), peak and current resident memory summed over its processes."""

    at: float
    cpu: float
    written: int
    peak_mb: float
    rss_mb: float


class ProcessTree:
    """A process and its descendants."""

    def __init__(self, root: int) -> None:
        self.root = root

    def pids(self) -> list[int]:
        children: dict[int, list[int]] = {}
        for name in os.listdir("/proc"):
            if name.isdigit() and (fields := _stat(int(name))):
                children.setdefault(int(fields[1]), []).append(int(name))
        found, todo = [], [self.root]
        while todo:
            pid = todo.pop()
            if _stat(pid):
                found.append(pid)
                todo.extend(children.get(pid, []))
        return found

    def read(self) -> Reading:
        ticks, written, peak, rss = 0, 0, 0, 0
        for pid in self.pids():
            fields = _stat(pid)
            if fields:  # utime, stime, cutime, cstime
                ticks += sum(int(f) for f in fields[11:15])
            for line in _read(f"/proc/{pid}/io").splitlines():
                if line.startswith("wchar:"):
                    written += int(line.split()[1])
            for line in _read(f"/proc/{pid}/status").splitlines():
                if line.startswith("VmHWM:"):
                    peak += int(line.split()[1])
                elif line.startswith("VmRSS:"):
                    rss += int(line.split()[1])
        return Reading(time.perf_counter(), ticks / CLK_TCK, written, peak / 1024, rss / 1024)

    def wait_quiet(self, quiet: float = 0.3, timeout: float = 15.0) -> Reading:
        """Until the tree used no CPU for `quiet` seconds (at the 10 ms tick of the kernel's count), or `timeout`
        passed; the last reading."""
        deadline = time.perf_counter() + timeout
        last = self.read()
        while time.perf_counter() < deadline:
            time.sleep(quiet)
            now = self.read()
            if now.cpu == last.cpu:
                return now
            last = now
        return last
