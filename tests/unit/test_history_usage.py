"""`chat usage` in process: exact totals per day and model, and the usage log of a session."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from chatbot.core.events import TextDelta
from chatbot.core.pricing import Spent
from chatbot.core.store.history import HistoryStore
from chatbot.core.store.usage_log import UsageLog
from fake_openai import FakeOpenAI, Reply
from stored_history import EXPECTED_USAGE, fill_usage, turn


def test_usage_totals_per_day_and_model_are_exact(store: HistoryStore) -> None:
    fill_usage(store)
    rows = store.usage()
    assert [(r.day, r.model, r.requests) for r in rows] == [
        (e["day"], e["model"], e["requests"]) for e in EXPECTED_USAGE]
    assert [r.cost for r in rows] == [Spent(Decimal("0.3")), Spent(Decimal("0.000075")),
                                         Spent(Decimal("0.000195")), Spent(Decimal("0.00001"), unpriced=True)]


async def test_usage_log_marks_a_dropped_and_a_stopped_reply(fake: FakeOpenAI, make_session: Any,
                                                             tmp_path: Path) -> None:
    log = UsageLog(tmp_path / "usage.jsonl")
    fake.queue(Reply(["half ", "a ", "reply"], drop_after=2),
               Reply(["one ", "two ", "three ", "four "], chunk_delay=0.05))
    session = make_session(None, usage_log=log)
    with pytest.raises(Exception):  # noqa: B017 - the dropped stream
        await turn(session, "first")
    first_piece = asyncio.Event()

    async def consume() -> None:
        async for event in session.send("second"):
            if isinstance(event, TextDelta):
                first_piece.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(first_piece.wait(), 60)
    task.cancel()  # what the app's escape does: the reply is stopped after its first piece
    with pytest.raises(asyncio.CancelledError):
        await task

    dropped, stopped = (json.loads(line) for line in log.path.read_text("utf-8").splitlines())
    assert (dropped["status"], dropped["error"]) == ("error", "StreamDroppedError")
    assert dropped["usage_estimated"] is True and dropped["completion_tokens"] > 0
    assert (stopped["status"], stopped["error"]) == ("stopped", None)

