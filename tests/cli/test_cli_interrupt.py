"""ctrl+c (SIGINT) while `chat -p` streams: what arrived is still printed, as JSON with --json, and with --usage
what it used; then chat says it was interrupted and exits 130. `chat` is a real subprocess; the fake server
holds the stream open after the first piece, so the signal lands while the reply is under way."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from fake_openai import FakeOpenAI, Reply
from support import TEST_API_KEY as KEY


def start(fake: FakeOpenAI, env: dict[str, str], cwd: Path, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "chatbot", "-p", "hi", "--model", "gpt-4o", *args],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=cwd,
                            env={**env, "OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": fake.base_url})


def reply_started(db: Path, proc: subprocess.Popen[bytes]) -> None:
    """Wait until chat has stored the reply it is streaming (it does so on the first piece), or has exited."""
    for _ in range(6000):  # a bound on the polls, not a time limit on chat: it fails only if chat hangs
        if proc.poll() is not None:
            raise AssertionError(f"chat exited early: {proc.communicate()}")
        if db.exists():
            with sqlite3.connect(db) as connection:
                try:
                    if connection.execute("SELECT COUNT(*) FROM messages WHERE role = 'assistant'").fetchone()[0]:
                        return
                except sqlite3.OperationalError:  # the schema is not written yet
                    pass
        time.sleep(0.01)
    raise AssertionError("chat never started the reply")


@pytest.fixture
def held(fake: FakeOpenAI) -> Iterator[threading.Event]:
    """The fake sends the first piece of the reply, then waits for this event (set when the test ends)."""
    gate = threading.Event()
    fake.queue(Reply(["first piece\n", "never ", "sent"], hold=gate, hold_after=1, prompt_tokens=1000))
    yield gate
    gate.set()


def interrupt(proc: subprocess.Popen[bytes]) -> tuple[int, str, str]:
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    return proc.returncode, out.decode(), err.decode()


def test_ctrl_c_during_json_prints_the_json_of_what_arrived(fake: FakeOpenAI, chat_env: dict[str, str],
                                                            tmp_path: Path, held: threading.Event) -> None:
    db = Path(chat_env["XDG_DATA_HOME"]) / "chatbot" / "history.db"
    proc = start(fake, chat_env, tmp_path, "--json", "--usage", "--save")  # --save: the reply's row says it began
    reply_started(db, proc)

    code, out, err = interrupt(proc)

    assert code == 130, err
    result = json.loads(out)
    assert result["reply"] == "first piece\n"
    assert result["error"] == "interrupted" and result["finish_reason"] is None
    assert result["usage"]["prompt_tokens"] > 0 and result["usage"]["completion_tokens"] > 0
    assert result["usage"]["estimated"] is True  # the server's count never came
    assert result["cost_usd"] is not None
    lines = [line for line in err.splitlines() if line]
    assert lines[-2].startswith("usage: prompt ~") and lines[-1] == "chat: interrupted", err
    assert "Traceback" not in err


def test_ctrl_c_during_text_prints_the_usage_of_what_streamed(fake: FakeOpenAI, chat_env: dict[str, str],
                                                              tmp_path: Path, held: threading.Event) -> None:
    proc = start(fake, chat_env, tmp_path, "--usage")
    assert proc.stdout is not None
    assert proc.stdout.readline() == b"first piece\n"  # on the screen: chat has it

    code, out, err = interrupt(proc)

    assert code == 130, err
    assert out == ""  # nothing more arrived, and the reply already ended in a newline
    lines = [line for line in err.splitlines() if line]
    assert lines[-2].startswith("usage: prompt ~") and "cost $" in lines[-2], err
    assert lines[-1] == "chat: interrupted"
    assert "Traceback" not in err
