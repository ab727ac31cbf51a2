"""`chat --demo`: the offline responder in the core, the app driven by it, and `chat --demo -p` as a subprocess."""

from __future__ import annotations

import asyncio
import os
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from support import SleepRecorder, closed_port, offline, until, wait_turn
from chatbot.core.conversation import Message
from chatbot.core.demo import DEMO_MODEL, REPLIES, TOKENS_PER_SECOND, DemoClient, demo_settings, pick_reply
from chatbot.core.errors import ModelNotFoundError
from chatbot.core.events import Finished, TextDelta, Usage, UsageReport
from chatbot.core.store.history import HistoryStore
from chatbot.core.session import Session
from chatbot.core.settings import Settings, load_settings
from chatbot.core.tokens import TokenCounter
from chatbot.ui.app import make_app
from chatbot.ui.screens.picker import Picker
from chatbot.ui.widgets.prompt_input import PromptInput
from chatbot.ui.widgets.status_bar import StatusBar


def settings() -> Settings:
    """The demo's settings on top of a user's who has set nothing up: no key, no server."""
    loaded, _warnings = load_settings(None)
    return demo_settings(loaded)


async def collect(client: DemoClient, messages: list[Message]) -> list[Any]:
    spec = settings().model_spec()
    return [event async for event in client.stream(messages, spec, settings().active_preset())]


class Gate:
    """A sleep that lets `words` pauses pass, then waits until the test stops the reply."""

    def __init__(self, words: int) -> None:
        self.words = words
        self.calls = 0

    async def __call__(self, delay: float) -> None:
        self.calls += 1
        if self.calls > self.words:
            await asyncio.Event().wait()


# -- the responder ---------------------------------------------------------------------------------------------

async def test_reply_streams_word_by_word_then_usage_then_stop() -> None:
    sleeps = SleepRecorder()
    events = await collect(DemoClient(sleep=sleeps), [Message("user", "hi")])
    deltas = [e for e in events if isinstance(e, TextDelta)]
    assert "".join(d.text for d in deltas) == REPLIES[0]
    assert all(len(d.text.split()) <= 1 for d in deltas)  # a word at a time (the last piece is the newline)
    assert len(deltas) > 100
    assert isinstance(events[-2], UsageReport) and events[-1] == Finished("stop")
    assert not any(isinstance(e, (UsageReport, Finished)) for e in events[:-2])
    # A pause before each word, as long as its tokens take at the pace a hosted model writes.
    counter = TokenCounter("o200k_base")
    assert sleeps.delays == [counter.count_text(d.text) / TOKENS_PER_SECOND for d in deltas[:-1]]
    assert len(sleeps.delays) == len(REPLIES[0].split())


def test_every_reply_is_markdown_that_says_it_is_the_demo() -> None:
    for reply in REPLIES:
        assert reply.startswith("*This reply comes from chat's built-in demo, not from a model")
        assert re.search(r"^# ", reply, re.M) and re.search(r"^## ", reply, re.M)  # headings
        assert re.search(r"^(- |1\. )", reply, re.M)  # a list
        assert re.search(r"^```\w+\n.*?^```$", reply, re.M | re.S)  # a fenced code block
        assert re.search(r"^\|.*\|\n\|[-:| ]+\|$", reply, re.M)  # a table with its rule


def test_a_topic_word_picks_its_reply_and_anything_else_takes_turns() -> None:
    assert pick_reply([Message("user", "Show me a TABLE please")], 0) == REPLIES[1]
    assert pick_reply([Message("user", "what does it cost?")], 0) == REPLIES[2]  # "cost" before "what"
    assert [pick_reply([Message("user", "hi")], turn) for turn in range(4)] == [*REPLIES, REPLIES[0]]


async def test_regenerating_gives_the_next_reply() -> None:
    client = DemoClient(sleep=SleepRecorder())
    texts = ["".join(e.text for e in await collect(client, [Message("user", "hi")]) if isinstance(e, TextDelta))
             for _ in range(2)]
    assert texts == list(REPLIES[:2])


async def test_another_model_is_refused_before_anything_streams() -> None:
    """A canned reply stored under gpt-4o's name and billed at its price would be a lie in the history and
    the ledger: the demo says it is not that model, as a server without it would, and the text goes back."""
    loaded = settings()
    session = Session(loaded, DemoClient(sleep=SleepRecorder()))
    session.set_model("gpt-4o")
    turn = session.send("hi")
    with pytest.raises(ModelNotFoundError, match="the demo answers only as the model 'demo'"):
        async for _ in turn:
            pass
    assert turn.outcome is not None and turn.outcome.text_returned and turn.outcome.reply is None
    assert session.conversation.messages == [] and session.totals.cost == Decimal(0)


async def test_usage_is_counted_exactly_with_the_models_tokenizer() -> None:
    messages = [Message("system", "Be brief."), Message("user", "hello"), Message("assistant", "Hi."),
                Message("user", "tell me about tokens")]
    events = await collect(DemoClient(sleep=SleepRecorder()), messages)
    report = next(e for e in events if isinstance(e, UsageReport))
    counter = TokenCounter("o200k_base")
    assert report.usage == Usage(counter.count_prompt(messages), counter.count_text(REPLIES[2]))
    assert report.usage is not None and not report.usage.estimated


