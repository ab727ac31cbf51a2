"""The hint beside the prompt: the most the next request can cost, when that is above cost_hint_above."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from chatbot.ui.app import make_app
from chatbot.ui.widgets.prompt_input import PromptInput
from fake_openai import FakeOpenAI, Reply
from support import send

SIZE = (120, 30)


def hint(app: Any) -> str:
    return str(app.query_one(PromptInput).border_subtitle or "")


async def test_the_prompt_says_what_the_next_request_can_cost_above_the_threshold(fake: FakeOpenAI,
                                                                                   make_settings: Any) -> None:
    fake.queue(Reply("Fine."))
    app = make_app(make_settings(model="gpt-5.5", cost_hint_above=Decimal("0.05")))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert hint(app) == "next request up to $0.123 + your message"  # 4,096 tokens out at $30 per 1M
        await send(pilot, "hello")
        assert hint(app).startswith("next request up to $0.12")
        app.session.set_model("gpt-4o-mini")  # $0.0025 at most: under the threshold
        app.screen.refresh_status()
        assert hint(app) == ""


async def test_no_threshold_no_hint(fake: FakeOpenAI, make_settings: Any) -> None:
    app = make_app(make_settings(model="gpt-5.5"))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert hint(app) == ""
