"""`chat` against llama-cpp-python's OpenAI-compatible server running Gemma 3 270M (see llama_server.py).

What the fake server cannot show: the wire format, errors and quirks of a server someone else wrote. The server
runs with an API key, as a shared one would. Replies are greedy (temperature 0). Where a test rests on something
the server does (no usage in streams, a stream cut short by the next request), it first checks that the
server did it, in what the recording proxy saw.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chatbot.core.settings import load_settings
from chatbot.ui.app import make_app
from chatbot.ui.screens.chat import ChatScreen
from chatbot.ui.widgets.prompt_input import PromptInput
from llama_server import INSTALL, MODEL_ID, N_CTX, READY_TIMEOUT, Layout, Server, cache_dir, running
from recording_proxy import Exchange, RecordingProxy
from support import offline, send, status, until

pytestmark = pytest.mark.llama

KEY = "sk-test-secret-LLAMA7f3c9e21d5b8a604"
STORY = "Write a long story about a lighthouse keeper and a storm, with many chapters."
SIZE = (100, 30)


@pytest.fixture(scope="session")
def llama(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The server, started once for the tier and stopped after it."""
    layout = Layout(cache_dir())
    if not layout.installed():
        pytest.fail(f"the llama-cpp-python tier is not installed in {layout.root}: run {INSTALL}", pytrace=False)
    with running(layout, tmp_path_factory.mktemp("llama") / "server.log", api_key=KEY) as server:
        yield server


def command(base_url: str, *args: str) -> list[str]:
    return [sys.executable, "-m", "chatbot", "--base-url", base_url, "-m", MODEL_ID, "--temperature", "0", *args]


def environment(key: str | None = KEY, **extra: str) -> dict[str, str]:
    # The autouse fixture has already emptied CHAT_*/OPENAI_* and put the XDG folders in tmp.
    env = offline({**os.environ, **extra})
    if key is not None:
        env["OPENAI_API_KEY"] = key
    return env


def chat(base_url: str, *args: str, key: str | None = KEY, **extra: str) -> subprocess.CompletedProcess[str]:
    """`chat --base-url URL -m <the server's model> --temperature 0 ARGS`, run to its end."""
    done = subprocess.run(command(base_url, *args), capture_output=True, env=environment(key, **extra),
                          stdin=subprocess.DEVNULL, timeout=600)
    return subprocess.CompletedProcess(done.args, done.returncode, done.stdout.decode("utf-8", "replace"),
                                       done.stderr.decode("utf-8", "replace"))


def completions(proxy: RecordingProxy) -> list[Exchange]:
    return [e for e in proxy.exchanges if e.path.endswith("/chat/completions")]


def chunks(exchange: Exchange) -> list[dict[str, Any]]:
    return [json.loads(line[len("data: "):]) for line in exchange.stream_lines() if line != "data: [DONE]"]


def assert_cut_short_by_the_server(exchange: Exchange) -> None:
    """The premise of the tests below: the stream ended in [DONE] with text but without a finish_reason."""
    assert exchange.stream_text().strip()
    assert exchange.stream_lines()[-1] == "data: [DONE]"
    assert not any(choice.get("finish_reason") for chunk in chunks(exchange) for choice in chunk["choices"]), \
        "the reply ended by itself before the second request arrived"


