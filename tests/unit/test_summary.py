"""budget.strategy "summarize": the turns that fall out of the window are summarised, and requests carry the summary."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st

from chatbot.core.client import ChatClient
from chatbot.core.conversation import Conversation, Message, Summary
from chatbot.core.errors import ContextTooLongError, SpendLimitError
from chatbot.core.events import ToolCall
from chatbot.core.session import Session
from chatbot.core.status import status_of
from chatbot.core.store.history import HistoryStore
from chatbot.core.store.recorder import Recorder
from chatbot.core.store.schema import MIGRATIONS
from chatbot.core.summary import HEADING
from chatbot.core.tokens import REPLY_PRIMING, TokenCounter
from fake_openai import Error, FakeOpenAI, Reply

SYSTEM = "Be brief."
PROMPT = "Sum up the talk below in notes."
# Long questions, short answers: a question alone costs more than the summary, so a turn falls out each time.
QUESTIONS = [f"question {i}: " + " ".join(f"{w}{i}" for w in ["alpha", "beta", "gamma", "delta"] * 10)
             for i in range(8)]
ANSWERS = [f"answer {i}." for i in range(8)]
MAX_TOKENS = 50


def budget_for_two_turns() -> int:
    """Room for the system prompt, a summary, and two whole turns: a third question makes the oldest fall out."""
    counter = TokenCounter("o200k_base")
    turn = max(counter.count_message(Message("user", q)) + counter.count_message(Message("assistant", a))
               for q, a in zip(QUESTIONS, ANSWERS, strict=True))
    summary = counter.count_message(Message("system", HEADING + "SUMMARY of turns 0 to 9."))
    return REPLY_PRIMING + counter.count_message(Message("system", SYSTEM)) + 2 * turn + summary + 2


@pytest.fixture
def make_session(make_session: Callable[..., Session]) -> Callable[..., Session]:
    """The project's make_session, with a budget that summarises the oldest turn at the third question."""
    def make(*, store: HistoryStore | None = None, conversation: Conversation | None = None,
             **budget: Any) -> Session:
        return make_session(store, conversation=conversation, model="gpt-4o-mini", system_prompt=SYSTEM,
                            max_tokens=MAX_TOKENS, budget={
                                "max_context_tokens": budget_for_two_turns() + MAX_TOKENS, "strategy": "summarize",
                                "summary_prompt": PROMPT, "summary_every": 2, **budget})

    return make


async def send(session: Session, text: str) -> Any:
    turn = session.send(text)
    async for _event in turn:
        pass
    return turn.outcome


def contents(body: dict[str, Any]) -> list[str]:
    return [m["content"] for m in body["messages"]]


async def test_turns_that_fall_out_are_summarised_and_the_summary_goes_in_their_place(
        fake: FakeOpenAI, make_session: Callable[..., Session]) -> None:
    session = make_session()
    fake.queue(Reply(ANSWERS[0]), Reply(ANSWERS[1]), Reply("SUMMARY of turns 0.", prompt_tokens=70,
                                                            completion_tokens=5), Reply(ANSWERS[2]))
    await send(session, QUESTIONS[0])
    await send(session, QUESTIONS[1])
    assert len(fake.chat_requests) == 2 and session.conversation.summary is None

    await send(session, QUESTIONS[2])

    summary_request, reply_request = (r.body for r in fake.chat_requests[2:])
    assert summary_request["messages"][0] == {"role": "system", "content": PROMPT}
    asked = summary_request["messages"][1]["content"]
    assert QUESTIONS[0] in asked and ANSWERS[0] in asked and QUESTIONS[1] not in asked
    assert contents(reply_request) == [SYSTEM, HEADING + "SUMMARY of turns 0.", QUESTIONS[1], ANSWERS[1],
                                       QUESTIONS[2]]
    assert reply_request["messages"][1]["role"] == "system"
    # The turns stay in the conversation, and the window says they are out of the request.
    assert [m.content for m in session.conversation.messages] == [
        QUESTIONS[0], ANSWERS[0], QUESTIONS[1], ANSWERS[1], QUESTIONS[2], ANSWERS[2]]
    assert session.last_window is not None
    assert [m.content for m in session.last_window.dropped] == [QUESTIONS[0], ANSWERS[0]]
    assert session.last_window.prompt_tokens <= session.budget()
    # Four requests, four counted: the summary's tokens once among them.
    assert session.totals.requests == 4
    assert session.totals.prompt_tokens == 10 * 3 + 70
    assert session.totals.completion_tokens == 2 * 3 + 5


