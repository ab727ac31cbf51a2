"""`chat --demo`: the app driven by the offline responder, which never connects anywhere."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from chatbot.core.demo import DEMO_MODEL, REPLIES, DemoClient
from chatbot.core.settings import load_settings
from chatbot.core.store.history import HistoryStore
from chatbot.ui.app import make_app
from chatbot.ui.screens.picker import Picker
from chatbot.ui.widgets.prompt_input import PromptInput
from chatbot.ui.widgets.status_bar import StatusBar
from support import SleepRecorder, closed_port, new_user_demo_settings, until, wait_turn

# -- the app ---------------------------------------------------------------------------------------------------

@pytest.fixture
def no_connections(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[object]]:
    """Every host looked up and every address a socket tries to connect to (all refused), so a test can show
    that nothing tried to leave the process."""
    tried: list[object] = []

    def refuse(self: socket.socket, address: object) -> None:
        tried.append(address)
        raise ConnectionRefusedError(f"the demo must not connect to {address!r}")

    def no_lookup(host: object, *args: object, **kwargs: object) -> list[Any]:
        tried.append(host)
        raise socket.gaierror(f"the demo must not look up {host!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", no_lookup)
    yield tried


async def test_the_app_in_demo_mode_streams_regenerates_and_opens_menus_offline(
        no_connections: list[object], tmp_path: Path) -> None:
    db = tmp_path / "history.db"
    app = make_app(new_user_demo_settings(), DemoClient(sleep=SleepRecorder()), store=HistoryStore(db))
    async with app.run_test(size=(80, 24)) as pilot:
        # The demo needs no key: its welcome says what the demo is, not how to set one.
        [welcome] = [(v.role, v.text) for v in app.screen.transcript.views()]
        assert welcome[0] == "info" and "offline demo" in welcome[1] and "key is" not in welcome[1]
        app.query_one(PromptInput).insert("hi")
        await pilot.press("enter")
        await wait_turn(pilot)
        views = [(v.role, v.text) for v in app.screen.transcript.views()]
        assert views == [welcome, ("user", "hi"), ("assistant", REPLIES[0])]
        bar = str(app.query_one(StatusBar).render())
        assert "demo" in bar and "$0" in bar
        await pilot.press("ctrl+r")
        await wait_turn(pilot)
        assert [v.text for v in app.screen.transcript.views()] == [welcome[1], "hi", REPLIES[1]]
        await pilot.press("f2")
        await until(pilot, lambda: isinstance(app.screen, Picker))
        assert DEMO_MODEL in [item.value for item in app.screen.items]
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, Picker))
    assert no_connections == []
    store = HistoryStore(db)
    try:
        stored = store.load(store.conversations()[0].id)
    finally:
        store.close()
    assert stored.model == DEMO_MODEL
    assert [(m.role, m.content, m.model) for m in stored.conversation.messages] == [
        ("user", "hi", None), ("assistant", REPLIES[1], DEMO_MODEL)]


async def test_a_conversation_continued_in_the_demo_app_is_answered_as_the_demo(tmp_path: Path) -> None:
    db = tmp_path / "history.db"
    store = HistoryStore(db)
    try:
        conversation_id = store.create("gpt-4o", "balanced", "", title="Earlier")
    finally:
        store.close()
    app = make_app(new_user_demo_settings(), DemoClient(sleep=SleepRecorder()), store=HistoryStore(db),
                   resume_id=conversation_id)
    async with app.run_test(size=(80, 24)) as pilot:
        app.query_one(PromptInput).insert("hi")
        await pilot.press("enter")
        await wait_turn(pilot)
        assert app.session.last_cost == Decimal(0)
    store = HistoryStore(db)
    try:
        stored = store.load(conversation_id)
    finally:
        store.close()
    assert stored.model == DEMO_MODEL and stored.conversation.messages[-1].model == DEMO_MODEL


async def test_without_the_demo_the_same_app_would_connect(no_connections: list[object]) -> None:
    """The check above can fail: the real client, with the same settings, tries the network."""
    from chatbot.core.client import ChatClient

    loaded, _ = load_settings(None, api_key="sk-test-SECRETSECRET1234", max_retries=0,
                              base_url=f"http://127.0.0.1:{closed_port()}/v1")
    app = make_app(loaded, ChatClient.from_settings(loaded))
    async with app.run_test(size=(80, 24)) as pilot:
        app.query_one(PromptInput).insert("hi")
        await pilot.press("enter")
        await wait_turn(pilot)
    assert no_connections != []

