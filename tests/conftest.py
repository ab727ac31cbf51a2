"""Shared fixtures: the fake OpenAI server, an isolated environment, and settings pointed at the fake."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from fake_openai import FakeOpenAI

# Recognisable, so a test can check it never leaks into an error message or the terminal.
TEST_API_KEY = "sk-test-SECRETSECRET1234"


@pytest.fixture(autouse=True)
def _isolated_chat_env(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """No CHAT_*/OPENAI_* variables, no tmux or display, XDG dirs and the working directory in tmp (so no config or .env is read)."""
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
