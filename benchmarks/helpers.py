"""Shared pieces of the benchmarks: result rows, an isolated environment, reply texts cut into tokens, the fake
OpenAI server in its own process, the app under the pilot, a pty runner, and memory readings.

Run as a module, it is the fake server's process: ``python -m benchmarks.helpers serve REPLIES.json``.
"""

from __future__ import annotations

import json
import os
import random
import re
import select
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TESTS = ROOT / "tests"
BENCH_DIR = Path(__file__).resolve().parent
APP_SIZE = (120, 40)  # columns, rows of the headless app and of the pty
API_KEY = "sk-bench-not-a-real-key"


# -- results ---------------------------------------------------------------------------------------------


@dataclass
class Row:
    """One figure of the final table. `ok` is None for figures reported without a target."""

    bench: str
    metric: str
    value: float | int | str | None
    unit: str = ""
    target: str = ""
    ok: bool | None = None
    note: str = ""

    @property
    def status(self) -> str:
        return "" if self.ok is None else "PASS" if self.ok else "MISS"

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "status": self.status}


def check(bench: str, metric: str, value: float | None, unit: str, op: str, limit: float, note: str = "",
          target_text: str | None = None) -> Row:
    """A row with a target `value <op> limit` (op is '<', '<=' or '>=')."""
    if value is None:
        ok = False
    elif op == "<":
        ok = value < limit
    elif op == "<=":
        ok = value <= limit
    elif op == ">=":
        ok = value >= limit
    else:
        raise ValueError(op)
    return Row(bench, metric, value, unit, target_text or f"{op} {limit:g}{(' ' + unit) if unit else ''}", ok, note)


def info(bench: str, metric: str, value: float | int | str | None, unit: str = "", note: str = "") -> Row:
    return Row(bench, metric, value, unit, "", None, note)


def fmt_value(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if value == 0:
            return "0"
        if abs(value) >= 100:
            return f"{value:,.0f}"
        if abs(value) >= 10:
            return f"{value:.1f}"
        if abs(value) >= 0.1:
            return f"{value:.2f}"
        return f"{value:.3g}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def table(rows: list[Row]) -> str:
    header = ("benchmark", "figure", "value", "unit", "target", "status", "note")
    cells = [header] + [(r.bench, r.metric, fmt_value(r.value), r.unit, r.target, r.status, r.note) for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(header) - 1)]
    lines = []
    for n, c in enumerate(cells):
        lines.append("  ".join(
            (c[i].rjust(widths[i]) if i == 2 else c[i].ljust(widths[i])) for i in range(len(header) - 1)
        ) + ("  " + c[-1] if c[-1] else ""))
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(line.rstrip() for line in lines)


def median(values: list[float]) -> float:
    return statistics.median(values)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# -- environment -----------------------------------------------------------------------------------------


def clean_env(base: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """os.environ without CHAT_*/OPENAI_* variables, with XDG folders under `base` (so no user config, history
    or .env is read) and a real terminal type."""
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith(("CHAT_", "OPENAI_"))}
    for var, sub in (("XDG_CONFIG_HOME", "config"), ("XDG_DATA_HOME", "data"), ("XDG_STATE_HOME", "state")):
        (base / sub).mkdir(parents=True, exist_ok=True)
        env[var] = str(base / sub)
    env.setdefault("TERM", "xterm-256color")
    env.pop("TEXTUAL", None)  # no devtools
    env.update(extra or {})
    return env


@contextmanager
def isolated() -> Iterator[Path]:
    """This process in a temp folder: clean environment (see clean_env) and that folder as the working directory."""
    saved_env, saved_cwd = dict(os.environ), os.getcwd()
    with tempfile.TemporaryDirectory(prefix="chat-bench-") as tmp:
        base = Path(tmp)
        os.environ.clear()
        os.environ.update(clean_env(base))
        (base / "cwd").mkdir()
        os.chdir(base / "cwd")
        try:
            yield base
        finally:
            os.chdir(saved_cwd)
            os.environ.clear()
            os.environ.update(saved_env)


