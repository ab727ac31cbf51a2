"""6. In a real terminal: `chat` as a person sees it, beside the floor (benchmarks/floor_client.py: the bare
openai SDK printing deltas) in the same run.

Each run is one program in a fresh tmux server (benchmarks/tmux_screen.py: 120x40, no user configuration, the
screen read every 10 ms through one control-mode client), with its own empty HOME and XDG folders, talking to
the fake server (tests/fake_openai.py in its own process, one token per SSE chunk). Once the program shows it is
ready and its processes have gone quiet, a short warm-up exchange is made, so the reply measured is the
conversation's second; then the message is typed and enter pressed. Runs alternate floor, chat, floor, chat...
and each figure is a median over the repeats; a figure against the floor is taken per repeat (a ratio or a
difference) before the median, so it compares runs made under the same load.

Per reply, from the enter that sends it:
- first: until an answer line shows (a new line whose words run in the reply's order: when a program paints
  late, the first words may have scrolled away already); end: until the end marker that ends every reply shows;
- updates a second and the longest freeze while tokens arrive, from the floor's first answer line in the same
  repeat (it shows a token within one read of its arrival) to the end: an update is a change in an answer line
  (a status line or a spinner that moves is not the reply moving), so a program that shows nothing for a while
  and then the reply in one jump has a freeze as long as its wait;
- CPU seconds of the program's process tree (utime+stime in /proc/PID/stat, of every process under the pane) and
  the bytes it wrote (wchar in /proc/PID/io), until the end;
- peak memory (VmHWM summed over the tree) once ready, and after the reply.
Also: key echo (words typed while a reply streams at 500 tokens/s, each until it shows) and CPU while idle.

Run one scenario by itself: ``python -m benchmarks.terminal [--quick] [--scenario NAME] [--repeats N]``.
"""

from __future__ import annotations

import argparse
import itertools
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks import helpers as h
from benchmarks import tmux_screen as ts

NAME = "terminal"
WARM, WARM_REPLY, WARM_SHOWN = "warm up", ["Warm", "-up", " done", "."], "Warm-up done."
END = "ENDMARK"  # the last word of every measured reply
# Typed while a reply streams, one after the other; none is a word of any reply.
PROBES = ("quokka", " walrus", " narwhal", " axolotl", " pangolin", " wombat")
_WORD = re.compile(r"[a-z0-9]+")


@dataclass(frozen=True)
class Program:
    label: str
    argv: list[str]
    ready: str  # text on its screen once it takes input (capture-pane drops trailing blanks)


def programs() -> tuple[Program, Program]:
    floor = Program("floor", [sys.executable, str(h.BENCH_DIR / "floor_client.py")], "floor>")
    chat = Program("chat", [str(Path(sys.executable).parent / "chat"), "-m", "gpt-4o-mini"], "Message (enter sends")
    return floor, chat


@dataclass(frozen=True)
class Scenario:
    name: str  # what --scenario picks, and the rows' prefix
    kind: str  # prose or markdown
    tokens: int
    delay: float = 0.0  # seconds between chunks
    probes: int = 0  # words typed while it streams

    @property
    def key(self) -> str:
        return h.reply_key(self.kind, self.tokens, self.delay)

    def chunks(self) -> list[str]:
        return [*h.token_chunks(self.kind, self.tokens), "\n\n", END]


def plan(quick: bool) -> tuple[dict[str, Scenario], int, float]:
    """The scenarios by role, repeats, and seconds of idling."""
    sizes = ({"short": 500, "long": 2_000, "markdown": 1_000, "paced": 200, "echo": 1_000} if quick else
             {"short": 2_000, "long": 10_000, "markdown": 3_000, "paced": 2_000, "echo": 3_000})
    repeats, idling = (1, 2.0) if quick else (3, 5.0)
    pace = {"paced": 0.01, "echo": 0.002}  # 100 and 500 tokens a second
    named = {}
    for role, n in sizes.items():
        kind = "markdown" if role == "markdown" else "prose"
        delay = pace.get(role, 0.0)
        name = f"{kind} {n:,}" + (f" at {1 / delay:.0f} tok/s" if delay else "")
        named[role] = Scenario(name, kind, n, delay, (3 if quick else 6) if role == "echo" else 0)
    return named, repeats, idling


@dataclass
class Run:
    """One reply as one program showed it (times in seconds from enter)."""

    first: float
    end: float
    changes: list[float]  # when an answer line on the screen changed, up to the end
    cpu: float
    written: int  # every byte its processes wrote (wchar): the terminal's, the history file's, the request's
    to_terminal: int  # the bytes it wrote to its terminal (tmux's pipe-pane), until the end was shown
    peak_ready_mb: float  # the most it held up to ready (loading the tokenizer holds two copies for a moment)
    rss_ready_mb: float  # what it holds once ready
    peak_after_mb: float
    echoes: list[float] = field(default_factory=list)


