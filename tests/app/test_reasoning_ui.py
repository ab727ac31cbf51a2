"""Reasoning in the app, against the fake: the thinking block streams, folds once the reply starts, opens from
the keyboard and the mouse, and the header and the status bar say what the model is doing."""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Static
from textual.widgets._collapsible import CollapsibleTitle

from chatbot.core.status import Status
from chatbot.core.store.history import HistoryStore
from chatbot.ui.app import make_app
from chatbot.ui.screens.picker import Picker
from chatbot.ui.widgets.message_view import MessageView
from chatbot.ui.widgets.prompt_input import PromptInput
from chatbot.ui.widgets.status_bar import DROP_ORDER, StatusBar, fit
from chatbot.ui.widgets.thinking_block import ThinkingBlock
from fake_openai import FakeOpenAI, Reply
from support import Notified, caught_up, options, run_command, send, until, wait_turn

SIZE = (120, 30)


def last_reply(app: Any) -> MessageView:
    return [v for v in app.screen.transcript.views() if v.role == "assistant"][-1]


def drawn(block: ThinkingBlock | None) -> str:
    """What the view's thinking block shows; "" while it has none."""
    return "" if block is None else str(block.query_one(".thinking-text", Static).render())


def block_of(view: MessageView) -> ThinkingBlock:
    block = view.thinking
    assert block is not None, "the reply shows no thinking block"
    return block


def header(view: MessageView) -> str:
    return str(view.query_one(".header", Static).render())


async def test_reasoning_streams_open_then_folds_when_the_reply_starts(fake: FakeOpenAI, make_settings: Any) -> None:
    reasoning_held = threading.Event()
    fake.queue(Reply(["Paris", " it is."], reasoning=["Capital", " of", " France."], hold=reasoning_held,
                     hold_after=2))
    app = make_app(make_settings(model="gpt-4o-mini"))
    async with app.run_test(size=SIZE) as pilot:
        app.query_one(PromptInput).insert("capital of France?")
        await pilot.press("enter")
        await until(pilot, lambda: app.screen.reply_view is not None
                    and drawn(app.screen.reply_view.thinking) == "Capital of")
        view = app.screen.reply_view
        block = block_of(view)
        assert block.display and not block.collapsed  # open while the model reasons
        assert header(view).endswith("reasoning…")
        reasoning_held.set()
        await wait_turn(pilot)
        assert block.collapsed and block.display  # folded once the reply's text came
        assert drawn(block) == "Capital of France." and view.text == "Paris it is."
        assert "reasoning…" not in header(view)


async def test_the_thinking_block_opens_with_the_key_enter_and_a_click(fake: FakeOpenAI, make_settings: Any) -> None:
    fake.queue(Reply("Four.", reasoning="Two plus two."))
    app = make_app(make_settings(model="gpt-4o-mini"))
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "2+2?")
        block = block_of(last_reply(app))
        assert block.collapsed
        await pilot.press("ctrl+t")
        assert not block.collapsed
        await pilot.press("ctrl+t")
        assert block.collapsed
        title = block.query_one(CollapsibleTitle)
        await pilot.click(title)
        await pilot.pause()
        assert not block.collapsed
        title.focus()
        await pilot.press("enter")
        await pilot.pause()
        assert block.collapsed


async def test_a_reply_without_reasoning_has_no_thinking_block(fake: FakeOpenAI, make_settings: Any) -> None:
    fake.queue(Reply("Just text."))
    app = make_app(make_settings(model="gpt-4o-mini"))
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "hi")
        assert last_reply(app).thinking is None
        await pilot.press("ctrl+t")
        await pilot.pause()
        assert last_reply(app).thinking is None


async def test_reasoning_is_drawn_as_data(fake: FakeOpenAI, make_settings: Any) -> None:
    fake.queue(Reply("ok", reasoning=["think \x1b]0;pwned\x07", "[bold]not markup[/bold] \x1b[31", "mred"]))
    app = make_app(make_settings(model="gpt-4o-mini"))
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "hi")
        shown = drawn(last_reply(app).thinking)
        assert "\x1b" not in shown and "pwned" not in shown
        assert "[bold]not markup[/bold]" in shown and "red" in shown and "[31" not in shown