async def test_the_summary_is_made_again_only_after_summary_every_more_turns_fall_out(
        fake: FakeOpenAI, make_session: Callable[..., Session]) -> None:
    session = make_session()
    fake.queue(Reply(ANSWERS[0]), Reply(ANSWERS[1]), Reply("SUMMARY of turns 0."), Reply(ANSWERS[2]),
               Reply(ANSWERS[3]), Reply("SUMMARY of turns 0 to 2."), Reply(ANSWERS[4]))
    for i in range(3):
        await send(session, QUESTIONS[i])
    assert len(fake.chat_requests) == 4

    await send(session, QUESTIONS[3])  # one more turn falls out: no new summary, that turn is left out

    assert len(fake.chat_requests) == 5
    assert contents(fake.last_body) == [SYSTEM, HEADING + "SUMMARY of turns 0.", QUESTIONS[2], ANSWERS[2],
                                        QUESTIONS[3]]

    await send(session, QUESTIONS[4])  # two more since the summary: it is made again, over it and them

    assert len(fake.chat_requests) == 7
    asked = fake.chat_requests[5].body["messages"][1]["content"]
    assert "SUMMARY of turns 0." in asked and QUESTIONS[1] in asked and QUESTIONS[2] in asked
    assert QUESTIONS[0] not in asked and QUESTIONS[3] not in asked
    assert contents(fake.last_body) == [SYSTEM, HEADING + "SUMMARY of turns 0 to 2.", QUESTIONS[3], ANSWERS[3],
                                        QUESTIONS[4]]
    assert session.conversation.summary is not None and session.conversation.summary.turns == 3


async def test_a_failed_summary_drops_the_turns_as_before_with_a_note(
        fake: FakeOpenAI, make_session: Callable[..., Session]) -> None:
    session = make_session()
    fake.queue(Reply(ANSWERS[0]), Reply(ANSWERS[1]), Error(400, "summaries are off today"), Reply(ANSWERS[2]))
    await send(session, QUESTIONS[0])
    await send(session, QUESTIONS[1])

    outcome = await send(session, QUESTIONS[2])

    assert outcome.ended == "finished" and outcome.reply.content == ANSWERS[2]
    assert contents(fake.last_body) == [SYSTEM, QUESTIONS[1], ANSWERS[1], QUESTIONS[2]]
    assert outcome.note is not None
    assert outcome.note.startswith("could not summarise the earlier turns: ")
    assert "summaries are off today" in outcome.note and outcome.note.endswith("; they were left out")
    assert session.conversation.summary is None
    assert session.totals.requests == 4  # the failed summary request is a request too


async def test_a_tool_call_and_its_result_fall_out_together_and_are_summarised_together(
        fake: FakeOpenAI, make_session: Callable[..., Session]) -> None:
    call = ToolCall("call_1", "notes__search", {"q": "axolotl"}, '{"q": "axolotl"}')
    conversation = Conversation(SYSTEM, [
        Message("user", QUESTIONS[0]),
        Message("assistant", "", tool_calls=(call,)),
        Message("tool", "axolotls regrow limbs", tool_call_id="call_1", tool_name="notes__search"),
        Message("assistant", ANSWERS[0]),
        Message("user", QUESTIONS[1]), Message("assistant", ANSWERS[1]),
    ])
    session = make_session(conversation=conversation)
    fake.queue(Reply("SUMMARY of turns 0."), Reply(ANSWERS[2]))

    await send(session, QUESTIONS[2])

    asked = fake.chat_requests[0].body["messages"][1]["content"]
    assert 'notes__search({"q": "axolotl"})' in asked and "axolotls regrow limbs" in asked
    sent = fake.last_body["messages"]
    assert not any(m["role"] == "tool" or m.get("tool_calls") for m in sent)  # neither half is left behind
    assert contents(fake.last_body) == [SYSTEM, HEADING + "SUMMARY of turns 0.", QUESTIONS[1], ANSWERS[1],
                                        QUESTIONS[2]]
    assert session.conversation.summary is not None
    assert session.conversation.summary.covers == conversation.messages[3].id  # the turn's last message


