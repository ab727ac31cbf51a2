"""How a streaming reply reaches the screen: drawn while a fast stream is still being read, growing into a step
of blank lines so the transcript above it moves a step at a time, and, on a real terminal, every row right
although rows the terminal already shows are not sent again."""

from __future__ import annotations

import asyncio
import re
import threading
from typing import Any

import pyte
import pytest
from textual.screen import Screen

from chatbot.ui.screens import turn_worker
from chatbot.ui.widgets.reply_markdown import ReplyMarkdown
from fake_openai import FakeOpenAI, Reply
from pty_terminal import COLS, ROWS, Terminal, ready
from support import SIZE, app_for, send, until, wait_turn

WORDS = [f"w{n} " for n in range(1, 301)]


def reply_source(app: Any) -> str:
    markdowns = list(app.screen.query(ReplyMarkdown))
    return markdowns[-1].source if markdowns else ""


def frames_drawn(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The reply's source at each screen refresh that drew a change of it."""
    drawn: list[str] = []
    refresh = Screen._compositor_refresh

    def record(screen: Screen[Any]) -> None:
        refresh(screen)
        if (source := reply_source(screen.app)) and (not drawn or drawn[-1] != source):
            drawn.append(source)

    monkeypatch.setattr(Screen, "_compositor_refresh", record)
    return drawn


async def send_go(app: Any, pilot: Any) -> None:
    await app.ready.wait()
    app.screen.query_one("PromptInput").insert("go")
    await pilot.press("enter")


async def test_a_fast_stream_is_drawn_while_it_is_read(fake: FakeOpenAI, make_settings: Any,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """The server has sent 300 pieces before the app reads the first, so reading never waits for the network;
    the screen still draws as they are read (here, with a frame due after every piece, after each of them)."""
    hold = threading.Event()
    fake.queue(Reply(WORDS, hold=hold, hold_after=len(WORDS) - 1))
    monkeypatch.setattr(turn_worker, "PAINT_EVERY", 0.0)
    monkeypatch.setattr(turn_worker, "READ_FOR", 0.0)
    drawn = frames_drawn(monkeypatch)
    app = app_for(make_settings)
    async with app.run_test(size=SIZE) as pilot:
        await send_go(app, pilot)
        await until(pilot, lambda: reply_source(app).count("w") >= len(WORDS) - 1)
        hold.set()
        await wait_turn(pilot)
    # Each frame showed more of the reply than the one before: the reply grew on screen piece by piece, not
    # in one jump at the end of what had arrived.
    assert len(drawn) >= len(WORDS) // 2, len(drawn)


async def test_a_fast_stream_is_drawn_a_few_lines_a_frame(fake: FakeOpenAI, make_settings: Any,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """With no frame ever due by time, a stream read faster than the screen draws is still drawn as its lines
    come: a frame each FRAME_LINES lines (four here), not all that came in a frame's time at once."""
    from chatbot.ui.widgets import message_view

    lines = [f"line {n}\n" for n in range(120)]
    hold = threading.Event()
    fake.queue(Reply(lines, hold=hold, hold_after=len(lines) - 1))
    monkeypatch.setattr(turn_worker, "PAINT_EVERY", 1000.0)
    monkeypatch.setattr(message_view, "FRAME", 1000.0)
    monkeypatch.setattr(turn_worker, "READ_FOR", 0.0)
    monkeypatch.setattr(turn_worker, "FRAME_LINES", 4)
    drawn = frames_drawn(monkeypatch)
    app = app_for(make_settings)
    async with app.run_test(size=SIZE) as pilot:
        await send_go(app, pilot)
        await until(pilot, lambda: "line 115" in reply_source(app), "the lines before the last drawn")
        hold.set()
        await wait_turn(pilot)
    grown = [source.count("\n") for source in drawn]
    assert grown == sorted(grown) and len(drawn) >= len(lines) // 4 // 2, grown


async def test_a_message_keeps_its_width_when_a_reply_grows_past_the_screen(fake: FakeOpenAI,
                                                                            make_settings: Any) -> None:
    """The transcript keeps its scrollbar's column while it has nothing to scroll: when a reply grows past the
    screen, the messages above it are not wrapped and measured again one column narrower."""
    from chatbot.ui.widgets.transcript import Transcript

    fake.queue(Reply("a short answer"), Reply("\n\n".join(f"line {i}" for i in range(80))))
    app = app_for(make_settings)
    async with app.run_test(size=SIZE) as pilot:
        transcript = app.query_one(Transcript)
        await send(pilot, "short please")
        assert transcript.max_scroll_y == 0
        widths = [view.size.width for view in transcript.views()]
        await send(pilot, "long please")
        await until(pilot, lambda: transcript.max_scroll_y > 0, "a transcript taller than the screen")
        assert [view.size.width for view in transcript.views()[:2]] == widths


def test_the_first_pieces_get_a_frame_each_when_they_hold_something_to_read() -> None:
    """A reply's first characters are drawn piece by piece, but a piece with no letter or digit waits for the
    next one; past them, a frame comes a frame after the last update or once FRAME_LINES wait for one, with the
    last frame READ_FOR old."""
    draw_now, first = turn_worker.draw_now, turn_worker.FIRST_CHARS
    pieces = ["##", " ", "1", ".", " Through", "put", "\n\n", "-", " Stream"]
    assert [piece for piece in pieces if draw_now(piece, 10, 0, 0.0, 0.0)] == ["1", " Through", "put", " Stream"]
    every, read_for, lines = turn_worker.PAINT_EVERY, turn_worker.READ_FOR, turn_worker.FRAME_LINES
    assert draw_now("##", first, 1, every, read_for) and draw_now("word", first, 1, every, read_for)
    assert not draw_now("word", first, 1, every / 2, 1.0)
    assert not draw_now("word", first, 1, 1.0, read_for / 2)
    # A fast stream: a frame for as much as a frame can draw, not for all that came in a frame's time.
    assert draw_now("word", first, lines, 0.0, read_for)
    assert not draw_now("word", first, lines - 1, 0.0, read_for)
    assert not draw_now("word", first, lines, 0.0, read_for / 2)
    # Past the first few words a fast stream waits for the frame: a frame a piece held the rest of the reply back.
    assert not draw_now(" Through", len("## 1. Throughput and"), 5, 0.0, 0.0)


async def test_a_streaming_reply_grows_into_a_step_of_blank_lines(fake: FakeOpenAI, make_settings: Any) -> None:
    hold = threading.Event()
    fake.queue(Reply("one two three four five six seven", hold=hold, hold_after=3))
    app = app_for(make_settings)
    async with app.run_test(size=SIZE) as pilot:
        await send_go(app, pilot)
        await until(pilot, lambda: "three" in reply_source(app))
        markdown = app.screen.query(ReplyMarkdown).last()
        step = SIZE[1] // 6
        # One line of text, as tall as a step while it streams; as tall as its text once it has ended.
        await until(pilot, lambda: markdown.size.height == step)
        hold.set()
        await wait_turn(pilot)
        await until(pilot, lambda: markdown.size.height < step)
        assert markdown.source == "one two three four five six seven"


def screen_of(terminal: Terminal) -> list[str]:
    screen = pyte.Screen(COLS, ROWS)
    pyte.Stream(screen).feed(terminal.written().decode("utf-8", "replace"))
    return screen.display


def test_every_row_on_a_real_terminal_is_what_the_app_drew(spawn: Any, fake: FakeOpenAI) -> None:
    """What the app wrote, played into a terminal emulator, shows the end of a long reply in order: a row left
    out because the terminal was thought to show it already would leave words of an earlier frame behind."""
    words = [f"w{n}" + ("\n\n" if n % 40 == 0 else " ") for n in range(1, 400)] + ["LAST"]
    fake.queue(Reply(words, chunk_delay=0.002))
    terminal = ready(spawn())
    terminal.write(b"go\r")
    terminal.wait_for(lambda: "LAST" in "".join(screen_of(terminal)), "the end of the reply on screen")
    terminal.wait_for(lambda: re.search(r"(completion|out) 400\b", "".join(screen_of(terminal))),
                      "the figures of the whole reply")
    shown = re.findall(r"\bw(\d+)\b", "\n".join(screen_of(terminal)))
    numbers = [int(n) for n in shown]
    assert numbers, screen_of(terminal)
    assert numbers == list(range(numbers[0], 400)), "\n".join(screen_of(terminal))


async def test_a_stop_while_the_reply_is_drawn_keeps_what_came(fake: FakeOpenAI, make_settings: Any,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Escape lands while the worker waits for the screen to draw, not while the turn waits for the server: the
    turn is stopped all the same, and the reply so far is kept and counted."""
    drawing = asyncio.Event()

    async def slow_frame(worker: turn_worker.TurnWorker, piece: str) -> None:
        drawing.set()
        await asyncio.Event().wait()  # a frame that never ends: only the stop gets the worker out

    monkeypatch.setattr(turn_worker.TurnWorker, "_paint_due", slow_frame)
    fake.queue(Reply(["one ", "two ", "three "]))
    app = app_for(make_settings)
    async with app.run_test(size=SIZE) as pilot:
        await app.ready.wait()
        app.screen.query_one("PromptInput").insert("count")  # type: ignore[attr-defined]
        await pilot.press("enter")
        await until(pilot, drawing.is_set)
        await pilot.press("escape")
        await wait_turn(pilot)
        reply = app.session.conversation.last_reply()
        assert reply is not None and reply.stopped and reply.content.startswith("one")
        assert app.session.totals.completion_tokens > 0