def settings_for(base_url: str, **flags: Any) -> Any:
    """Settings as the CLI would build them, pointed at `base_url` with a dummy key."""
    from chatbot.core.settings import load_settings

    flags.setdefault("base_url", base_url)
    flags.setdefault("api_key", API_KEY)
    settings, _ = load_settings(None, **flags)
    return settings


# -- texts -----------------------------------------------------------------------------------------------

_WORDS = ["the", "of", "and", "to", "in", "is", "that", "for", "it", "as", "with", "was", "on", "be", "by", "this",
          "are", "or", "from", "at", "an", "which", "have", "not", "but", "can", "more", "system", "model", "token",
          "stream", "window", "reply", "prompt", "message", "value", "function", "request", "server", "client",
          "terminal", "render", "widget", "layout", "budget", "context", "session", "history", "memory", "latency",
          "throughput", "cache", "buffer", "parser", "markdown", "table", "heading", "paragraph", "example", "result",
          "number", "string", "list", "index", "error", "handler", "thread", "process", "event", "queue", "signal",
          "simple", "careful", "quick", "slow", "large", "small", "early", "late", "first", "last", "every", "other",
          "several", "important", "general", "useful", "measure", "compare", "explain", "describe", "consider",
          "improve", "reduce", "increase", "handle", "return", "update", "create", "remove", "because", "however",
          "therefore", "although", "while", "when", "where", "since", "until", "unless", "whether"]


def _sentence(rng: random.Random) -> str:
    words = [rng.choice(_WORDS) for _ in range(rng.randint(8, 20))]
    words[0] = words[0].capitalize()
    if rng.random() < 0.3:
        words.insert(rng.randint(1, len(words) - 1), f"{rng.randint(2, 9999)}")
    return " ".join(words) + rng.choice(".....?!")


def _paragraph(rng: random.Random, sentences: tuple[int, int] = (3, 7)) -> str:
    return " ".join(_sentence(rng) for _ in range(rng.randint(*sentences)))


def prose(chars: int, seed: int = 1) -> str:
    """Plain prose: paragraphs of sentences, blank lines between them, no Markdown syntax."""
    rng = random.Random(seed)
    parts: list[str] = []
    size = 0
    while size < chars:
        p = _paragraph(rng)
        parts.append(p)
        size += len(p) + 2
    return "\n\n".join(parts)


def _code_block(rng: random.Random) -> str:
    name = rng.choice(_WORDS[20:60])
    lines = [f"def {name}_{rng.randint(1, 99)}(items, limit={rng.randint(1, 100)}):",
             f'    """{_sentence(rng)}"""',
             "    total = 0",
             "    for index, item in enumerate(items):",
             f"        if item.{rng.choice(_WORDS[20:60])} > limit:",
             "            total += index * 2",
             "        print(f\"{index}: {item!r}\")",
             "    return total"]
    return "```python\n" + "\n".join(lines[: rng.randint(4, len(lines))]) + "\n```"


def _table(rng: random.Random) -> str:
    cols = rng.randint(3, 5)
    head = "| " + " | ".join(rng.choice(_WORDS[20:80]).capitalize() for _ in range(cols)) + " |"
    rule = "|" + "|".join("---" for _ in range(cols)) + "|"
    body = ["| " + " | ".join(rng.choice([rng.choice(_WORDS), str(rng.randint(0, 9999)), f"`{rng.choice(_WORDS)}`"])
                             for _ in range(cols)) + " |" for _ in range(rng.randint(3, 7))]
    return "\n".join([head, rule, *body])


def _list(rng: random.Random) -> str:
    ordered = rng.random() < 0.4
    items = []
    for i in range(rng.randint(3, 6)):
        mark = f"{i + 1}." if ordered else "-"
        text = _sentence(rng)
        if rng.random() < 0.4:
            word = rng.choice(_WORDS)
            text = text.replace(f" {word} ", f" **{word}** ", 1)
        items.append(f"{mark} {text}")
        if rng.random() < 0.2:
            items.append(f"   - {_sentence(rng)}")
    return "\n".join(items)


