"""3. Startup: `chat` to its first paint, against a minimal Textual app, both on a real pty.

Each program is started on a new pty (120x40, TERM=xterm-256color, the pty as its controlling terminal) and its
output is read until a known text shows (escape sequences removed): for chat the prompt's placeholder, for the
minimal app its one label. Then it is killed. Runs alternate between the two, so the ratio compares runs made
under the same load. chat runs with an isolated config/data/state (a history database that already exists,
as for any user after the first run) and a dummy key, so no first-run note is shown and nothing is sent.

Also: `chat --version` wall time, and whether tiktoken or openai are imported before the first paint (a probe
runs the real `chat` with an import hook and a hook on the first frame).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import helpers as h

NAME = "startup"
CHAT_MARKER = "Message (enter sends"
MINIMAL_MARKER = "minimal app painted"
WATCH = ("tiktoken", "openai", "markdown_it")  # the tokenizer, the SDK, the Markdown parser

MINIMAL_APP = f'''
from textual.app import App, ComposeResult
from textual.widgets import Label


class Minimal(App[None]):
    def compose(self) -> ComposeResult:
        yield Label("{MINIMAL_MARKER}")


Minimal().run()
'''

# Runs the real chat with two hooks: the first import of each watched package, and the first frame of the chat
# screen (what sys.modules holds then). Times are time.monotonic(), comparable with the parent's.
PROBE = f'''
import json, sys, time
out, watch, events = sys.argv[1], {WATCH!r}, {{}}

def dump():
    with open(out, "w") as f:
        json.dump(events, f)

class Watch:
    def find_spec(self, name, path=None, target=None):
        top = name.partition(".")[0]
        if top in watch and "import " + top not in events:
            events["import " + top] = time.monotonic()
            dump()
        return None

sys.meta_path.insert(0, Watch())
import textual.app
_display = textual.app.App._display

def display(self, screen, renderable):
    _display(self, screen, renderable)
    if renderable is not None and "paint" not in events and type(screen).__name__ == "ChatScreen":
        events["paint"] = time.monotonic()
        events["loaded at paint"] = [m for m in watch if m in sys.modules]
        dump()

textual.app.App._display = display
sys.argv = ["chat"]
from chatbot.cli import main
sys.exit(main())
'''


def plan(quick: bool) -> tuple[int, int]:
    """Paint runs per program, --version runs."""
    return (2, 5) if quick else (9, 15)


def measure(quick: bool, base: Path) -> list[h.Row]:
    runs, version_runs = plan(quick)
    bindir = Path(sys.executable).parent
    chat = str(bindir / "chat")
    env = h.clean_env(base, {"OPENAI_API_KEY": h.API_KEY, "OPENAI_BASE_URL": "http://127.0.0.1:9/v1"})
    cwd = base / "cwd"
    cwd.mkdir(exist_ok=True)
    scripts = Path(tempfile.mkdtemp(prefix="chat-bench-startup-"))
    minimal = scripts / "minimal_app.py"
    minimal.write_text(MINIMAL_APP)
    probe = scripts / "probe.py"
    probe.write_text(PROBE)

    # Warm up both (bytecode caches, page cache) and create chat's history database.
    for argv, marker in (([chat], CHAT_MARKER), ([sys.executable, str(minimal)], MINIMAL_MARKER)):
        first = h.run_in_pty(argv, marker, env=env, cwd=cwd)
        if first.seconds is None:
            shown = h.screen_text(first.output)[-500:]
            raise RuntimeError(f"{argv[-1]} never painted {marker!r}; its screen: {shown!r}")

    chat_times: list[float] = []
    minimal_times: list[float] = []
    ratios: list[float] = []
    for i in range(runs):
        c = h.run_in_pty([chat], CHAT_MARKER, env=env, cwd=cwd).seconds
        m = h.run_in_pty([sys.executable, str(minimal)], MINIMAL_MARKER, env=env, cwd=cwd).seconds
        if c is None or m is None:
            raise RuntimeError("a program did not paint in time")
        chat_times.append(c), minimal_times.append(m), ratios.append(c / m)
        h.log(f"{NAME}: run {i + 1}/{runs}: chat {c * 1000:.0f} ms, minimal app {m * 1000:.0f} ms, ratio {c / m:.2f}")

    version_times = []
    for _ in range(version_runs):
        t0 = time.perf_counter()
        done = subprocess.run([chat, "--version"], env=env, cwd=cwd, capture_output=True, text=True)
        version_times.append(time.perf_counter() - t0)
        assert done.returncode == 0 and done.stdout.startswith("chat "), done
    python_times = []
    for _ in range(version_runs):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], env=env, cwd=cwd, check=True)
        python_times.append(time.perf_counter() - t0)

    # What is imported before the first paint: the probe, on the pty like the timed runs.
    events_file = scripts / "events.json"
    run = h.run_in_pty([sys.executable, str(probe), str(events_file)], CHAT_MARKER, env=env, cwd=cwd, linger=3.0)
    events = json.loads(events_file.read_text()) if events_file.exists() else {}
    # And what importing the modules the TUI starts from pulls in (python -X importtime).
    imported = subprocess.run([sys.executable, "-X", "importtime", "-c", "import chatbot.cli, chatbot.ui.app"],
                              env=env, cwd=cwd, capture_output=True, text=True)
    import_lines = imported.stderr.splitlines()
    pulled = {m for m in WATCH for line in import_lines if line.rstrip().endswith(f"| {m}")}
    # Top-level entries (the name not indented past its one space) carry the cumulative time of what they pulled.
    total_us = sum(int(line.split("|")[1]) for line in import_lines
                   if line.startswith("import time:") and line.count("|") == 2 and line.split("|")[1].strip().isdigit()
                   and not line.split("|")[2].startswith("  "))
    h.log(f"{NAME}: probe events {events}; -X importtime pulled {sorted(pulled) or 'neither'}")

    rows = [
        h.check(NAME, "chat/minimal first paint", h.median(ratios), "x", "<=", 1.3,
                f"chat {h.median(chat_times) * 1000:.0f} ms vs minimal Textual app "
                f"{h.median(minimal_times) * 1000:.0f} ms (median of {runs})"),
        h.info(NAME, "chat first paint", h.median(chat_times) * 1000, "ms",
               f"min {min(chat_times) * 1000:.0f}, max {max(chat_times) * 1000:.0f}"),
        h.info(NAME, "minimal Textual app first paint", h.median(minimal_times) * 1000, "ms",
               f"min {min(minimal_times) * 1000:.0f}, max {max(minimal_times) * 1000:.0f}"),
        h.check(NAME, "chat --version", h.median(version_times), "s", "<", 0.2,
                f"median of {version_runs}; bare `python -c pass` {h.median(python_times) * 1000:.0f} ms"),
    ]
    paint = events.get("paint")
    if paint is None:
        rows.append(h.Row(NAME, "import check", None, "", "probe saw a paint", False,
                          "the probe saw no first paint: " + repr(h.screen_text(run.output)[-200:])))
    for module in WATCH:
        at = events.get(f"import {module}")
        before = paint is not None and (module in events.get("loaded at paint", []) or (at is not None and at <= paint))
        when = ("never imported (within 3 s of the paint)" if at is None else
                f"first imported {(at - paint) * 1000:+.0f} ms from the first paint" if paint else "")
        rows.append(h.Row(NAME, f"{module} imported before first paint", "yes" if before else "no", "", "no",
                          paint is not None and not before,
                          f"{when}; `import chatbot.cli, chatbot.ui.app` pulls it: "
                          f"{'yes' if module in pulled else 'no'}"))
    rows.append(h.info(NAME, "import chatbot.cli + chatbot.ui.app", total_us / 1000, "ms",
                       "python -X importtime: cumulative time of the top-level imports"))
    return rows


def run(quick: bool) -> list[h.Row]:
    with h.isolated() as base:
        tempfile.tempdir = str(base)  # the scripts' folder goes with the isolated folder
        try:
            return measure(quick, base)
        finally:
            tempfile.tempdir = None
