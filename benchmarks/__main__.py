"""Run the benchmarks: ``python -m benchmarks [--quick] [--only NAME] [--json PATH]``.

Each benchmark runs in a fresh child process (so imports, caches and memory of one never colour another), one
after the other. The table is printed at the end and written as JSON (benchmarks/results.json by default).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

from benchmarks import BENCHMARKS
from benchmarks import helpers as h


def _child(name: str, quick: bool, out: Path) -> int:
    module = importlib.import_module(f"benchmarks.{name}")
    try:
        rows = module.run(quick)
    except Exception:  # noqa: BLE001 - a broken benchmark is reported as a row, the others still run
        traceback.print_exc()
        rows = [h.Row(name, "benchmark failed", None, "", "", False, traceback.format_exc(limit=1).strip()[-160:])]
    out.write_text(json.dumps([r.to_json() for r in rows]))
    return 0


def _run_child(name: str, quick: bool) -> tuple[list[h.Row], float]:
    with tempfile.TemporaryDirectory(prefix="chat-bench-") as tmp:
        out = Path(tmp) / "rows.json"
        cmd = [sys.executable, "-m", "benchmarks", "--child", name, "--child-out", str(out),
               *(["--quick"] if quick else [])]
        start = time.perf_counter()
        proc = subprocess.run(cmd, cwd=h.ROOT, stdin=subprocess.DEVNULL)
        took = time.perf_counter() - start
        if not out.exists():
            return [h.Row(name, "benchmark crashed", None, "", "", False, f"exit status {proc.returncode}")], took
        rows = []
        for r in json.loads(out.read_text()):
            r.pop("status", None)
            rows.append(h.Row(**r))
        return rows, took


def _git_state() -> dict[str, object]:
    """The commit measured, and the files that differed from it (others may be changing the app meanwhile)."""
    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], cwd=h.ROOT, capture_output=True, text=True, timeout=10).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""
    # "XY path", of which the output's first line may have lost its leading blank (an unstaged change: " M")
    dirty = [line.split(maxsplit=1)[1] for line in git("status", "--porcelain", "--", "chatbot").splitlines()]
    return {"commit": git("rev-parse", "--short", "HEAD"), "subject": git("log", "-1", "--format=%s"),
            "uncommitted_in_chatbot": dirty}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes and fewer repeats (under a minute)")
    parser.add_argument("--only", metavar="NAME", choices=BENCHMARKS,
                        help=f"run one benchmark: {', '.join(BENCHMARKS)}")
    parser.add_argument("--json", metavar="PATH", type=Path, default=h.BENCH_DIR / "results.json",
                        help="where to write the results (default: benchmarks/results.json)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--child-out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return _child(args.child, args.quick, args.child_out)

    names = [args.only] if args.only else list(BENCHMARKS)
    git_before = _git_state()
    started = time.time()
    rows: list[h.Row] = []
    timings: dict[str, float] = {}
    code_per_benchmark: dict[str, str] = {}
    for name in names:
        state = _git_state()
        code_per_benchmark[name] = str(state["commit"]) + ("+dirty" if state["uncommitted_in_chatbot"] else "")
        h.log(f"== {name} ({'quick' if args.quick else 'full'}, code {code_per_benchmark[name]}) ==")
        got, took = _run_child(name, args.quick)
        rows += got
        timings[name] = round(took, 1)
        h.log(f"== {name} done in {took:.1f}s ==")
    total = time.time() - started

    print()
    print(h.table(rows))
    misses = [r for r in rows if r.ok is False]
    print(f"\n{'quick' if args.quick else 'full'} run: {len(rows)} figures, "
          f"{sum(r.ok is True for r in rows)} PASS, {len(misses)} MISS, in {total:.0f}s "
          f"({', '.join(f'{k} {v:.0f}s' for k, v in timings.items())})")
    result = {
        "mode": "quick" if args.quick else "full",
        "only": args.only,
        "command": " ".join([Path(sys.executable).name, "-m", "benchmarks",
                             *(argv if argv is not None else sys.argv[1:])]),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started)),
        "seconds": round(total, 1),
        "seconds_per_benchmark": timings,
        "code": git_before,
        "code_changed_during_run": _git_state() != git_before,
        "code_per_benchmark": code_per_benchmark,
        "machine": {"python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count(),
                    "load_average_at_end": list(os.getloadavg())},
        "rows": [r.to_json() for r in rows],
    }
    args.json.write_text(json.dumps(result, indent=2) + "\n")
    if _git_state() != git_before or len(set(code_per_benchmark.values())) > 1:
        print("note: the code under chatbot/ changed while the benchmarks ran; each benchmark ran against: "
              + ", ".join(f"{k} {v}" for k, v in code_per_benchmark.items()))
    uncommitted = git_before["uncommitted_in_chatbot"]
    print(f"results written to {args.json} (code: {git_before['commit']}"
          f"{', with uncommitted changes in ' + ', '.join(uncommitted) if uncommitted else ''})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
