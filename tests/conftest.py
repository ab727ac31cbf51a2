"""Fixtures every room uses: the fake OpenAI server, an isolated environment, settings pointed at the fake, and a
history store with a session recording into it."""

from __future__ import annotations

import os
import signal
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from fake_openai import FakeOpenAI
from leak_check import WRITTEN, assert_no_key_in_files
from support import TEST_API_KEY, SleepRecorder


def pytest_configure(config: pytest.Config) -> None:
    # The tests that interrupt `chat` send it SIGINT, as a terminal's ctrl+c does to its foreground program. A run
    # started in the background of a shell script (`cmd &`) inherits SIGINT ignored, and `chat`, as a program
    # should, keeps ignoring it: give the run the default, so what `chat` inherits is what a terminal gives it.
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(autouse=True)
def _isolated_chat_env(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """No CHAT_*/OPENAI_* variables, no tmux or display, XDG dirs and the working directory in tmp (so no config
    or .env is read)."""
    for name in list(os.environ):
        if name.upper().startswith(("CHAT_", "OPENAI_")):
            monkeypatch.delenv(name, raising=False)
    for name in ("TMUX", "DISPLAY", "WAYLAND_DISPLAY"):  # a copy in a test must not reach the desktop's clipboard
        monkeypatch.delenv(name, raising=False)
    base = tmp_path_factory.mktemp("chat-env")
    for var, sub in (("XDG_CONFIG_HOME", "config"), ("XDG_DATA_HOME", "data"), ("XDG_STATE_HOME", "state")):
        (base / sub).mkdir()
        monkeypatch.setenv(var, str(base / sub))
    cwd = base / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    return base


@pytest.fixture
def no_key_left_in_files(tmp_path: Path, _isolated_chat_env: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """After the test: no file under its tmp dirs (XDG dirs, cwd, TMPDIR of subprocesses, tempfile's dir of
    this process) holds leak_check.LEAK, except the config files it listed in WRITTEN."""
    import tempfile

    own_tmp = tmp_path / "process-tmp"
    own_tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(own_tmp))
    WRITTEN.clear()
    yield
    assert_no_key_in_files(tmp_path, _isolated_chat_env, allowed=WRITTEN)


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    """A started fake OpenAI server, stopped after the test."""
    with FakeOpenAI() as server:
        yield server


@pytest.fixture
def api_key() -> str:
    return TEST_API_KEY


@pytest.fixture
def make_settings(fake: FakeOpenAI) -> Callable[..., Any]:
    """make_settings(**flags) -> Settings pointed at the fake, with the test key; flags override anything.

    The fake stands in for OpenAI: catalogue prices apply to it, and the model is chosen (gpt-4o-mini) as a user
    of another server would choose one. Tests of what another server gets pass catalogue_prices=None, model=None.
    """
    from chatbot.core.settings import load_settings

    def make(**flags: Any) -> Any:
        flags.setdefault("base_url", fake.base_url)
        flags.setdefault("api_key", TEST_API_KEY)
        flags.setdefault("catalogue_prices", True)
        flags.setdefault("model", "gpt-4o-mini")
        settings, _warnings = load_settings(None, **flags)
        return settings

    return make


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Any]:
    """A HistoryStore in tmp, closed after the test."""
    from chatbot.core.store.history import HistoryStore

    s = HistoryStore(tmp_path / "history.db")
    yield s
    s.close()


@pytest.fixture
async def make_session(fake: FakeOpenAI, make_settings: Any) -> AsyncIterator[Callable[..., Any]]:
    """make_session(store, clock=..., **settings flags) -> a Session recording into `store`."""
    from chatbot.core.client import ChatClient
    from chatbot.core.conversation import Conversation
    from chatbot.core.journal import Observer
    from chatbot.core.session import Session
    from chatbot.core.store.history import HistoryStore
    from chatbot.core.store.recorder import Recorder
    from chatbot.core.store.usage_log import UsageLog
    from chatbot.core.store.writer import Writer

    clients: list[ChatClient] = []
    writers: list[Writer] = []

    def make(store: HistoryStore | None, *, recorder_clock: Callable[[], float] | None = None,
             base_url: str | None = None, usage_log: UsageLog | None = None, max_retries: int = 0,
             conversation: Conversation | None = None, **flags: Any) -> Session:
        settings = make_settings(**flags)
        client = ChatClient(api_key=TEST_API_KEY, base_url=base_url or fake.base_url, timeout=30.0,
                            max_retries=max_retries, sleep=SleepRecorder())
        clients.append(client)
        observers: list[Observer] = []
        if store is not None:
            writers.append(writer := Writer(store.path))
            observers.append(Recorder(writer, clock=recorder_clock) if recorder_clock else Recorder(writer))
        if usage_log is not None:
            observers.append(usage_log)
        return Session(settings, client, conversation, observers=observers)

    yield make
    for client in clients:
        await client.aclose()
    for writer in writers:
        writer.close()
