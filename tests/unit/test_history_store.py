"""The history store: what a recording session stores, resume, regenerate, and how a listing is read."""

from __future__ import annotations

import json
import sqlite3
from decimal import Decimal
from typing import Any

import pytest

from chatbot.core.conversation import Message
from chatbot.core.events import TextDelta, Usage
from chatbot.core.pricing import Spent
from chatbot.core.request import OK, SENT, Request
from chatbot.core.session import Session
from chatbot.core.store.history import TITLE_LENGTH, HistoryStore, title_from
from chatbot.core.tokens import TokenCounter
from fake_openai import Error, FakeOpenAI, Reply
from stored_history import PRICED, fields, integrity, key_is_absent, recorder_of, resume, turn, written

# -- round trips through a recording session -------------------------------------------------------------------


async def test_two_turns_round_trip_every_field(fake: FakeOpenAI, make_session: Any, store: HistoryStore) -> None:
    fake.queue(Reply("Hi there!", prompt_tokens=20, completion_tokens=3, cached_tokens=4),
               Reply("Second answer.", prompt_tokens=40, completion_tokens=2, finish_reason="length"))
    session = make_session(store, model="gpt-4o", preset="writing", system_prompt="Be terse.")

    await turn(session, "What is an axolotl?")
    await turn(session, "And a quokka?")

    assert recorder_of(session).error is None
    stored = store.load(recorder_of(session).conversation_id)
    assert [fields(m) for m in stored.conversation.messages] == [fields(m) for m in session.conversation.messages]
    user1, reply1, user2, reply2 = stored.conversation.messages
    assert (user1.role, user1.content, user2.content) == ("user", "What is an axolotl?", "And a quokka?")
    assert reply1.usage == Usage(20, 3, 4)
    # (16 uncached x $2.50 + 4 cached x $1.25 + 3 out x $10) per 1M, exactly, as a Decimal.
    assert reply1.cost == Decimal("0.000075") and isinstance(reply1.cost, Decimal)
    assert reply2.cost == Decimal("0.00012")
    assert (reply1.model, reply1.finish_reason, reply2.finish_reason) == ("gpt-4o", "stop", "length")
    assert not reply1.stopped and reply1.error is None
    assert stored.title == "What is an axolotl?"
    assert (stored.model, stored.preset, stored.conversation.system_prompt) == ("gpt-4o", "writing", "Be terse.")
    [summary] = store.conversations()
    assert (summary.id, summary.turns, summary.cost) == (stored.id, 2, Spent(Decimal("0.000195")))
    assert integrity(store.path) == "ok"
    key_is_absent(store.path)


async def test_switching_model_and_preset_mid_reply_applies_to_the_next_request(
        fake: FakeOpenAI, make_session: Any, store: HistoryStore) -> None:
    fake.queue(Reply(chunks=["one ", "two ", "three"], prompt_tokens=10, completion_tokens=3))
    session = make_session(store, model="gpt-4o-mini", preset="balanced")
    async for event in session.send("count"):
        if isinstance(event, TextDelta) and event.text == "one ":
            session.set_model("gpt-4.1")
            session.set_preset("extraction")
    written(session)

    reply = session.conversation.messages[-1]
    assert reply.model == "gpt-4o-mini"
    assert reply.cost == Decimal("0.0000033")  # gpt-4o-mini's price: 10 x $0.15 + 3 x $0.60 per 1M
    row = recorder_of(session).row_id(reply)
    with sqlite3.connect(store.path) as db:
        params = json.loads(db.execute("SELECT params FROM messages WHERE id = ?", (row,)).fetchone()[0])
    assert (params["preset"], params["response_format"]) == ("balanced", "text")


async def test_long_first_message_makes_a_truncated_title(fake: FakeOpenAI, make_session: Any,
                                                          store: HistoryStore) -> None:
    fake.queue(Reply("ok"), Reply("ok"))
    session = make_session(store)
    first = "Please   explain\nthe difference between " + "very " * 30 + "long words"

    await turn(session, first)
    await turn(session, "a second message never renames it")

    title = store.load(recorder_of(session).conversation_id).title
    assert title.endswith("…") and len(title) <= TITLE_LENGTH
    assert title.startswith("Please explain the difference between very")  # whitespace collapsed
    assert " ".join(first.split()).startswith(title[:-1])


