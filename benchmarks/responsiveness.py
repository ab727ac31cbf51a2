"""2. UI responsiveness: typing in the prompt while a long reply streams at 500 tokens/s.

Every ~50 ms a letter key is delivered to the app the way the pilot does it (a Key event through the driver;
Pilot.press itself is not used because it then waits for the app to go idle, up to a second a key while a reply
streams). Two delays are measured per key, from the moment the key was due (so a busy event loop that wakes
the typist late counts against the app, as it would for a person):

- text: until PromptInput.text holds the character (the TextArea applied the edit);
- rendered: until the compositor has rendered the prompt's line with the character on it (headless, this is
  the frame the terminal would be sent).

Every 40 characters the prompt is cleared between keys (not timed), so the text stays on one line. The stream
runs for its nominal length (tokens / 500 s) plus a margin at most; a reply the app has not finished by then is
stopped, and the keys typed until then are the sample.
"""

from __future__ import annotations

import asyncio
import contextlib
import string
import time
from dataclasses import dataclass
from typing import Any

from benchmarks import helpers as h

NAME = "responsiveness"
RATE = 500  # tokens per second
DELAY = 1 / RATE
INTERVAL = 0.05


def plan(quick: bool) -> tuple[list[str], int]:
    return (["markdown"], 1_000) if quick else (["prose", "markdown"], 10_000)


@dataclass
class Key:
    due: float
    sent: float
    expected: str
    text_at: float | None = None
    render_at: float | None = None


async def type_while_streaming(base_url: str, key: str, tokens: int) -> dict[str, Any]:
    from chatbot.ui.app import make_app
    from chatbot.ui.widgets.prompt_input import PromptInput

    app = make_app(h.settings_for(base_url))
    keys: list[Key] = []
    async with app.run_test(size=h.APP_SIZE) as pilot:
        await h.wait_ready(app)
        await pilot.pause()
        screen = app.screen
        prompt = app.query_one(PromptInput)

        # Instrument this one widget instance: when an edit lands, and when its lines are rendered.
        original_edit, original_render_line = prompt.edit, prompt.render_line

        def edit(*args: Any, **kwargs: Any) -> Any:
            result = original_edit(*args, **kwargs)
            now = time.perf_counter()
            text = prompt.text
            for k in keys:
                if k.text_at is None and text == k.expected:
                    k.text_at = now
            return result

        def render_line(y: int) -> Any:
            strip = original_render_line(y)
            now = time.perf_counter()
            plain = strip.text
            for k in keys:
                if k.text_at is not None and k.render_at is None and k.expected in plain:
                    k.render_at = now
            return strip

        prompt.edit = edit  # type: ignore[method-assign]
        prompt.render_line = render_line  # type: ignore[method-assign]

        prompt.insert(key)
        await pilot.pause()
        h.press_key(app, "enter")
        while screen.turn_worker is None or app.session.in_flight is None or not app.session.in_flight.parts:
            await asyncio.sleep(0.005)
        worker = screen.turn_worker
        await asyncio.sleep(0.2)  # well into the stream
        started = time.perf_counter()
        deadline = started + tokens / RATE * 1.1 + 2.0
        letters = string.ascii_lowercase
        typed = ""
        i = 0
        while not worker.is_finished and time.perf_counter() < deadline:
            due = started + i * INTERVAL
            now = time.perf_counter()
            if now < due:
                await asyncio.sleep(due - now)
            if len(typed) >= 40 and all(k.render_at is not None for k in keys):
                prompt.clear()
                typed = ""
                i += 1
                continue
            char = letters[i % len(letters)]
            typed += char
            keys.append(Key(due, time.perf_counter(), typed))
            h.press_key(app, char)
            i += 1
        stream_seconds = time.perf_counter() - started
        flight = app.session.in_flight
        received = flight.completion_tokens if flight else tokens
        finished = worker.is_finished
        if not finished:
            h.press_key(app, "escape")
        await asyncio.sleep(0.5)  # let the last keys land before reading the figures
        with contextlib.suppress(Exception):  # a stopped reply ends its worker as cancelled
            await asyncio.wait_for(asyncio.shield(worker.wait()), 120)
        state = worker.state.name  # CANCELLED though finished: the app cancelled its own turn
    return {"keys": keys, "seconds": stream_seconds, "received": received, "finished": finished, "state": state}


async def measure(quick: bool) -> list[h.Row]:
    kinds, tokens = plan(quick)
    replies = {h.reply_key(kind, tokens, DELAY): (h.token_chunks(kind, tokens), DELAY) for kind in kinds}
    rows: list[h.Row] = []
    with h.BenchServer(replies) as server:
        for kind in kinds:
            got = await type_while_streaming(server.base_url, h.reply_key(kind, tokens, DELAY), tokens)
            keys: list[Key] = got["keys"]
            text_due = [(k.text_at - k.due) * 1000 for k in keys if k.text_at is not None]
            render_due = [(k.render_at - k.due) * 1000 for k in keys if k.render_at is not None]
            render_sent = [(k.render_at - k.sent) * 1000 for k in keys if k.render_at is not None]
            lost = sum(k.render_at is None for k in keys)
            rate = got["received"] / got["seconds"]
            h.log(f"{NAME}: {kind}: {len(keys)} keys over {got['seconds']:.1f}s, stream {rate:.0f} tok/s "
                  f"({'finished' if got['finished'] else 'stopped'}); text median {h.median(text_due):.1f} ms "
                  f"worst {max(text_due):.1f} ms; rendered median {h.median(render_due):.1f} ms worst "
                  f"{max(render_due):.1f} ms; not rendered {lost}")
            where = f"{kind} {tokens:,} tok @500/s"
            stream_note = (f"{len(keys)} keys; reply taken in at {rate:.0f} tok/s"
                           + (f"; the turn worker ended {got['state']} though nothing stopped it"
                              if got["finished"] and got["state"] != "SUCCESS" else "")
                           + ("" if got["finished"] else f", stopped after {got['seconds']:.0f}s at "
                              f"{got['received']:,} tokens"))
            rows.append(h.info(NAME, f"{where}: key->text median", h.median(text_due), "ms", stream_note))
            rows.append(h.info(NAME, f"{where}: key->text p95", h.percentile(text_due, 95), "ms"))
            rows.append(h.check(NAME, f"{where}: key->text worst", max(text_due), "ms", "<", 100))
            rows.append(h.info(NAME, f"{where}: key->rendered median", h.median(render_due), "ms",
                               f"from the key's send call: median {h.median(render_sent):.1f} ms"))
            rows.append(h.info(NAME, f"{where}: key->rendered p95", h.percentile(render_due, 95), "ms"))
            rows.append(h.check(NAME, f"{where}: key->rendered worst", max(render_due) if not lost else None, "ms",
                                "<", 100, f"from the send call: worst {max(render_sent):.1f} ms"
                                + (f"; {lost} keys never rendered" if lost else "")))
    return rows


def run(quick: bool) -> list[h.Row]:
    with h.isolated():
        return asyncio.run(measure(quick))
