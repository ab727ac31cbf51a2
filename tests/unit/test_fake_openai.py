"""Tests for the fake OpenAI server, driven through the real ``openai`` SDK.

These pin down both the fake's behaviour and which exception the SDK raises for each fault,
which is what the project's error mapping relies on.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from typing import Any

import openai
import pytest

from fake_openai import MANUAL_REPLY, Error, FakeOpenAI, Hang, Reply, split_words
from support import PROJECT

MESSAGES: list[dict[str, str]] = [{"role": "user", "content": "hi"}]
FAKE_MODULE = PROJECT / "tests" / "fake_openai.py"


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    """A started fake server, stopped after the test."""
    with FakeOpenAI() as server:
        yield server


@pytest.fixture
async def client(fake: FakeOpenAI) -> AsyncIterator[openai.AsyncOpenAI]:
    """A real SDK client pointed at the fake, without retries so faults surface at once."""
    async with openai.AsyncOpenAI(base_url=fake.base_url, api_key="sk-test", max_retries=0) as sdk:
        yield sdk


async def collect(stream: openai.AsyncStream[Any]) -> list[Any]:
    """Every chunk of a stream, in order."""
    return [chunk async for chunk in stream]


def contents(chunks: list[Any]) -> list[str]:
    """The non-empty content deltas among ``chunks``."""
    return [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]


# -- happy paths ---------------------------------------------------------------------------


async def test_stream_arrives_as_several_deltas_with_usage(fake: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    fake.queue(Reply("Hello there, world!", prompt_tokens=12, cached_tokens=4))

    stream = await client.chat.completions.create(
        model="gpt-4o-mini", messages=MESSAGES, stream=True, stream_options={"include_usage": True})
    chunks = await collect(stream)

    assert stream.response.headers["content-type"].startswith("text/event-stream")
    assert contents(chunks) == ["Hello", " there,", " world!"]
    first = chunks[0]
    assert first.choices[0].delta.role == "assistant" and first.choices[0].delta.content == ""
    assert first.object == "chat.completion.chunk" and first.id.startswith("chatcmpl-")
    assert first.model == "gpt-4o-mini"
    finish = chunks[-2]
    assert finish.choices[0].finish_reason == "stop"
    assert finish.choices[0].delta.content is None
    usage_chunk = chunks[-1]
    assert usage_chunk.choices == []
    assert usage_chunk.usage is not None
    assert usage_chunk.usage.prompt_tokens == 12
    assert usage_chunk.usage.completion_tokens == 3
    assert usage_chunk.usage.total_tokens == 15
    assert usage_chunk.usage.prompt_tokens_details.cached_tokens == 4
    assert all(c.usage is None for c in chunks[:-1])


@pytest.mark.parametrize("field", ["reasoning_content", "reasoning", "both"])
async def test_reasoning_streams_before_the_content_and_counts_in_the_completion(
        fake: FakeOpenAI, client: openai.AsyncOpenAI, field: str) -> None:
    fake.queue(Reply("It is 4.", reasoning="Two plus two.", reasoning_field=field, prompt_tokens=5))

    stream = await client.chat.completions.create(
        model="o3", messages=MESSAGES, stream=True, stream_options={"include_usage": True})
    chunks = await collect(stream)

    # The SDK declares no reasoning field: it keeps the server's in model_extra.
    extras = [c.choices[0].delta.model_extra for c in chunks if c.choices and c.choices[0].delta.model_extra]
    names = ["reasoning_content", "reasoning"] if field == "both" else [field]
    assert extras == [dict.fromkeys(names, piece) for piece in ["Two", " plus", " two."]]
    assert contents(chunks) == ["It", " is", " 4."]
    first_content = next(i for i, c in enumerate(chunks) if c.choices and c.choices[0].delta.content)
    assert first_content > max(i for i, c in enumerate(chunks) if c.choices and c.choices[0].delta.model_extra)
    usage = chunks[-1].usage
    assert (usage.completion_tokens, usage.completion_tokens_details.reasoning_tokens) == (6, 3)
    assert usage.total_tokens == 11


async def test_a_non_streamed_reply_carries_its_reasoning(fake: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    fake.queue(Reply("4", reasoning="Two plus two.", reasoning_tokens=40, completion_tokens=41))

    completion = await client.chat.completions.create(model="o3", messages=MESSAGES)

    message = completion.choices[0].message
    assert message.content == "4" and message.model_extra == {"reasoning_content": "Two plus two."}
    assert completion.usage is not None and completion.usage.completion_tokens_details is not None
    assert completion.usage.completion_tokens_details.reasoning_tokens == 40


async def test_no_usage_chunk_without_include_usage(fake: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    fake.queue(Reply(["a", "b"], finish_reason="length"))

    chunks = await collect(await client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True))

    assert contents(chunks) == ["a", "b"]
    assert all(c.usage is None and c.choices for c in chunks)
    assert chunks[-1].choices[0].finish_reason == "length"


async def test_send_usage_false_suppresses_usage_even_when_asked(fake: FakeOpenAI,
                                                                client: openai.AsyncOpenAI) -> None:
    fake.queue(Reply("a b", send_usage=False))

    chunks = await collect(await client.chat.completions.create(
        model="gpt-4o-mini", messages=MESSAGES, stream=True, stream_options={"include_usage": True}))

    assert all(c.usage is None for c in chunks)


async def test_deltas_are_delivered_incrementally(fake: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    fake.queue(Reply(["one", " two", " three"], chunk_delay=0.15))

    stream = await client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True)
    pending_when_first_arrived = None
    deltas = []
    async for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            deltas.append(chunk.choices[0].delta.content)
            if pending_when_first_arrived is None:
                # Buffered delivery would only hand the first delta over once the response had ended.
                pending_when_first_arrived = fake.requests[-1].path and not stream.response.is_closed

    assert deltas == ["one", " two", " three"]
    assert pending_when_first_arrived is True


async def test_non_streamed_completion(fake: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    fake.queue(Reply("Hello there", model="served-model", prompt_tokens=7, cached_tokens=2))

    completion = await client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)

    assert completion.object == "chat.completion"
    assert completion.model == "served-model"
    assert completion.choices[0].message.content == "Hello there"
    assert completion.choices[0].message.role == "assistant"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (7, 2)
    assert completion.usage.prompt_tokens_details.cached_tokens == 2


async def test_keep_alive_connection_serves_consecutive_streams(fake: FakeOpenAI,
                                                                client: openai.AsyncOpenAI) -> None:
    fake.queue(Reply("first"), Reply("second"), Reply("third"))

    for expected in ("first", "second", "third"):
        chunks = await collect(await client.chat.completions.create(
            model="gpt-4o-mini", messages=MESSAGES, stream=True))
        assert contents(chunks) == [expected]
    assert fake.pending == 0


async def test_every_response_has_a_request_id(fake: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    fake.queue(Reply("x"), Error(400, "bad"))

    raw = await client.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=MESSAGES)
    with pytest.raises(openai.BadRequestError) as info:
        await client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)

    assert raw.headers["x-request-id"] == "req_1"
    assert info.value.request_id == "req_2"


# -- errors and faults ---------------------------------------------------------------------


async def test_401_raises_authentication_error(fake: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    fake.queue(Error(401, "Incorrect API key provided", code="invalid_api_key"))

    with pytest.raises(openai.AuthenticationError) as info:
        await client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True)

    assert info.value.status_code == 401
    assert "Incorrect API key provided" in str(info.value)
    assert info.value.code == "invalid_api_key"
    assert info.value.type == "invalid_request_error"
    assert info.value.body == {"message": "Incorrect API key provided", "type": "invalid_request_error",
                               "param": None, "code": "invalid_api_key"}


async def test_429_exposes_retry_after(fake: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    fake.queue(Error(429, "Rate limit reached", type="requests", code="rate_limit_exceeded", retry_after=2,
                     headers={"x-ratelimit-remaining-requests": "0"}))

    with pytest.raises(openai.RateLimitError) as info:
        await client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)

    assert info.value.response.headers["retry-after"] == "2"
    assert info.value.response.headers["x-ratelimit-remaining-requests"] == "0"
    assert info.value.code == "rate_limit_exceeded"


async def test_drop_after_raises_connection_error_mid_stream(fake: FakeOpenAI,
                                                             client: openai.AsyncOpenAI) -> None:
    fake.queue(Reply(["a", "b", "c", "d"], drop_after=2))

    stream = await client.chat.completions.create(
        model="gpt-4o-mini", messages=MESSAGES, stream=True, stream_options={"include_usage": True})
    received: list[str] = []
    with pytest.raises(openai.APIConnectionError) as info:
        async for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                received.append(chunk.choices[0].delta.content)

    assert received == ["a", "b"]
    # A dropped connection, not a timeout; the cause is h11's "incomplete chunked read".
    assert type(info.value) is openai.APIConnectionError
    assert "incomplete chunked read" in str(info.value.__cause__)


def test_drop_after_with_the_sync_client(fake: FakeOpenAI) -> None:
    fake.queue(Reply("a b c", drop_after=1))
    with openai.OpenAI(base_url=fake.base_url, api_key="sk-test", max_retries=0) as sdk:
        stream = sdk.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True)
        received: list[str] = []
        with pytest.raises(openai.APIConnectionError):
            for chunk in stream:
                if chunk.choices and chunk.choices[0].delta.content:
                    received.append(chunk.choices[0].delta.content)
    assert received == ["a"]


async def test_error_in_stream_raises_api_error(fake: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    fake.queue(Reply("partial answer", error_in_stream={"message": "context size exceeded", "type": "server_error",
                                                        "code": 500}))

    stream = await client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True)
    received: list[str] = []
    with pytest.raises(openai.APIError) as info:
        async for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                received.append(chunk.choices[0].delta.content)

    assert received == ["partial", " answer"]
    # Plain APIError: there is no HTTP status to hang it on, the response was a 200.
    assert type(info.value) is openai.APIError
    assert info.value.message == "context size exceeded"
    assert info.value.code == "500"  # the SDK stringifies code
    assert info.value.type == "server_error"


async def test_malformed_chunk_raises_json_decode_error(fake: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    fake.queue(Reply("a b c", malformed_after=1))

    stream = await client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True)
    received: list[str] = []
    # The SDK does not wrap this: json.loads' error escapes the stream as is.
    with pytest.raises(json.JSONDecodeError):
        async for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                received.append(chunk.choices[0].delta.content)

    assert received == ["a"]


async def test_missing_done_still_ends_stream_cleanly(fake: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    fake.queue(Reply("a b", send_done=False))

    chunks = await collect(await client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True))

    assert contents(chunks) == ["a", " b"]
    assert chunks[-1].choices[0].finish_reason == "stop"


async def test_slow_first_chunk_hits_read_timeout(fake: FakeOpenAI) -> None:
    fake.queue(Reply("late", first_chunk_delay=5))
    async with openai.AsyncOpenAI(base_url=fake.base_url, api_key="sk-test", max_retries=0, timeout=0.3) as sdk:
        stream = await sdk.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True)
        with pytest.raises(openai.APITimeoutError):
            await collect(stream)

    fake.stop()  # returns only once the server thread has ended, the hung connection included
    assert fake._thread is None


async def test_hang_times_out_and_stop_is_prompt(fake: FakeOpenAI) -> None:
    fake.queue(Hang())
    async with openai.AsyncOpenAI(base_url=fake.base_url, api_key="sk-test", max_retries=0, timeout=0.3) as sdk:
        with pytest.raises(openai.APITimeoutError):
            await sdk.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True)

    # The handler is still hanging on the abandoned request; stop() must not wait for it.
    fake.stop()  # returns only once the server thread has ended, the hung connection included
    assert fake._thread is None


async def test_released_hang_closes_without_response(fake: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    hang = Hang()
    fake.queue(hang)
    fake.release()
    assert hang.released

    with pytest.raises(openai.APIConnectionError) as info:
        await client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)

    assert type(info.value) is openai.APIConnectionError
    assert "without sending a response" in str(info.value.__cause__)


async def test_empty_queue_gives_500(fake: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.InternalServerError) as info:
        await client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True)

    assert info.value.status_code == 500
    assert "fake server: no scripted response" in str(info.value)


# -- recording, models, helpers --------------------------------------------------------------


async def test_request_is_recorded(fake: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    fake.queue(Reply("ok"))

    await collect(await client.chat.completions.create(
        model="fake-local-model", messages=MESSAGES, stream=True, stream_options={"include_usage": True},
        temperature=0.5))

    assert fake.last_body == {"model": "fake-local-model", "messages": MESSAGES, "stream": True,
                              "stream_options": {"include_usage": True}, "temperature": 0.5}
    request = fake.requests[-1]
    assert (request.method, request.path) == ("POST", "/v1/chat/completions")
    assert request.headers["authorization"] == "Bearer sk-test"
    assert request.headers["content-type"] == "application/json"
    assert fake.chat_requests == [request]


def test_last_body_without_requests_fails_loudly(fake: FakeOpenAI) -> None:
    with pytest.raises(AssertionError, match="no chat-completions request"):
        fake.last_body  # noqa: B018 - reading the property is what fails


async def test_models_are_listed(client: openai.AsyncOpenAI) -> None:
    models = [model.id async for model in client.models.list()]

    assert models == ["gpt-4o-mini", "fake-local-model"]


async def test_custom_models_and_unknown_route() -> None:
    with FakeOpenAI(models=["only-model"]) as server:
        async with openai.AsyncOpenAI(base_url=server.base_url, api_key="sk-test", max_retries=0) as sdk:
            assert [m.id async for m in sdk.models.list()] == ["only-model"]
            with pytest.raises(openai.NotFoundError):
                await sdk.embeddings.create(model="x", input="y")


def test_queue_rejects_non_responses(fake: FakeOpenAI) -> None:
    with pytest.raises(TypeError):
        fake.queue("Hello")  # type: ignore[arg-type]


@pytest.mark.parametrize("text", ["Hello there, world!", "  lead and trail  ", "a\nb\n\nc", "", "word"])
def test_split_words_round_trips(text: str) -> None:
    assert "".join(split_words(text)) == text


def test_split_words_gives_several_pieces() -> None:
    assert split_words("Hello there, world!") == ["Hello", " there,", " world!"]


def test_standalone_server_serves_reply_forever() -> None:
    with subprocess.Popen([sys.executable, str(FAKE_MODULE), "--reply", "Hi from afar"],
                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True) as proc:
        try:
            assert proc.stdout is not None
            base_url = proc.stdout.readline().strip()
            assert base_url.startswith("http://127.0.0.1:") and base_url.endswith("/v1")
            with openai.OpenAI(base_url=base_url, api_key="sk-test", max_retries=0) as sdk:
                for _ in range(2):
                    stream = sdk.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True)
                    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices) == "Hi from afar"
                completion = sdk.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
                assert completion.choices[0].message.content == "Hi from afar"
        finally:
            proc.terminate()
            proc.wait(timeout=5)


def test_run_by_hand_it_says_what_it_does_and_answers_without_a_script() -> None:
    with subprocess.Popen([sys.executable, str(FAKE_MODULE)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True) as proc:
        try:
            assert proc.stdout is not None and proc.stderr is not None
            base_url = proc.stdout.readline().strip()
            said = proc.stderr.readline()
            assert base_url in said and "every chat request is answered" in said
            with openai.OpenAI(base_url=base_url, api_key="sk-test", max_retries=0) as sdk:
                completion = sdk.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
                assert completion.choices[0].message.content == MANUAL_REPLY
        finally:
            proc.terminate()
            proc.wait(timeout=5)


def test_unscripted_by_hand_and_the_fixture_still_fail_loudly(fake: FakeOpenAI) -> None:
    with openai.OpenAI(base_url=fake.base_url, api_key="sk-test", max_retries=0) as sdk, \
            pytest.raises(openai.InternalServerError, match="no scripted response"):
        sdk.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    with subprocess.Popen([sys.executable, str(FAKE_MODULE), "--unscripted"], stdout=subprocess.PIPE,
                          stderr=subprocess.DEVNULL, text=True) as proc:
        try:
            assert proc.stdout is not None
            base_url = proc.stdout.readline().strip()
            with openai.OpenAI(base_url=base_url, api_key="sk-test", max_retries=0) as sdk, \
                    pytest.raises(openai.InternalServerError, match="no scripted response"):
                sdk.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
        finally:
            proc.terminate()
            proc.wait(timeout=5)