@pytest.mark.parametrize(("text", "title"), [
    ("short", "short"),
    ("  spaced \n\t out  ", "spaced out"),
    ("x" * TITLE_LENGTH, "x" * TITLE_LENGTH),
    ("x" * (TITLE_LENGTH + 1), "x" * (TITLE_LENGTH - 1) + "…"),
])
def test_title_from(text: str, title: str) -> None:
    assert title_from(text) == title


async def test_resume_restores_model_preset_and_system_prompt_and_keeps_recording(
        fake: FakeOpenAI, make_session: Any, store: HistoryStore) -> None:
    fake.queue(Reply("first reply"), Reply("third reply"))
    first = make_session(store, model="gpt-4.1-nano", preset="support", system_prompt="Answer in French.")
    await turn(first, "bonjour")
    conversation_id = recorder_of(first).conversation_id

    later = make_session(store)  # the defaults: gpt-4o-mini, balanced, the default system prompt
    resume(later, store.load(conversation_id))
    assert (later.model, later.preset_name) == ("gpt-4.1-nano", "support")
    assert later.conversation.system_prompt == "Answer in French."
    await turn(later, "encore")

    body = fake.last_body
    assert body["model"] == "gpt-4.1-nano"
    assert (body["temperature"], body["top_p"], body["max_tokens"]) == (0.3, 0.8, 1500)
    assert body["messages"] == [{"role": "system", "content": "Answer in French."},
                                {"role": "user", "content": "bonjour"},
                                {"role": "assistant", "content": "first reply"},
                                {"role": "user", "content": "encore"}]
    assert len(store.conversations()) == 1  # the same conversation, not a new one
    assert [m.content for m in store.load(conversation_id).conversation.messages] == [
        "bonjour", "first reply", "encore", "third reply"]


async def test_resume_with_a_preset_no_longer_configured_keeps_the_current_one(
        fake: FakeOpenAI, make_session: Any, store: HistoryStore) -> None:
    conversation_id = store.create("gpt-4o", "gone-preset", "sys")
    store.add(conversation_id, Message("user", "hello"))
    session = make_session(store, preset="writing")
    resume(session, store.load(conversation_id))
    assert (session.model, session.preset_name) == ("gpt-4o", "writing")


class CountingCounter(TokenCounter):
    """A TokenCounter that remembers every text it tokenized."""

    def __init__(self, encoding: str) -> None:
        super().__init__(encoding)
        self.texts: list[str] = []

    def count_text(self, text: str) -> int:
        self.texts.append(text)
        return super().count_text(text)


async def resumed_counter(fake: FakeOpenAI, make_session: Any, store: HistoryStore) -> tuple[Session, CountingCounter]:
    fake.queue(Reply("The first reply, with several words in it."), Reply("The second reply, also wordy."))
    first = make_session(store, model="gpt-4o")
    await turn(first, "a first question to count")
    await turn(first, "a second question to count")
    later = make_session(store)
    resume(later, store.load(recorder_of(first).conversation_id))
    counter = CountingCounter(later.spec.encoding)
    later._counters[later.spec.encoding] = counter
    window = later.window()
    assert len(window.kept) == 5 and window.prompt_tokens > 0
    return later, counter


async def test_resume_reuses_stored_token_counts_of_user_messages(fake: FakeOpenAI, make_session: Any,
                                                                  store: HistoryStore) -> None:
    _, counter = await resumed_counter(fake, make_session, store)
    assert "a first question to count" not in counter.texts
    assert "a second question to count" not in counter.texts


async def test_resume_reuses_stored_token_counts_of_replies(fake: FakeOpenAI, make_session: Any,
                                                            store: HistoryStore) -> None:
    session, counter = await resumed_counter(fake, make_session, store)
    stored = store.load(recorder_of(session).conversation_id)
    assert all(m.token_counts for m in stored.conversation.messages)
    assert "The first reply, with several words in it." not in counter.texts
    assert "The second reply, also wordy." not in counter.texts


