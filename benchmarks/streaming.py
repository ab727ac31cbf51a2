"""1. Streaming throughput: the app against the bare SDK (the floor), on the same stream from the same server.

Each figure is a median over repeats in which the floor and the app run back to back (interleaved), so the
ratios compare runs made under the same load. The fake server runs in its own process and streams one token
per chunk with no delay.

App time: from the enter key that sends (a Key event through the driver, as a terminal delivers it) until the
turn worker has finished, the screen has processed everything queued, and the final frame has been rendered
(the compositor's update, done at once instead of waiting for the next 60 fps tick). Floor time: from
`chat.completions.create` until the last chunk has been read, by `openai.AsyncOpenAI` alone.

A run is checked: the session holds the whole reply and the reply's Markdown widget renders all of it. A run
whose turn the app cancels by itself (no stop was asked for) is counted in its own row and retried. An app run
still going after a time limit (90 s; 8 s with --quick) is stopped with escape; its figures are then lower
bounds, marked so in the table, and that length is not repeated.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from benchmarks import helpers as h

NAME = "streaming"
KINDS = ("prose", "markdown")


def plan(quick: bool) -> tuple[list[int], int, float]:
    """Reply lengths in tokens, repeats per length, and the most seconds one app run may take before it is
    stopped (its figures then are bounds: the app needs at least that long)."""
    return ([200, 1_000, 3_000], 1, 8.0) if quick else ([1_000, 10_000, 50_000], 3, 90.0)


async def floor_run(base_url: str, key: str) -> tuple[float, float, int]:
    """Wall and CPU seconds for the bare SDK to read the whole stream, and the characters read."""
    import openai

    client = openai.AsyncOpenAI(base_url=base_url, api_key=h.API_KEY, max_retries=0)
    try:
        t0, c0 = time.perf_counter(), time.process_time()
        stream = await client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": key}], stream=True,
            stream_options={"include_usage": True})
        parts = []
        async with stream:
            async for chunk in stream:
                for choice in chunk.choices:
                    if choice.delta is not None and choice.delta.content:
                        parts.append(choice.delta.content)
        t1, c1 = time.perf_counter(), time.process_time()
    finally:
        await client.close()
    return t1 - t0, c1 - c0, len("".join(parts))


async def app_run(base_url: str, key: str, expected: str, limit: float = 600.0) -> tuple[float, float, int]:
    """Wall and CPU seconds for the app, from the enter that sends `key` to the final frame of the reply, and the
    tokens it took in. After `limit` seconds the reply is stopped (escape): the times are then those at the
    limit, and the tokens fewer than the reply's."""
    from textual.worker import WorkerCancelled, WorkerFailed

    from chatbot.ui.app import make_app
    from chatbot.ui.widgets.prompt_input import PromptInput

    app = make_app(h.settings_for(base_url))
    async with app.run_test(size=h.APP_SIZE) as pilot:
        await h.wait_ready(app)
        await pilot.pause()
        screen = app.screen
        app.query_one(PromptInput).insert(key)
        await pilot.pause()
        t0, c0 = time.perf_counter(), time.process_time()
        h.press_key(app, "enter")
        while screen.turn_worker is None:
            await asyncio.sleep(0.001)
        worker = screen.turn_worker
        done = asyncio.ensure_future(worker.wait())
        done.add_done_callback(lambda f: f.cancelled() or f.exception())  # a stopped reply's error is expected
        try:
            await asyncio.wait_for(asyncio.shield(done), limit)
        except TimeoutError:
            t1, c1 = time.perf_counter(), time.process_time()
            flight = app.session.in_flight
            tokens = flight.completion_tokens if flight else 0
            h.press_key(app, "escape")  # stop the reply, as a user would; what arrived is kept and rendered
            with contextlib.suppress(TimeoutError, WorkerCancelled, WorkerFailed):
                await asyncio.wait_for(asyncio.shield(done), 300)
            return t1 - t0, c1 - c0, tokens
        except WorkerCancelled:
            # Nobody stopped it: the app cancelled its own turn. The reply may be stored but not shown.
            await h.settle_and_render(pilot)
            raise TurnCancelled(rendered_chars(screen), len(expected)) from None
        await h.settle_and_render(pilot)
        t1, c1 = time.perf_counter(), time.process_time()
        reply = app.session.conversation.last_reply()
        if reply is None or reply.content != expected:
            raise AssertionError(f"the app's reply is not the streamed text ({len(reply.content) if reply else 0} "
                                 f"of {len(expected)} characters)")
        if rendered_chars(screen) != len(expected):
            raise AssertionError(f"the reply view renders {rendered_chars(screen)} of {len(expected)} characters")
        tokens = reply.usage.completion_tokens if reply.usage else 0
    return t1 - t0, c1 - c0, tokens


class TurnCancelled(Exception):
    """The turn worker ended CANCELLED though nothing stopped it."""

    def __init__(self, rendered: int, expected: int) -> None:
        super().__init__(f"turn worker cancelled by the app; the view renders {rendered} of {expected} characters")
        self.rendered, self.expected = rendered, expected


