"""The app and its history: writes never freeze it, the status bar's money is the ledger's, settings are kept
when they are made."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
from decimal import Decimal
from pathlib import Path
from typing import Any

from textual.command import CommandList, CommandPalette
from textual.widgets import OptionList, TextArea

from chatbot.core.pricing import Spent, format_cost
from chatbot.core.store.history import HistoryStore
from chatbot.ui.app import ChatApp, make_app
from chatbot.ui.screens.history import HistoryScreen
from chatbot.ui.screens.system_prompt import SystemPromptScreen
from chatbot.ui.widgets.prompt_input import PromptInput
from fake_openai import FakeOpenAI, Reply
from support import caught_up, send, status, stop_mid_reply, until, wait_turn

SIZE = (120, 36)

# Another `chat` writing the same history: it takes the write lock and keeps it until told to let go.
LOCKER = """
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
sys.stdin.readline()
db.execute("COMMIT")
"""


def app_with(make_settings: Any, db: Path, **flags: Any) -> ChatApp:
    return make_app(make_settings(**flags), store=HistoryStore(db))


async def test_a_locked_history_never_freezes_the_app_and_everything_is_stored_after(
        fake: FakeOpenAI, make_settings: Any, db: Path, reader: Any) -> None:
    gate = threading.Event()
    pieces = [f"w{i} " for i in range(6)]
    fake.queue(Reply(pieces, hold=gate, hold_after=2, prompt_tokens=12, completion_tokens=6))
    app = app_with(make_settings, db, model="gpt-4o")
    locker = subprocess.Popen([sys.executable, "-c", LOCKER, str(db)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert locker.stdout is not None and locker.stdin is not None
        assert locker.stdout.readline() == "locked\n"
        async with app.run_test(size=SIZE) as pilot:
            prompt = app.query_one(PromptInput)
            prompt.insert("hello")
            await pilot.press("enter")
            await until(pilot, lambda: app.session.in_flight is not None and len(app.session.in_flight.parts) == 2,
                        limit=3000)  # the first send waits for the tokenizer to load

            await pilot.press(*"typed meanwhile")  # the reply streams, the file is locked
            assert prompt.text == "typed meanwhile"
            assert app.writer is not None and app.writer.pending > 0  # the writes wait, the app does not
            gate.set()
            await wait_turn(pilot)
            assert app.session.conversation.messages[-1].content == "".join(pieces)
            await pilot.press("!")
            assert prompt.text == "typed meanwhile!" and app.writer.pending > 0  # still locked, still typing

            locker.stdin.write("\n")
            locker.stdin.flush()
            assert await asyncio.to_thread(locker.wait, 60) == 0
            await caught_up(app)
            conversation_id = app.recorder.conversation_id
    finally:
        if locker.poll() is None:
            locker.kill()
    store = reader()
    stored = store.load(conversation_id)
    assert [(m.role, m.content, m.stopped) for m in stored.conversation.messages] == [
        ("user", "hello", False), ("assistant", "".join(pieces), False)]
    [used] = store.usage()
    assert (used.requests, used.prompt_tokens, used.completion_tokens) == (1, 12, 6)


async def test_the_session_total_is_what_chat_usage_counts_after_a_stop_and_two_regenerations(
        fake: FakeOpenAI, make_settings: Any, db: Path, reader: Any) -> None:
    fake.queue(Reply([f"w{i} " for i in range(40)], chunk_delay=0.05, prompt_tokens=30),
               Reply("second draft", prompt_tokens=40, completion_tokens=3),
               Reply("third draft", prompt_tokens=40, completion_tokens=4))
    app = app_with(make_settings, db, model="gpt-4o")
    async with app.run_test(size=SIZE) as pilot:
        await stop_mid_reply(pilot, "write something")
        for _ in range(2):
            await pilot.press("ctrl+r")
            await wait_turn(pilot)
        await caught_up(app)
        [used] = reader().usage()
        assert used.requests == 3 == app.session.totals.requests
        assert f"session {format_cost(used.cost)}" in status(app)
        assert used.cost.known > app.session.conversation.messages[-1].cost  # more than the reply that stayed

        # The history screen says the same of the conversation.
        await pilot.press("f4")
        await until(pilot, lambda: isinstance(app.screen, HistoryScreen))
        await pilot.pause()
        [line] = [str(app.screen.query_one(OptionList).get_option_at_index(0).prompt)]
        assert f" {format_cost(used.cost)} " in f"{line} "  # the cost ends the row


async def test_an_unpriced_reply_leaves_the_known_part_of_the_session_total(fake: FakeOpenAI, make_settings: Any,
                                                                            db: Path) -> None:
    fake.queue(Reply("priced", prompt_tokens=20, completion_tokens=2), Reply("unpriced"))
    app = app_with(make_settings, db, model="gpt-4o")
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "one")
        app.session.set_model("my-local-llama")
        await send(pilot, "two")
        assert app.session.totals.spent == Spent(Decimal("0.00007"), unpriced=True)
        assert "session $0.00007+?" in status(app) and "last $?" in status(app)


async def test_a_model_switch_and_an_edited_system_prompt_are_kept_without_another_message(
        fake: FakeOpenAI, make_settings: Any, db: Path, reader: Any) -> None:
    fake.queue(Reply("ok"))
    app = app_with(make_settings, db, model="gpt-4o-mini")
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "hello")
        await pilot.press("f2", *"gpt-4.1-nano", "enter")
        await until(pilot, lambda: app.session.model == "gpt-4.1-nano")
        await pilot.press("f3", *"writing", "enter")
        await until(pilot, lambda: app.session.preset_name == "writing")
        await pilot.press("ctrl+p")
        await until(pilot, lambda: isinstance(app.screen, CommandPalette))
        await pilot.press(*"Edit system prompt")

        def top_hit() -> bool:
            commands = app.screen.query_one(CommandList)
            option = commands.get_option_at_index(commands.highlighted or 0) if commands.option_count else None
            return getattr(option, "hit", None) is not None and option.hit.text == "Edit system prompt"

        await until(pilot, top_hit)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, SystemPromptScreen))
        app.screen.query_one(TextArea).text = "Answer in haiku."
        await pilot.press("ctrl+s")
        await until(pilot, lambda: app.session.conversation.system_prompt == "Answer in haiku.")
        await caught_up(app)
        conversation_id = app.recorder.conversation_id
    stored = reader().load(conversation_id)  # after quitting, and nothing sent since
    assert (stored.model, stored.preset, stored.conversation.system_prompt) == (
        "gpt-4.1-nano", "writing", "Answer in haiku.")
    assert len(fake.chat_requests) == 1
