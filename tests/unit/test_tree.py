"""The conversation as a tree: alternatives, edits that fork, branch switches, and the active path that the
window and the next request follow. A real Session and ChatClient against the fake server; what is sent is read
from the request the fake recorded."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from chatbot.core import errors, journal
from chatbot.core.client import ChatClient
from chatbot.core.conversation import Conversation, Message
from chatbot.core.session import Session
from fake_openai import Error, FakeOpenAI, Reply
from support import SleepRecorder


class Journal:
    def __init__(self) -> None:
        self.events: list[journal.Entry] = []

    def observe(self, event: journal.Entry) -> None:
        self.events.append(event)


@pytest.fixture
async def make_session(fake: FakeOpenAI, make_settings: Any, api_key: str) -> AsyncIterator[Callable[..., Session]]:
    clients: list[ChatClient] = []

    def make(**flags: Any) -> Session:
        settings = make_settings(**flags)
        client = ChatClient(api_key=api_key, base_url=fake.base_url, timeout=10.0, max_retries=0,
                            sleep=SleepRecorder())
        clients.append(client)
        return Session(settings, client, observers=[Journal()])

    yield make
    for client in clients:
        await client.aclose()


async def run(turn: Any) -> None:
    async for _ in turn:
        pass


def sent(fake: FakeOpenAI) -> list[tuple[str, str]]:
    """The last request's messages, without the system prompt."""
    return [(m["role"], m["content"]) for m in fake.last_body["messages"] if m["role"] != "system"]


def path(session: Session) -> list[tuple[str, str]]:
    return [(m.role, m.content) for m in session.conversation.messages]


# -- the tree in memory ---------------------------------------------------------------------------------------


def test_a_linear_conversation_is_one_path_with_no_alternatives() -> None:
    conversation = Conversation("sys", [Message("user", "a"), Message("assistant", "b"), Message("user", "c")])
    a, b, c = conversation.messages
    assert conversation.parent_of(a) is None and conversation.parent_of(b) is a and conversation.parent_of(c) is b
    assert [conversation.position(m) for m in (a, b, c)] == [(1, 1)] * 3
    assert conversation.leaf() is c and conversation.last_reply() is b
    assert [m.role for m in conversation.all_messages()] == ["system", "user", "assistant", "user"]


def test_switching_brings_back_the_branch_below_the_alternative() -> None:
    conversation = Conversation()
    q = conversation.add_user("q")
    first = conversation.add(Message("assistant", "first"))
    conversation.add_user("more")
    follow = conversation.add(Message("assistant", "follow-up"))
    conversation.cut(q)
    second = conversation.add(Message("assistant", "second"))
    assert conversation.alternatives(first) == [first, second] and conversation.position(second) == (2, 2)
    assert [m.content for m in conversation.messages] == ["q", "second"]

    assert conversation.switch(second, -1) is first
    assert conversation.messages == [q, first, conversation.messages[2], follow]  # the branch below came back
    assert conversation.switch(first, -5) is first  # clamped at the first alternative
    assert conversation.switch(first, 1) is second and conversation.leaf() is second


def test_a_withdrawn_edit_leaves_the_path_on_the_branch_it_forked_from() -> None:
    conversation = Conversation()
    a = conversation.add_user("a")
    conversation.add(Message("assistant", "b"))
    before = conversation.messages
    edit = conversation.fork(a, "a, edited")
    assert conversation.messages == [edit] and conversation.alternatives(a) == [a, edit]
    conversation.withdraw(edit)
    assert conversation.messages == before and conversation.alternatives(a) == [a]


def test_only_a_user_message_is_edited_and_only_a_leaf_withdrawn() -> None:
    conversation = Conversation()
    a = conversation.add_user("a")
    b = conversation.add(Message("assistant", "b"))
    with pytest.raises(ValueError, match="user message"):
        conversation.fork(b, "no")
    with pytest.raises(ValueError, match="without replies"):
        conversation.withdraw(a)