async def test_the_status_bar_counts_reasoning_inside_the_output(fake: FakeOpenAI, make_settings: Any) -> None:
    fake.queue(Reply("Paris.", reasoning="Capital of France.", prompt_tokens=40, completion_tokens=900,
                     reasoning_tokens=850))
    app = make_app(make_settings(model="gpt-4o-mini"))
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "capital?")
        bar = str(app.query_one(StatusBar).render())
        assert "out 900 (850 reasoning)" in bar
        assert "900 tokens (850 reasoning)" in header(last_reply(app))


def test_the_reasoning_count_is_dropped_early_on_a_narrow_bar() -> None:
    status = Status(model="o4-mini", preset="deep", prompt_tokens=1200, completion_tokens=900, cached_tokens=1000,
                    reasoning_tokens=850, ctx_used=2100, ctx_limit=200_000, replied=True, last_cost=None)
    wide = fit(status, 200)
    assert "completion 900 (850 reasoning)" in wide
    # Narrower: the short labels keep both counts, then the reasoning goes before the cached count does.
    both = "in 1,200 (1,000 cached) out 900 (850 reasoning)"
    widest = next(width for width in range(200, 20, -1) if both in fit(status, width))
    short = next(width for width in range(widest, 20, -1) if both not in fit(status, width))
    assert "in 1,200 (1,000 cached) out 900 │" in fit(status, short) and "reasoning" not in fit(status, short)
    assert DROP_ORDER.index("reasoning") < DROP_ORDER.index("cached")


async def test_a_reopened_conversation_shows_its_reasoning_folded(fake: FakeOpenAI, make_settings: Any) -> None:
    from chatbot.core.conversation import Conversation, Message

    app = make_app(make_settings(model="gpt-4o-mini"))
    async with app.run_test(size=SIZE) as pilot:
        conversation = Conversation(messages=[Message("user", "q"),
                                              Message("assistant", "a", model="gpt-4o-mini", reasoning="kept")])
        app.session.resume(conversation, "gpt-4o-mini", "balanced")
        await app.screen.transcript.clear()
        await app.screen.show_conversation()
        await pilot.pause()
        block = block_of(last_reply(app))
        assert block.display and block.collapsed and drawn(block) == "kept"


# -- the reasoning-effort menu --

async def test_the_effort_menu_lists_what_the_model_takes_and_the_choice_goes_with_the_next_request(
        fake: FakeOpenAI, make_settings: Any, db: Path, reader: Any) -> None:
    fake.queue(Reply("Fine."), Reply("Sure."))
    app = make_app(make_settings(model="gpt-5"), store=HistoryStore(db))
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "first")
        assert "reasoning_effort" not in fake.last_body  # the preset sets none: the model's default
        await pilot.press("f8")
        await until(pilot, lambda: isinstance(app.screen, Picker))
        rows = options(app)
        assert [row_id for row_id, _ in rows] == ["minimal", "low", "medium", "high", "preset"]
        assert rows[-1][1].startswith("●")  # as the preset says, until something else is chosen
        assert "the model's default" in rows[-1][1]
        await pilot.press(*"low", "enter")
        await until(pilot, lambda: not isinstance(app.screen, Picker))
        assert app.session.effort == "low"
        await send(pilot, "second")
        await caught_up(app)
        assert fake.last_body["reasoning_effort"] == "low"
        await pilot.press("f8")
        await until(pilot, lambda: isinstance(app.screen, Picker))
        assert next(text for row_id, text in options(app) if row_id == "low").startswith("●")
    rows = reader().db.execute("SELECT params FROM messages WHERE role = 'assistant' ORDER BY id").fetchall()
    assert [json.loads(params)["reasoning_effort"] for (params,) in rows] == [None, "low"]


