"""The status bar describes the open conversation: a new or an opened one drops the previous one's figures, a
request still waiting mixes nothing of the previous reply in, a retry counts down, and the bar stays one line
that no toast covers."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from chatbot.core.client import ChatClient
from chatbot.core.session import Session
from chatbot.ui.app import ChatApp, make_app
from chatbot.ui.widgets.prompt_input import PromptInput
from chatbot.ui.widgets.status_bar import StatusBar
from fake_openai import Error, FakeOpenAI, Reply
from support import send, status, until, wait_turn

SIZE = (120, 30)


async def test_a_new_conversation_starts_with_a_blank_bar(fake: FakeOpenAI, make_settings: Any) -> None:
    fake.queue(Reply("an answer", prompt_tokens=1234, completion_tokens=56))
    app = make_app(make_settings(model="gpt-4o"))
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "hi")
        assert "1,234" in status(app) and "last $0.00" in status(app)
        spent = app.session.totals.spent
        await pilot.press("ctrl+n")
        await pilot.pause()
        bar = status(app)
        assert "1,234" not in bar and "56" not in bar
        assert "last -" in bar
        assert app.session.totals.spent == spent  # what this run has spent stays


async def test_a_request_waiting_for_its_first_token_shows_no_previous_cost(fake: FakeOpenAI,
                                                                            make_settings: Any) -> None:
    hold = threading.Event()
    fake.queue(Reply("first", prompt_tokens=100, completion_tokens=10), Reply("second", first_chunk_delay=0, hold=hold,
                                                                              hold_after=0))
    app = make_app(make_settings(model="gpt-4o"))
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "one")
        assert "last $0.00" in status(app)
        app.query_one(PromptInput).insert("two")
        await pilot.press("enter")
        # Told by the turn as soon as the request is out, not on the next look at the session.
        await until(pilot, lambda: "last -" in status(app))
        assert app.session.in_flight is not None and app.session.in_flight.first_token_at is None
        hold.set()
        await wait_turn(pilot)


async def test_ctx_is_measured_against_the_budget_where_it_is_the_limit(fake: FakeOpenAI, make_settings: Any) -> None:
    fake.queue(Reply("fine"), Reply("fine"))
    limited = make_app(make_settings(model="gpt-4o", budget={"max_context_tokens": 600}))
    async with limited.run_test(size=SIZE) as pilot:
        await send(pilot, "hi")
        assert "/600 budget" in status(limited) and "/128k" not in status(limited)
    unlimited = make_app(make_settings(model="gpt-4o", budget={"max_context_tokens": 1_000_000}))
    async with unlimited.run_test(size=SIZE) as pilot:
        await send(pilot, "hi")
        assert "/128k" in status(unlimited) and "budget" not in status(unlimited)


@pytest.mark.parametrize("width", [80, 60])
async def test_the_bar_stays_one_line_when_a_reply_starts(fake: FakeOpenAI, make_settings: Any, width: int) -> None:
    # It wrapped to two lines once the reply's figures arrived, moving the prompt up under the user's cursor.
    hold = threading.Event()
    fake.queue(Reply("an answer of a few words", prompt_tokens=1234, completion_tokens=56),
               Reply(["streaming ", "now ", "and ", "more"], hold=hold, hold_after=2))
    app = make_app(make_settings(model="gpt-4o-mini"))
    async with app.run_test(size=(width, 24)) as pilot:
        bar, prompt = app.query_one(StatusBar), app.query_one(PromptInput)
        await send(pilot, "hi")
        idle = (bar.region, prompt.region)
        app.query_one(PromptInput).insert("again")
        await pilot.press("enter")
        # The reply's running count has reached the bar.
        await until(pilot, lambda: bar.status is not None and bar.status.in_flight and bar.status.completion_tokens > 0)
        await pilot.pause()
        assert (bar.region, prompt.region) == idle and bar.region.height == 1
        assert "\n" not in status(app) and len(status(app)) <= bar.size.width
        assert status(app).startswith("gpt-4o-mini")  # the model name is the last item left
        hold.set()
        await wait_turn(pilot)


class Gate:
    """Stands in for the client's sleep before a retry: the wait lasts until the test opens the gate."""

    def __init__(self) -> None:
        self.opened = asyncio.Event()
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)
        await self.opened.wait()


async def test_a_retry_counts_down_then_says_the_attempt_is_running(fake: FakeOpenAI, make_settings: Any) -> None:
    # The header said "retrying in 0s" from the end of the wait until the retried attempt's first token.
    hold = threading.Event()
    fake.queue(Error(429, "Rate limit reached", type="requests", retry_after=30),
               Reply("at last", hold=hold, hold_after=0))
    now = [1000.0]
    settings = make_settings(max_retries=2, retry_max_wait=60)
    gate = Gate()
    client = ChatClient(api_key="sk-test", base_url=settings.base_url, max_retries=2, retry_max_wait=60, sleep=gate)
    app = ChatApp(settings, session=Session(settings, client, clock=lambda: now[0]))
    async with app.run_test(size=SIZE) as pilot:
        app.query_one(PromptInput).insert("patience")
        await pilot.press("enter")
        screen = app.screen

        def note() -> str:
            return screen.reply_view.note if screen.reply_view is not None else ""

        await until(pilot, lambda: note().startswith("retrying in 30s") and "retry in 30s" in status(app))
        now[0] += 12
        # The worker's clock looks every second.
        await until(pilot, lambda: note().startswith("retrying in 18s") and "retry in 18s" in status(app))
        gate.opened.set()
        await until(pilot, lambda: len(fake.chat_requests) == 2)
        now[0] += 20  # the wait is over and the retried attempt waits for its first token
        await until(pilot, lambda: note().startswith("retry sent, waiting 2s") and "retry sent" in status(app))
        hold.set()
        await wait_turn(pilot)
        assert app.session.conversation.messages[-1].content == "at last"
        assert "retry" not in status(app)


async def test_a_toast_leaves_the_status_bar_visible(fake: FakeOpenAI, make_settings: Any) -> None:
    app = make_app(make_settings())
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        app.notify("A note that would sit on the status bar", timeout=30)
        await until(pilot, lambda: app.screen.query("Toast"))
        bar = app.query_one(StatusBar)
        row = bar.region.y
        covering = {type(app.screen.get_widget_at(x, row)[0]).__name__ for x in range(bar.region.x, bar.region.right)}
        assert covering == {"StatusBar"}