def markdown(chars: int, seed: int = 2) -> str:
    """Markdown-heavy text: headings, paragraphs with inline code and emphasis, lists, code fences, tables."""
    rng = random.Random(seed)
    parts: list[str] = []
    size = 0
    section = 0
    while size < chars:
        section += 1
        blocks = [f"{'#' * rng.randint(1, 3)} {section}. {_sentence(rng).rstrip('.?!')}"]
        for _ in range(rng.randint(3, 5)):
            kind = rng.random()
            if kind < 0.35:
                p = _paragraph(rng, (2, 4))
                w = rng.choice(_WORDS)
                blocks.append(p.replace(f" {w} ", f" `{w}` ", 1).replace(" the ", " *the* ", 1))
            elif kind < 0.6:
                blocks.append(_list(rng))
            elif kind < 0.8:
                blocks.append(_code_block(rng))
            else:
                blocks.append(_table(rng))
        text = "\n\n".join(blocks)
        parts.append(text)
        size += len(text) + 2
    return "\n\n".join(parts)


def encoding() -> Any:
    """The o200k_base encoding as the app loads it (from the package, never the network)."""
    from chatbot.core.tokens import load_encoding

    return load_encoding("o200k_base")


def token_chunks(kind: str, tokens: int, seed: int = 7) -> list[str]:
    """`tokens` chunks of exactly one o200k token each, cut from prose or Markdown text (ASCII only, so every
    token decodes to text on its own)."""
    enc = encoding()
    make = prose if kind == "prose" else markdown
    text = make(tokens * 6, seed)
    ids = enc.encode_ordinary(text)
    while len(ids) < tokens:  # pragma: no cover - 6 chars per token is generous
        text += "\n\n" + make(tokens * 2, seed + len(ids))
        ids = enc.encode_ordinary(text)
    return [enc.decode_single_token_bytes(t).decode("ascii") for t in ids[:tokens]]


def reply_key(kind: str, tokens: int, delay: float = 0.0) -> str:
    """The user message that makes the bench server stream that reply."""
    return f"bench {kind} {tokens}" + (f" @{delay:g}" if delay else "")


# -- the fake server, in its own process -----------------------------------------------------------------