async def test_a_resumed_conversation_keeps_its_summary_and_does_not_pay_for_it_again(
        fake: FakeOpenAI, make_session: Callable[..., Session], store: HistoryStore) -> None:
    session = make_session(store=store)
    fake.queue(Reply(ANSWERS[0]), Reply(ANSWERS[1]), Reply("SUMMARY of turns 0.", prompt_tokens=70,
                                                            completion_tokens=5), Reply(ANSWERS[2]))
    for i in range(3):
        await send(session, QUESTIONS[i])
    recorder = session.observers[0]
    assert isinstance(recorder, Recorder)
    assert recorder.writer.drain(10)
    conversation_id = recorder.conversation_id
    assert conversation_id is not None

    # The ledger holds the summary request once, with what it used, beside the three replies.
    rows = store.db.execute("SELECT status, prompt_tokens, completion_tokens FROM requests ORDER BY id").fetchall()
    assert [tuple(r) for r in rows] == [("ok", 10, 2), ("ok", 10, 2), ("ok", 70, 5), ("ok", 10, 2)]
    stored = store.load(conversation_id)
    assert stored.conversation.summary is not None
    assert stored.conversation.summary.text == "SUMMARY of turns 0."
    assert stored.conversation.summary.covers == stored.conversation.messages[1].id
    resumed = make_session()
    resumed.resume(stored.conversation, stored.model, stored.preset)
    fake.queue(Reply(ANSWERS[3]))

    await send(resumed, QUESTIONS[3])  # one more turn out: fewer than summary_every, so no summary request

    assert len(fake.chat_requests) == 5
    assert contents(fake.last_body) == [SYSTEM, HEADING + "SUMMARY of turns 0.", QUESTIONS[2], ANSWERS[2],
                                        QUESTIONS[3]]


def test_a_schema_7_history_gains_the_summary_column_and_keeps_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "history.db"
    db = sqlite3.connect(path, isolation_level=None)
    for version in range(1, 8):
        db.executescript(MIGRATIONS[version])
    db.execute("PRAGMA user_version = 7")
    db.execute("INSERT INTO conversations (id, title, created, updated, model, preset, system_prompt, active_leaf)"
               " VALUES (3, 'Kept', 1700000000.0, 1700000100.0, 'gpt-4o', 'default', 'Be brief.', 21)")
    db.execute("INSERT INTO messages (id, conversation_id, role, content, created) VALUES"
               " (21, 3, 'user', 'an old question', 1700000000.0)")
    db.close()

    store = HistoryStore(path)
    try:
        assert store.version == 8
        stored = store.load(3)
        assert [m.content for m in stored.conversation.messages] == ["an old question"]
        assert stored.conversation.summary is None
        store.set_summary(3, Summary("the old question, in short", 0, 1, "gpt-4o"), 21)
        again = store.load(3).conversation
        assert again.summary is not None and again.summary.text == "the old question, in short"
        assert again.summary.covers == again.messages[0].id
    finally:
        store.close()


async def test_the_spend_guard_is_asked_before_the_summary_request(
        fake: FakeOpenAI, make_session: Callable[..., Session]) -> None:
    session = make_session()
    fake.queue(Reply(ANSWERS[0]), Reply(ANSWERS[1]))
    await send(session, QUESTIONS[0])
    await send(session, QUESTIONS[1])
    # Less than what either request could cost is left: the summary request, first, is refused before it goes out.
    session.settings.max_session_cost = session.totals.cost + Decimal("0.000001")

    turn = session.send(QUESTIONS[2])
    with pytest.raises(SpendLimitError):
        async for _event in turn:
            pass

    assert len(fake.chat_requests) == 2
    assert turn.outcome is not None and turn.outcome.ended == "failed" and turn.outcome.text_returned
    assert session.totals.requests == 2