# -- the session: what the next request sends -----------------------------------------------------------------


async def test_a_regenerated_reply_is_kept_and_switching_back_sends_it(fake: FakeOpenAI, make_session: Any) -> None:
    fake.queue(Reply("first try"), Reply("second try"), Reply("noted"))
    session = make_session()
    await run(session.send("question"))
    first = session.conversation.last_reply()
    turn = session.regenerate()
    await run(turn)
    assert turn.outcome is not None and turn.outcome.replaced is first
    second = session.conversation.last_reply()
    assert second is not None and session.conversation.alternatives(second) == [first, second]
    assert sent(fake) == [("user", "question")]

    assert session.switch(second, -1) is first
    await run(session.send("and then?"))
    assert sent(fake) == [("user", "question"), ("assistant", "first try"), ("user", "and then?")]


async def test_a_stopped_and_a_broken_off_reply_stay_alternatives(fake: FakeOpenAI, make_session: Any) -> None:
    fake.queue(Reply("half of it", drop_after=1), Reply("all of it"))
    session = make_session()
    with pytest.raises(errors.StreamDroppedError):
        await run(session.send("question"))
    broken = session.conversation.last_reply()
    assert broken is not None and broken.partial
    await run(session.regenerate())
    reply = session.conversation.last_reply()
    assert reply is not None and [m.content for m in session.conversation.alternatives(reply)] == [
        "half", "all of it"]
    assert session.conversation.alternatives(reply)[0] is broken


async def test_a_failed_regenerate_leaves_the_old_reply_active(fake: FakeOpenAI, make_session: Any) -> None:
    fake.queue(Reply("first answer"), Error(429, "slow down", code="rate_limit_exceeded"), Reply("ok"))
    session = make_session()
    await run(session.send("question"))
    first = session.conversation.last_reply()
    with pytest.raises(errors.RateLimitError):
        await run(session.regenerate())
    assert session.conversation.last_reply() is first and session.conversation.alternatives(first) == [first]
    await run(session.send("next"))
    assert sent(fake) == [("user", "question"), ("assistant", "first answer"), ("user", "next")]


async def test_an_edit_forks_and_sends_only_its_branch(fake: FakeOpenAI, make_session: Any) -> None:
    fake.queue(Reply("r1"), Reply("r2"), Reply("r1 again"), Reply("r3"))
    session = make_session()
    await run(session.send("one"))
    await run(session.send("two"))
    one = session.conversation.messages[0]

    turn = session.edit(one, "one, better")
    await run(turn)
    assert sent(fake) == [("user", "one, better")]
    assert path(session) == [("user", "one, better"), ("assistant", "r1 again")]
    assert turn.outcome is not None and turn.outcome.ended == "finished"
    edited = session.conversation.messages[0]
    assert session.conversation.alternatives(edited) == [one, edited]

    session.switch(edited, -1)  # the old branch is whole
    assert path(session) == [("user", "one"), ("assistant", "r1"), ("user", "two"), ("assistant", "r2")]
    await run(session.send("three"))
    assert sent(fake)[-3:] == [("user", "two"), ("assistant", "r2"), ("user", "three")]


async def test_an_unsent_edit_goes_back_to_the_branch_it_left(fake: FakeOpenAI, make_session: Any) -> None:
    fake.queue(Reply("r1"), Reply("r2"), Error(400, "bad request"))
    session = make_session()
    await run(session.send("one"))
    await run(session.send("two"))
    before = session.conversation.messages
    two = before[2]
    turn = session.edit(two, "two, again")
    with pytest.raises(errors.ChatError):
        await run(turn)
    assert turn.outcome is not None and turn.outcome.text_returned
    assert session.conversation.messages == before and session.conversation.alternatives(two) == [two]
    notes = session.observers[0].events
    assert isinstance(notes[-1], journal.BranchSwitched) and notes[-1].leaf == before[-1].id


