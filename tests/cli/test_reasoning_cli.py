"""`chat -p` with a reasoning model, as a real subprocess against the fake: stdout holds the answer alone, the
reasoning goes to stderr only with --show-reasoning (dimmed on a terminal, plain elsewhere, cleaned both ways), and
--json and --usage count it."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
from pathlib import Path

from fake_openai import FakeOpenAI, Reply
from support import TEST_API_KEY as KEY

THOUGHT = ["The user", " asks 2+2.", " \x1b]0;pwned\x07Four."]


def test_json_has_the_reasoning_and_its_tokens(fake: FakeOpenAI, run_chat) -> None:
    fake.queue(Reply("4", reasoning="Two plus two.", prompt_tokens=30, completion_tokens=200, reasoning_tokens=190))

    done = run_chat("-p", "2+2?", "--json", "--model", "gpt-4o-mini")

    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["reply"] == "4" and result["reasoning"] == "Two plus two."
    assert result["usage"]["completion_tokens"] == 200 and result["usage"]["reasoning_tokens"] == 190
    assert "Two plus two" not in done.stderr


def test_piped_stdout_holds_the_answer_alone_and_stderr_no_reasoning(fake: FakeOpenAI, run_chat) -> None:
    fake.queue(Reply("Four.", reasoning=THOUGHT, prompt_tokens=30, completion_tokens=200, reasoning_tokens=190))

    done = run_chat("-p", "2+2?", "--usage", "--model", "gpt-4o-mini")

    assert done.returncode == 0, done.stderr
    assert done.stdout == "Four.\n"
    assert "asks 2+2" not in done.stderr  # a log of stderr is not filled with reasoning
    assert "completion 200 (190 reasoning)" in done.stderr


def test_piped_stderr_with_show_reasoning_gets_it_plain_and_clean(fake: FakeOpenAI, run_chat) -> None:
    fake.queue(Reply("Four.", reasoning=THOUGHT))

    done = run_chat("-p", "2+2?", "--show-reasoning", "--model", "gpt-4o-mini")

    assert done.returncode == 0, done.stderr
    assert done.stdout == "Four.\n"
    assert done.stderr == "The user asks 2+2. Four.\n"  # no dimming, and the model's own sequence removed


def _on_a_terminal_stderr(fake: FakeOpenAI, chat_env: dict[str, str], tmp_path: Path, *flags: str) -> tuple[str, str]:
    """`chat -p` with its stderr on a pseudo-terminal: (stdout, what the terminal got)."""
    env = {**chat_env, "OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": fake.base_url}
    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen([sys.executable, "-m", "chatbot", "-p", "2+2?", "--model", "gpt-4o-mini", *flags],
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=slave, env=env,
                                cwd=tmp_path)
    finally:
        os.close(slave)
    chunks = []
    try:
        while True:
            ready, _, _ = select.select([master], [], [], 120)
            assert ready, "chat wrote nothing for 120 s"
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: every writer closed the terminal
                break
            if not data:
                break
            chunks.append(data)
    finally:
        os.close(master)
    assert proc.stdout is not None
    out = proc.stdout.read().decode()
    proc.stdout.close()
    assert proc.wait(timeout=120) == 0
    return out, b"".join(chunks).decode("utf-8", "replace").replace("\r\n", "\n")


def test_a_terminal_stderr_shows_the_reasoning_dimmed_and_clean(
        fake: FakeOpenAI, chat_env: dict[str, str], tmp_path: Path) -> None:
    fake.queue(Reply("Four.", reasoning=THOUGHT))

    out, err = _on_a_terminal_stderr(fake, chat_env, tmp_path, "--show-reasoning")

    assert out == "Four.\n"
    assert "\x1b[2mThe user\x1b[22m" in err and "asks 2+2." in err and "Four." in err
    assert "pwned" not in err and "\x1b]" not in err  # the model's own sequences are removed
    assert err.endswith("\x1b[22m\n")  # the reasoning's line is ended


def test_a_terminal_stderr_shows_no_reasoning_unasked(fake: FakeOpenAI, chat_env: dict[str, str],
                                                      tmp_path: Path) -> None:
    fake.queue(Reply("Four.", reasoning=THOUGHT))

    out, err = _on_a_terminal_stderr(fake, chat_env, tmp_path)

    assert out == "Four.\n"
    assert err == ""


def test_help_names_show_reasoning(run_chat) -> None:
    done = run_chat("--help")
    assert "--show-reasoning" in " ".join(done.stdout.split())


def test_chat_usage_shows_reasoning_in_a_column_of_its_own(run_chat, chat_env: dict[str, str]) -> None:
    from decimal import Decimal

    from chatbot.core.events import Usage
    from chatbot.core.request import Request
    from chatbot.core.store.history import HistoryStore

    store = HistoryStore(Path(chat_env["XDG_DATA_HOME"]) / "chatbot" / "history.db")
    try:
        store.add_request(None, Request("o4-mini", "ok", Usage(40, 900, 0, reasoning_tokens=850), Decimal("0.004"),
                                        timestamp=1700000000.0))
    finally:
        store.close()

    table = run_chat("usage").stdout.splitlines()
    rows = json.loads(run_chat("usage", "--json").stdout)

    assert table[0].split() == ["day", "model", "requests", "prompt", "cached", "completion", "reasoning", "cost"]
    assert table[1].split()[2:] == ["1", "40", "0", "900", "850", "$0.0040"]
    assert rows[0]["completion_tokens"] == 900 and rows[0]["reasoning_tokens"] == 850
