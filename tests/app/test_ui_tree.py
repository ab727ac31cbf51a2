"""Alternatives in the app: the header says which reply is shown, alt+left and alt+right switch, the next request
follows what is shown, and a search hit on another branch opens that branch."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.widgets import OptionList

from chatbot.core.conversation import Message
from chatbot.core.store.history import HistoryStore
from chatbot.ui.app import ChatApp, make_app
from chatbot.ui.screens.chat import ChatScreen
from chatbot.ui.screens.history import HistoryScreen
from fake_openai import FakeOpenAI, Reply
from support import send, until, wait_turn

SIZE = (100, 30)
MARK = "\u2039 {}/{} \u203a"  # the header's "2 of 3", between single angle quotes


def views(app: ChatApp) -> list[tuple[str, str, str]]:
    return [(v.role, v.text, v.note) for v in app.screen.transcript.views()]


def hits(app: ChatApp) -> int:
    return app.screen.query_one(OptionList).option_count


def headers(app: ChatApp) -> list[str]:
    return [str(v.query_one(".header").render()) for v in app.screen.transcript.views()]


async def test_alt_arrows_switch_the_last_reply_and_the_next_request_follows(fake: FakeOpenAI,
                                                                              make_settings: Any) -> None:
    fake.queue(Reply("first answer"), Reply("second answer"), Reply("noted"))
    app = make_app(make_settings())
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "question")
        assert "\u2039" not in headers(app)[1]
        await pilot.press("ctrl+r")
        await wait_turn(pilot)
        assert [v[1] for v in views(app)] == ["question", "second answer"]
        assert MARK.format(2, 2) in headers(app)[1]

        await pilot.press("alt+left")
        await until(pilot, lambda: [v[1] for v in views(app)] == ["question", "first answer"])
        assert MARK.format(1, 2) in headers(app)[1] and "\u2039" not in headers(app)[0]
        await pilot.press("alt+left")  # already the first: it stays
        await pilot.pause()
        assert [v[1] for v in views(app)] == ["question", "first answer"]

        await send(pilot, "go on")
        assert [(m["role"], m["content"]) for m in fake.last_body["messages"][1:]] == [
            ("user", "question"), ("assistant", "first answer"), ("user", "go on")]


async def test_a_search_hit_on_another_branch_opens_that_branch(fake: FakeOpenAI, make_settings: Any,
                                                                tmp_path: Path) -> None:
    db = tmp_path / "history.db"
    store = HistoryStore(db)
    cid = store.create("gpt-4o-mini", "balanced", "")
    q = store.add(cid, Message("user", "name a bird"), parent=None)
    store.add(cid, Message("assistant", "a kingfisher"), parent=q)
    store.add(cid, Message("assistant", "a heron"), parent=q)  # the active one
    store.close()
    fake.queue(Reply("it dives"))

    app = make_app(make_settings(), store=HistoryStore(db))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+h")
        await until(pilot, lambda: isinstance(app.screen, HistoryScreen))
        await pilot.press(*"kingfisher")
        await until(pilot, lambda: hits(app) == 1)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ChatScreen))
        await until(pilot, lambda: [v[1] for v in views(app)] == ["name a bird", "a kingfisher"])
        assert MARK.format(1, 2) in headers(app)[1]

        await send(pilot, "what does it do?")
        assert [m["content"] for m in fake.last_body["messages"] if m["role"] != "system"] == [
            "name a bird", "a kingfisher", "what does it do?"]
