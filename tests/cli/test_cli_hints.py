"""What `chat -p` says to do after a failure fits the command line: no key, menu or regenerate of the app, and
one level of brackets (the hint's own, after the message). `chat` runs as a subprocess against the fake server."""

from __future__ import annotations

from typing import Any

import pytest

from fake_openai import Error, FakeOpenAI, Reply

APP_ONLY = ("regenerate", "F2", "F3", "F4", "ctrl+", "in the app", "menu")


def depth(text: str) -> int:
    deepest = level = 0
    for character in text:
        level += {"(": 1, ")": -1}.get(character, 0)
        deepest = max(deepest, level)
    return deepest


@pytest.mark.parametrize(("scripted", "args", "run", "says"), [
    (Error(404, "The model does not exist", code="model_not_found"), ["--model", "gpt-4o"], {},
     "chat --list-models lists models; pick one with -m NAME"),
    (Reply("one two three", drop_after=2), [], {}, "what arrived is printed; ask again to retry"),
    (Reply("one two three", finish_reason=None), [], {}, "what arrived is printed; ask again to retry"),
    (None, [], {"key": False, "base_url": False}, "give --base-url a local server"),
    (None, ["--model", "gpt-4o"], {"env": {"CHAT_MAX_SESSION_COST": "0.001"}},
     "raise max_session_cost, or lower --max-tokens"),
], ids=["model-not-found", "dropped", "broke-off", "no-key", "spend-limit"])
def test_a_one_shot_failure_hints_what_the_command_line_can_do(fake: FakeOpenAI, run_chat: Any, scripted: Any,
                                                               args: list[str], run: dict[str, Any],
                                                               says: str) -> None:
    if scripted is not None:
        fake.queue(scripted)

    done = run_chat("-p", "hi", *args, **{"env": {"CHAT_MAX_RETRIES": "0"}, **run})

    assert done.returncode != 0
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("chat: ") and says in last, done.stderr
    assert not [word for word in APP_ONLY if word in last], last
    assert depth(last) <= 1, last
