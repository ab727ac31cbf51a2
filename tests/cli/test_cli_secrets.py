"""The API key never appears in one-shot output (stdout/stderr, text, --usage, --json), whatever the server,
api_key_cmd or a bad config does, nor in any file the runs leave under the XDG directories, the working
directory and the temp directory."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from chatbot.core.settings import Settings
from fake_openai import Error, FakeOpenAI, Hang, Reply
from leak_check import (
    ECHO,
    ECHOED,
    HTTP_FAULTS,
    LEAK,
    assert_no_key,
    assert_no_key_in_files,
    bad_config,
    cases,
    key_cmd,
    write_config,
)
from support import PROJECT, closed_port

pytestmark = pytest.mark.usefixtures("no_key_left_in_files")


# -- one-shot mode (subprocess) -------------------------------------------------------------------------------


@pytest.fixture
def oneshot(fake: FakeOpenAI, tmp_path: Path) -> Callable[..., subprocess.CompletedProcess]:
    """oneshot(*args, env={...}, key=True) -> CompletedProcess: `chat` with the key in OPENAI_API_KEY, XDG dirs,
    cwd and TMPDIR under tmp_path, history and the usage log on."""
    base = {k: v for k, v in os.environ.items() if not k.upper().startswith(("CHAT_", "OPENAI_"))}
    for sub in ("xdg-config", "xdg-data", "xdg-state", "cwd", "tmp"):
        (tmp_path / sub).mkdir()
    base.update(XDG_CONFIG_HOME=str(tmp_path / "xdg-config"), XDG_DATA_HOME=str(tmp_path / "xdg-data"),
                XDG_STATE_HOME=str(tmp_path / "xdg-state"), TMPDIR=str(tmp_path / "tmp"),
                PYTHONPATH=os.pathsep.join(filter(None, [str(PROJECT), base.get("PYTHONPATH", "")])),
                PYTHONIOENCODING="utf-8", OPENAI_BASE_URL=fake.base_url, CHAT_MAX_RETRIES="0")
    if "usage_log" in Settings.model_fields:
        base["CHAT_USAGE_LOG"] = "true"
    guard = f"http://127.0.0.1:{closed_port()}"
    for var in ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "https_proxy", "http_proxy", "all_proxy"):
        base[var] = guard
    base["NO_PROXY"] = base["no_proxy"] = "127.0.0.1,localhost"

    def run(*args: str, env: dict[str, str | None] | None = None, key: bool = True,
            input: bytes | None = b"") -> subprocess.CompletedProcess:  # noqa: A002 - as subprocess.run names it
        full = dict(base)
        if key:
            full["OPENAI_API_KEY"] = LEAK
        for name, value in (env or {}).items():
            if value is None:
                full.pop(name, None)
            else:
                full[name] = value
        done = subprocess.run([sys.executable, "-m", "chatbot", *args], input=input, capture_output=True, env=full,
                              cwd=tmp_path / "cwd", timeout=120)
        out = subprocess.CompletedProcess(done.args, done.returncode, done.stdout.decode("utf-8", "replace"),
                                          done.stderr.decode("utf-8", "replace"))
        assert "Traceback" not in out.stderr, out.stderr
        assert_no_key(out.stdout, "stdout")
        assert_no_key(out.stderr, "stderr")
        return out

    return run


@pytest.mark.parametrize("mode", ["text", "json"])
@pytest.mark.parametrize("fault", list(HTTP_FAULTS), ids=list(HTTP_FAULTS))
def test_one_shot_http_faults_never_show_the_key(fault: str, mode: str, fake: FakeOpenAI, oneshot: Any,
                                                 tmp_path: Path, _isolated_chat_env: Path) -> None:
    scripted, code = HTTP_FAULTS[fault]
    fake.queue(*scripted)
    args = ["-p", "hi", "--save"] + (["--json"] if mode == "json" else ["--usage"])
    done = oneshot(*args)
    assert done.returncode == code, done.stderr
    assert any(line.startswith("chat: ") for line in done.stderr.splitlines()), done.stderr
    assert fake.chat_requests[-1].headers["authorization"] == f"Bearer {LEAK}"  # the key was in play
    if mode == "json" and done.stdout:
        import json

        assert json.loads(done.stdout)["error"]
    if fault in ECHOED:
        assert "[redacted]" in done.stderr + done.stdout, done.stderr
    # The history database (--save) and the usage log are among the files read.
    assert assert_no_key_in_files(tmp_path, _isolated_chat_env) >= 2


def test_one_shot_retry_notices_never_show_the_key(fake: FakeOpenAI, oneshot: Any, tmp_path: Path) -> None:
    fake.queue(Error(429, ECHO, type="requests", retry_after=0), Error(503, ECHO, type="server_error", retry_after=0),
               Reply("made it"))
    done = oneshot("-p", "hi", "--usage", "--save", env={"CHAT_MAX_RETRIES": "2"})
    assert done.returncode == 0, done.stderr
    assert done.stderr.count("retrying") == 2
    assert done.stdout == "made it\n"
    assert_no_key_in_files(tmp_path)


@pytest.mark.parametrize("mode", ["text", "json"])
def test_one_shot_connection_refused_never_shows_the_key(mode: str, oneshot: Any, tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{closed_port()}/v1"
    done = oneshot("-p", "hi", "--base-url", url, *(["--json"] if mode == "json" else []))
    assert done.returncode == 6
    assert url in done.stderr
    assert_no_key_in_files(tmp_path)


def test_one_shot_timeout_never_shows_the_key(fake: FakeOpenAI, oneshot: Any, tmp_path: Path) -> None:
    hang = Hang()
    fake.queue(hang)
    try:
        done = oneshot("-p", "hi", env={"CHAT_TIMEOUT": "0.5"})
    finally:
        hang.release()
    assert done.returncode == 6
    assert_no_key_in_files(tmp_path)


def test_one_shot_success_with_json_and_usage_never_shows_the_key(fake: FakeOpenAI, oneshot: Any,
                                                                 tmp_path: Path) -> None:
    fake.queue(Reply("fine"), Reply("also fine"))
    done = oneshot("-p", "hi", "--json", "--save")
    assert done.returncode == 0, done.stderr
    done = oneshot("-p", "hi", "--usage", "-c")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "also fine\n"
    for command in (["history"], ["history", "--json"], ["export", "1"], ["export", "1", "--format", "json"],
                    ["usage"], ["usage", "--json"]):
        shown = oneshot(*command)
        assert shown.returncode == 0, (command, shown.stderr)
    assert_no_key_in_files(tmp_path)


def test_api_key_cmd_that_fails_after_printing_the_key(fake: FakeOpenAI, oneshot: Any, tmp_path: Path) -> None:
    config = write_config(tmp_path / "cfg" / "config.toml", f'api_key_cmd = "{key_cmd(1)}"\n')
    done = oneshot("-p", "hi", "--config", str(config), key=False)
    assert done.returncode == 2, done.stderr
    assert "api_key_cmd failed (exit status 1)" in done.stderr
    assert fake.requests == []
    assert_no_key_in_files(tmp_path, allowed=[config])


def test_api_key_cmd_that_fails_echoing_a_key_of_another_shape(fake: FakeOpenAI, oneshot: Any,
                                                               tmp_path: Path) -> None:
    other = "LEAKCHECK0123456789abcdef-azure"
    config = write_config(tmp_path / "cfg" / "config.toml", f'api_key_cmd = "{key_cmd(1, other)}"\n')
    done = oneshot("-p", "hi", "--config", str(config), key=False)
    assert done.returncode == 2, done.stderr


def test_api_key_cmd_that_succeeds_then_the_server_echoes_it(fake: FakeOpenAI, oneshot: Any, tmp_path: Path) -> None:
    fake.queue(Error(401, ECHO, code="invalid_api_key"))
    config = write_config(tmp_path / "cfg" / "config.toml", f'api_key_cmd = "{key_cmd(0)}"\n')
    done = oneshot("-p", "hi", "--config", str(config), key=False)
    assert done.returncode == 3, done.stderr
    assert fake.chat_requests[-1].headers["authorization"] == f"Bearer {LEAK}"
    assert_no_key_in_files(tmp_path, allowed=[config])


@pytest.mark.parametrize("case", cases({}))
def test_bad_config_file_holding_the_key(case: str, fake: FakeOpenAI, oneshot: Any, tmp_path: Path) -> None:
    config = bad_config(tmp_path / "cfg" / "config.toml", case)
    done = oneshot("-p", "hi", "--config", str(config), key=False)
    assert done.returncode == 2, done.stderr
    assert str(config) in done.stderr
    assert fake.requests == []
    assert_no_key_in_files(tmp_path, allowed=[config])


def test_key_in_environment_with_a_bad_setting(fake: FakeOpenAI, oneshot: Any, tmp_path: Path) -> None:
    done = oneshot("-p", "hi", env={"CHAT_TEMPERATURE": LEAK, "CHAT_API_KEY": LEAK})
    assert done.returncode == 2
    assert "CHAT_TEMPERATURE" in done.stderr


# -- the permission warning ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("mode", "warnings"), [(0o644, 1), (0o640, 1), (0o604, 1), (0o600, 0), (0o400, 0)])
def test_readable_config_with_the_key_warns_once_in_one_shot(mode: int, warnings: int, fake: FakeOpenAI,
                                                             oneshot: Any, tmp_path: Path) -> None:
    fake.queue(Reply("ok"))
    config = write_config(tmp_path / "cfg" / "config.toml", f'api_key = "{LEAK}"\n', mode)
    done = oneshot("-p", "hi", "--config", str(config), key=False)
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stderr.splitlines() if "warning" in line]
    assert len(lines) == warnings, done.stderr
    assert done.stderr.count(str(config)) == (2 if warnings else 0)  # "<path> holds api_key ...: chmod 600 <path>"
    if warnings:
        assert "chmod 600" in lines[0]
    assert fake.chat_requests[-1].headers["authorization"] == f"Bearer {LEAK}"

