"""ChatClient against the fake OpenAI server: events, request bodies, error mapping, retries, key hygiene."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from chatbot.core import errors
from chatbot.core.client import ChatClient
from chatbot.core.conversation import Message
from chatbot.core.events import Finished, ReasoningDelta, Retrying, TextDelta, UsageReport
from fake_openai import Error, FakeOpenAI, Hang, Reply
from support import SleepRecorder, closed_port

KEY = "sk-test-SECRETSECRET1234"
ECHO = f"Incorrect API key provided: {KEY}"


@pytest.fixture
def sleeps() -> SleepRecorder:
    return SleepRecorder()


@pytest.fixture
async def make_client(fake: FakeOpenAI, sleeps: SleepRecorder) -> AsyncIterator[Callable[..., ChatClient]]:
    created: list[ChatClient] = []

    def make(**kw: Any) -> ChatClient:
        kw.setdefault("api_key", KEY)
        kw.setdefault("base_url", fake.base_url)
        kw.setdefault("timeout", 10.0)
        kw.setdefault("max_retries", 2)
        kw.setdefault("sleep", sleeps)
        client = ChatClient(**kw)
        created.append(client)
        return client

    yield make
    for client in created:
        await client.aclose()


@pytest.fixture
def client(make_client: Callable[..., ChatClient]) -> ChatClient:
    return make_client()


def conversation(system: str = "Be brief.", user: str = "hi") -> list[Message]:
    return [Message("system", system), Message("user", user)]


async def collect(client: ChatClient, settings: Any, *, model: str | None = None, preset: str | None = None,
                  messages: list[Message] | None = None, into: list[Any] | None = None) -> list[Any]:
    """Every event of one streamed reply. `into` receives events as they arrive, so they survive a raise."""
    events = [] if into is None else into
    spec = settings.model_spec(model)
    async for event in client.stream(messages or conversation(), spec, settings.active_preset(preset)):
        events.append(event)
    return events


def deltas(events: list[Any]) -> list[str]:
    return [e.text for e in events if isinstance(e, TextDelta)]


def reasoning(events: list[Any]) -> list[str]:
    return [e.text for e in events if isinstance(e, ReasoningDelta)]


def assert_no_key(exc: BaseException) -> None:
    for text in (str(exc), repr(exc), getattr(exc, "message", ""), getattr(exc, "hint", ""), *map(str, exc.args)):
        assert KEY not in text, text
        assert "SECRETSECRET" not in text, text


# -- the happy path --------------------------------------------------------------------------


async def test_deltas_usage_and_finish_arrive_in_order(fake: FakeOpenAI, client: ChatClient, make_settings) -> None:
    fake.queue(Reply(["Hel", "lo", " there", "!"], prompt_tokens=21, completion_tokens=5, cached_tokens=8))

    events = await collect(client, make_settings())

    assert events == [
        TextDelta("Hel"), TextDelta("lo"), TextDelta(" there"), TextDelta("!"),
        UsageReport(events[4].usage, "req_1"), Finished("stop"),
    ]
    usage = events[4].usage
    assert (usage.prompt_tokens, usage.completion_tokens, usage.cached_tokens) == (21, 5, 8)
    assert usage.estimated is False
    assert events[-1].note is None


async def test_request_body_streams_with_usage(fake: FakeOpenAI, client: ChatClient, make_settings) -> None:
    fake.queue(Reply("ok"))

    await collect(client, make_settings(model="gpt-4o-mini"), messages=conversation("Sys.", "What is 2+2?"))

    body = fake.last_body
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    assert body["model"] == "gpt-4o-mini"
    assert body["messages"] == [{"role": "system", "content": "Sys."}, {"role": "user", "content": "What is 2+2?"}]
    request = fake.chat_requests[-1]
    assert request.headers["authorization"] == f"Bearer {KEY}"


@pytest.mark.parametrize("model", ["gpt-5", "o3", "o4-mini"])
async def test_reasoning_models_get_developer_role_and_no_sampling(fake: FakeOpenAI, client: ChatClient,
                                                                   make_settings, model: str) -> None:
    fake.queue(Reply("ok"))
    settings = make_settings(model=model, temperature=0.5, top_p=0.9, max_tokens=1234)

    await collect(client, settings)

    body = fake.last_body
    assert body["model"] == model
    assert "temperature" not in body and "top_p" not in body
    assert "max_tokens" not in body
    assert body["max_completion_tokens"] == 1234
    assert body["messages"][0] == {"role": "developer", "content": "Be brief."}
    assert body["messages"][1]["role"] == "user"


async def test_gpt_4o_gets_sampling_max_tokens_and_system_role(fake: FakeOpenAI, client: ChatClient,
                                                              make_settings) -> None:
    fake.queue(Reply("ok"))
    settings = make_settings(model="gpt-4o", temperature=0.5, top_p=0.9, max_tokens=1234)

    await collect(client, settings)

    body = fake.last_body
    assert body["temperature"] == 0.5
    assert body["top_p"] == 0.9
    assert body["max_tokens"] == 1234
    assert "max_completion_tokens" not in body
    assert body["messages"][0] == {"role": "system", "content": "Be brief."}
    assert "response_format" not in body


async def test_extraction_preset_asks_for_json(fake: FakeOpenAI, client: ChatClient, make_settings) -> None:
    fake.queue(Reply('{"a": 1}'))

    events = await collect(client, make_settings(model="gpt-4o", preset="extraction"))

    body = fake.last_body
    assert body["response_format"] == {"type": "json_object"}
    assert body["temperature"] == 0.0
    assert body["max_tokens"] == 2000
    assert "".join(deltas(events)) == '{"a": 1}'


@pytest.mark.parametrize(("model", "asked", "param", "sent"), [
    ("gpt-4o-mini", None, "max_tokens", 4096),  # the balanced preset's, under the cap
    ("gpt-4o", 100_000, "max_tokens", 16_384),
    ("o3", 150_000, "max_completion_tokens", 100_000),
    ("gpt-5", 500_000, "max_completion_tokens", 128_000),
    ("my-local-model", 20_000, "max_tokens", 8192),  # unknown: capped by the default context window
])
async def test_max_tokens_always_sent_and_capped_by_max_output(fake: FakeOpenAI, client: ChatClient, make_settings,
                                                               model: str, asked: int | None, param: str,
                                                               sent: int) -> None:
    fake.queue(Reply("ok"))

    await collect(client, make_settings(model=model, max_tokens=asked))

    assert fake.last_body[param] == sent


async def test_missing_usage_is_reported_as_none(fake: FakeOpenAI, client: ChatClient, make_settings) -> None:
    fake.queue(Reply("The quick brown fox.", send_usage=False))

    events = await collect(client, make_settings())

    reports = [e for e in events if isinstance(e, UsageReport)]
    assert len(reports) == 1 and reports[0].usage is None  # the session estimates it
    assert events[-1] == Finished("stop")


async def test_finish_reason_length_has_a_note(fake: FakeOpenAI, client: ChatClient, make_settings) -> None:
    fake.queue(Reply("cut o", finish_reason="length"))

    events = await collect(client, make_settings())

    assert events[-1] == Finished("length")
    assert "max_tokens" in events[-1].note


async def test_stream_without_done_ends_normally(fake: FakeOpenAI, client: ChatClient, make_settings) -> None:
    fake.queue(Reply("a b c", send_done=False, prompt_tokens=3))

    events = await collect(client, make_settings())

    assert deltas(events) == ["a", " b", " c"]
    assert isinstance(events[-2], UsageReport) and events[-2].usage.prompt_tokens == 3
    assert events[-1] == Finished("stop")


@pytest.mark.parametrize("reply", [
    Reply("a b", finish_reason=None),  # [DONE] with no finish_reason, as llama.cpp's server ends a stream
    Reply("a b", finish_reason=None, send_done=False, chunked=False),  # Connection: close, EOF, no finish
    Reply("a b c d", drop_after=2, chunked=False),  # a proxy's connection closed mid-reply: a clean EOF
], ids=["done-without-finish", "eof-without-finish", "eof-mid-reply"])
async def test_a_stream_ending_without_finish_reason_is_cut_off(fake: FakeOpenAI, client: ChatClient, make_settings,
                                                                 reply: Reply) -> None:
    fake.queue(reply, Reply("must not be requested"))
    events: list[Any] = []

    with pytest.raises(errors.StreamDroppedError) as info:
        await collect(client, make_settings(), into=events)

    assert [e for e in events if isinstance(e, TextDelta)] == [TextDelta("a"), TextDelta(" b")]
    assert not any(isinstance(e, Finished) for e in events)
    assert "broke off" in info.value.message
    assert info.value.exit_code == errors.EXIT_NETWORK
    assert fake.pending == 1  # a reply that has started is never retried


async def test_a_stream_interrupted_by_another_request_is_cut_off(make_client, make_settings) -> None:
    with FakeOpenAI(interrupting=True) as fake:
        fake.queue(Reply("one two three four five six", chunk_delay=0.05))
        client = make_client(base_url=fake.base_url)
        events: list[Any] = []
        with pytest.raises(errors.StreamDroppedError):
            async for event in client.stream(conversation(), make_settings().model_spec(None),
                                             make_settings().active_preset(None)):
                events.append(event)
                if event == TextDelta("one"):
                    await client.list_models()  # what a model menu would do mid-reply

    assert events[0] == TextDelta("one")
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) != "one two three four five six"


async def test_an_empty_stream_without_finish_reason_is_a_server_error(fake: FakeOpenAI, make_client,
                                                                       make_settings) -> None:
    fake.queue(Reply([], finish_reason=None))
    client = make_client(max_retries=0)

    with pytest.raises(errors.ServerError, match="without a reply"):
        await collect(client, make_settings())


# -- reasoning ---------------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["reasoning_content", "reasoning"])
async def test_reasoning_streams_apart_from_the_reply(fake: FakeOpenAI, client: ChatClient, make_settings,
                                                      field: str) -> None:
    fake.queue(Reply(["The", " answer."], reasoning=["Two", " plus", " two."], reasoning_field=field))

    events = await collect(client, make_settings())

    assert events[:5] == [ReasoningDelta("Two"), ReasoningDelta(" plus"), ReasoningDelta(" two."),
                          TextDelta("The"), TextDelta(" answer.")]
    assert deltas(events) == ["The", " answer."]  # the reasoning is no part of the reply
    assert events[-1] == Finished("stop")


async def test_reasoning_sent_in_both_fields_arrives_once(fake: FakeOpenAI, client: ChatClient,
                                                          make_settings) -> None:
    # A server between the two names (vLLM during its rename) sends the same text in both.
    fake.queue(Reply("ok", reasoning="Think once.", reasoning_field="both"))

    events = await collect(client, make_settings())

    assert "".join(reasoning(events)) == "Think once."
    assert deltas(events) == ["ok"]


async def test_reasoning_tokens_are_read_from_usage_and_stay_inside_completion(fake: FakeOpenAI, client: ChatClient,
                                                                               make_settings) -> None:
    fake.queue(Reply("Paris.", reasoning="Capital of France.", prompt_tokens=40, completion_tokens=900,
                     reasoning_tokens=850))

    events = await collect(client, make_settings(model="o4-mini"))

    usage = next(e.usage for e in events if isinstance(e, UsageReport))
    assert (usage.prompt_tokens, usage.completion_tokens, usage.reasoning_tokens) == (40, 900, 850)


async def test_reasoning_tokens_are_never_more_than_the_completion(fake: FakeOpenAI, client: ChatClient,
                                                                   make_settings) -> None:
    fake.queue(Reply("ok", completion_tokens=10, reasoning_tokens=50))

    events = await collect(client, make_settings())

    usage = next(e.usage for e in events if isinstance(e, UsageReport))
    assert (usage.completion_tokens, usage.reasoning_tokens) == (10, 10)


async def test_a_reply_of_reasoning_alone_that_finishes_is_finished(fake: FakeOpenAI, client: ChatClient,
                                                                    make_settings) -> None:
    # max_tokens spent on thinking: the model stops with finish_reason "length" and no reply text.
    fake.queue(Reply([], reasoning="Long thought", finish_reason="length"))

    events = await collect(client, make_settings(model="o3"))

    assert reasoning(events) == ["Long", " thought"] and deltas(events) == []
    assert events[-1] == Finished("length")


@pytest.mark.parametrize("reply", [
    Reply([], reasoning="Let me think", finish_reason=None),  # [DONE] without a finish_reason
    Reply("never sent", reasoning="Let me think", drop_after=2),  # connection lost mid-reasoning
    Reply("never sent", reasoning="Let me think", malformed_after=1),
], ids=["done-without-finish", "dropped", "malformed"])
async def test_reasoning_alone_then_cut_off_is_broken_off_and_not_retried(fake: FakeOpenAI, client: ChatClient,
                                                                          make_settings, sleeps: SleepRecorder,
                                                                          reply: Reply) -> None:
    # Not "the server ended the stream without a reply" (which is retried): the model had started, and its
    # reasoning tokens are billed, so a retry would pay for them twice.
    fake.queue(reply, Reply("must not be requested"))
    events: list[Any] = []

    with pytest.raises(errors.StreamDroppedError) as info:
        await collect(client, make_settings(), into=events)

    assert reasoning(events) and deltas(events) == []
    assert "while the model was reasoning" in info.value.message
    assert "no reply text" in info.value.hint
    assert info.value.exit_code == errors.EXIT_NETWORK
    assert fake.pending == 1
    assert sleeps.delays == []


@pytest.mark.parametrize(("model", "effort"), [("o3", "high"), ("gpt-5", "minimal"), ("gpt-5.1", "none"),
                                               ("gpt-5.4", "xhigh")])
async def test_a_presets_reasoning_effort_goes_to_a_reasoning_model(fake: FakeOpenAI, client: ChatClient,
                                                                    make_settings, model: str, effort: str) -> None:
    fake.queue(Reply("ok"))
    settings = make_settings(model=model, presets={"deep": {"reasoning_effort": effort}}, preset="deep")

    await collect(client, settings)

    assert fake.last_body["reasoning_effort"] == effort


async def test_no_reasoning_effort_is_sent_to_a_model_that_samples(fake: FakeOpenAI, client: ChatClient,
                                                                   make_settings) -> None:
    fake.queue(Reply("ok"))
    settings = make_settings(model="gpt-4o", presets={"deep": {"reasoning_effort": "high"}}, preset="deep")

    await collect(client, settings)

    assert "reasoning_effort" not in fake.last_body
    assert fake.last_body["temperature"] == 1.0  # balanced's, which the preset keeps


@pytest.mark.parametrize("preset", ["balanced", "support", "writing", "extraction"])
async def test_builtin_presets_leave_the_effort_to_the_model(fake: FakeOpenAI, client: ChatClient, make_settings,
                                                             preset: str) -> None:
    fake.queue(Reply("{}"))

    await collect(client, make_settings(model="o3", preset=preset))

    assert "reasoning_effort" not in fake.last_body


@pytest.mark.parametrize(("model", "effort", "takes"), [
    ("o3", "minimal", "it takes low, medium, high"),
    ("gpt-5", "none", "it takes minimal, low, medium, high"),
    ("gpt-5.1", "xhigh", "it takes none, low, medium, high"),
])
async def test_an_effort_the_model_does_not_take_is_refused_before_sending(fake: FakeOpenAI, client: ChatClient,
                                                                           make_settings, model: str, effort: str,
                                                                           takes: str) -> None:
    fake.queue(Reply("must not be requested"))
    settings = make_settings(model=model, presets={"deep": {"reasoning_effort": effort}}, preset="deep")

    with pytest.raises(errors.ConfigError) as info:
        await collect(client, settings)

    assert info.value.message == f"model {model!r} does not take reasoning_effort {effort!r} (preset 'deep')"
    assert info.value.hint.startswith(takes + ":")
    assert info.value.exit_code == errors.EXIT_USAGE
    assert fake.chat_requests == []


async def test_an_effort_for_a_reasoning_model_that_takes_none_says_where_to_list_them(
        fake: FakeOpenAI, client: ChatClient, make_settings) -> None:
    settings = make_settings(model="my-reasoner", models={"my-reasoner": {"reasoning": True}},
                             presets={"deep": {"reasoning_effort": "high"}}, preset="deep")

    with pytest.raises(errors.ConfigError) as info:
        await collect(client, settings)

    assert "it takes none" in info.value.hint
    assert 'reasoning_efforts under [models."my-reasoner"]' in info.value.hint
    assert fake.chat_requests == []


# -- error mapping ---------------------------------------------------------------------------


@pytest.mark.parametrize(("scripted", "error_type"), [
    (Error(401, ECHO, type="invalid_request_error", code="invalid_api_key"), errors.AuthError),
    (Error(403, "Project does not have access to model", code="model_not_found"), errors.PermissionError_),
    (Error(400, "Invalid value for 'temperature'", code="invalid_value"), errors.BadRequestError),
    (Error(422, "unprocessable"), errors.BadRequestError),
    (Error(429, "You exceeded your current quota", type="insufficient_quota", code="insufficient_quota"),
     errors.QuotaError),
])
async def test_http_errors_map_to_chat_errors_without_retry(fake: FakeOpenAI, client: ChatClient, make_settings,
                                                            sleeps: SleepRecorder, scripted: Error,
                                                            error_type: type) -> None:
    fake.queue(scripted, Reply("must not be requested"))

    with pytest.raises(errors.ChatError) as info:
        await collect(client, make_settings())

    assert type(info.value) is error_type
    assert info.value.retryable is False
    assert scripted.message.split(":")[0] in info.value.message
    assert len(fake.chat_requests) == 1
    assert fake.pending == 1
    assert sleeps.delays == []
    assert_no_key(info.value)


async def test_404_names_the_model(fake: FakeOpenAI, client: ChatClient, make_settings) -> None:
    fake.queue(Error(404, "The model `gpt-9` does not exist", code="model_not_found"))

    with pytest.raises(errors.ModelNotFoundError) as info:
        await collect(client, make_settings(model="gpt-9"))

    assert "'gpt-9'" in info.value.message
    assert info.value.exit_code == errors.EXIT_USAGE


async def test_context_length_exceeded(fake: FakeOpenAI, client: ChatClient, make_settings) -> None:
    fake.queue(Error(400, "This model's maximum context length is 128000 tokens.", code="context_length_exceeded"))

    with pytest.raises(errors.ContextTooLongError) as info:
        await collect(client, make_settings())

    assert info.value.exit_code == errors.EXIT_CONTEXT
    assert len(fake.chat_requests) == 1


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_5xx_is_a_server_error(fake: FakeOpenAI, make_client, make_settings, status: int) -> None:
    fake.queue(Error(status, "upstream trouble", type="server_error"))
    client = make_client(max_retries=0)

    with pytest.raises(errors.ServerError) as info:
        await collect(client, make_settings())

    assert f"({status})" in info.value.message
    assert info.value.retryable is True
    assert info.value.exit_code == errors.EXIT_NETWORK


async def test_timeout(fake: FakeOpenAI, make_client, make_settings) -> None:
    hang = Hang()
    fake.queue(hang)
    client = make_client(timeout=0.3, max_retries=0)

    with pytest.raises(errors.TimeoutError_) as info:
        await collect(client, make_settings())

    hang.release()
    assert fake.base_url in info.value.message
    assert len(fake.chat_requests) == 1


async def test_timeout_waiting_for_the_first_chunk(fake: FakeOpenAI, make_client, make_settings) -> None:
    fake.queue(Reply("late", first_chunk_delay=30))
    client = make_client(timeout=0.3, max_retries=0)
    events: list[Any] = []

    with pytest.raises(errors.TimeoutError_):
        await collect(client, make_settings(), into=events)

    assert events == []


async def test_connection_refused(make_client, make_settings) -> None:
    url = f"http://127.0.0.1:{closed_port()}/v1"
    client = make_client(base_url=url, max_retries=0)

    with pytest.raises(errors.ConnectionError_) as info:
        await collect(client, make_settings(base_url=url))

    assert url in info.value.message
    assert info.value.exit_code == errors.EXIT_NETWORK


async def test_connection_refused_is_retried_then_raised(make_client, make_settings, sleeps: SleepRecorder) -> None:
    url = f"http://127.0.0.1:{closed_port()}/v1"
    client = make_client(base_url=url, max_retries=2)
    events: list[Any] = []

    with pytest.raises(errors.ConnectionError_):
        await collect(client, make_settings(base_url=url), into=events)

    assert [e.attempt for e in events if isinstance(e, Retrying)] == [1, 2]
    assert len(sleeps.delays) == 2


async def test_drop_mid_stream_keeps_deltas_and_is_not_retried(fake: FakeOpenAI, client: ChatClient, make_settings,
                                                               sleeps: SleepRecorder) -> None:
    fake.queue(Reply("one two three four", drop_after=2), Reply("must not be requested"))
    events: list[Any] = []

    with pytest.raises(errors.StreamDroppedError) as info:
        await collect(client, make_settings(), into=events)

    assert events == [TextDelta("one"), TextDelta(" two")]
    assert len(fake.chat_requests) == 1
    assert fake.pending == 1
    assert sleeps.delays == []
    assert info.value.retryable is False
    assert info.value.exit_code == errors.EXIT_NETWORK


async def test_malformed_sse_before_any_text_is_a_server_error(fake: FakeOpenAI, make_client,
                                                               make_settings) -> None:
    fake.queue(Reply("a b c", malformed_after=0))
    client = make_client(max_retries=0)

    with pytest.raises(errors.ServerError) as info:
        await collect(client, make_settings())

    assert "malformed" in info.value.message


async def test_malformed_sse_after_text_is_a_drop(fake: FakeOpenAI, client: ChatClient, make_settings) -> None:
    fake.queue(Reply("a b c", malformed_after=1), Reply("must not be requested"))
    events: list[Any] = []

    with pytest.raises(errors.StreamDroppedError) as info:
        await collect(client, make_settings(), into=events)

    assert deltas(events) == ["a"]
    assert "malformed" in info.value.message
    assert len(fake.chat_requests) == 1


async def test_error_object_inside_a_200_stream_after_text(fake: FakeOpenAI, client: ChatClient,
                                                           make_settings) -> None:
    fake.queue(Reply("partial answer", error_in_stream={"message": f"backend crashed; {ECHO}",
                                                        "type": "server_error", "code": 500}))
    events: list[Any] = []

    with pytest.raises(errors.StreamDroppedError) as info:
        await collect(client, make_settings(), into=events)

    assert deltas(events) == ["partial", " answer"]
    assert "backend crashed" in info.value.message
    assert len(fake.chat_requests) == 1
    assert_no_key(info.value)


async def test_error_object_inside_a_200_stream_before_text(fake: FakeOpenAI, make_client, make_settings) -> None:
    fake.queue(Reply([], error_in_stream={"message": "model failed to load", "type": "server_error"}))
    client = make_client(max_retries=0)

    with pytest.raises(errors.ServerError) as info:
        await collect(client, make_settings())

    assert "model failed to load" in info.value.message


# -- retries ---------------------------------------------------------------------------------


async def test_429_with_retry_after_is_retried(fake: FakeOpenAI, client: ChatClient, make_settings,
                                               sleeps: SleepRecorder) -> None:
    fake.queue(Error(429, "Rate limit reached", type="requests", code="rate_limit_exceeded", retry_after=0.05),
               Reply("after the wait"))

    events = await collect(client, make_settings())

    assert isinstance(events[0], Retrying)
    assert events[0].attempt == 1
    assert events[0].delay == pytest.approx(0.05)
    assert isinstance(events[0].error, errors.RateLimitError)
    assert sleeps.delays == [pytest.approx(0.05)]
    assert "".join(deltas(events)) == "after the wait"
    assert events[-1] == Finished("stop")
    assert len(fake.chat_requests) == 2
    assert fake.chat_requests[0].body == fake.chat_requests[1].body


async def test_retry_after_ms_header_wins(fake: FakeOpenAI, client: ChatClient, make_settings,
                                          sleeps: SleepRecorder) -> None:
    fake.queue(Error(429, "slow down", headers={"retry-after-ms": "250", "Retry-After": "3"}), Reply("ok"))

    await collect(client, make_settings())

    assert sleeps.delays == [pytest.approx(0.25)]


async def test_503_then_success(fake: FakeOpenAI, client: ChatClient, make_settings, sleeps: SleepRecorder) -> None:
    fake.queue(Error(503, "overloaded", type="server_error"), Reply("fine now"))

    events = await collect(client, make_settings())

    retrying = [e for e in events if isinstance(e, Retrying)]
    assert len(retrying) == 1
    assert isinstance(retrying[0].error, errors.ServerError)
    # No Retry-After: exponential backoff from 0.5 s with +-25 % jitter.
    assert 0.5 * 0.75 <= retrying[0].delay <= 0.5 * 1.25
    assert sleeps.delays == [retrying[0].delay]
    assert "".join(deltas(events)) == "fine now"
    assert len(fake.chat_requests) == 2


async def test_retries_exhausted(fake: FakeOpenAI, make_client, make_settings, sleeps: SleepRecorder) -> None:
    fake.queue(*(Error(503, "overloaded", type="server_error") for _ in range(4)), Reply("too late"))
    client = make_client(max_retries=3)
    events: list[Any] = []

    with pytest.raises(errors.ServerError):
        await collect(client, make_settings(), into=events)

    assert [e.attempt for e in events if isinstance(e, Retrying)] == [1, 2, 3]
    assert len(fake.chat_requests) == 4
    assert fake.pending == 1
    assert sleeps.delays == [e.delay for e in events if isinstance(e, Retrying)]
    # Exponential: each base doubles (0.5, 1, 2) before jitter of +-25 %.
    for delay, base in zip(sleeps.delays, (0.5, 1.0, 2.0), strict=True):
        assert base * 0.75 <= delay <= base * 1.25


async def test_no_retries_when_max_retries_is_zero(fake: FakeOpenAI, make_client, make_settings,
                                                   sleeps: SleepRecorder) -> None:
    fake.queue(Error(429, "Rate limit reached", retry_after=0), Reply("not requested"))
    client = make_client(max_retries=0)

    with pytest.raises(errors.RateLimitError):
        await collect(client, make_settings())

    assert len(fake.chat_requests) == 1
    assert sleeps.delays == []


async def test_retry_after_above_retry_max_wait_fails_at_once(fake: FakeOpenAI, make_client, make_settings,
                                                              sleeps: SleepRecorder) -> None:
    fake.queue(Error(429, "Rate limit reached", retry_after=30), Reply("not requested"))
    client = make_client(retry_max_wait=5.0)
    events: list[Any] = []

    with pytest.raises(errors.RateLimitError) as info:
        await collect(client, make_settings(), into=events)

    assert info.value.retry_after == 30
    assert events == []
    assert sleeps.delays == []
    assert len(fake.chat_requests) == 1


async def test_retryable_error_after_first_token_is_never_retried(fake: FakeOpenAI, client: ChatClient,
                                                                  make_settings, sleeps: SleepRecorder) -> None:
    fake.queue(Reply("first", error_in_stream={"message": "overloaded", "type": "server_error"}),
               Reply("must not be requested"))
    events: list[Any] = []

    with pytest.raises(errors.StreamDroppedError):
        await collect(client, make_settings(), into=events)

    assert events == [TextDelta("first")]
    assert not any(isinstance(e, Retrying) for e in events)
    assert sleeps.delays == []
    assert len(fake.chat_requests) == 1


# -- the API key never leaks -----------------------------------------------------------------


@pytest.mark.parametrize("scripted", [
    Error(401, ECHO, code="invalid_api_key"),
    Error(403, ECHO),
    Error(404, ECHO, code="model_not_found"),
    Error(400, ECHO),
    Error(400, ECHO, code="context_length_exceeded"),
    Error(429, ECHO, code="insufficient_quota"),
    Error(500, ECHO, type="server_error"),
    Reply("partial", error_in_stream={"message": ECHO, "type": "server_error"}),
    Reply([], error_in_stream={"message": ECHO, "type": "server_error"}),
])
async def test_key_never_in_raised_errors(fake: FakeOpenAI, make_client, make_settings, scripted: Any) -> None:
    fake.queue(scripted)
    client = make_client(max_retries=0)

    with pytest.raises(errors.ChatError) as info:
        await collect(client, make_settings())

    assert "[redacted]" in info.value.message
    assert_no_key(info.value)


async def test_key_never_in_retrying_event(fake: FakeOpenAI, client: ChatClient, make_settings) -> None:
    fake.queue(Error(429, f"Rate limited for {KEY}", retry_after=0), Reply("ok"))

    events = await collect(client, make_settings())

    assert isinstance(events[0], Retrying)
    assert_no_key(events[0].error)
    assert KEY not in repr(events[0])


async def test_key_shaped_strings_are_redacted_even_if_not_ours(fake: FakeOpenAI, make_client,
                                                                make_settings) -> None:
    fake.queue(Error(401, "Incorrect API key provided: sk-proj-abc*************************wxyz"))
    client = make_client(max_retries=0)

    with pytest.raises(errors.AuthError) as info:
        await collect(client, make_settings())

    assert "wxyz" not in str(info.value)


async def test_missing_key_for_openai_itself_fails_before_any_request(make_client, make_settings,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    # Should the check ever let a request through, it goes to a closed local port, never the network.
    guard = f"http://127.0.0.1:{closed_port()}"
    for var in ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "https_proxy", "http_proxy", "all_proxy"):
        monkeypatch.setenv(var, guard)
    client = make_client(api_key=None, base_url=None, max_retries=0)

    with pytest.raises(errors.AuthError) as info:
        await collect(client, make_settings())

    assert "OPENAI_API_KEY" in str(info.value)


WARM_THEN_STREAM = """
import asyncio, sys
from chatbot.core.client import ChatClient
from chatbot.core.settings import Settings

async def main() -> None:
    settings = Settings(model="gpt-4o-mini")
    client = ChatClient(api_key="sk-test", base_url=sys.argv[1], timeout=10.0, max_retries=0)
    client.warm()
    before = set(sys.modules)
    async for _ in client.stream([], settings.model_spec(None), settings.active_preset(None)):
        pass
    await client.aclose()
    print(" ".join(sorted(set(sys.modules) - before)))

asyncio.run(main())
"""


def test_warming_the_client_loads_what_its_first_request_would(fake: FakeOpenAI, tmp_path) -> None:
    """The app warms the client after its first paint: the first reply's request then imports nothing of the
    SDK or its HTTP stack (it took 20-40 ms before the first words came, the screen busy meanwhile)."""
    import subprocess
    import sys

    fake.queue(Reply("ok"))
    done = subprocess.run([sys.executable, "-c", WARM_THEN_STREAM, fake.base_url], capture_output=True, text=True,
                          timeout=120, cwd=tmp_path, check=True)
    loaded = done.stdout.split()
    assert fake.chat_requests, done.stderr
    assert [name for name in loaded if name.split(".")[0] in {"openai", "anyio", "httpx", "httpcore"}] == []
