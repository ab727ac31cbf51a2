"""4. Long conversations: a 500-turn conversation of about 250,000 tokens.

- Adding a turn and computing the window (Session.window(), i.e. build_window over the cached counts) at 50, 100,
  250 and 500 turns: each sample adds a user message and a reply (counted once, as in the app) to a conversation
  of n-1 turns whose counts are cached, computes the window, and takes the turn out again.
- Resume: HistoryStore.load + Session.resume + Session.window() from a history database holding the conversation.
- Memory: a fresh process opens the app on that conversation (`chat --resume ID` does the same: make_app with
  the store and resume_id), waits until the chat screen has shown it (its on_mount has returned: every message
  the app chooses to mount is mounted) and the screen is rendered, checks that the session holds every message,
  and reads VmRSS from
  /proc/self/status. A second fresh process does the same with an empty conversation, for reference. If the app
  has not mounted everything within a time limit, the figure is read then (a lower bound), and the memory per
  mounted message gives an estimate for the whole conversation.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks import helpers as h

NAME = "long_conversation"


def plan(quick: bool) -> tuple[int, list[int], int, float]:
    """Turns, checkpoints, samples per checkpoint, and the most seconds the app may take to open the conversation
    (past that, the memory figure is read from what has been mounted by then, a lower bound)."""
    return (100, [10, 25, 50, 100], 30, 6.0) if quick else (500, [50, 100, 250, 500], 200, 300.0)


def turn_texts(i: int) -> tuple[str, str]:
    """Turn i: a question of about 100 tokens and a Markdown reply of about 400."""
    question = h.prose(370, seed=10_000 + i).replace("\n\n", " ")
    answer = h.markdown(1_100, seed=20_000 + i)
    return question, answer


def build(session: Any, turns: int) -> None:
    from chatbot.core.conversation import Message

    counter = session.counter
    for i in range(turns):
        q, a = turn_texts(i)
        counter.count_message(session.conversation.add(Message("user", q)))
        counter.count_message(session.conversation.add(Message("assistant", a, model=session.model)))


def make_session() -> Any:
    from chatbot.core.client import ChatClient
    from chatbot.core.session import Session

    settings = h.settings_for("http://127.0.0.1:9/v1")
    return Session(settings, ChatClient(api_key=h.API_KEY, base_url="http://127.0.0.1:9/v1"))


def time_turns(session: Any, samples: int) -> tuple[float, float]:
    """Median ms to add a turn and compute the window, and to compute the window alone (all counts cached)."""
    from chatbot.core.conversation import Message

    conversation = session.conversation
    q, a = turn_texts(999_999)
    add_ms, window_ms = [], []
    for _ in range(samples):
        t0 = time.perf_counter()
        conversation.add(Message("user", q))
        conversation.add(Message("assistant", a, model=session.model))
        session.window()
        t1 = time.perf_counter()
        session.window()
        t2 = time.perf_counter()
        del conversation.messages[-2:]
        add_ms.append((t1 - t0) * 1000)
        window_ms.append((t2 - t1) * 1000)
    return h.median(add_ms), h.median(window_ms)


def store_conversation(path: Path, session: Any) -> int:
    from chatbot.core.store.history import HistoryStore

    store = HistoryStore(path)
    conversation_id = store.create(session.model, session.preset_name, session.conversation.system_prompt)
    with store._write() as db:  # one transaction: the figures here are about reading it back, not writing
        parent = None  # one line: each message follows the one before, and the active path ends at the last
        for m in session.conversation.messages:
            parent = db.execute(
                "INSERT INTO messages (conversation_id, role, content, model, created, token_counts, parent_id)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (conversation_id, m.role, m.content, m.model, time.time(), json.dumps(m.token_counts),
                 parent)).lastrowid
        db.execute("UPDATE conversations SET title = ?, active_leaf = ? WHERE id = ?", ("bench", parent,
                                                                                      conversation_id))
    store.close()
    return conversation_id


def memory_child(db: str, conversation_id: int, out: str, limit: float) -> None:
    """A fresh process: open the app on the conversation (or on none, if conversation_id is 0), wait until it is
    all mounted and rendered, and report resident memory. The app runs headless without run_test, whose first
    wait gives up after 30 s."""
    from textual.pilot import Pilot

    from chatbot.core.store.history import HistoryStore
    from chatbot.ui.app import make_app
    from chatbot.ui.screens.chat import ChatScreen
    from chatbot.ui.widgets.message_view import MessageView

    async def main() -> dict[str, Any]:
        # What warm_up loads after the first paint, loaded first: a run stopped before that paint is then
        # comparable with the empty app's.
        import openai  # noqa: F401

        h.encoding()
        store = HistoryStore(Path(db))
        expected = len(store.load(conversation_id).conversation.messages) if conversation_id else 0
        t0 = time.perf_counter()
        app = make_app(h.settings_for("http://127.0.0.1:9/v1"), store=store, resume_id=conversation_id or None)
        task = asyncio.create_task(app.run_async(headless=True, size=h.APP_SIZE))
        while True:
            started = app.is_running and bool(app._screen_stack)
            # ChatScreen.on_mount shows the conversation; the screen counts as mounted once that has returned.
            if started and isinstance(app.screen, ChatScreen) and app.screen.is_mounted:
                break
            if time.perf_counter() - t0 > limit:
                mounted = len(app.query(MessageView)) if started else 0  # not polled: a query walks every widget
                return {"timeout": True, "mounted": mounted, "expected": expected, "seconds": limit,
                        "rss": h.rss_mb(), "hwm": h.proc_status("VmHWM")}
            await asyncio.sleep(0.02)
        await h.wait_ready(app)
        await h.settle_and_render(Pilot(app))
        opened = time.perf_counter() - t0
        gc.collect()
        assert not task.done()
        held = len(app.session.conversation.messages)
        assert held == expected, f"the app's session holds {held} of {expected} messages"
        mounted = len(app.query(MessageView))
        return {"timeout": False, "mounted": mounted, "expected": expected, "seconds": opened,
                "rss": h.rss_mb(), "hwm": h.proc_status("VmHWM")}

    with h.isolated():
        loop = asyncio.new_event_loop()
        result = loop.run_until_complete(main())
    Path(out).write_text(json.dumps(result))
    # No orderly shutdown: an app stopped half-way through mounting a long conversation can take minutes to close,
    # and nothing of this process is needed any more.
    sys.stdout.flush(), sys.stderr.flush()
    os._exit(0)


def run_memory_child(db: Path, conversation_id: int, limit: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="chat-bench-") as tmp:
        out = Path(tmp) / "memory.json"
        subprocess.run([sys.executable, "-m", "benchmarks.long_conversation", "memory", str(db), str(conversation_id),
                        str(out), str(limit)], cwd=h.ROOT, check=True, timeout=limit + 120)
        return json.loads(out.read_text())


def measure(quick: bool, base: Path) -> list[h.Row]:
    from chatbot.core.store.history import HistoryStore

    turns, checkpoints, samples, limit = plan(quick)
    rows: list[h.Row] = []
    session = make_session()
    built = 0
    per_turn: dict[int, tuple[float, float]] = {}
    for n in checkpoints:
        build_from = built
        for i in range(build_from, n - 1):
            q, a = turn_texts(i)
            from chatbot.core.conversation import Message

            session.counter.count_message(session.conversation.add(Message("user", q)))
            session.counter.count_message(session.conversation.add(Message("assistant", a, model=session.model)))
        built = n - 1
        per_turn[n] = time_turns(session, samples)
        h.log(f"{NAME}: {n} turns: add turn + window {per_turn[n][0]:.3f} ms, window alone {per_turn[n][1]:.3f} ms")
    # The whole conversation, as stored and resumed.
    session = make_session()
    build(session, turns)
    tokens = session.counter.count_prompt(session.conversation.all_messages())
    window = session.window()
    h.log(f"{NAME}: {turns} turns = {tokens:,} tokens; the window keeps {len(window.kept)} messages "
          f"({window.prompt_tokens:,} tokens), drops {window.dropped_turns} turns")
    for n in checkpoints:
        add_ms, window_ms = per_turn[n]
        metric = f"{n} turns: add turn + window"
        note = f"window alone {window_ms:.3f} ms (median of {samples})"
        rows.append(h.check(NAME, metric, add_ms, "ms", "<", 2.0, note) if n == checkpoints[-1] else
                    h.info(NAME, metric, add_ms, "ms", note))
    growth = per_turn[checkpoints[-1]][0] / per_turn[checkpoints[0]][0]
    span = checkpoints[-1] / checkpoints[0]
    rows.append(h.check(NAME, f"growth {checkpoints[-1]} vs {checkpoints[0]} turns", growth, "x", "<=", span,
                        f"add turn + window; {span:g}x the turns (<= {span:g}x: no worse than linear)",
                        target_text=f"<= {span:g} x"))

    db = base / "history.db"
    conversation_id = store_conversation(db, session)
    store = HistoryStore(db)
    resume_ms, load_ms = [], []
    for _ in range(5 if quick else 15):
        fresh = make_session()
        t0 = time.perf_counter()
        stored = store.load(conversation_id)
        t1 = time.perf_counter()
        fresh.resume(stored.conversation, stored.model, stored.preset)
        w = fresh.window()
        t2 = time.perf_counter()
        resume_ms.append((t2 - t0) * 1000)
        load_ms.append((t1 - t0) * 1000)
    store.close()
    assert w.prompt_tokens == window.prompt_tokens, "the resumed window differs from the original"
    rows.append(h.info(NAME, f"resume {turns} turns (load+resume+window)", h.median(resume_ms), "ms",
                       f"HistoryStore.load {h.median(load_ms):.1f} ms of it; {tokens:,} tokens, stored counts reused"))

    h.log(f"{NAME}: opening the app on the {turns}-turn conversation in a fresh process ...")
    try:
        full = run_memory_child(db, conversation_id, limit)
        empty = run_memory_child(db, 0, limit)
    except (subprocess.SubprocessError, OSError, ValueError) as exc:
        rows.append(h.Row(NAME, f"RSS, app holding {turns} turns", None, "MB", "< 200 MB", False,
                          f"the memory child failed: {exc}"[:200]))
        return rows
    h.log(f"{NAME}: memory: {full}; empty app: {empty}")
    per_message = (full["rss"] - empty["rss"]) / full["mounted"] if full["mounted"] else 0.0
    messages = 2 * turns
    if full["timeout"]:
        estimate = empty["rss"] + per_message * messages
        rows.append(h.Row(NAME, f"RSS, app holding {turns} turns", full["rss"], "MB", "< 200 MB",
                          max(full["rss"], estimate) < 200,
                          f"LOWER BOUND: after the {limit:.0f}s limit only {full['mounted']} of {messages} messages "
                          f"were mounted; at {per_message:.2f} MB each, all would take ~{estimate:,.0f} MB"))
        rows.append(h.info(NAME, f"open app on {turns} turns (mount+render)", None, "s",
                           f"not done in {limit:.0f}s: {full['mounted']} of {messages} messages mounted; "
                           f"empty app {empty['seconds']:.2f}s"))
    else:
        rows.append(h.check(NAME, f"RSS, app holding {turns} turns", full["rss"], "MB", "<", 200,
                            f"peak {full['hwm']:.0f} MB; empty app {empty['rss']:.0f} MB"))
        rows.append(h.info(NAME, f"open app on {turns} turns (mount+render)", full["seconds"], "s",
                           f"session holds all {messages} messages, {full['mounted']} message views mounted; "
                           f"empty app {empty['seconds']:.2f}s"))
    rows.append(h.info(NAME, "RSS per mounted message", per_message, "MB",
                       f"(RSS holding the conversation - empty app {empty['rss']:.0f} MB) / messages mounted"))
    return rows


def run(quick: bool) -> list[h.Row]:
    with h.isolated() as base:
        return measure(quick, base)


if __name__ == "__main__":
    if len(sys.argv) == 6 and sys.argv[1] == "memory":
        memory_child(sys.argv[2], int(sys.argv[3]), sys.argv[4], float(sys.argv[5]))
    else:
        print("usage: python -m benchmarks.long_conversation memory DB CONVERSATION_ID OUT.json LIMIT_SECONDS",
              file=sys.stderr)
        sys.exit(2)
