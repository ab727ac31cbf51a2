"""Asking a local server for its context window, against the fake speaking vLLM's, llama.cpp's and Ollama's routes."""

from __future__ import annotations

from typing import Any

import pytest

from chatbot.core.server_info import is_openai, native_root, server_window
from fake_openai import FakeOpenAI

LLAMA = {"general.architecture": "llama", "llama.context_length": 131_072, "llama.block_count": 16}


def paths(fake: FakeOpenAI) -> list[str]:
    return [f"{r.method} {r.path}" for r in fake.requests]


async def test_vllm_reports_max_model_len() -> None:
    with FakeOpenAI(["qwen3-8b", "other"], max_model_len={"qwen3-8b": 32_768, "other": 4096}) as fake:
        assert await server_window(fake.base_url, "qwen3-8b") == 32_768
        assert paths(fake) == ["GET /v1/models"]


async def test_llama_cpp_reports_its_slots_n_ctx_at_the_root() -> None:
    with FakeOpenAI(["model.gguf"], props_n_ctx=4096) as fake:
        assert await server_window(fake.base_url, "model.gguf") == 4096
        assert paths(fake) == ["GET /v1/models", "GET /props"]


async def test_ollama_reports_a_loaded_models_window_first() -> None:
    # Ollama names a model llama3.2:latest when asked for llama3.2.
    with FakeOpenAI(["llama3.2:latest"], ollama_running={"llama3.2:latest": 16_384},
                    ollama_show={"llama3.2": {"model_info": LLAMA}}) as fake:
        assert await server_window(fake.base_url, "llama3.2") == 16_384
        assert paths(fake)[-1] == "GET /api/ps"


async def test_ollama_num_ctx_parameter_beats_the_models_maximum() -> None:
    show = {"parameters": "temperature 0.7\nnum_ctx 8192\nstop \"<|eot_id|>\"", "model_info": LLAMA}
    with FakeOpenAI(ollama_running={}, ollama_show={"llama3.2": show}) as fake:
        assert await server_window(fake.base_url, "llama3.2") == 8192
        assert fake.requests[-1].path == "/api/show" and fake.requests[-1].body == {"model": "llama3.2"}


async def test_ollama_falls_back_to_the_architectures_context_length() -> None:
    with FakeOpenAI(ollama_show={"llama3.2": {"parameters": "temperature 0.7", "model_info": LLAMA}}) as fake:
        assert await server_window(fake.base_url, "llama3.2") == 131_072


async def test_ollama_model_it_does_not_have() -> None:
    with FakeOpenAI(ollama_running={"qwen3:latest": 40_960}, ollama_show={"qwen3": {"model_info": LLAMA}}) as fake:
        assert await server_window(fake.base_url, "llama3.2") is None


async def test_a_server_that_says_nothing_gives_none_after_asking_each_way_once() -> None:
    # The fake's extra routes are off by default, like an OpenAI-compatible server that has none of them.
    with FakeOpenAI(["some-model"]) as fake:
        assert await server_window(fake.base_url, "some-model") is None
        assert paths(fake) == ["GET /v1/models", "GET /props", "GET /api/ps", "POST /api/show"]
        assert fake.chat_requests == []


@pytest.mark.parametrize("value", [0, -1, True, "4096", None, 4096.5])
async def test_a_window_that_is_not_a_positive_count_is_not_one(value: Any) -> None:
    with FakeOpenAI(["m"], max_model_len={"m": value}) as fake:  # type: ignore[dict-item]
        assert await server_window(fake.base_url, "m") is None


async def test_unreachable_server_gives_none() -> None:
    with FakeOpenAI() as fake:
        base_url = fake.base_url
    # Stopped: the port refuses connections, and one refusal ends the asking.
    assert await server_window(base_url, "llama3.2") is None


async def test_the_key_goes_with_the_question() -> None:
    with FakeOpenAI(["m"], max_model_len={"m": 2048}) as fake:
        assert await server_window(fake.base_url, "m", api_key="sk-local") == 2048
        assert fake.requests[0].headers["authorization"] == "Bearer sk-local"


async def test_openai_itself_is_not_asked() -> None:
    assert await server_window(None, "gpt-5.4") is None
    assert await server_window("https://api.openai.com/v1", "gpt-5.4") is None


@pytest.mark.parametrize(
    ("base_url", "expected"),
    [
        (None, True),
        ("https://api.openai.com/v1", True),
        ("https://API.OpenAI.com/v1/", True),
        ("http://localhost:11434/v1", False),
        ("http://127.0.0.1:8080/v1", False),
        ("https://openai.com.example.net/v1", False),
        ("https://example.net/api.openai.com/v1", False),
    ],
)
def test_is_openai(base_url: str | None, expected: bool) -> None:
    assert is_openai(base_url) is expected


@pytest.mark.parametrize(
    ("base_url", "root"),
    [
        ("http://localhost:11434/v1", "http://localhost:11434"),
        ("http://localhost:8080/v1/", "http://localhost:8080"),
        ("http://gpu-box/llm/v1", "http://gpu-box/llm"),
        ("http://localhost:8000", "http://localhost:8000"),
    ],
)
def test_native_root(base_url: str, root: str) -> None:
    assert native_root(base_url) == root


# -- the session asks when nothing else knows the window --------------------------------------------------------


async def _one_turn(settings: Any) -> Any:
    from chatbot.core.client import ChatClient
    from chatbot.core.session import Session

    client = ChatClient.from_settings(settings)
    session = Session(settings, client)
    try:
        async for _ in session.send("hello"):
            pass
    finally:
        await client.aclose()
    return session


async def test_a_model_nothing_describes_gets_the_window_its_server_reports(make_settings: Any) -> None:
    from chatbot.core.status import status_of
    from fake_openai import Reply

    with FakeOpenAI(["qwen3-8b"], max_model_len={"qwen3-8b": 8192}) as fake:
        fake.queue(Reply("hi"))
        settings = make_settings(base_url=fake.base_url, model="qwen3-8b", catalogue_prices=None)
        assert settings.model_spec("qwen3-8b").window_source == "assumed"
        assert status_of_fresh(settings).window_assumed  # before it is asked, the bar marks the guess
        session = await _one_turn(settings)
        assert (session.spec.context_window, session.spec.window_source) == (8192, "server")
        assert not status_of(session).window_assumed
        # Asked before the request went out, and once: the request used the server's window.
        paths = [r.path for r in fake.requests]
        assert paths.index("/v1/models") < paths.index("/v1/chat/completions") and paths.count("/v1/models") == 1


async def test_a_model_the_catalogue_or_config_describes_is_never_asked_about(make_settings: Any) -> None:
    from fake_openai import Reply

    with FakeOpenAI(["gpt-4o-mini", "mine"]) as fake:
        fake.queue(Reply("hi"), Reply("hi"))
        await _one_turn(make_settings(base_url=fake.base_url, model="gpt-4o-mini", catalogue_prices=None))
        await _one_turn(make_settings(base_url=fake.base_url, model="mine", catalogue_prices=None,
                                      models={"mine": {"context_window": 65_536}}))
        assert [r.path for r in fake.requests] == ["/v1/chat/completions"] * 2


def status_of_fresh(settings: Any) -> Any:
    from chatbot.core.client import ChatClient
    from chatbot.core.session import Session
    from chatbot.core.status import status_of

    return status_of(Session(settings, ChatClient.from_settings(settings)))
