"""Fixtures of the command-line tests: `chat` run as a subprocess against the fake."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from fake_openai import FakeOpenAI
from support import TEST_API_KEY, offline


@pytest.fixture
def chat_env(tmp_path: Path) -> dict[str, str]:
    """A clean environment: no OPENAI_*/CHAT_* variables, XDG dirs in tmp, the package importable.

    CHAT_CATALOGUE_PRICES=true: the fake stands in for OpenAI, so its replies are priced as OpenAI's.
    """
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith(("CHAT_", "OPENAI_"))}
    env["CHAT_CATALOGUE_PRICES"] = "true"
    for var, sub in (("XDG_CONFIG_HOME", "xdg-config"), ("XDG_DATA_HOME", "xdg-data"),
                     ("XDG_STATE_HOME", "xdg-state")):
        (tmp_path / sub).mkdir()
        env[var] = str(tmp_path / sub)
    return offline(env)


@pytest.fixture
def run_chat(fake: FakeOpenAI, chat_env: dict[str, str], tmp_path: Path) -> Callable[..., subprocess.CompletedProcess]:
    """run_chat(*args, input=b"" or str, env={...}, key=True, base_url=True) -> CompletedProcess (bytes decoded)."""
    workdir = tmp_path / "cwd"
    workdir.mkdir()

    def run(*args: str, input: bytes | str | None = b"",  # noqa: A002 - named as subprocess.run names it
            env: dict[str, str | None] | None = None,
            key: bool = True, base_url: bool = True) -> subprocess.CompletedProcess:
        full_env = dict(chat_env)
        if key:
            full_env["OPENAI_API_KEY"] = TEST_API_KEY
        if base_url:
            full_env["OPENAI_BASE_URL"] = fake.base_url
        for name, value in (env or {}).items():
            if value is None:
                full_env.pop(name, None)
            else:
                full_env[name] = value
        data = input.encode() if isinstance(input, str) else input
        done = subprocess.run([sys.executable, "-m", "chatbot", *args], input=data, capture_output=True,
                              env=full_env, cwd=workdir, timeout=120,
                              stdin=subprocess.DEVNULL if data is None else None)
        return subprocess.CompletedProcess(done.args, done.returncode, done.stdout.decode("utf-8", "replace"),
                                           done.stderr.decode("utf-8", "replace"))

    return run


@pytest.fixture
def inherited_env(fake: FakeOpenAI) -> dict[str, str]:
    """The environment of a `chat` subprocess that shares this process's isolated XDG dirs (so the same
    history.db as `chatbot.core.store.history.default_path()` here), with the test key and the fake."""
    env = dict(os.environ)
    env["OPENAI_API_KEY"] = TEST_API_KEY
    env["OPENAI_BASE_URL"] = fake.base_url
    env["CHAT_CATALOGUE_PRICES"] = "true"  # the fake stands in for OpenAI
    return offline(env)


@pytest.fixture
def chat(inherited_env: dict[str, str]) -> Callable[..., subprocess.CompletedProcess]:
    """chat(*args, env={...}) -> the finished `chat` subprocess on this process's history, output decoded."""

    def run(*args: str, env: dict[str, str | None] | None = None) -> subprocess.CompletedProcess:
        full = dict(inherited_env)
        for name, value in (env or {}).items():
            if value is None:
                full.pop(name, None)
            else:
                full[name] = value
        done = subprocess.run([sys.executable, "-m", "chatbot", *args], stdin=subprocess.DEVNULL,
                              capture_output=True, env=full, cwd=os.getcwd(), timeout=120)
        result = subprocess.CompletedProcess(done.args, done.returncode, done.stdout.decode("utf-8", "replace"),
                                             done.stderr.decode("utf-8", "replace"))
        assert "Traceback" not in result.stderr, result.stderr
        assert "SECRETSECRET" not in result.stdout + result.stderr
        return result

    return run