async def test_a_switch_tells_the_leaf_and_the_figures_follow_the_branch(fake: FakeOpenAI,
                                                                        make_session: Any) -> None:
    fake.queue(Reply("short", prompt_tokens=5, completion_tokens=1),
               Reply("a much longer second reply", prompt_tokens=5, completion_tokens=6))
    session = make_session()
    await run(session.send("question"))
    first = session.conversation.last_reply()
    await run(session.regenerate())
    second = session.conversation.last_reply()
    assert first is not None and second is not None and session.last_usage == second.usage

    session.switch(second, -1)
    assert session.last_usage == first.usage and session.last_cost == first.cost
    assert session.last_window is not None and session.last_window.kept[-1] is first
    assert session.observers[0].events[-1] == journal.BranchSwitched(first.id)


# -- the property: whatever happens, the active path is a conversation --------------------------------------

OUTCOMES = st.sampled_from(["ok", "ok", "fail", "drop"])
PICK = st.integers(0, 20)  # which message, modulo how many there are to pick from
OPS = st.lists(st.one_of(
    st.tuples(st.just("send"), OUTCOMES),
    st.tuples(st.just("regenerate"), OUTCOMES),
    st.tuples(st.just("regenerate at"), PICK, OUTCOMES),
    st.tuples(st.just("edit"), PICK, OUTCOMES),
    st.tuples(st.just("switch"), PICK, st.integers(-2, 2)),
    st.tuples(st.just("delete"), PICK),
    st.tuples(st.just("fork"), PICK),
), max_size=12)


def _response(outcome: str, n: int) -> Reply | Error:
    if outcome == "fail":
        return Error(400, "bad request")
    return Reply(f"reply {n} in words", drop_after=1) if outcome == "drop" else Reply(f"reply {n}")


class Model:
    """What the tree should hold, kept apart from it: each message's parent as the operations reported it."""

    def __init__(self) -> None:
        self.parent: dict[int, int | None] = {}
        self.unanswered: set[int] = set()  # user messages left without a reply (deleted, or a fork's last)
        self.deleted: list[Message] = []

    def add(self, conversation: Conversation, message: Message) -> None:
        parent = conversation.parent_of(message)
        self.parent[message.id] = None if parent is None else parent.id

    def ancestors(self, node: int | None) -> list[int]:
        found = []
        while node is not None:
            found.append(node)
            node = self.parent[node]
        return found

    def settle(self) -> None:
        replied = set(self.parent.values())
        self.unanswered |= {i for i in self.parent if i not in replied}


def _check(session: Session, model: Model) -> None:
    conversation = session.conversation
    messages = conversation.messages
    assert {m.id for m in conversation.tree()} == set(model.parent)  # every message not deleted, and no other
    assert not any(m in conversation or conversation.get(m.id) for m in model.deleted)
    assert not messages or messages[0].role == "user"
    for before, message in zip([None, *messages], messages, strict=False):
        assert conversation.parent_of(message) is before and model.parent[message.id] == _id(before)
        if message.role == "assistant":
            assert before is not None and before.role == "user"  # a reply answers the question before it
        elif before is not None and before.role == "user":
            assert before.id in model.unanswered  # two questions in a row only after one lost its reply


def _id(message: Message | None) -> int | None:
    return None if message is None else message.id