def _streaming(run: Run, arrival: float) -> list[float]:
    """The moments from the first token's `arrival` to the end: that, the screen changes between, the end."""
    start = min(arrival, run.first)
    return [start, *(c for c in run.changes if start < c < run.end), run.end]


def updates_per_s(run: Run, arrival: float) -> float:
    """Screen changes a second while tokens arrive (from `arrival`, seconds after enter, to the end)."""
    start = min(arrival, run.first)
    return sum(start < c <= run.end for c in run.changes) / (run.end - start) if run.end > start else 0.0


def freeze(run: Run, arrival: float) -> float:
    """The longest time the screen did not change while tokens arrived."""
    return max(b - a for a, b in itertools.pairwise(_streaming(run, arrival)))


def answer_line(line: str, reply: str) -> bool:
    """Whether the line holds the reply's words in their order (`reply`: its words joined by spaces, with one in
    front). The line's last word may be cut short by a token still to come, its first by a terminal's hard wrap."""
    words = _WORD.findall(line.lower())
    return sum(map(len, words)) >= 6 and (" " + " ".join(words) in reply or
                                          (len(words) > 2 and " " + " ".join(words[1:]) in reply))


def shows_answer(screen: str, before: set[str], reply: str) -> bool:
    """Whether a line not on the screen before enter is an answer line."""
    return any(line not in before and answer_line(line, reply) for line in screen.splitlines())


def answer_moved(was: str, now: str, reply: str) -> bool:
    """Whether the screen changed in an answer line (not only in a status line, a counter, a spinner)."""
    old = was.splitlines()
    return any(answer_line(line, reply) for row, line in enumerate(now.splitlines())
               if row >= len(old) or old[row] != line)


def typed(probe: str, screen: str) -> bool:
    """Whether the typed word shows, wherever the terminal wrapped it (the floor's echo lands amid the reply)."""
    return probe.strip() in screen.replace("\n", "")


def send(screen: ts.TmuxScreen, text: str) -> None:
    """Type `text` and wait until it shows and the screen is still; enter is the caller's."""
    screen.send_text(text)
    screen.wait_for(lambda s: text in s, 30)
    screen.wait_still(0.2)


@contextmanager
def opened(program: Program, base_url: str) -> Iterator[tuple[ts.TmuxScreen, ts.Reading]]:
    """`program` in a fresh terminal, ready and past the warm-up exchange; with its peak memory when ready."""
    with tempfile.TemporaryDirectory(prefix="chat-bench-term-") as tmp:
        base = Path(tmp)
        env = h.clean_env(base, {"HOME": str(base), "OPENAI_API_KEY": h.API_KEY, "OPENAI_BASE_URL": base_url,
                                 "COLORTERM": "truecolor"})
        env.setdefault("LANG", "C.UTF-8")
        (base / "cwd").mkdir()
        with ts.TmuxScreen(program.argv, env=env, cwd=base / "cwd") as screen:
            screen.wait_for(lambda s: program.ready in s, 60)
            ready = screen.tree().wait_quiet()  # a program warming up in the background counts as not ready
            send(screen, WARM)
            screen.key("Enter")
            screen.wait_for(lambda s: WARM_SHOWN in s, 60)
            screen.wait_still(0.5)
            yield screen, ready


def reply(screen: ts.TmuxScreen, sc: Scenario, words: str, ready: ts.Reading, timeout: float) -> Run:
    """Send the scenario's message and watch the reply until its end marker shows."""
    send(screen, sc.key)
    last = screen.capture()
    before = set(last.splitlines())
    tree = screen.tree()
    start = tree.read()
    output = Path(tempfile.mkdtemp(prefix="chat-bench-out-")) / "terminal"
    output.touch()
    screen.record_output(output)
    t0 = time.perf_counter()
    screen.key("Enter")
    changes = []
    first: float | None = None
    probes, sent, echoes, next_probe = list(PROBES[:sc.probes]), 0.0, [], 0.0
    while True:
        shown = screen.capture()
        now = time.perf_counter()
        if shown != last:
            if answer_moved(last, shown, words):
                changes.append(now)
            last = shown
        if first is None and shows_answer(shown, before, words):
            first, next_probe = now, now + 0.3
        if sent and typed(probes[0], shown):
            echoes.append(now - sent)
            probes.pop(0)
            sent, next_probe = 0.0, now + 0.2
        if END in shown:
            break
        if first is not None and probes and not sent and now >= next_probe:
            screen.send_text(probes[0])
            sent = time.perf_counter()
        if now - t0 > timeout:
            raise TimeoutError(f"{sc.name}: no end marker after {timeout:g} s; the screen:\n{shown}")
        time.sleep(ts.POLL)
    end = tree.read()
    if first is None:
        raise AssertionError(f"{sc.name}: the end showed but no answer line was recognised; the screen:\n{shown}")
    if sent:  # typed while streaming, not shown before the end: its time still counts
        echoes.append(screen.wait_for(lambda s: typed(probes[0], s), 10)[0] - sent)
    screen.wait_still(0.3)
    screen.stop_recording()
    to_terminal = output.stat().st_size
    shutil.rmtree(output.parent, ignore_errors=True)
    return Run(first=first - t0, end=now - t0, changes=[c - t0 for c in changes],
               cpu=end.cpu - start.cpu, written=end.written - start.written, to_terminal=to_terminal,
               peak_ready_mb=ready.peak_mb, rss_ready_mb=ready.rss_mb, peak_after_mb=tree.read().peak_mb,
               echoes=echoes)