def assert_clean(done: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in done.stderr, done.stderr
    assert KEY not in done.stdout + done.stderr


def settings_for(base_url: str, **flags: Any) -> Any:
    settings, _warnings = load_settings(None, base_url=base_url, model=MODEL_ID, api_key=KEY, temperature=0,
                                        **flags)
    return settings


# -- replies -----------------------------------------------------------------------------------


def test_one_shot_prints_the_reply_the_server_streamed(llama: Server) -> None:
    with RecordingProxy(llama.base_url) as proxy:
        done = chat(proxy.base_url, "-p", "What is the capital of France?", "--max-tokens", "32")
    assert done.returncode == 0, done.stderr
    [exchange] = completions(proxy)
    sent = exchange.stream_text()
    assert sent.strip()
    assert done.stdout == (sent if sent.endswith("\n") else sent + "\n")
    assert_clean(done)


async def test_app_streams_a_reply_into_the_transcript(llama: Server) -> None:
    app = make_app(settings_for(llama.base_url, max_tokens=32))
    async with app.run_test(size=SIZE) as pilot:
        screen = await send(pilot, "Name three colours.")
        shown = [(v.role, v.text) for v in screen.transcript.views()]
        assert [role for role, _ in shown] == ["user", "assistant"]
        assert shown[1][1].strip()
        reply = app.session.conversation.last_reply()
        assert reply is not None and reply.content == shown[1][1] and not reply.error
        assert reply.finish_reason in ("stop", "length")
        # The server sends no usage in a stream: the counts are chat's own, and marked so.
        assert "~" in status(app)


def test_usage_the_server_never_sent_is_estimated_and_marked(llama: Server) -> None:
    with RecordingProxy(llama.base_url) as proxy:
        done = chat(proxy.base_url, "-p", "Say hello.", "--max-tokens", "16", "--json", "--usage")
    assert done.returncode == 0, done.stderr
    [exchange] = completions(proxy)
    assert json.loads(exchange.body)["stream_options"] == {"include_usage": True}  # asked for...
    assert all(chunk.get("usage") is None for chunk in chunks(exchange))  # ...and not given
    result = json.loads(done.stdout)
    assert result["reply"] == exchange.stream_text() and result["reply"].strip()
    usage = result["usage"]
    assert usage["estimated"] is True and usage["prompt_tokens"] > 0 and usage["completion_tokens"] > 0
    assert (f"usage: prompt ~{usage['prompt_tokens']} (cached 0), completion ~{usage['completion_tokens']}"
            in done.stderr)
    assert "(estimated)" in done.stderr
    assert_clean(done)


# -- a stream the server cuts short --------------------------------------------------------------
# llama-cpp-python serves one request at a time: when another arrives (even GET /v1/models) it ends the stream
# in flight with `data: [DONE]` and no finish_reason. That reply is incomplete and must be reported so.


def _cut_short(llama: Server, *args: str) -> tuple[subprocess.CompletedProcess[str], Exchange]:
    """A long reply, and GET /v1/models as soon as its first text has passed the proxy."""
    with RecordingProxy(llama.base_url) as proxy:
        process = subprocess.Popen(command(proxy.base_url, "-p", STORY, "--max-tokens", "400", *args),
                                   stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   env=environment())
        try:
            assert proxy.content_seen.wait(READY_TIMEOUT), "the reply never began"
            llama.get("/models")  # answered once the stream has given way
            out, err = process.communicate(timeout=600)
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate()
    [exchange] = completions(proxy)
    assert_cut_short_by_the_server(exchange)
    return subprocess.CompletedProcess(process.args, process.returncode, out.decode("utf-8", "replace"),
                                       err.decode("utf-8", "replace")), exchange


def test_one_shot_reply_cut_short_keeps_its_text_and_exits_6(llama: Server) -> None:
    done, exchange = _cut_short(llama)
    assert (done.returncode, done.stdout.rstrip("\n")) == (6, exchange.stream_text().rstrip("\n")), done.stderr
    assert done.stderr.startswith("chat: ")
    assert_clean(done)


def test_one_shot_reply_cut_short_carries_an_error_in_json(llama: Server) -> None:
    done, exchange = _cut_short(llama, "--json")
    result = json.loads(done.stdout)
    assert (done.returncode, result["reply"]) == (6, exchange.stream_text()), done.stderr
    assert result["error"] and result["finish_reason"] is None
    assert_clean(done)


async def test_app_reply_outlives_opening_the_model_menu(llama: Server) -> None:
    # F2 lists the server's models (GET /v1/models): sent while the reply streams, it would end the reply.
    with RecordingProxy(llama.base_url) as proxy:
        app = make_app(settings_for(proxy.base_url, max_tokens=120))
        async with app.run_test(size=SIZE) as pilot:
            screen = app.screen
            assert isinstance(screen, ChatScreen)
            app.query_one(PromptInput).insert(STORY)
            await pilot.press("enter")
            await until(pilot, proxy.content_seen.is_set, limit=30_000)
            await pilot.press("f2")
            assert screen.turn_worker is not None
            await screen.turn_worker.wait()
            await until(pilot, lambda: app.server_models_fetched, limit=30_000)
            reply = app.session.conversation.last_reply()
            assert reply is not None and not reply.error
            assert reply.finish_reason in ("stop", "length")
            assert MODEL_ID in app.server_models  # and the menu got the server's models after all
    [exchange] = completions(proxy)
    assert reply.content == exchange.stream_text()


# -- requests the server refuses -----------------------------------------------------------------


@pytest.mark.parametrize("key", ["sk-test-wrong-key", None], ids=["wrong-key", "no-key"])
def test_a_key_the_server_refuses_exits_3_with_its_reason(llama: Server, key: str | None) -> None:
    done = chat(llama.base_url, "-p", "hi", "--max-tokens", "8", key=key)
    assert done.returncode == 3, (done.returncode, done.stderr)
    assert done.stderr.startswith("chat: ") and "rejected the API key (401)" in done.stderr, done.stderr
    assert len(done.stderr.splitlines()) == 1 and done.stdout == ""
    assert_clean(done)


def test_a_prompt_longer_than_the_servers_context_is_not_taken_for_a_reply(llama: Server) -> None:
    # It fits chat's window for an unknown model (8192), not the server's n_ctx. In a stream the server cannot
    # say why: it answers 200 and closes the stream with nothing in it, no [DONE], no finish_reason.
    prompt = "Summarise this: " + "the quick brown fox jumps over the lazy dog. " * (N_CTX // 5)
    with RecordingProxy(llama.base_url) as proxy:
        done = chat(proxy.base_url, "-p", prompt, "--max-tokens", "16", "--json")
    assert next((e.status, bytes(e.answer)) for e in completions(proxy)) == (200, b"")
    result = json.loads(done.stdout)
    assert (done.returncode, result["reply"]) == (6, ""), done.stderr
    assert result["error"] and done.stderr.startswith("chat: ")
    assert_clean(done)


# -- the key -------------------------------------------------------------------------------------


def test_the_api_key_goes_only_into_the_authorization_header(llama: Server) -> None:
    with RecordingProxy(llama.base_url) as proxy:
        done = chat(proxy.base_url, "-p", "Say hi.", "--max-tokens", "8", "--save", "--usage",
                    CHAT_USAGE_LOG="true")
    assert done.returncode == 0, done.stderr  # the server took the key: it refuses requests without it
    assert completions(proxy)
    for exchange in proxy.exchanges:
        assert [(name.lower(), value) for name, value in exchange.headers if KEY in value] == \
            [("authorization", f"Bearer {KEY}")]
        assert KEY not in exchange.path and KEY.encode() not in exchange.body
    assert_clean(done)
    written = {path: path.read_bytes() for var in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME")
               for path in Path(os.environ[var]).rglob("*") if path.is_file()}
    assert {"history.db", "usage.jsonl"} <= {path.name for path in written}
    reply = done.stdout.strip().encode()
    assert reply and any(reply in data for data in written.values())  # the scan looks where chat wrote
    assert [path for path, data in written.items() if KEY.encode() in data] == []
