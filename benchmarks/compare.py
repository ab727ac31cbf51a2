"""Two versions of `chat` side by side, in a real terminal: a change measured against what it changes.

Paced CPU, the first line and the bytes to the terminal move by ±10% from one run to the next on this machine,
more than most single changes save, so a change is measured against the code before it in the same run,
interleaved (A B, B A, A B, ...), with the terminal benchmark's scenarios, server and screen reader
(benchmarks/terminal.py). Each version is a source tree holding `chatbot/` (a checkout, or a worktree:
``git worktree add /tmp/before HEAD``) and runs with this environment's packages.

``python -m benchmarks.compare /tmp/before . --scenario paced --rounds 3``
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

from benchmarks import helpers as h
from benchmarks import terminal as t


def program(tree: Path) -> t.Program:
    """`chat` with `tree`'s chatbot package first on its path."""
    code = (f"import sys; sys.path.insert(0, {str(tree)!r}); from chatbot.cli.run import main; "
            "sys.argv = ['chat', '-m', 'gpt-4o-mini']; sys.exit(main())")
    return t.Program(str(tree), [sys.executable, "-c", code], "Message (enter sends")


def summary(runs: list[t.Run]) -> str:
    def med(values: list[float]) -> float:
        return statistics.median(values)

    return (f"cpu {med([r.cpu for r in runs]):.2f} s  first {med([r.first for r in runs]):.3f} s  "
            f"end {med([r.end for r in runs]):.2f} s  freeze {med([t.freeze(r, r.first) for r in runs]):.3f} s  "
            f"updates {med([t.updates_per_s(r, r.first) for r in runs]):.1f}/s  "
            f"to the terminal {med([r.to_terminal for r in runs]) / 1e6:.2f} MB"
            + (f"  slowest key echo {max(e for r in runs for e in r.echoes) * 1000:.0f} ms"
               if any(r.echoes for r in runs) else "")
            + f"  (median of {len(runs)})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.compare", description=__doc__.splitlines()[0])
    parser.add_argument("before", type=Path, help="a source tree holding chatbot/")
    parser.add_argument("after", type=Path, help="another one")
    parser.add_argument("--scenario", default="paced", help="a role of benchmarks/terminal.py (default: paced)")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each version (default: 3)")
    args = parser.parse_args(argv)
    trees = [args.before.resolve(), args.after.resolve()]
    for tree in trees:
        if not (tree / "chatbot").is_dir():
            raise SystemExit(f"{tree}: no chatbot/ in it")
    scenarios = t.plan(False)[0]
    if args.scenario not in scenarios:
        raise SystemExit(f"no scenario {args.scenario!r}; the scenarios: {', '.join(scenarios)}")
    sc = scenarios[args.scenario]
    words = " " + " ".join(t._WORD.findall("".join(sc.chunks()).lower()))
    # By position, not by tree: the same tree twice (an A/A run) shows how far two runs of one version differ.
    runs: list[list[t.Run]] = [[], []]
    with h.isolated(), h.BenchServer({t.WARM: (t.WARM_REPLY, 0.0), sc.key: (sc.chunks(), sc.delay)}) as server:
        for i in range(args.rounds):
            for side in (0, 1) if i % 2 == 0 else (1, 0):
                with t.opened(program(trees[side]), server.base_url) as (screen, ready):
                    got = t.reply(screen, sc, words, ready, 300.0)
                runs[side].append(got)
                h.log(f"compare: {sc.name} round {i + 1}/{args.rounds} {trees[side]}: {summary([got])}")
    for label, tree, side_runs in zip(("before", "after"), trees, runs, strict=True):
        print(f"{label:>6} {tree}: {summary(side_runs)}")
    cpu = [statistics.median(r.cpu for r in side_runs) for side_runs in runs]
    print(f"after/before CPU: {cpu[1] / cpu[0]:.2f} x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