def idle(program: Program, base_url: str, seconds: float) -> float:
    """CPU % of one core the program's processes use, open after a reply, over `seconds` of nothing."""
    with opened(program, base_url) as (screen, _):
        tree = screen.tree()
        start = tree.read()
        time.sleep(seconds)
        end = tree.read()
        return (end.cpu - start.cpu) / (end.at - start.at) * 100


def measure(quick: bool, only: str | None = None, repeats: int | None = None) -> list[h.Row]:
    scenarios, planned, idling = plan(quick)
    if only:
        scenarios = {role: sc for role, sc in scenarios.items() if only in (role, sc.name)}
        if not scenarios:
            raise SystemExit(f"no scenario {only!r}; the scenarios: {', '.join(plan(quick)[0])}")
    repeats = repeats or planned
    floor, chat = programs()
    replies = {WARM: (WARM_REPLY, 0.0)} | {sc.key: (sc.chunks(), sc.delay) for sc in scenarios.values()}
    words = {sc.key: " " + " ".join(_WORD.findall("".join(sc.chunks()).lower())) for sc in scenarios.values()}
    runs: dict[tuple[str, str], list[Run]] = {}
    idles: list[float] = []
    with h.BenchServer(replies) as server:
        for i in range(repeats):
            for role, sc in scenarios.items():
                for program in (floor, chat):
                    with opened(program, server.base_url) as (screen, ready):
                        got = reply(screen, sc, words[sc.key], ready, 60.0 if quick else 300.0)
                    runs.setdefault((role, program.label), []).append(got)
                    arrival = runs[(role, "floor")][-1].first
                    h.log(f"{NAME}: {sc.name} run {i + 1}/{repeats} {program.label:>5}: first {got.first:.3f}s "
                          f"end {got.end:.3f}s  {updates_per_s(got, arrival):.0f} updates/s  "
                          f"freeze {freeze(got, arrival):.3f}s  "
                          f"cpu {got.cpu:.2f}s  wrote {got.written / 1024:,.0f} KB  peak {got.peak_after_mb:.0f} MB"
                          + (f"  echo {', '.join(f'{e * 1000:.0f}' for e in got.echoes)} ms" if got.echoes else ""))
            if not only:
                idles.append(idle(chat, server.base_url, idling))
                h.log(f"{NAME}: idle run {i + 1}/{repeats}: chat {idles[-1]:.2f}% of a core over {idling:g}s")
    return rows(scenarios, runs, idles, idling)


def _mb(n: float) -> float:
    return n / 1024 / 1024