async def _turn(fake: FakeOpenAI, session: Session, model: Model, op: tuple[Any, ...], n: int) -> None:
    conversation = session.conversation
    messages = conversation.messages
    if op[0] == "edit":
        users = [m for m in messages if m.role == "user"]
        if not users:
            return
        turn = session.edit(users[op[1] % len(users)], f"edit {n}")
    elif op[0] == "send":
        turn = session.send(f"message {n}")
    elif not messages:
        return
    else:
        turn = session.regenerate(at=messages[op[1] % len(messages)] if op[0] == "regenerate at" else None)
    requests = len(fake.chat_requests)
    fake.queue(_response(op[-1], n))
    with contextlib.suppress(errors.ChatError):  # a failed or broken-off turn is one of the cases
        await run(turn)
    assert len(fake.chat_requests) == requests + 1
    outcome = turn.outcome
    assert outcome is not None
    if outcome.reply is None:
        assert conversation.messages == messages  # nothing came: the path is where it was
        return
    if op[0] in ("send", "edit"):
        model.add(conversation, conversation.messages[-2])
    model.add(conversation, outcome.reply)
    # The request carried the active path up to the message the reply answers: nothing of another branch.
    assert sent(fake) == [(m.role, m.content) for m in conversation.messages[:-1]]


async def _apply(fake: FakeOpenAI, session: Session, ops: list[tuple[Any, ...]]) -> None:
    model = Model()
    for n, op in enumerate(ops):
        conversation = session.conversation
        every = conversation.tree()
        if op[0] == "switch" and conversation.messages:
            messages = conversation.messages
            session.switch(messages[op[1] % len(messages)], op[2])
        elif op[0] == "delete" and every:
            doomed = every[op[1] % len(every)]
            session.delete_from(doomed)
            for node in [i for i in model.parent if doomed.id in model.ancestors(i)]:
                del model.parent[node]
                model.deleted.append(every[[m.id for m in every].index(node)])
        elif op[0] == "fork" and every:
            upto = every[op[1] % len(every)]
            copied = [conversation.get(i) for i in reversed(model.ancestors(upto.id))]
            session.fork_conversation(upto)
            copies = session.conversation.messages
            assert [(m.role, m.content) for m in copies] == [(m.role, m.content) for m in copied if m]
            assert not {m.id for m in copies} & set(model.parent)
            model.parent.clear()
            for original, copy in zip(copied, copies, strict=True):
                model.add(session.conversation, copy)
                if original is not None and original.id in model.unanswered:
                    model.unanswered.add(copy.id)
        elif op[0] not in ("switch", "delete", "fork"):
            await _turn(fake, session, model, op, n)
        model.settle()
        _check(session, model)


@hsettings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=OPS)
def test_the_active_path_is_always_an_alternating_conversation(fake: FakeOpenAI, make_settings: Any,
                                                               api_key: str, ops: list[tuple[Any, ...]]) -> None:
    """Whatever sends, regenerations (of the last reply or from any message), edits, switches, deletions and
    forks come, in any order and however each request ends."""
    async def scenario() -> None:
        client = ChatClient(api_key=api_key, base_url=fake.base_url, timeout=10.0, max_retries=0,
                            sleep=SleepRecorder())
        try:
            await _apply(fake, Session(make_settings(), client), ops)
        finally:
            await client.aclose()

    asyncio.run(scenario())


async def test_the_journal_names_each_message_s_parent(fake: FakeOpenAI, make_session: Any) -> None:
    fake.queue(Reply("r1"), Reply("r2"), Reply("r2, again"))
    session = make_session()
    await run(session.send("one"))
    await run(session.send("two"))
    one, r1, two, _ = session.conversation.messages
    await run(session.edit(two, "two, edited"))
    events = session.observers[0].events
    added = [(e.message.content, e.parent) for e in events if isinstance(e, journal.MessageAdded)]
    finals = [(e.message.content, e.parent) for e in events if isinstance(e, journal.ReplyFinal)]
    started = [e.parent for e in events if isinstance(e, journal.ReplyStarted)]
    edited = session.conversation.messages[2]
    assert added == [("one", None), ("two", r1.id), ("two, edited", r1.id)]
    assert finals == [("r1", one.id), ("r2", two.id), ("r2, again", edited.id)]
    assert started == [one.id, two.id, edited.id]


# -- regenerate from a message, delete from here, fork ----------------------------------------------------


