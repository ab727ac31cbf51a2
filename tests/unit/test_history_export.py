"""Exporting a stored conversation to Markdown and JSON, and importing the JSON back."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chatbot.core.conversation import Message, Summary
from chatbot.core.store.export import FORMAT, import_json, to_json, to_markdown
from chatbot.core.store.history import HistoryStore
from fake_openai import FakeOpenAI, Reply
from stored_history import export_fields, fields, front_matter, recorder_of, turn, written


async def test_markdown_export_has_front_matter_and_every_message(fake: FakeOpenAI, make_session: Any,
                                                                  store: HistoryStore) -> None:
    fake.queue(Reply("Hi there!", prompt_tokens=20, completion_tokens=3, cached_tokens=4),
               Reply("Second answer.", prompt_tokens=40, completion_tokens=2))
    session = make_session(store, model="gpt-4o", preset="writing", system_prompt="Be terse.")
    await turn(session, "What is an axolotl?")
    await turn(session, "And a quokka?")
    stored = store.load(recorder_of(session).conversation_id)

    text = to_markdown(stored)

    header = front_matter(text)
    assert {"title", "model", "preset", "created", "updated", "prompt_tokens", "completion_tokens",
            "cached_tokens", "cost"} <= set(header)
    assert (header["title"], header["model"], header["preset"]) == ("What is an axolotl?", "gpt-4o", "writing")
    assert (header["prompt_tokens"], header["cached_tokens"], header["completion_tokens"]) == (60, 4, 5)
    assert header["cost"] == "$0.000195"
    assert header["created"].endswith("+00:00") and header["created"] <= header["updated"]
    body = text[text.index("---", 3) + 3:]
    for expected in ("## System", "Be terse.", "## You", "What is an axolotl?", "## Assistant (gpt-4o)",
                     "Hi there!", "And a quokka?", "Second answer."):
        assert expected in body
    assert body.index("What is an axolotl?") < body.index("Hi there!") < body.index("And a quokka?")


async def test_an_exports_tokens_and_cost_are_of_every_request_a_replaced_reply_too(
        fake: FakeOpenAI, make_session: Any, store: HistoryStore) -> None:
    fake.queue(Reply("First.", prompt_tokens=20, completion_tokens=3), Reply("Second.", prompt_tokens=20,
                                                                              completion_tokens=2))
    session = make_session(store, model="gpt-4o")
    await turn(session, "What is an axolotl?")
    async for _ in session.regenerate():
        pass
    written(session)
    stored = store.load(recorder_of(session).conversation_id)

    header = front_matter(to_markdown(stored))  # the shown path holds only the second reply
    assert (header["prompt_tokens"], header["completion_tokens"], header["cost"]) == (40, 5, "$0.00015")
    used = to_json(stored)["used"]
    assert (used["requests"], used["prompt_tokens"], used["completion_tokens"]) == (2, 40, 5)
    assert used["cost_usd"] == used["known_cost_usd"] == "0.00015"


def test_markdown_marks_stopped_and_broken_replies(store: HistoryStore) -> None:
    conversation_id = store.create("gpt-4o", "balanced", "")
    store.add(conversation_id, Message("user", "go"))
    store.add(conversation_id, Message("assistant", "half", model="gpt-4o", stopped=True))
    store.add(conversation_id, Message("user", "again"))
    store.add(conversation_id, Message("assistant", "broken", model="gpt-4o", error="stream dropped"))
    text = to_markdown(store.load(conversation_id))
    assert "## Assistant (gpt-4o) (stopped)" in text
    assert "## Assistant (gpt-4o) (broke off: stream dropped)" in text


async def test_json_export_then_import_gives_an_equal_conversation(fake: FakeOpenAI, make_session: Any,
                                                                   store: HistoryStore) -> None:
    fake.queue(Reply("Hi there!", prompt_tokens=20, completion_tokens=3, cached_tokens=4),
               Reply(["cut ", "short"], drop_after=1))
    session = make_session(store, model="gpt-4o", preset="writing", system_prompt="Be terse.")
    await turn(session, "What is an axolotl?")
    with pytest.raises(Exception):  # noqa: B017 - the dropped stream; its partial reply is kept
        await turn(session, "And a quokka?")
    original = store.load(recorder_of(session).conversation_id)
    assert original.conversation.messages[-1].error  # the broken reply round-trips too

    exported = json.loads(json.dumps(to_json(original)))
    assert exported["format"] == FORMAT
    new_id = import_json(store, exported)

    imported = store.load(new_id)
    assert new_id != original.id
    assert export_fields(to_json(imported)) == export_fields(exported)
    # No request was made for the copy: its front matter counts its messages' own tokens, as the original's did.
    tokens = ("prompt_tokens", "completion_tokens", "cached_tokens")
    assert [front_matter(to_markdown(imported))[k] for k in tokens] == [
        front_matter(to_markdown(original))[k] for k in tokens]
    assert front_matter(to_markdown(imported))["prompt_tokens"] >= 20
    assert [fields(m) for m in imported.conversation.messages] == [fields(m) for m in original.conversation.messages]
    assert store.search("axolotl")  # imported messages are indexed too



# -- every branch -------------------------------------------------------------------------------------------


def headings(markdown: str) -> list[str]:
    return [line[3:] for line in markdown.splitlines() if line.startswith("## ")]


def three_replies(store: HistoryStore) -> int:
    """A question with three replies; the second has a follow-up edited once, and is the active one."""
    cid = store.create("gpt-4o", "balanced", "")
    q = store.add(cid, Message("user", "name a bird"), parent=None)
    store.add(cid, Message("assistant", "a heron", model="gpt-4o"), parent=q)
    wren = store.add(cid, Message("assistant", "a wren", model="gpt-4o"), parent=q)
    store.add(cid, Message("assistant", "a rook", model="gpt-4o", stopped=True), parent=q)
    small = store.add(cid, Message("user", "how small?"), parent=wren)
    store.add(cid, Message("assistant", "ten grams", model="gpt-4o"), parent=small)
    tiny = store.add(cid, Message("user", "how tiny?"), parent=wren)
    store.set_active_leaf(cid, store.add(cid, Message("assistant", "very", model="gpt-4o"), parent=tiny))
    return cid


def test_markdown_of_every_branch_heads_each_alternative_in_order(store: HistoryStore) -> None:
    stored = store.load(three_replies(store))
    text = to_markdown(stored, tree=True)
    assert front_matter(text)["branches"] == "all"
    assert headings(text) == [
        "You",
        "Alternative 1/3", "Assistant (gpt-4o)",
        "Alternative 2/3 (active)", "Assistant (gpt-4o)",
        "Alternative 2/3 > 1/2", "You", "Assistant (gpt-4o)",
        "Alternative 2/3 > 2/2 (active)", "You", "Assistant (gpt-4o)",
        "Alternative 3/3", "Assistant (gpt-4o) (stopped)",
    ]
    order = ["a heron", "a wren", "how small?", "ten grams", "how tiny?", "very", "a rook"]
    assert [text.index(f"\n{m}\n") for m in order] == sorted(text.index(f"\n{m}\n") for m in order)

    path_only = to_markdown(stored)
    assert "Alternative" not in path_only and "branches" not in front_matter(path_only)
    assert [line for line in path_only.splitlines() if line in order] == ["a wren", "how tiny?", "very"]


async def test_every_branch_of_a_session_s_tree_exports_and_imports_as_the_same_tree(
        fake: FakeOpenAI, make_session: Any, store: HistoryStore) -> None:
    fake.queue(Reply("r1"), Reply("r2"), Reply("r1, again"), Reply("r1, third"), Reply("edited"))
    session = make_session(store)
    await turn(session, "q1")
    await turn(session, "q2")
    r1 = session.conversation.messages[1]
    for _ in range(2):
        async for _event in session.regenerate(at=session.conversation.messages[1]):
            pass
    session.delete_from(session.conversation.messages[1])  # the third reply: the second is active again
    async for _event in session.edit(session.conversation.messages[0], "q1, edited"):
        pass
    session.switch(session.conversation.messages[0], -1)
    recorder = recorder_of(session)
    assert recorder.writer.drain(60) and recorder.conversation_id is not None
    stored = store.load(recorder.conversation_id)
    assert [m.content for m in stored.conversation.messages] == ["q1", "r1, again"]
    assert [m.content for m in stored.conversation.alternatives(stored.conversation.messages[1])] == [
        "r1", "r1, again"] and r1.content == "r1"

    copy = store.load(import_json(store, json.loads(json.dumps(to_json(stored, tree=True))))).conversation
    assert tree_shape(copy) == tree_shape(stored.conversation) and len(copy.tree()) == 7
    assert [m.content for m in copy.messages] == ["q1", "r1, again"]
    line = store.load(import_json(store, json.loads(json.dumps(to_json(stored))))).conversation
    assert [m.content for m in line.tree()] == ["q1", "r1, again"]


def tree_shape(conversation: Any) -> list[tuple[str, str | None, tuple[int, int]]]:
    rows = []
    for m in conversation.tree():
        parent = conversation.parent_of(m)
        rows.append((m.content, None if parent is None else parent.content, conversation.position(m)))
    return rows


@pytest.mark.parametrize(("summary", "says"), [
    ({"text": "notes", "covers": 9, "turns": 1}, "covers names no message of the export: 9"),
    ({"text": "", "covers": 1, "turns": 1}, "text is not text"),
    ({"text": "notes", "covers": 1, "turns": 0}, "turns is not a count of turns"),
    ("notes", "not an object"),
])
def test_an_import_with_a_bad_summary_imports_nothing(store: HistoryStore, summary: object, says: str) -> None:
    conversation_id = store.create("gpt-4o", "balanced", "")
    store.add(conversation_id, Message("user", "go"))
    data = {**to_json(store.load(conversation_id)), "summary": summary}
    before = len(store.conversations())

    with pytest.raises(ValueError, match=f"^malformed export, summary: {says}"):
        import_json(store, data)

    assert len(store.conversations()) == before


def test_a_summary_on_a_branch_the_export_does_not_hold_is_left_out(store: HistoryStore) -> None:
    conversation_id = store.create("gpt-4o", "balanced", "")
    question = store.add(conversation_id, Message("user", "name a bird"), parent=None)
    heron = store.add(conversation_id, Message("assistant", "a heron", model="gpt-4o"), parent=question)
    store.add(conversation_id, Message("assistant", "a wren", model="gpt-4o"), parent=question)
    store.set_summary(conversation_id, Summary("a heron was named", 0, 1), heron)
    stored = store.load(conversation_id)

    assert "summary" not in to_json(stored) and "## Summary" not in to_markdown(stored)  # the wren's path
    assert to_json(stored, tree=True)["summary"]["covers"] == 2
    text = to_markdown(stored, tree=True)
    assert text.index("a heron") < text.index("## Summary of 1 earlier turn") < text.index("a wren")