async def test_regenerate_keeps_the_stored_reply_as_an_alternative(fake: FakeOpenAI, make_session: Any,
                                                                   store: HistoryStore) -> None:
    fake.queue(Reply("first draft"), Reply("second draft"))
    session = make_session(store)
    await turn(session, "write something")
    async for _ in session.regenerate():
        pass
    written(session)
    messages = store.load(recorder_of(session).conversation_id).conversation.messages
    assert [(m.role, m.content) for m in messages] == [("user", "write something"), ("assistant", "second draft")]
    assert [hit.snippet for hit in store.search("first")] == ["«first» draft"]  # kept, on the other branch


async def test_regenerate_in_a_resumed_conversation_keeps_the_stored_reply_beside_the_new_one(
        fake: FakeOpenAI, make_session: Any, store: HistoryStore) -> None:
    fake.queue(Reply("first draft"), Reply("second draft"))
    first = make_session(store)
    await turn(first, "write something")
    conversation_id = recorder_of(first).conversation_id

    later = make_session(store)
    resume(later, store.load(conversation_id))
    async for _ in later.regenerate():
        pass
    written(later)

    assert recorder_of(later).conversation_id == conversation_id and store.count() == 1
    conversation = store.load(conversation_id).conversation
    messages = conversation.messages
    assert [(m.role, m.content) for m in messages] == [("user", "write something"), ("assistant", "second draft")]
    assert [m.content for m in conversation.alternatives(messages[1])] == ["first draft", "second draft"]


async def test_a_message_that_got_no_reply_is_taken_back_out_of_the_store(fake: FakeOpenAI, make_session: Any,
                                                                          store: HistoryStore) -> None:
    fake.queue(Reply("ok"), Error(400, "nope"))
    session = make_session(store)
    await turn(session, "kept")
    with pytest.raises(Exception):  # noqa: B017 - BadRequestError
        await turn(session, "taken back")
    assert [m.content for m in store.load(recorder_of(session).conversation_id).conversation.messages] == ["kept", "ok"]
    assert store.search("taken") == []


async def test_a_first_message_taken_back_does_not_name_the_conversation(fake: FakeOpenAI, make_session: Any,
                                                                         store: HistoryStore) -> None:
    fake.queue(Error(400, "nope"), Reply("ok"))
    session = make_session(store)
    with pytest.raises(Exception):  # noqa: B017 - BadRequestError
        await turn(session, "my unsent private words")
    await turn(session, "resent in other words")
    assert [s.title for s in store.conversations()] == ["resent in other words"]


def test_listing_takes_as_many_queries_for_ten_conversations_as_for_one(store: HistoryStore) -> None:
    def listed() -> tuple[int, dict[int, Spent]]:
        statements: list[str] = []
        store.db.set_trace_callback(statements.append)
        try:
            summaries = store.conversations()
        finally:
            store.db.set_trace_callback(None)
        return len(statements), {s.id: s.cost for s in summaries}

    def conversation(*requests: tuple[Usage, Decimal | None, str]) -> int:
        conversation_id = store.create("gpt-4o", "balanced", "")
        for usage, cost, status in requests:
            store.add(conversation_id, Message("user", "q"))
            store.add(conversation_id, Message("assistant", "a", usage=usage, cost=cost))
            store.add_request(conversation_id, Request("gpt-4o", status, usage, cost))
        return conversation_id

    first = conversation(PRICED, PRICED)
    queries_for_one, costs = listed()
    assert costs == {first: Spent(Decimal("0.0007"))}

    unknown = conversation(PRICED, (Usage(50, 0, 0), None, OK))
    unanswered = conversation()
    crashed = conversation((Usage(), Decimal(0), SENT))
    others = [conversation((Usage(10, 1, 0), Decimal(n) / 1000, OK)) for n in range(1, 7)]
    queries_for_ten, costs = listed()

    assert queries_for_ten == queries_for_one
    assert costs == {first: Spent(Decimal("0.0007")), unknown: Spent(Decimal("0.00035"), unpriced=True),
                     unanswered: Spent(), crashed: Spent(),
                     **{c: Spent(Decimal(n) / 1000) for n, c in enumerate(others, 1)}}