async def test_choosing_the_preset_row_sends_the_presets_effort_again(fake: FakeOpenAI, make_settings: Any) -> None:
    fake.queue(Reply("Fine."))
    app = make_app(make_settings(model="gpt-5"))
    async with app.run_test(size=SIZE) as pilot:
        app.session.effort = "high"
        await pilot.press("f8")
        await until(pilot, lambda: isinstance(app.screen, Picker))
        await pilot.press(*"preset", "enter")
        await until(pilot, lambda: not isinstance(app.screen, Picker))
        await send(pilot, "hi")
        assert app.session.effort is None and "reasoning_effort" not in fake.last_body


async def test_the_effort_menu_is_in_the_palette(fake: FakeOpenAI, make_settings: Any) -> None:
    app = make_app(make_settings(model="o3"))
    async with app.run_test(size=SIZE) as pilot:
        await run_command(pilot, "Reasoning effort")
        await until(pilot, lambda: isinstance(app.screen, Picker))
        assert [row_id for row_id, _ in options(app)] == ["low", "medium", "high", "preset"]


async def test_a_model_that_takes_no_effort_says_so(fake: FakeOpenAI, make_settings: Any) -> None:
    notified = Notified()
    app = make_app(make_settings(model="gpt-4o-mini"))
    async with app.run_test(size=SIZE, message_hook=notified) as pilot:
        await pilot.press("f8")
        await pilot.pause()
        assert not isinstance(app.screen, Picker)
    assert "gpt-4o-mini takes no reasoning effort: pick a reasoning model in the model menu." in notified.messages


async def test_an_effort_the_next_model_does_not_take_is_not_sent_to_it(fake: FakeOpenAI, make_settings: Any) -> None:
    fake.queue(Reply("Fine."), Reply("Fine again."))
    app = make_app(make_settings(model="gpt-5"))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f8")
        await until(pilot, lambda: isinstance(app.screen, Picker))
        await pilot.press(*"minimal", "enter")  # gpt-5 takes it, gpt-5.1 does not
        await until(pilot, lambda: not isinstance(app.screen, Picker))
        await send(pilot, "hi")
        assert fake.last_body["reasoning_effort"] == "minimal"
        app.session.set_model("gpt-5.1")
        await send(pilot, "again")
        assert app.session.conversation.last_reply().content == "Fine again."  # sent, not refused
        assert "reasoning_effort" not in fake.last_body


async def test_a_presets_effort_the_model_does_not_take_is_said_and_a_choice_beats_it(
        fake: FakeOpenAI, make_settings: Any) -> None:
    fake.queue(Reply("Fine."))
    app = make_app(make_settings(model="gpt-5", presets={"quick": {"reasoning_effort": "none"}}, preset="quick"))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f8")
        await until(pilot, lambda: isinstance(app.screen, Picker))
        assert "as preset quick says: none, which gpt-5 does not take" in options(app)[-1][1]
        await pilot.press(*"medium", "enter")
        await until(pilot, lambda: not isinstance(app.screen, Picker))
        await send(pilot, "hi")
        assert fake.last_body["reasoning_effort"] == "medium"


@pytest.mark.parametrize(("model", "word"), [("o3", "thinking"), ("gpt-4o-mini", "waiting")])
async def test_a_reasoning_model_that_streams_nothing_yet_is_thinking_not_waiting(
        fake: FakeOpenAI, make_settings: Any, model: str, word: str) -> None:
    """o3 sends no reasoning text: until its answer starts, the header says it thinks, and for how long."""
    held = threading.Event()
    fake.queue(Reply("Done.", hold=held, hold_after=0))
    app = make_app(make_settings(model=model))
    async with app.run_test(size=SIZE) as pilot:
        app.query_one(PromptInput).insert("think hard")
        await pilot.press("enter")
        await until(pilot, lambda: app.screen.reply_view is not None
                    and re.search(rf"· {word} \d+s$", header(app.screen.reply_view)) is not None)
        held.set()
        await wait_turn(pilot)
        assert last_reply(app).text == "Done."
