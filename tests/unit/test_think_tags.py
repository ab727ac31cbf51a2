"""Inline `<think>` reasoning (Ollama's deepseek-r1, qwen3): ThinkTags alone, split at every point, and through the
client against the fake streaming such content."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from itertools import pairwise
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chatbot.core.client import ChatClient
from chatbot.core.events import ReasoningDelta, TextDelta
from chatbot.core.session import Session
from chatbot.core.think_tags import ThinkTags
from fake_openai import FakeOpenAI, Reply


def split(content: str, pieces: list[str]) -> tuple[str, str, list[Any]]:
    """What ThinkTags makes of `pieces`: the reasoning, the answer, and the events themselves."""
    tags = ThinkTags()
    events = [e for piece in pieces for e in tags.feed(piece)] + tags.end()
    assert "".join(pieces) == content
    reasoning = "".join(e.text for e in events if isinstance(e, ReasoningDelta))
    answer = "".join(e.text for e in events if isinstance(e, TextDelta))
    return reasoning, answer, events


def at(content: str, cuts: list[int]) -> list[str]:
    points = sorted({0, len(content), *(c % (len(content) + 1) for c in cuts)})
    return [content[a:b] for a, b in pairwise(points)]


DEEPSEEK = "<think>\nThe user greets me.\nI greet back.\n</think>\n\nHello! How can I help?"


@pytest.mark.parametrize("point", range(len(DEEPSEEK) + 1))
def test_a_split_at_any_point_gives_the_same_reasoning_and_answer(point: int) -> None:
    reasoning, answer, _ = split(DEEPSEEK, [DEEPSEEK[:point], DEEPSEEK[point:]])
    assert reasoning == "The user greets me.\nI greet back."
    assert answer == "Hello! How can I help?"


def test_one_character_a_piece_gives_the_same_too() -> None:
    reasoning, answer, _ = split(DEEPSEEK, list(DEEPSEEK))
    assert (reasoning, answer) == ("The user greets me.\nI greet back.", "Hello! How can I help?")


text_without_close = st.text(alphabet=st.sampled_from(list("ab <>/thinkT\n ")), max_size=40).filter(
    lambda t: "</think>" not in t)
any_text = st.text(alphabet=st.sampled_from(list("ab <>/thinkT\n ")), max_size=40)


@given(text_without_close, any_text, st.text(" \n", max_size=3), st.lists(st.integers(0, 200), max_size=12))
def test_a_leading_block_is_reasoning_and_the_rest_answer_however_split(
        thought: str, answer: str, before: str, cuts: list[int]) -> None:
    content = f"{before}<think>{thought}</think>{answer}"
    reasoning, text, _ = split(content, at(content, cuts))
    assert reasoning == thought.strip()
    assert text == answer.lstrip()  # a later <think> in the answer is the answer's own text


@given(any_text, st.lists(st.integers(0, 200), max_size=12))
def test_content_that_opens_with_no_block_is_answer_exactly(content: str, cuts: list[int]) -> None:
    if content.lstrip().startswith("<think>"):
        content = "x" + content
    reasoning, text, _ = split(content, at(content, cuts))
    assert (reasoning, text) == ("", content)


@given(text_without_close, st.lists(st.integers(0, 200), max_size=12))
def test_an_unclosed_block_is_reasoning(thought: str, cuts: list[int]) -> None:
    content = f"<think>{thought}"
    reasoning, text, _ = split(content, at(content, cuts))
    assert (reasoning, text) == (thought.strip(), "")


def test_a_think_tag_later_in_the_answer_is_answer_text() -> None:
    content = "Models such as qwen3 write <think>...</think> first."
    assert split(content, list(content))[:2] == ("", content)


def test_the_reasoning_goes_out_as_it_streams_not_at_the_end() -> None:
    tags = ThinkTags()
    assert tags.feed("<think>Step one") == [ReasoningDelta("Step one")]
    assert tags.feed(", step two </thi") == [ReasoningDelta(", step two")]
    assert tags.feed("nk>\n\nDone") == [TextDelta("Done")]


def test_an_empty_block_yields_no_reasoning() -> None:
    reasoning, answer, events = split("<think>\n\n</think>\n\nHi", ["<think>\n\n</think>\n\nHi"])
    assert (reasoning, answer, events) == ("", "Hi", [TextDelta("Hi")])


# -- through the client and the session, against the fake --

@pytest.fixture
async def make_session(fake: FakeOpenAI, make_settings: Any, api_key: str) -> AsyncIterator[Callable[..., Session]]:
    clients: list[ChatClient] = []

    def make(**flags: Any) -> Session:
        client = ChatClient(api_key=api_key, base_url=fake.base_url, max_retries=0)
        clients.append(client)
        return Session(make_settings(**flags), client)

    yield make
    for client in clients:
        await client.aclose()


async def test_a_reply_with_inline_reasoning_keeps_it_out_of_the_answer(
        fake: FakeOpenAI, make_session: Callable[..., Session]) -> None:
    fake.queue(Reply(["<thi", "nk>\nTwo plus", " two.\n</th", "ink>\n\n", "Four."], model="qwen3"))
    session = make_session(model="qwen3", catalogue_prices=None)

    events = [e async for e in session.send("2+2?")]

    reply = session.conversation.last_reply()
    assert reply is not None
    assert (reply.content, reply.reasoning) == ("Four.", "Two plus two.")
    assert [type(e) for e in events if isinstance(e, (TextDelta, ReasoningDelta))] == [
        ReasoningDelta, ReasoningDelta, TextDelta]


async def test_reasoning_is_not_sent_back_with_the_next_request(
        fake: FakeOpenAI, make_session: Callable[..., Session]) -> None:
    fake.queue(Reply("<think>secret plan</think>Four."), Reply("Five."))
    session = make_session()
    async for _ in session.send("2+2?"):
        pass
    async for _ in session.send("and +1?"):
        pass
    sent = fake.last_body["messages"]
    assert sent[-2] == {"role": "assistant", "content": "Four."}
    assert "secret plan" not in str(sent)


async def test_a_stream_broken_inside_the_block_keeps_what_arrived_as_reasoning(
        fake: FakeOpenAI, make_session: Callable[..., Session]) -> None:
    fake.queue(Reply(["<think>", "Hmm, let", " me see </thi"], drop_after=3, finish_reason=None))
    session = make_session()

    with pytest.raises(Exception, match="reasoning"):
        async for _ in session.send("hard question"):
            pass

    reply = session.conversation.last_reply()
    assert reply is not None and (reply.content, reply.reasoning) == ("", "Hmm, let me see </thi")