async def two_turns(fake: FakeOpenAI, session: Session) -> list[Message]:
    fake.queue(Reply("r1"), Reply("r2"))
    await run(session.send("q1"))
    await run(session.send("q2"))
    return session.conversation.messages


async def test_regenerating_an_earlier_reply_sends_the_path_up_to_its_question(fake: FakeOpenAI,
                                                                                make_session: Any) -> None:
    session = make_session()
    q1, r1, q2, r2 = await two_turns(fake, session)
    fake.queue(Reply("r1, again"), Reply("onwards"))
    turn = session.regenerate(at=r1)
    await run(turn)
    assert sent(fake) == [("user", "q1")]
    assert path(session) == [("user", "q1"), ("assistant", "r1, again")]
    again = session.conversation.leaf()
    assert again is not None and session.conversation.alternatives(again) == [r1, again]
    assert turn.outcome is not None and turn.outcome.replaced is r1

    await run(session.send("q3"))
    assert sent(fake) == [("user", "q1"), ("assistant", "r1, again"), ("user", "q3")]
    session.switch(again, -1)  # what came after the old reply stayed on its branch
    assert session.conversation.messages == [q1, r1, q2, r2]


async def test_regenerating_at_a_question_adds_a_reply_beside_the_one_it_has(fake: FakeOpenAI,
                                                                              make_session: Any) -> None:
    session = make_session()
    _, _, q2, r2 = await two_turns(fake, session)
    fake.queue(Reply("r2, again"))
    turn = session.regenerate(at=q2)
    await run(turn)
    assert sent(fake) == [("user", "q1"), ("assistant", "r1"), ("user", "q2")]
    assert path(session)[-1] == ("assistant", "r2, again")
    assert [m.content for m in session.conversation.alternatives(r2)] == ["r2", "r2, again"]
    assert turn.outcome is not None and turn.outcome.replaced is r2


async def test_a_failed_regenerate_from_an_earlier_reply_goes_back_to_the_whole_path(fake: FakeOpenAI,
                                                                                      make_session: Any) -> None:
    session = make_session()
    before = await two_turns(fake, session)
    fake.queue(Error(400, "bad request"), Reply("r3"))
    turn = session.regenerate(at=before[1])
    with pytest.raises(errors.ChatError):
        await run(turn)
    assert turn.outcome is not None and turn.outcome.reply is None and turn.outcome.replaced is None
    assert session.conversation.messages == before and session.conversation.alternatives(before[1]) == [before[1]]
    await run(session.send("q3"))
    assert sent(fake) == [("user", "q1"), ("assistant", "r1"), ("user", "q2"), ("assistant", "r2"), ("user", "q3")]


async def test_only_a_message_on_the_active_path_is_regenerated(fake: FakeOpenAI, make_session: Any) -> None:
    session = make_session()
    _, r1, _, _ = await two_turns(fake, session)
    fake.queue(Reply("r1, again"))
    await run(session.regenerate(at=r1))
    with pytest.raises(ValueError, match="active path"):
        session.regenerate(at=r1)  # on the other branch now


async def test_deleting_a_reply_moves_to_the_alternative_before_it_and_its_branch(fake: FakeOpenAI,
                                                                                  make_session: Any) -> None:
    session = make_session()
    q1, r1, q2, r2 = await two_turns(fake, session)
    fake.queue(Reply("r1, again"), Reply("r1, third"), Reply("after"))
    await run(session.regenerate(at=r1))
    await run(session.send("q3"))
    again = session.conversation.messages[1]
    q3, r3 = session.conversation.messages[2:]
    session.switch(again, -1)

    session.delete_from(r1)  # the first of three: the path goes on through the one after it
    assert session.conversation.messages == [q1, again, q3, r3]
    assert session.observers[0].events[-2] == journal.MessagesDeleted((r1.id, q2.id, r2.id))
    assert session.observers[0].events[-1] == journal.BranchSwitched(r3.id)
    assert q2 not in session.conversation and len(session.conversation.tree()) == 4
    await run(session.send("q4"))
    assert sent(fake) == [("user", "q1"), ("assistant", "r1, again"), ("user", "q3"), ("assistant", "r1, third"),
                          ("user", "q4")]


