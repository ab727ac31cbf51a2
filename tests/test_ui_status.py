"""The status bar describes the open conversation: a new or an opened one drops the previous one's figures, and a
request still waiting mixes nothing of the previous reply in."""

from __future__ import annotations

import threading
from typing import Any

from fake_openai import FakeOpenAI, Reply
from support import send, until, wait_turn
from chatbot.core.conversation import Conversation, Message
from chatbot.core.events import Usage
from chatbot.ui.app import make_app
from chatbot.ui.widgets.prompt_input import PromptInput
from chatbot.ui.widgets.status_bar import StatusBar

SIZE = (120, 30)


def status(app: Any) -> str:
    return str(app.query_one(StatusBar).render())


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
        await until(pilot, lambda: app.session.in_flight is not None and len(fake.chat_requests) == 2)
        app.screen.refresh_status()
        assert "last -" in status(app)
        hold.set()
        await wait_turn(pilot)


def test_an_opened_conversation_drops_the_previous_ones_figures(make_settings: Any) -> None:
    from chatbot.core.client import ChatClient
    from chatbot.core.session import Session

    settings = make_settings(model="gpt-4o")
    session = Session(settings, ChatClient(api_key="sk-test", base_url=settings.base_url))
    conversation = Conversation(system_prompt="be brief")
    conversation.add_user("hi")
    conversation.add(Message("assistant", "hello", model="gpt-4o", usage=Usage(70, 7, 0), cost=None))
    session.last_usage = Usage(999, 99, 0)

    session.resume(conversation, "gpt-4o", "balanced")

    assert session.last_usage is None and session.last_cost is None and session.last_window is None


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