class BenchServer:
    """tests/fake_openai.py in a child process, serving each reply by the text of the last user message.

    Its own process, so serving costs neither the app's CPU (process_time) nor its GIL.
    """

    def __init__(self, replies: dict[str, tuple[list[str], float]]) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="chat-bench-server-")
        spec = Path(self._tmp.name) / "replies.json"
        spec.write_text(json.dumps({k: {"chunks": c, "chunk_delay": d} for k, (c, d) in replies.items()}))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.helpers", "serve", str(spec)],
            cwd=ROOT, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().strip()
        if not line.startswith("http://127.0.0.1:"):
            self.close()
            raise RuntimeError(f"bench server did not start: {line!r}")
        self.base_url = line

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._tmp.cleanup()

    def __enter__(self) -> BenchServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _serve(spec_path: str) -> int:
    import threading

    sys.path.insert(0, str(TESTS))
    from fake_openai import Error, FakeOpenAI, Reply  # type: ignore[import-not-found]

    spec = json.loads(Path(spec_path).read_text())
    replies = {k: Reply(chunks=v["chunks"], chunk_delay=v["chunk_delay"]) for k, v in spec.items()}

    class RoutingFake(FakeOpenAI):  # type: ignore[misc]
        """Picks the reply by the last user message instead of a queue, and keeps no request log."""

        local = threading.local()

        def _record(self, request: Any) -> None:
            self.local.body = request.body

        def _next_scripted(self) -> Any:
            body = getattr(self.local, "body", None) or {}
            messages = body.get("messages") or [{}]
            key = str(messages[-1].get("content", ""))
            return replies.get(key) or Error(404, f"bench server: no reply for {key!r}")

    fake = RoutingFake().start()
    print(fake.base_url, flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        while not stop.wait(0.5):
            pass
    finally:
        fake.stop()
    return 0


# -- process figures -------------------------------------------------------------------------------------


def proc_status(field_name: str, pid: int | str = "self") -> float:
    """A /proc/PID/status memory field (VmRSS, VmHWM, ...) in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1]) / 1024
    raise KeyError(field_name)


def rss_mb() -> float:
    return proc_status("VmRSS")


# -- the app under the pilot -----------------------------------------------------------------------------


async def wait_ready(app: Any, timeout: float = 30.0) -> None:
    """Until warm_up has loaded the tokenizer and the SDK (a send waits for that anyway)."""
    import asyncio

    await asyncio.wait_for(app.ready.wait(), timeout)


async def settle_and_render(pilot: Any) -> None:
    """Let the screen process what is queued, then render the frame now instead of at the next 60 fps tick.

    Pilot.pause() is not used: its wait_for_idle sleeps at least 20 ms (and up to 1 s while the process is busy).
    """
    await pilot._wait_for_screen(timeout=600.0)
    pilot.app.screen._on_timer_update()


def press_key(app: Any, key: str, char: str | None = None) -> None:
    """Deliver a key the way Pilot.press does (driver.send_message), without Pilot.press's idle waits."""
    from textual import events

    event = events.Key(key, char if char is not None else (key if len(key) == 1 else None))
    event.set_sender(app)
    app._driver.send_message(event)


# -- a program in a pty ----------------------------------------------------------------------------------

_ANSI = re.compile(rb"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)"
                   rb"|\x1b[PX^_][^\x1b]*\x1b\\|\x1b[@-Z\\-_=>]")


@dataclass
class PtyRun:
    seconds: float | None  # launch to marker, None if it never appeared
    output: bytes = b""
    marker_at: float | None = None  # time.monotonic() when the marker appeared (comparable across processes)
    extra: dict[str, Any] = field(default_factory=dict)


def run_in_pty(argv: list[str], marker: str, *, env: dict[str, str], cwd: Path | str, timeout: float = 30.0,
               linger: float = 0.0, size: tuple[int, int] = APP_SIZE) -> PtyRun:
    """Start argv on a new pty (its controlling terminal, `size` columns x rows), read its output until `marker`
    shows in the text (escape sequences removed), keep reading `linger` more seconds, then kill it."""
    import fcntl
    import struct
    import termios

    master, slave = os.openpty()
    cols, rows = size
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))

    def controlling_tty() -> None:
        os.setsid()
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env, cwd=cwd, close_fds=True,
                            preexec_fn=controlling_tty)
    os.close(slave)
    out = bytearray()
    needle = marker.encode()
    found: float | None = None
    found_mono: float | None = None
    deadline = start + timeout
    try:
        while True:
            now = time.perf_counter()
            if found is not None and now >= found + start + linger:
                break
            if now >= deadline:
                break
            ready, _, _ = select.select([master], [], [], 0.05)
            if ready:
                try:
                    data = os.read(master, 65536)
                except OSError:
                    break  # the child closed the pty
                if not data:
                    break
                out += data
                if found is None and needle in _ANSI.sub(b"", bytes(out)):
                    found = time.perf_counter() - start
                    found_mono = time.monotonic()
            elif proc.poll() is not None and found is None:
                break
    finally:
        if proc.poll() is None:
            with suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        os.close(master)
    return PtyRun(found, bytes(out), found_mono)


def screen_text(output: bytes) -> str:
    return _ANSI.sub(b"", output).decode("utf-8", "replace")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "serve":
        sys.exit(_serve(sys.argv[2]))
    print("usage: python -m benchmarks.helpers serve REPLIES.json", file=sys.stderr)
    sys.exit(2)