async def test_deleting_the_last_alternative_goes_to_the_one_before_and_a_lone_one_ends_at_its_question(
        fake: FakeOpenAI, make_session: Any) -> None:
    session = make_session()
    q1, r1, q2, r2 = await two_turns(fake, session)
    fake.queue(Reply("r2, again"), Reply("r2, third"), Reply("r2, fourth"))
    await run(session.regenerate())
    second = session.conversation.leaf()
    await run(session.regenerate())
    last = session.conversation.leaf()
    assert second is not None and last is not None
    session.delete_from(last)
    assert session.conversation.messages == [q1, r1, q2, second]
    assert session.last_usage == second.usage and session.last_window is not None
    session.delete_from(second)
    assert session.conversation.messages == [q1, r1, q2, r2]

    session.delete_from(r2)
    assert session.conversation.messages == [q1, r1, q2] and session.conversation.children_of(q2) == []
    assert session.last_usage == r1.usage
    await run(session.regenerate())  # the question left without a reply gets one
    assert sent(fake) == [("user", "q1"), ("assistant", "r1"), ("user", "q2")]
    assert path(session)[-1] == ("assistant", "r2, fourth")


async def test_deleting_another_branch_leaves_the_active_path(fake: FakeOpenAI, make_session: Any) -> None:
    session = make_session()
    q1, *_ = await two_turns(fake, session)
    fake.queue(Reply("edited reply"))
    await run(session.edit(q1, "q1, edited"))
    active = session.conversation.messages
    session.delete_from(q1)
    assert session.conversation.messages == active and session.conversation.alternatives(active[0]) == [active[0]]
    assert session.conversation.tree() == active


async def test_deleting_the_first_message_empties_the_conversation(fake: FakeOpenAI, make_session: Any) -> None:
    session = make_session()
    q1, *_ = await two_turns(fake, session)
    session.delete_from(q1)
    assert session.conversation.messages == [] and session.conversation.tree() == []
    assert session.last_usage is None and session.last_window is None
    fake.queue(Reply("fresh"))
    await run(session.send("anew"))
    assert sent(fake) == [("user", "anew")]


async def test_a_fork_is_a_new_conversation_of_copies_and_the_next_request_sends_them(fake: FakeOpenAI,
                                                                                      make_session: Any) -> None:
    session = make_session(system_prompt="Be brief.")
    q1, r1, q2, r2 = await two_turns(fake, session)
    old = session.conversation
    session.set_model("gpt-4o")
    session.fork_conversation(r1)
    copy = session.conversation
    assert copy is not old and old.messages == [q1, r1, q2, r2]
    assert path(session) == [("user", "q1"), ("assistant", "r1")]
    assert {m.id for m in copy.messages}.isdisjoint(m.id for m in old.tree())
    assert [(m.usage, m.cost, m.model) for m in copy.messages] == [(m.usage, m.cost, m.model) for m in (q1, r1)]
    assert copy.system_prompt == "Be brief." and session.model == "gpt-4o"
    assert session.last_usage == r1.usage
    forked = [e for e in session.observers[0].events if isinstance(e, journal.ConversationForked)]
    assert [[m.content for m in e.messages] for e in forked] == [["q1", "r1"]]
    assert forked[0].setup == journal.Setup("gpt-4o", session.preset_name, "Be brief.")

    fake.queue(Reply("in the fork"))
    await run(session.send("q2, otherwise"))
    assert sent(fake) == [("user", "q1"), ("assistant", "r1"), ("user", "q2, otherwise")]
    assert fake.last_body["model"] == "gpt-4o"
    assert old.messages == [q1, r1, q2, r2]  # the conversation it came from is as it was