def rendered_chars(screen: Any) -> int:
    """Characters of Markdown source in the last view's Markdown widget (what it renders)."""
    from textual.widgets import Markdown

    return len(screen.transcript.views()[-1].query_one(Markdown).source)


async def measure(quick: bool) -> list[h.Row]:
    lengths, repeats, limit = plan(quick)
    replies: dict[str, tuple[list[str], float]] = {}
    texts: dict[str, str] = {}
    for kind in KINDS:
        for n in lengths:
            key = h.reply_key(kind, n)
            chunks = h.token_chunks(kind, n)
            replies[key] = (chunks, 0.0)
            texts[key] = "".join(chunks)
    warm = h.reply_key("prose", 50)
    replies[warm] = (h.token_chunks("prose", 50), 0.0)
    texts[warm] = "".join(replies[warm][0])

    results: dict[tuple[str, int], dict[str, list[float]]] = {}
    stopped: dict[tuple[str, int], int] = {}  # tokens taken in when a run hit the limit
    cancelled: list[str] = []  # runs whose turn the app cancelled by itself (retried)
    with h.BenchServer(replies) as server:
        # Warm both paths once (imports, first connection, CSS parsing) before anything is timed.
        await floor_run(server.base_url, warm)
        await app_run(server.base_url, warm, texts[warm])
        for kind in KINDS:
            for n in lengths:
                key = h.reply_key(kind, n)
                r = results[(kind, n)] = {"fw": [], "fc": [], "aw": [], "ac": [], "ratio": []}
                for i in range(repeats):
                    fw, fc, chars = await floor_run(server.base_url, key)
                    assert chars == len(texts[key]), "the floor did not read the whole stream"
                    for _attempt in range(3):
                        try:
                            aw, ac, got = await app_run(server.base_url, key, texts[key], limit)
                            break
                        except TurnCancelled as exc:
                            cancelled.append(f"{kind} {n}: {exc}")
                            h.log(f"{NAME}: {kind} {n:>6} tokens: {exc} (retrying)")
                    else:
                        raise RuntimeError(f"{kind} {n}: the app cancelled its own turn three times in a row")
                    r["fw"].append(fw), r["fc"].append(fc), r["aw"].append(aw), r["ac"].append(ac)
                    r["ratio"].append(aw / fw)
                    h.log(f"{NAME}: {kind} {n:>6} tokens run {i + 1}/{repeats}: floor {fw:.3f}s (cpu {fc:.3f}s)  "
                          f"app {aw:.3f}s (cpu {ac:.3f}s)  ratio {aw / fw:.2f}"
                          + (f"  STOPPED at the {limit:.0f}s limit after {got:,} tokens" if got < n else ""))
                    if got < n:
                        stopped[(kind, n)] = got
                        r["ac"][-1] = ac / got * n if got else float("inf")  # CPU per token so far, scaled to n
                        break  # a run that hits the limit is not repeated: its figures are bounds anyway

    runs = sum(len(r["ratio"]) for r in results.values()) + len(cancelled)
    rows: list[h.Row] = [h.Row(NAME, "turns the app cancelled by itself", len(cancelled), f"of {runs}", "0",
                               not cancelled, "; ".join(cancelled[:2]) + (" ..." if len(cancelled) > 2 else "")
                               if cancelled else "every turn ended SUCCESS with the whole reply rendered")]
    mid, small, large = lengths[1], lengths[0], lengths[-1]
    for kind in KINDS:
        for n in lengths:
            r = results[(kind, n)]
            ratio = h.median(r["ratio"])
            fw, aw = h.median(r["fw"]), h.median(r["aw"])
            if (kind, n) in stopped:
                note = (f"LOWER BOUND: stopped at the {limit:.0f}s limit with {stopped[(kind, n)]:,} of {n:,} tokens "
                        f"in; floor {fw:.2f}s for all")
            else:
                note = f"app {aw:.2f}s vs floor {fw:.2f}s (median of {len(r['ratio'])})"
            metric = f"{kind} {n:,} tok: app/floor time"
            rows.append(h.check(NAME, metric, ratio, "x", "<=", 1.5, note) if n == mid else
                        h.info(NAME, metric, ratio, "x", note))
        for n in lengths:
            r = results[(kind, n)]
            per_k = h.median(r["ac"]) / n * 1000
            if (kind, n) in stopped:
                note = f"LOWER BOUND: CPU per token over the first {stopped[(kind, n)]:,} tokens"
            else:
                note = f"{n / h.median(r['aw']):,.0f} tok/s"
            rows.append(h.info(NAME, f"{kind} {n:,} tok: app CPU per 1k tok", per_k, "s",
                               f"{note}; floor {h.median(r['fc']) / n * 1000:.4f} s"))
        per_small = h.median(results[(kind, small)]["ac"]) / small
        per_large = h.median(results[(kind, large)]["ac"]) / large
        rows.append(h.check(NAME, f"{kind}: CPU/tok at {large:,} vs {small:,}", per_large / per_small, "x", "<=", 1.2,
                            ("LOWER BOUND (longest run stopped); " if (kind, large) in stopped else "")
                            + "app CPU per token, longest reply over shortest"))
    return rows


def run(quick: bool) -> list[h.Row]:
    with h.isolated():
        return asyncio.run(measure(quick))
