"""Exporting a stored conversation to Markdown and JSON, and importing the JSON back."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chatbot.core.conversation import Message
from chatbot.core.store.export import FORMAT, import_json, to_json, to_markdown
from chatbot.core.store.history import HistoryStore
from fake_openai import FakeOpenAI, Reply
from stored_history import export_fields, fields, front_matter, recorder_of, turn


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
    assert [fields(m) for m in imported.conversation.messages] == [fields(m) for m in original.conversation.messages]
    assert store.search("axolotl")  # imported messages are indexed too

