"""`chat usage` and the usage log from the command line, and the one rule for a conversation's cost that
the history list, the export and the usage table share."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from chatbot.core import paths
from chatbot.core.conversation import Message
from chatbot.core.events import Usage
from chatbot.core.pricing import format_cost
from chatbot.core.request import OK, RETRIED, SENT, STOPPED, Request
from chatbot.core.store.history import HistoryStore
from chatbot.core.totals import Totals
from fake_openai import Error, FakeOpenAI, Reply
from stored_history import DAY1, DAY2, EXPECTED_USAGE, PRICED, db_path, fill_usage, front_matter
from support import TEST_API_KEY as KEY

USAGE_LOG_FIELDS = {"timestamp", "request_id", "model", "prompt_tokens", "cached_tokens", "completion_tokens",
                    "reasoning_tokens", "usage_estimated", "cost_usd", "first_token_seconds", "total_seconds",
                    "status", "error"}


def test_cli_usage_json_and_table(chat: Any) -> None:
    store = HistoryStore(db_path())
    fill_usage(store)
    store.close()

    assert json.loads(chat("usage", "--json").stdout) == EXPECTED_USAGE
    table = chat("usage").stdout.splitlines()
    assert table[0].split() == ["day", "model", "requests", "prompt", "cached", "completion", "cost"]
    assert [line.split() for line in table[1:]] == [
        ["2024-01-01", "gpt-4o", "3", "300", "20", "30", "$0.300"],
        ["2024-01-01", "gpt-4o-mini", "1", "1,000", "500", "300", "$0.000075"],
        ["2024-01-02", "gpt-4o-mini", "2", "110", "10", "11", "$0.000195"],
        ["2024-01-02", "local-model", "2", "100", "0", "10", "$0.00001+?"],  # the known part, and a mark
        ["total", "8", "1,510", "530", "351", "$0.300+?"],
    ]
    widths = {len(line) for line in table}
    assert len(widths) == 1  # columns line up


def test_cli_usage_days_are_local_days(chat: Any) -> None:
    store = HistoryStore(db_path())
    c = store.create("gpt-4o", "balanced", "")
    store.add_request(c, Request("gpt-4o", OK, Usage(10, 1, 0), Decimal("0.1"),
                                 timestamp=DAY2 - 9 * 3600))  # 2024-01-02 03:00 UTC
    store.close()

    utc = json.loads(chat("usage", "--json", env={"TZ": "UTC0"}).stdout)
    west = json.loads(chat("usage", "--json", env={"TZ": "XYZ+08"}).stdout)  # POSIX: 8 hours behind UTC

    assert [r["day"] for r in utc] == ["2024-01-02"]
    assert [r["day"] for r in west] == ["2024-01-01"]  # 19:00 the evening before, where the user is


def test_cli_usage_counts_real_one_shot_requests(fake: FakeOpenAI, chat: Any) -> None:
    fake.queue(Reply("a", prompt_tokens=20, completion_tokens=3, cached_tokens=4),
               Reply("b", prompt_tokens=40, completion_tokens=2))
    assert chat("-p", "one", "--save", "-m", "gpt-4o").returncode == 0
    assert chat("-c", "-p", "two").returncode == 0
    [row] = json.loads(chat("usage", "--json").stdout)
    assert {k: row[k] for k in ("model", "requests", "prompt_tokens", "cached_tokens", "completion_tokens", "cost")} \
        == {"model": "gpt-4o", "requests": 2, "prompt_tokens": 60, "cached_tokens": 4, "completion_tokens": 5,
            "cost": "0.000195"}
COST_CASES = {
    # Billed for the prompt, nothing generated (an empty reply), by a model with no price: unknown.
    "no price, prompt tokens only": ([PRICED, (Usage(50, 0, 0), None, OK)], "$0.00035+?"),
    "no price, completion tokens": ([PRICED, (Usage(50, 5, 0), None, STOPPED)], "$0.00035+?"),
    # Cut off by a crash before any usage came: nothing known was billed, so it adds nothing.
    "no usage at all": ([PRICED, (Usage(), Decimal(0), SENT)], "$0.00035"),
    # A 429 that was retried, then the retry: two requests, the first billed nothing.
    "retried": ([(Usage(), Decimal(0), RETRIED), PRICED], "$0.00035"),
    "nothing priced": ([(Usage(50, 5, 0), None, OK)], "$?"),
}


@pytest.mark.parametrize(("requests", "shown"), COST_CASES.values(), ids=COST_CASES)
def test_history_export_and_usage_agree_with_the_session_on_a_conversations_cost(
        chat: Any, requests: list[tuple[Usage, Decimal | None, str]], shown: str) -> None:
    expected = Totals()  # what the session that sent these requests showed as their total
    store = HistoryStore(db_path())
    conversation_id = store.create("local-model", "balanced", "")
    for usage, cost, status in requests:
        store.add(conversation_id, Message("user", "q"))
        store.add(conversation_id, Message("assistant", "a", model="local-model", usage=usage, cost=cost))
        store.add_request(conversation_id, Request("local-model", status, usage, cost, timestamp=DAY1))
        if status != SENT:  # the session never settled the request a crash cut off
            expected.add(usage, cost)
    store.close()
    spent = expected.spent

    [listed] = json.loads(chat("history", "--json").stdout)
    exported = front_matter(chat("export", str(conversation_id)).stdout)
    [used] = json.loads(chat("usage", "--json").stdout)
    table = chat("history").stdout

    exact = None if spent.exact is None else str(spent.exact)
    assert (listed["cost_usd"], listed["known_cost_usd"]) == (exact, str(spent.known))
    assert (used["cost"], used["known_cost"]) == (exact, str(spent.known))
    assert format_cost(spent) == shown and exported["cost"] == shown and f" {shown}  " in table


# -- the usage log ---------------------------------------------------------------------------------------------


def usage_log_lines() -> list[dict[str, Any]]:
    path = paths.state_dir() / "usage.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_usage_log_has_one_line_per_request_and_no_content(fake: FakeOpenAI, chat: Any) -> None:
    fake.queue(Reply("Paris, naturally.", prompt_tokens=20, completion_tokens=3, cached_tokens=4),
               Reply("Berlin, naturally.", prompt_tokens=30, completion_tokens=3))
    env = {"CHAT_USAGE_LOG": "true"}
    assert chat("-p", "capital of France, confidential", "-m", "gpt-4o", env=env).returncode == 0
    assert chat("-p", "capital of Germany, confidential", env=env).returncode == 0

    lines = usage_log_lines()
    assert len(lines) == 2
    first, second = lines
    assert set(first) == USAGE_LOG_FIELDS
    assert (first["model"], first["prompt_tokens"], first["cached_tokens"], first["completion_tokens"]) == (
        "gpt-4o", 20, 4, 3)
    assert first["cost_usd"] == "0.000075" and first["usage_estimated"] is False
    assert first["status"] == "ok" and first["error"] is None
    assert first["request_id"] == "req_1" and second["request_id"] == "req_2"
    assert isinstance(first["timestamp"], float) and first["timestamp"] > 1.7e9
    assert 0 <= first["first_token_seconds"] <= first["total_seconds"]
    assert second["model"] == "gpt-4o-mini"
    raw = (paths.state_dir() / "usage.jsonl").read_text(encoding="utf-8")
    for secret in ("confidential", "Paris", "Berlin", "France", "SECRETSECRET"):
        assert secret not in raw
    assert json.loads(chat("history", "--json").stdout) == []  # a usage log is not history


def test_usage_log_records_a_failed_request_with_its_error_class(fake: FakeOpenAI, chat: Any) -> None:
    fake.queue(Error(401, f"Incorrect API key provided: {KEY}", code="invalid_api_key"),
               Error(400, "bad parameter"))
    env = {"CHAT_USAGE_LOG": "true"}
    assert chat("-p", "hello", env=env).returncode == 3
    assert chat("-p", "hello", env=env).returncode == 2

    auth, bad = usage_log_lines()
    assert (auth["status"], auth["error"]) == ("error", "AuthError")
    assert (bad["status"], bad["error"]) == ("error", "BadRequestError")
    assert auth["request_id"] == "req_1"
    assert (auth["completion_tokens"], auth["first_token_seconds"]) == (0, None)
    assert "SECRETSECRET" not in (paths.state_dir() / "usage.jsonl").read_text(encoding="utf-8")


def test_usage_log_is_off_by_default(fake: FakeOpenAI, chat: Any) -> None:
    fake.queue(Reply("hi"))
    assert chat("-p", "hello").returncode == 0
    assert not (paths.state_dir() / "usage.jsonl").exists()