async def test_a_session_on_the_demo_bills_nothing_and_counts_as_the_window_does() -> None:
    session = Session(settings(), DemoClient(sleep=SleepRecorder()))
    turn = session.send("hi")
    async for _ in turn:
        pass
    assert turn.outcome is not None and turn.outcome.ended == "finished"
    reply = turn.outcome.reply
    assert reply is not None and reply.content == REPLIES[0] and reply.model == DEMO_MODEL
    window = session.last_window
    assert window is not None
    assert session.last_usage == Usage(window.prompt_tokens, session.counter.count_text(REPLIES[0]))
    assert session.last_cost == Decimal(0) and session.totals.cost == Decimal(0) and session.totals.cost_complete


async def test_stop_mid_reply_keeps_the_words_that_arrived() -> None:
    session = Session(settings(), DemoClient(sleep=Gate(words=5)))
    turn = session.send("hi")

    async def drain() -> None:
        async for _ in turn:
            pass

    task = asyncio.create_task(drain())
    for _ in range(1000):  # bounded by steps of the loop, not by time
        if session.in_flight is not None and len(session.in_flight.parts) == 5:
            break
        await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert turn.outcome is not None and turn.outcome.ended == "stopped"
    reply = turn.outcome.reply
    assert reply is not None and reply.stopped
    assert reply.content == "".join(re.findall(r"\s*\S+", REPLIES[0])[:5])
    assert session.conversation.messages[-1] is reply


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
    app = make_app(settings(), DemoClient(sleep=SleepRecorder()), store=HistoryStore(db))
    async with app.run_test(size=(80, 24)) as pilot:
        assert app.first_run_message() is None  # the demo needs no key: no welcome telling to set one
        app.query_one(PromptInput).insert("hi")
        await pilot.press("enter")
        await wait_turn(pilot)
        views = [(v.role, v.text) for v in app.screen.transcript.views()]
        assert views == [("user", "hi"), ("assistant", REPLIES[0])]
        bar = str(app.query_one(StatusBar).render())
        assert "demo" in bar and "$0" in bar
        await pilot.press("ctrl+r")
        await wait_turn(pilot)
        assert [v.text for v in app.screen.transcript.views()] == ["hi", REPLIES[1]]
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
    app = make_app(settings(), DemoClient(sleep=SleepRecorder()), store=HistoryStore(db), resume_id=conversation_id)
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


def test_the_welcome_text_offers_the_demo() -> None:
    loaded, _ = load_settings(None)
    assert "chat --demo" in (make_app(loaded).first_run_message() or "")


# -- chat --demo -p --------------------------------------------------------------------------------------------

def chat(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`chat ARGS` offline, with no key, no server and XDG dirs in `tmp_path`."""
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith(("CHAT_", "OPENAI_"))}
    for var in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME"):
        (tmp_path / var).mkdir(exist_ok=True)
        env[var] = str(tmp_path / var)
    return subprocess.run([sys.executable, "-m", "chatbot", *args], capture_output=True, env=offline(env),
                          cwd=tmp_path, timeout=120, stdin=subprocess.DEVNULL, text=True, encoding="utf-8")


def test_chat_demo_one_shot_prints_the_demo_reply(tmp_path: Path) -> None:
    done = chat(tmp_path, "--demo", "-p", "hi", "--usage")
    assert done.returncode == 0, done.stderr
    assert done.stdout == REPLIES[0]
    assert "built-in demo, not from a model" in done.stdout
    counter = TokenCounter("o200k_base")
    prompt = counter.count_prompt([Message("system", load_settings(None)[0].system_prompt), Message("user", "hi")])
    assert done.stderr == (f"usage: prompt {prompt} (cached 0), completion {counter.count_text(REPLIES[0])}, "
                           "cost $0\n")


def test_continuing_a_conversation_in_the_demo_answers_as_the_demo(tmp_path: Path) -> None:
    """The demo answers, so the reply is stored as the demo's, whatever model the conversation had."""
    (tmp_path / "XDG_DATA_HOME" / "chatbot").mkdir(parents=True)
    db = tmp_path / "XDG_DATA_HOME" / "chatbot" / "history.db"
    store = HistoryStore(db)
    try:
        conversation_id = store.create("gpt-4o", "balanced", "", title="Earlier")
    finally:
        store.close()
    done = chat(tmp_path, "--demo", "--resume", str(conversation_id), "-p", "what does it cost?")
    assert done.returncode == 0, done.stderr
    assert done.stdout == REPLIES[2]
    store = HistoryStore(db)
    try:
        stored = store.load(conversation_id)
    finally:
        store.close()
    assert [(m.role, m.model) for m in stored.conversation.messages] == [("user", None), ("assistant", DEMO_MODEL)]
