"""What a session tells its observers, in order, for each way a turn can go: a real Session and ChatClient
against the fake server, with an observer that writes down every event it is told."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from chatbot.core import errors, journal
from chatbot.core.client import ChatClient
from chatbot.core.events import TextDelta
from chatbot.core.session import Session
from chatbot.core.store.usage_log import UsageLog
from fake_openai import Error, FakeOpenAI, Reply
from support import SleepRecorder


class Notes:
    """An observer that writes down what it is told, in a form a test compares at a glance. `text()` of a
    progress event is read when it is told, as an observer that keeps it would."""

    def __init__(self) -> None:
        self.events: list[journal.Entry] = []
        self.seen: list[tuple[Any, ...]] = []

    def observe(self, event: journal.Entry) -> None:
        self.events.append(event)
        match event:
            case journal.MessageAdded(message, setup):
                self.seen.append(("added", message.role, message.content, setup.model))
            case journal.MessageWithdrawn(message):
                self.seen.append(("withdrawn", message.role, message.content))
            case journal.RequestStarted(model):
                self.seen.append(("request", model))
            case journal.ReplyStarted(model, _):
                self.seen.append(("reply", model))
            case journal.ReplyProgress(text):
                self.seen.append(("progress", text()))
            case journal.ReplyFinal(message, params, _):
                self.seen.append(("final", message.content, message.stopped, params["preset"]))
            case journal.RequestSettled(request):
                self.seen.append(("settled", request.model, request.status, request.error))
            case journal.SettingsChanged(setup):
                self.seen.append(("settings", setup.model, setup.preset, setup.system_prompt))
            case journal.ConversationStarted() | journal.ConversationResumed():
                self.seen.append((type(event).__name__,))

    def clear(self) -> None:
        self.events.clear()
        self.seen.clear()


@pytest.fixture
async def make_session(fake: FakeOpenAI, make_settings: Any,
                       api_key: str) -> AsyncIterator[Callable[..., tuple[Session, Notes]]]:
    clients: list[ChatClient] = []

    def make(*, max_retries: int = 0, observers: tuple[journal.Observer, ...] = (),
             **flags: Any) -> tuple[Session, Notes]:
        client = ChatClient(api_key=api_key, base_url=fake.base_url, timeout=10.0, max_retries=max_retries,
                            sleep=SleepRecorder())
        clients.append(client)
        notes = Notes()
        return Session(make_settings(**flags), client, observers=[*observers, notes]), notes

    yield make
    for client in clients:
        await client.aclose()


async def run(events: AsyncIterator[Any]) -> None:
    async for _ in events:
        pass


async def test_a_finished_reply(fake: FakeOpenAI, make_session: Any) -> None:
    fake.queue(Reply(["one ", "two ", "three"]))
    session, notes = make_session(model="gpt-4o-mini")

    await run(session.send("count"))

    assert notes.seen == [
        ("added", "user", "count", "gpt-4o-mini"),
        ("request", "gpt-4o-mini"),
        ("reply", "gpt-4o-mini"),
        ("progress", "one "), ("progress", "one two "), ("progress", "one two three"),
        ("final", "one two three", False, "balanced"),
        ("settled", "gpt-4o-mini", "ok", None),
    ]
    # One progress event for the whole reply, told again on each delta: nothing is built per delta.
    assert len({id(e) for e in notes.events if isinstance(e, journal.ReplyProgress)}) == 1


async def test_a_reply_stopped_mid_stream(fake: FakeOpenAI, make_session: Any) -> None:
    held = threading.Event()
    fake.queue(Reply(["alpha ", "beta ", "gamma"], hold=held, hold_after=1))
    session, notes = make_session(model="gpt-4o-mini")

    turn = session.send("tell me slowly")
    try:
        async for event in turn:
            if isinstance(event, TextDelta):
                break  # what escape does: the reply stops after its first piece
        await turn.aclose()
    finally:
        held.set()

    assert notes.seen == [
        ("added", "user", "tell me slowly", "gpt-4o-mini"),
        ("request", "gpt-4o-mini"),
        ("reply", "gpt-4o-mini"),
        ("progress", "alpha "),
        ("final", "alpha ", True, "balanced"),
        ("settled", "gpt-4o-mini", "stopped", None),
    ]


async def test_a_request_that_fails_before_the_first_token_withdraws_the_message(fake: FakeOpenAI,
                                                                                  make_session: Any) -> None:
    fake.queue(Error(401, "bad key", code="invalid_api_key"))
    session, notes = make_session(model="gpt-4o-mini")

    with pytest.raises(errors.AuthError):
        await run(session.send("hello"))

    assert notes.seen == [
        ("added", "user", "hello", "gpt-4o-mini"),
        ("request", "gpt-4o-mini"),
        ("settled", "gpt-4o-mini", "error", "AuthError"),
        ("withdrawn", "user", "hello"),
    ]


async def test_a_regenerate_keeps_the_reply_it_replaced(fake: FakeOpenAI, make_session: Any) -> None:
    fake.queue(Reply("first answer"), Reply(["second ", "answer"]))
    session, notes = make_session(model="gpt-4o-mini")
    await run(session.send("question"))
    notes.clear()

    await run(session.regenerate())

    assert notes.seen == [
        ("request", "gpt-4o-mini"),
        ("reply", "gpt-4o-mini"),
        ("progress", "second "), ("progress", "second answer"),
        ("final", "second answer", False, "balanced"),
        ("settled", "gpt-4o-mini", "ok", None),
    ]  # the first answer is withdrawn nowhere: it stays, an alternative beside the second


async def test_a_retried_request_then_the_real_one(fake: FakeOpenAI, make_session: Any) -> None:
    fake.queue(Error(503, "overloaded", type="server_error"), Reply(["at last"]))
    session, notes = make_session(model="gpt-4o-mini", max_retries=1)

    await run(session.send("hello"))

    assert notes.seen == [
        ("added", "user", "hello", "gpt-4o-mini"),
        ("request", "gpt-4o-mini"),
        ("settled", "gpt-4o-mini", "retried", "ServerError"),
        ("request", "gpt-4o-mini"),
        ("reply", "gpt-4o-mini"),
        ("progress", "at last"),
        ("final", "at last", False, "balanced"),
        ("settled", "gpt-4o-mini", "ok", None),
    ]


async def test_events_hold_copies_made_when_they_were_told(fake: FakeOpenAI, make_session: Any) -> None:
    fake.queue(Reply("an answer"))
    session, notes = make_session(model="gpt-4o-mini", preset="balanced", system_prompt="Be brief.")

    await run(session.send("question"))
    reply = session.conversation.messages[1]
    session.set_model("gpt-4o")
    session.set_preset("writing")
    session.set_system_prompt("Be long.")
    session.new_conversation()

    added = next(e for e in notes.events if isinstance(e, journal.MessageAdded))
    final = next(e for e in notes.events if isinstance(e, journal.ReplyFinal))
    assert added.setup == journal.Setup("gpt-4o-mini", "balanced", "Be brief.")
    # The reply's token counts are filled in, so whoever keeps it spares a resume the tokenizing, and they are
    # the event's own: the session's message goes on gaining counts (another model's encoding) on its own.
    assert final.message == reply and final.message.token_counts == reply.token_counts != {}
    assert final.message.token_counts is not reply.token_counts
    assert notes.seen[-4:] == [
        ("settings", "gpt-4o", "balanced", "Be brief."),
        ("settings", "gpt-4o", "writing", "Be brief."),
        ("settings", "gpt-4o", "writing", "Be long."),
        ("ConversationStarted",),
    ]


async def test_a_usage_log_that_cannot_be_written_stops_and_the_chat_goes_on(fake: FakeOpenAI, make_session: Any,
                                                                             tmp_path: Path) -> None:
    (tmp_path / "not-a-dir").write_text("a file where the log's folder should be")
    log = UsageLog(tmp_path / "not-a-dir" / "usage.jsonl")
    fake.queue(Reply("one"), Reply("two"))
    session, notes = make_session(observers=(log,))

    await run(session.send("first"))
    await run(session.send("second"))

    assert log.broken
    assert [m.content for m in session.conversation.messages] == ["first", "one", "second", "two"]
    assert [s[2] for s in notes.seen if s[0] == "settled"] == ["ok", "ok"]  # observers after it are still told