@hyp_settings(max_examples=100, deadline=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(sizes=st.lists(st.integers(1, 60), min_size=1, max_size=8), covers=st.integers(0, 7),
       summary_words=st.integers(1, 80), room=st.integers(20, 600))
def test_a_window_with_a_summary_never_exceeds_the_budget_and_counts_the_summary(
        make_settings: Any, sizes: list[int], covers: int, summary_words: int, room: int) -> None:
    settings = make_settings(model="gpt-4o-mini", system_prompt=SYSTEM, max_tokens=MAX_TOKENS, budget={
        "max_context_tokens": room + MAX_TOKENS, "strategy": "summarize"})
    messages = [Message(role, " ".join(["word"] * size)) for size in sizes
                for role in ("user", "assistant")]
    conversation = Conversation(SYSTEM, messages[:-1])  # ends at a question, as when a request goes out
    covered_message = messages[min(covers, len(messages) - 2)]
    conversation.summary = Summary(" ".join(["note"] * summary_words), covered_message.id, 1)
    session = Session(settings, ChatClient(api_key="k", base_url="http://127.0.0.1:9/v1"), conversation)
    try:
        window = session.window()
    except ContextTooLongError:
        return  # the newest turn cannot fit beside the summary: nothing is sent
    assert window.prompt_tokens <= session.budget()
    assert window.prompt_tokens == session.counter.count_prompt(window.kept)
    assert window.kept[1].content == HEADING + conversation.summary.text
    assert covered_message in window.dropped
    # Every message of the path is either sent or left out (the summary standing for the oldest), none twice.
    sent = [m for m in window.kept if m.role != "system"]
    assert sorted(m.id for m in sent + window.dropped) == sorted(m.id for m in conversation.messages)


async def test_the_status_bar_says_summarised_for_the_turns_a_summary_stands_for_and_dropped_for_the_rest(
        fake: FakeOpenAI, make_session: Callable[..., Session]) -> None:
    from chatbot.ui.widgets.status_bar import fit
    summarizing, dropping = make_session(), make_session(strategy="drop")
    for session in (summarizing, dropping):
        fake.queue(Reply(ANSWERS[0]), Reply(ANSWERS[1]), *([Reply("SUMMARY of turns 0.")] if session is summarizing
                                                          else []), Reply(ANSWERS[2]))
        for i in range(3):
            await send(session, QUESTIONS[i])

    status = status_of(summarizing)
    assert (status.dropped_turns, status.summarized_turns) == (1, 1)
    line = fit(status, 200)
    assert "1 turn summarised" in line and "dropped" not in line
    assert "summarised" not in fit(status_of(dropping), 200) and "dropped 1 turn" in fit(status_of(dropping), 200)

    fake.queue(Reply(ANSWERS[3]))
    await send(summarizing, QUESTIONS[3])  # one more falls out: fewer than summary_every, so it is dropped

    status = status_of(summarizing)
    assert (status.dropped_turns, status.summarized_turns) == (2, 1)
    assert "1 turn summarised │ dropped 1 turn" in fit(status, 200)
    assert "1 summarised │ dropped 1" in fit(status, 80)


async def test_a_fork_keeps_the_summary_when_its_path_holds_the_turns_it_stands_for(
        fake: FakeOpenAI, make_session: Callable[..., Session], store: HistoryStore) -> None:
    session = make_session(store=store)
    fake.queue(Reply(ANSWERS[0]), Reply(ANSWERS[1]), Reply("SUMMARY of turns 0."), Reply(ANSWERS[2]))
    for i in range(3):
        await send(session, QUESTIONS[i])
    path = session.conversation.messages

    session.fork_conversation(path[3])  # up to the second answer: the first turn, summarised, is in the copy

    fork = session.conversation
    assert fork.summary is not None and fork.summary.text == "SUMMARY of turns 0."
    assert fork.summary.covers == fork.messages[1].id != path[1].id  # the copy of the first answer
    recorder = session.observers[0]
    assert isinstance(recorder, Recorder) and recorder.writer.drain(10) and recorder.conversation_id is not None
    stored = store.load(recorder.conversation_id).conversation
    assert stored.summary is not None and stored.summary.covers == stored.messages[1].id
    fake.queue(Reply(ANSWERS[2]))
    await send(session, QUESTIONS[2])
    assert contents(fake.last_body) == [SYSTEM, HEADING + "SUMMARY of turns 0.", QUESTIONS[1], ANSWERS[1],
                                        QUESTIONS[2]]

    session.fork_conversation(session.conversation.messages[0])  # the first question alone: the summary is not

    assert session.conversation.summary is None
    assert recorder.writer.drain(10) and recorder.conversation_id is not None
    assert store.load(recorder.conversation_id).conversation.summary is None
