"""The ledger from the command line: importing an export adds no usage, however often."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from fake_openai import FakeOpenAI, Reply
from support import TEST_API_KEY as KEY
from support import offline


@pytest.fixture
def chat(fake: FakeOpenAI) -> Callable[..., subprocess.CompletedProcess]:
    """chat(*args) -> the finished `chat` subprocess, against the fake, with the test's XDG dirs."""
    # The fake stands in for OpenAI: its replies are priced at the catalogue's rates.
    env = offline(dict(os.environ, OPENAI_API_KEY=KEY, OPENAI_BASE_URL=fake.base_url, CHAT_CATALOGUE_PRICES="true"))

    def run(*args: str) -> subprocess.CompletedProcess:
        done = subprocess.run([sys.executable, "-m", "chatbot", *args], stdin=subprocess.DEVNULL, capture_output=True,
                              text=True, env=env, cwd=os.getcwd(), timeout=120)
        assert "Traceback" not in done.stderr, done.stderr
        return done

    return run


def usage_json(chat: Callable[..., subprocess.CompletedProcess]) -> list[dict[str, Any]]:
    return json.loads(chat("usage", "--json").stdout)


# -- the command line ------------------------------------------------------------------------------------------


def test_importing_an_export_adds_no_usage_however_often(fake: FakeOpenAI, chat: Any, tmp_path: Path) -> None:
    fake.queue(Reply("an answer", prompt_tokens=20, completion_tokens=3))
    assert chat("-p", "a question", "--save", "-m", "gpt-4o").returncode == 0
    before = usage_json(chat)
    assert [r["requests"] for r in before] == [1]
    exported = tmp_path / "export.json"
    assert chat("export", "1", "--format", "json", "-o", str(exported)).returncode == 0

    for _ in range(2):
        assert chat("import", str(exported)).returncode == 0

    assert usage_json(chat) == before
    listed = json.loads(chat("history", "--json").stdout)
    assert len(listed) == 3
    # Only the conversation the requests were sent from carries their cost; the imported copies cost nothing here.
    assert sorted(c["cost_usd"] for c in listed) == ["0", "0", "0.00008"]



def test_a_one_shot_request_is_counted_though_its_exchange_is_not_kept(fake: FakeOpenAI, chat: Any) -> None:
    fake.queue(Reply("an answer", prompt_tokens=20, completion_tokens=3), Reply("again", prompt_tokens=20,
                                                                                completion_tokens=3))
    assert chat("-p", "a question", "-m", "gpt-4o").returncode == 0
    assert json.loads(chat("history", "--json").stdout) == []  # nothing of the exchange without --save
    [day] = usage_json(chat)
    assert (day["requests"], day["prompt_tokens"], day["completion_tokens"], day["cost"]) == (1, 20, 3, "0.00008")

    assert chat("-p", "a question", "-m", "gpt-4o", "--no-history").returncode == 0
    assert [r["requests"] for r in usage_json(chat)] == [1]  # --no-history keeps nothing, not even the cost


def test_a_history_that_cannot_be_opened_does_not_stop_a_one_shot_answer(fake: FakeOpenAI, chat: Any) -> None:
    fake.queue(Reply("an answer"))
    data = Path(os.environ["XDG_DATA_HOME"]) / "chatbot"
    data.mkdir(parents=True, exist_ok=True)
    (data / "history.db").write_bytes(b"this is not an SQLite file" * 100)
    done = chat("-p", "a question")
    assert (done.returncode, done.stdout) == (0, "an answer\n")
    assert "cannot open the history" in done.stderr and "not counted in chat usage" in done.stderr
