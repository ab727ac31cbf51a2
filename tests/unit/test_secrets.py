"""The API key never appears in repr()/str() of the settings and the client, nor in any error (with its chain)."""

from __future__ import annotations

import traceback
from pathlib import Path
from typing import Any

import pytest

from chatbot.core.client import ChatClient
from chatbot.core.errors import ChatError
from chatbot.core.session import Session
from chatbot.core.settings import load_settings
from fake_openai import FakeOpenAI
from leak_check import (
    HTTP_FAULTS,
    LEAK,
    assert_no_key,
    bad_config,
    cases,
    key_cmd,
    write_config,
)
from support import closed_port

pytestmark = pytest.mark.usefixtures("no_key_left_in_files")


# -- repr() and str() of what holds the key, and of every error ------------------------------------------------


def chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    todo: list[BaseException | None] = [exc]
    while todo:
        current = todo.pop()
        if current is None or any(current is s for s in seen):
            continue
        seen.append(current)
        todo += [current.__cause__, current.__context__]
    return seen


def check_error(exc: ChatError) -> None:
    for link in chain(exc):
        assert_no_key(repr(link), f"repr of {type(link).__name__}")
        assert_no_key(str(link), f"str of {type(link).__name__}")
        assert_no_key(repr(link.args), f"args of {type(link).__name__}")
        assert_no_key(repr(getattr(link, "__notes__", [])), "exception notes")
        for name, value in vars(link).items():
            if isinstance(value, (str, int, float, type(None))):
                assert_no_key(repr(value), f"{type(link).__name__}.{name}")
    assert_no_key(exc.headline(), "headline")
    assert_no_key("".join(traceback.format_exception(exc)), "a formatted traceback")


def test_settings_and_client_repr_hide_the_key(fake: FakeOpenAI, monkeypatch: pytest.MonkeyPatch,
                                               tmp_path: Path) -> None:
    loaded = []
    loaded.append(load_settings(None, api_key=LEAK, base_url=fake.base_url)[0])
    monkeypatch.setenv("OPENAI_API_KEY", LEAK)
    loaded.append(load_settings(None)[0])
    monkeypatch.delenv("OPENAI_API_KEY")
    monkeypatch.setenv("CHAT_API_KEY", LEAK)
    loaded.append(load_settings(None)[0])
    monkeypatch.delenv("CHAT_API_KEY")
    config = write_config(tmp_path / "k.toml", f'api_key = "{LEAK}"\n')
    loaded.append(load_settings(config)[0])
    for settings in loaded:
        assert settings.api_key is not None and settings.api_key.get_secret_value() == LEAK
        for shown in (repr(settings), str(settings), repr(settings.api_key), str(settings.api_key),
                      repr(settings.model_dump()), settings.model_dump_json(), repr(settings.__dict__)):
            assert_no_key(shown, "settings")
        client = ChatClient.from_settings(settings)
        assert client.has_key
        assert_no_key(repr(client), "ChatClient repr")
        assert_no_key(str(client), "ChatClient str")
        session = Session(settings, client)
        assert_no_key(repr(session.conversation), "conversation")


@pytest.mark.parametrize("fault", list(HTTP_FAULTS), ids=list(HTTP_FAULTS))
async def test_every_chat_error_and_its_chain_hide_the_key(fault: str, fake: FakeOpenAI, make_settings: Any) -> None:
    scripted, _ = HTTP_FAULTS[fault]
    fake.queue(*scripted)
    client = ChatClient.from_settings(make_settings(api_key=LEAK, max_retries=0))
    session = Session(make_settings(api_key=LEAK, max_retries=0), client)
    with pytest.raises(ChatError) as caught:
        async for _ in session.send("hi"):
            pass
    await client.aclose()
    check_error(caught.value)
    for message in session.conversation.messages:
        assert_no_key(repr(message), "the partial reply")


async def test_connection_and_model_list_errors_hide_the_key(make_settings: Any) -> None:
    url = f"http://127.0.0.1:{closed_port()}/v1"
    client = ChatClient.from_settings(make_settings(api_key=LEAK, base_url=url, max_retries=0))
    with pytest.raises(ChatError) as caught:
        await client.list_models()
    check_error(caught.value)
    session = Session(make_settings(api_key=LEAK, base_url=url, max_retries=0), client)
    with pytest.raises(ChatError) as caught:
        async for _ in session.send("hi"):
            pass
    check_error(caught.value)
    await client.aclose()


def test_api_key_cmd_errors_hide_the_key() -> None:
    settings, _ = load_settings(None, api_key_cmd=key_cmd(1))
    with pytest.raises(ChatError) as caught:
        settings.resolve_api_key()
    check_error(caught.value)
    assert "api_key_cmd failed" in str(caught.value)
    settings, _ = load_settings(None, api_key_cmd=f"printf '%s' '{LEAK}' >&2; exit 127")
    with pytest.raises(ChatError) as caught:
        settings.resolve_api_key()
    check_error(caught.value)


def config_error(path: Path, case: str) -> ChatError:
    config = bad_config(path, case)
    with pytest.raises(ChatError) as caught:
        load_settings(config)
    assert str(config) in str(caught.value)
    return caught.value


@pytest.mark.parametrize("case", cases({}))
def test_config_error_messages_hide_the_key(case: str, tmp_path: Path) -> None:
    exc = config_error(tmp_path / "bad.toml", case)
    for shown in (str(exc), repr(exc), exc.headline(), exc.hint, repr(exc.args),
                  "".join(traceback.format_exception(exc))):
        assert_no_key(shown, "the config error")


@pytest.mark.parametrize("case", cases({}))
def test_config_error_chains_hide_the_key(case: str, tmp_path: Path) -> None:
    check_error(config_error(tmp_path / "bad.toml", case))

