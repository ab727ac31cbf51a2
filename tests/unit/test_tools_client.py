"""The client with tools, against the fake server: what is sent, and tool calls put back together from the
fragments each kind of server streams."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from chatbot.core import errors
from chatbot.core.client import ChatClient
from chatbot.core.conversation import Message
from chatbot.core.events import Finished, TextDelta, ToolCall, ToolCalls, UsageReport
from fake_openai import OLLAMA_NO_TOOLS, FakeOpenAI, Reply, tool_call, whole_calls

KEY = "sk-test-SECRETSECRET1234"
WEATHER = {"type": "function", "function": {
    "name": "weather__get_current_weather", "description": "Get the current weather in a given location",
    "parameters": {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]}}}


@pytest.fixture
async def client(fake: FakeOpenAI) -> AsyncIterator[ChatClient]:
    chat = ChatClient(api_key=KEY, base_url=fake.base_url, timeout=10.0, max_retries=0)
    yield chat
    await chat.aclose()


async def collect(client: ChatClient, settings: Any, *, model: str | None = None,
                  tools: list[dict[str, Any]] | None = None) -> list[Any]:
    spec = settings.model_spec(model)
    messages = [Message("system", "Be brief."), Message("user", "weather?")]
    if tools is None:
        return [event async for event in client.stream(messages, spec, settings.active_preset())]
    return [event async for event in client.stream(messages, spec, settings.active_preset(), tools=tools)]


def the_calls(events: list[Any]) -> tuple[ToolCall, ...]:
    found = [e for e in events if isinstance(e, ToolCalls)]
    assert len(found) == 1, events
    return found[0].calls


# -- what is sent ------------------------------------------------------------------------------

async def test_tools_go_with_tool_choice_auto(fake: FakeOpenAI, client: ChatClient, make_settings) -> None:
    fake.queue(Reply("fine"))
    await collect(client, make_settings(), model="gpt-4o", tools=[WEATHER])
    assert fake.last_body["tools"] == [WEATHER]
    assert fake.last_body["tool_choice"] == "auto"


async def test_a_model_the_catalogue_says_takes_no_tools_is_sent_none(fake: FakeOpenAI, client: ChatClient,
                                                                       make_settings) -> None:
    fake.queue(Reply("fine"))
    settings = make_settings(models={"gpt-4o": {"tools": False}})
    await collect(client, settings, model="gpt-4o", tools=[WEATHER])
    assert "tools" not in fake.last_body
    assert "tool_choice" not in fake.last_body


async def test_a_model_nobody_describes_is_tried_with_tools(fake: FakeOpenAI, client: ChatClient,
                                                            make_settings) -> None:
    fake.queue(Reply("fine"))
    await collect(client, make_settings(), model="fake-local-model", tools=[WEATHER])
    assert fake.last_body["tools"] == [WEATHER]


async def test_no_tools_no_tools_key(fake: FakeOpenAI, client: ChatClient, make_settings) -> None:
    fake.queue(Reply("fine"))
    await collect(client, make_settings(), model="gpt-4o", tools=[])
    assert "tools" not in fake.last_body


# -- assembling the calls ----------------------------------------------------------------------

async def test_fragments_of_one_call_are_joined_and_parsed(fake: FakeOpenAI, client: ChatClient,
                                                           make_settings) -> None:
    fake.queue(Reply([], tool_calls=tool_call("call_a", "weather__get_current_weather",
                                              '{"location": "Paris, FR"}', pieces=5),
                     finish_reason="tool_calls"))
    events = await collect(client, make_settings(), tools=[WEATHER])
    assert the_calls(events) == (ToolCall("call_a", "weather__get_current_weather", {"location": "Paris, FR"},
                                          '{"location": "Paris, FR"}'),)
    # The calls come complete, after the usage and before how the reply finished.
    assert [type(e) for e in events[-3:]] == [UsageReport, ToolCalls, Finished]
    assert events[-1] == Finished("tool_calls")


async def test_parallel_calls_keep_their_order_by_index(fake: FakeOpenAI, client: ChatClient,
                                                        make_settings) -> None:
    first = tool_call("call_1", "a__one", '{"x": 1}', index=0)
    second = tool_call("call_2", "a__two", '{"y": 2}', index=1)
    interleaved = [first[0], second[0], first[1], second[1], *first[2:], *second[2:]]
    fake.queue(Reply([], tool_calls=interleaved, finish_reason="tool_calls"))
    calls = the_calls(await collect(client, make_settings(), tools=[WEATHER]))
    assert [(c.id, c.name, dict(c.arguments)) for c in calls] == [("call_1", "a__one", {"x": 1}),
                                                                  ("call_2", "a__two", {"y": 2})]


async def test_ollamas_parallel_calls_all_at_index_0_are_told_apart_by_id(fake: FakeOpenAI, client: ChatClient,
                                                                          make_settings) -> None:
    fake.queue(Reply([], tool_calls=whole_calls(("call_x", "w__get", '{"city": "Oslo"}'),
                                                ("call_y", "w__get", '{"city": "Rome"}')),
                     finish_reason="tool_calls"))
    calls = the_calls(await collect(client, make_settings(), tools=[WEATHER]))
    assert [(c.id, dict(c.arguments)) for c in calls] == [("call_x", {"city": "Oslo"}), ("call_y", {"city": "Rome"})]


async def test_a_name_sent_again_in_every_fragment_is_set_not_appended(fake: FakeOpenAI, client: ChatClient,
                                                                       make_settings) -> None:
    fragments = [{"index": 0, "id": "call_r", "function": {"name": "w__get", "arguments": '{"city": '}},
                 {"index": 0, "id": "call_r", "function": {"name": "w__get", "arguments": '"Oslo"}'}}]
    fake.queue(Reply([], tool_calls=fragments, finish_reason="tool_calls"))
    calls = the_calls(await collect(client, make_settings(), tools=[WEATHER]))
    assert [(c.id, c.name, dict(c.arguments)) for c in calls] == [("call_r", "w__get", {"city": "Oslo"})]


async def test_invalid_json_arguments_become_an_error_not_a_crash(fake: FakeOpenAI, client: ChatClient,
                                                                  make_settings) -> None:
    fake.queue(Reply([], tool_calls=tool_call("call_bad", "w__get", '{"city": "Oslo"'), finish_reason="tool_calls"))
    (call,) = the_calls(await collect(client, make_settings(), tools=[WEATHER]))
    assert call.error is not None and "not valid JSON" in call.error
    assert call.arguments == {}
    assert call.raw_arguments == '{"city": "Oslo"'
    # Sent back to the model as an empty object: servers that parse the history refuse invalid JSON.
    assert call.to_api() == {"id": "call_bad", "type": "function", "function": {"name": "w__get", "arguments": "{}"}}


async def test_arguments_that_are_not_an_object_are_an_error(fake: FakeOpenAI, client: ChatClient,
                                                            make_settings) -> None:
    fake.queue(Reply([], tool_calls=whole_calls(("call_l", "w__get", "[1, 2]")), finish_reason="tool_calls"))
    (call,) = the_calls(await collect(client, make_settings(), tools=[WEATHER]))
    assert call.error is not None and "JSON object" in call.error


async def test_no_arguments_at_all_are_an_empty_object(fake: FakeOpenAI, client: ChatClient, make_settings) -> None:
    fake.queue(Reply([], tool_calls=whole_calls(("call_e", "clock__now", "")), finish_reason="tool_calls"))
    (call,) = the_calls(await collect(client, make_settings(), tools=[WEATHER]))
    assert (call.arguments, call.error) == ({}, None)
    assert call.to_api()["function"]["arguments"] == "{}"


async def test_a_call_without_id_gets_one(fake: FakeOpenAI, client: ChatClient, make_settings) -> None:
    fragments = [{"index": 0, "function": {"name": "w__get", "arguments": "{}"}}]
    fake.queue(Reply([], tool_calls=fragments, finish_reason="tool_calls"))
    (call,) = the_calls(await collect(client, make_settings(), tools=[WEATHER]))
    assert call.id.startswith("call_") and call.name == "w__get"


async def test_text_then_calls_and_a_stop_finish_still_yield_the_calls(fake: FakeOpenAI, client: ChatClient,
                                                                       make_settings) -> None:
    # Older Ollama ends a reply of tool calls with "stop".
    fake.queue(Reply("Let me look.", tool_calls=whole_calls(("call_s", "w__get", '{"city": "Oslo"}')),
                     finish_reason="stop"))
    events = await collect(client, make_settings(), tools=[WEATHER])
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "Let me look."
    assert the_calls(events)[0].id == "call_s"
    assert events[-1] == Finished("stop")


async def test_a_stream_cut_off_in_a_call_is_dropped_and_yields_no_calls(fake: FakeOpenAI, client: ChatClient,
                                                                         make_settings) -> None:
    fake.queue(Reply([], tool_calls=tool_call("call_c", "w__get", '{"city": "Oslo"}'), finish_reason=None))
    events: list[Any] = []
    with pytest.raises(errors.StreamDroppedError, match="tool call") as caught:
        async for event in client.stream([Message("user", "hi")], make_settings().model_spec(),
                                         make_settings().active_preset(), tools=[WEATHER]):
            events.append(event)
    assert not any(isinstance(e, ToolCalls) for e in events)
    assert "no tool was run" in caught.value.hint


async def test_calls_are_ignored_when_no_tools_were_sent(fake: FakeOpenAI, client: ChatClient, make_settings) -> None:
    fake.queue(Reply("hi", tool_calls=whole_calls(("call_u", "w__get", "{}"))))
    events = await collect(client, make_settings())
    assert not any(isinstance(e, ToolCalls) for e in events)


# -- a server that refuses tools -----------------------------------------------------------------

async def test_a_server_refusing_tools_names_the_setting_to_change(make_settings) -> None:
    with FakeOpenAI(rejects_tools=OLLAMA_NO_TOOLS) as fake:
        client = ChatClient(api_key=KEY, base_url=fake.base_url, timeout=10.0, max_retries=0)
        try:
            with pytest.raises(errors.ToolsRejectedError) as caught:
                await collect(client, make_settings(base_url=fake.base_url), model="gemma:2b", tools=[WEATHER])
        finally:
            await client.aclose()
    error = caught.value
    assert isinstance(error, errors.BadRequestError)
    assert "does not support tools" in error.message
    assert 'tools = false under [models."gemma:2b"]' in error.hint
    assert "[mcp_servers.NAME]" in error.hint


async def test_an_unrelated_refusal_with_tools_stays_a_bad_request(fake: FakeOpenAI, client: ChatClient,
                                                                   make_settings) -> None:
    from fake_openai import Error

    fake.queue(Error(400, "temperature is out of range"))
    with pytest.raises(errors.BadRequestError) as caught:
        await collect(client, make_settings(), tools=[WEATHER])
    assert not isinstance(caught.value, errors.ToolsRejectedError)


def test_a_tool_call_goes_back_as_its_own_json() -> None:
    raw = '{"city": "Oslo"}'
    call = ToolCall("call_1", "w__get", json.loads(raw), raw)
    assert call.to_api() == {"id": "call_1", "type": "function", "function": {"name": "w__get", "arguments": raw}}