def rows(scenarios: dict[str, Scenario], runs: dict[tuple[str, str], list[Run]], idles: list[float],
         idling: float) -> list[h.Row]:
    med = h.median
    out: list[h.Row] = []
    for role, sc in scenarios.items():
        f, c = runs[(role, "floor")], runs[(role, "chat")]
        n, p = len(c), sc.name
        if role == "echo":
            ce, fe = [e for r in c for e in r.echoes], [e for r in f for e in r.echoes]
            out.append(h.check(NAME, f"{p}: key echo while streaming", med(ce) * 1000, "ms", "<", 50,
                               f"median of {len(ce)} words, max {max(ce) * 1000:.0f} ms; floor {med(fe) * 1000:.0f} "
                               f"ms (the terminal's own echo)"))
            continue
        out.append(h.check(NAME, f"{p}: first answer line, chat - floor", med([a.first - b.first for a, b in
                                                                                zip(c, f, strict=True)]),
                           "s", "<=", 0.05, f"chat {med([r.first for r in c]):.3f} s, floor "
                           f"{med([r.first for r in f]):.3f} s after enter (median of {n})"))
        ratio = med([a.end / b.end for a, b in zip(c, f, strict=True)])
        note = f"last word shown: chat {med([r.end for r in c]):.2f} s, floor {med([r.end for r in f]):.2f} s"
        limit = {"long": 1.2, "markdown": 1.5}.get(role)
        out.append(h.check(NAME, f"{p}: chat/floor time to the end", ratio, "x", "<=", limit, note) if limit else
                   h.info(NAME, f"{p}: chat/floor time to the end", ratio, "x", note))
        ups = [updates_per_s(a, b.first) for a, b in zip(c, f, strict=True)]
        out.append(h.check(NAME, f"{p}: screen updates while streaming", med(ups), "/s", ">=", 20,
                           f"fewest {min(ups):.0f}/s; floor {med([updates_per_s(r, r.first) for r in f]):.0f}/s "
                           f"(the screen is read every 10 ms)"))
        freezes = [freeze(a, b.first) for a, b in zip(c, f, strict=True)]
        out.append(h.check(NAME, f"{p}: longest freeze while streaming", med(freezes), "s", "<=", 0.1,
                           f"worst run {max(freezes):.3f} s; floor {med([freeze(r, r.first) for r in f]):.3f} s"))
        if role == "paced":
            out.append(h.check(NAME, f"{p}: CPU of chat's processes", med([r.cpu / r.end * 100 for r in c]),
                               "% core", "<=", 10, f"{med([r.cpu for r in c]):.2f} s over the reply; floor "
                               f"{med([r.cpu / r.end * 100 for r in f]):.1f}%"))
            limit = sc.tokens / 2_000  # 1 MB for 2,000 tokens
            out.append(h.check(NAME, f"{p}: bytes chat wrote to the terminal", _mb(med([r.to_terminal for r in c])),
                               "MB", "<=", limit,
                               f"(1 MB per 2,000 tokens) floor {med([r.to_terminal for r in f]) / 1024:,.0f} KB; the "
                               f"reply's text {len(''.join(sc.chunks())) / 1024:,.0f} KB"))
            out.append(h.info(NAME, f"{p}: bytes chat wrote in all", _mb(med([r.written for r in c])), "MB",
                              "terminal, history file and request (wchar)"))
        else:
            out.append(h.info(NAME, f"{p}: CPU of chat's processes", med([r.cpu for r in c]), "s",
                              f"floor {med([r.cpu for r in f]):.2f} s"))
            out.append(h.info(NAME, f"{p}: bytes chat wrote to the terminal", _mb(med([r.to_terminal for r in c])),
                              "MB", f"floor {med([r.to_terminal for r in f]) / 1024:,.0f} KB"))
        if role == "long":
            out.append(h.info(NAME, f"{p}: chat's peak memory after the reply", med([r.peak_after_mb for r in c]),
                              "MB", f"floor {med([r.peak_after_mb for r in f]):.0f} MB"))
    ready = [r.rss_ready_mb for (_, label), rs in runs.items() if label == "chat" for r in rs]
    peak = [r.peak_ready_mb for (_, label), rs in runs.items() if label == "chat" for r in rs]
    floor_ready = [r.rss_ready_mb for (_, label), rs in runs.items() if label == "floor" for r in rs]
    out.append(h.check(NAME, "chat's memory when ready", med(ready), "MB", "<=", 120,
                       f"min {min(ready):.0f}, max {max(ready):.0f} over {len(ready)} launches; floor "
                       f"{med(floor_ready):.0f} MB"))
    out.append(h.info(NAME, "chat's peak memory up to ready", med(peak), "MB",
                      "while the tokenizer loads, its ranks are held twice for a moment"))
    if idles:
        out.append(h.check(NAME, "chat open, idle: CPU", med(idles), "% core", "<", 1,
                           f"{idling:g} s doing nothing after a reply (median of {len(idles)})"))
    return out


def run(quick: bool, only: str | None = None, repeats: int | None = None) -> list[h.Row]:
    if not ts.available():
        return [h.Row(NAME, "skipped: tmux not installed", None, note="apt-get install -y tmux")]
    with h.isolated():
        return measure(quick, only, repeats)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.terminal", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, one repeat")
    parser.add_argument("--scenario", metavar="NAME", help="one scenario, by role (short, long, markdown, paced, "
                        "echo) or by name ('prose 2,000'); no idle run then")
    parser.add_argument("--repeats", type=int, help="repeats of each scenario (default: 3, 1 with --quick)")
    args = parser.parse_args(argv)
    print(h.table(run(args.quick, args.scenario, args.repeats)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
