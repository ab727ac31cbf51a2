"""The summary of the oldest turns in the app: a folded block after the dimmed turns it stands for."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from textual.widgets import Static, TextArea
from textual.widgets._collapsible import CollapsibleTitle

from chatbot.core.conversation import Message
from chatbot.core.store.history import HistoryStore
from chatbot.core.summary import HEADING
from chatbot.core.tokens import REPLY_PRIMING, TokenCounter
from chatbot.ui.app import make_app
from chatbot.ui.screens.chat import ChatScreen
from chatbot.ui.screens.system_prompt import SystemPromptScreen
from chatbot.ui.widgets.message_view import MessageView
from chatbot.ui.widgets.status_bar import StatusBar
from chatbot.ui.widgets.summary_block import SummaryBlock
from fake_openai import Error, FakeOpenAI, Reply
from support import Notified, caught_up, send, until

SYSTEM = "Be brief."
QUESTIONS = [f"question {i}: " + " ".join(f"{w}{i}" for w in ["alpha", "beta", "gamma", "delta"] * 10)
             for i in range(3)]
ANSWERS = [f"answer {i}." for i in range(3)]
SUMMARY = "SUMMARY of turn 0."


def budget() -> int:
    """Room for the system prompt, the summary and two whole turns: the third question pushes the first out."""
    counter = TokenCounter("o200k_base")
    turn = max(counter.count_message(Message("user", q)) + counter.count_message(Message("assistant", a))
               for q, a in zip(QUESTIONS, ANSWERS, strict=True))
    return (REPLY_PRIMING + counter.count_message(Message("system", SYSTEM)) + 2 * turn
            + counter.count_message(Message("system", HEADING + SUMMARY)) + 2)


def summarizing(make_settings: Any) -> Any:
    """Settings whose budget has the third question summarise the first turn."""
    return make_settings(model="gpt-4o-mini", system_prompt=SYSTEM, max_tokens=50, budget={
        "max_context_tokens": budget() + 50, "strategy": "summarize"})


async def test_the_summary_shows_folded_after_the_turns_it_stands_for(fake: FakeOpenAI, make_settings: Any) -> None:
    fake.queue(Reply(ANSWERS[0]), Reply(ANSWERS[1]), Reply(SUMMARY), Reply(ANSWERS[2]))
    app = make_app(summarizing(make_settings))
    async with app.run_test(size=(120, 40)) as pilot:
        for question in QUESTIONS:
            screen = await send(pilot, question)
        [block] = screen.transcript.query(SummaryBlock)
        assert block.collapsed
        assert block.title == "summary of 1 earlier turn, sent in their place"
        assert str(block.query_one(".summary-text", Static).render()) == SUMMARY
        children = list(screen.transcript.children)
        views = [c for c in children if isinstance(c, MessageView)]
        assert children.index(block) == children.index(views[1]) + 1  # after the first answer, where it was
        assert [v.has_class("dropped") for v in views] == [True, True, False, False, False, False]
        assert screen.session.totals.requests == 4  # the status bar's figures count the summary request


async def test_ctrl_o_and_the_bar_call_the_summarised_turns_summarised(fake: FakeOpenAI, make_settings: Any) -> None:
    fake.queue(Reply(ANSWERS[0]), Reply(ANSWERS[1]), Reply(SUMMARY), Reply(ANSWERS[2]))
    app = make_app(summarizing(make_settings))
    async with app.run_test(size=(120, 40)) as pilot:
        for question in QUESTIONS:
            await send(pilot, question)
        bar = str(app.screen.query_one(StatusBar).render())
        assert "│ 1 summarised │" in bar and "dropped" not in bar  # short labels at this width
        await pilot.press("ctrl+o")
        await pilot.pause()
        title = str(app.screen.query_one("#info-title", Static).render())
        assert title.endswith("1 turn summarised, 0 turns dropped")
        body = str(app.screen.query_one("#info-body Static", Static).render())
        assert body.startswith("Summarised, sent as the summary in their place: 1 turn, 2 messages\n")
        assert "Dropped" not in body and QUESTIONS[0][:40] in body




async def test_e_on_the_summary_edits_it_and_the_next_request_and_the_history_carry_the_edit(
        fake: FakeOpenAI, make_settings: Any, db: Path, reader: Any) -> None:
    fake.queue(Reply(ANSWERS[0]), Reply(ANSWERS[1]), Reply(SUMMARY), Reply(ANSWERS[2]), Reply("answer 3."))
    app = make_app(summarizing(make_settings), store=HistoryStore(db))
    async with app.run_test(size=(120, 40)) as pilot:
        for question in QUESTIONS:
            screen = await send(pilot, question)
        [block] = screen.transcript.query(SummaryBlock)
        block.query_one(CollapsibleTitle).focus()
        await pilot.press("e")
        await until(pilot, lambda: isinstance(app.screen, SystemPromptScreen) and app.screen.query(TextArea),
                    "the summary editor")
        assert str(app.screen.query_one("#system-title", Static).render()) == (
            "Summary of 1 earlier turn, sent in their place")
        editor = app.screen.query_one(TextArea)
        assert editor.text == SUMMARY
        editor.text = "They asked about alpha0, in the user's words."
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, ChatScreen), "the editor to close")

        summary = app.session.conversation.summary
        assert summary is not None and summary.text == "They asked about alpha0, in the user's words."
        assert summary.covers == app.session.conversation.messages[1].id and summary.turns == 1
        [block] = screen.transcript.query(SummaryBlock)
        assert str(block.query_one(".summary-text", Static).render()) == summary.text
        await caught_up(app)
        conversation_id = app.recorder.conversation_id
        kept = reader().load(conversation_id).conversation
        assert kept.summary is not None and kept.summary.text == summary.text  # a resume sends the edit
        assert kept.summary.covers == kept.messages[1].id

        screen.prompt.focus()  # back from the editor, the focus is on the block's title
        await send(pilot, "question 3?")

        assert len(fake.chat_requests) == 5  # no summary made again: one turn more fell out, fewer than 4
        assert fake.last_body["messages"][1] == {"role": "system", "content": HEADING + summary.text}


async def test_escape_in_the_summary_editor_changes_nothing(fake: FakeOpenAI, make_settings: Any) -> None:
    fake.queue(Reply(ANSWERS[0]), Reply(ANSWERS[1]), Reply(SUMMARY), Reply(ANSWERS[2]))
    app = make_app(summarizing(make_settings))
    async with app.run_test(size=(120, 40)) as pilot:
        for question in QUESTIONS:
            screen = await send(pilot, question)
        made = app.session.conversation.summary
        [command] = [c for c in app.get_system_commands(screen) if c.title == "Edit summary"]
        command.callback()
        await until(pilot, lambda: isinstance(app.screen, SystemPromptScreen) and app.screen.query(TextArea),
                    "the summary editor")
        app.screen.query_one(TextArea).text = "something else"
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, ChatScreen), "the editor to close")
        assert app.session.conversation.summary is made and made is not None and made.text == SUMMARY
        [block] = screen.transcript.query(SummaryBlock)
        assert block.summary is made


async def test_without_a_summary_there_is_no_edit_summary_command(fake: FakeOpenAI, make_settings: Any) -> None:
    app = make_app(summarizing(make_settings))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert "Edit summary" not in [c.title for c in app.get_system_commands(app.screen)]


async def test_the_reply_says_it_is_summarising_while_the_summary_request_runs(
        fake: FakeOpenAI, make_settings: Any) -> None:
    hold = threading.Event()
    fake.queue(Reply(ANSWERS[0]), Reply(ANSWERS[1]), Reply(["SUMMARY ", "of turn 0."], hold=hold, hold_after=1),
               Reply(ANSWERS[2]))
    app = make_app(summarizing(make_settings))
    async with app.run_test(size=(120, 40)) as pilot:
        for question in QUESTIONS[:2]:
            screen = await send(pilot, question)
        screen.prompt.insert(QUESTIONS[2])
        await pilot.press("enter")
        try:
            await until(pilot, lambda: len(fake.chat_requests) == 3 and screen.reply_view is not None
                        and screen.reply_view.note == "summarising 1 earlier turn…", "the summarising note")
            bar = str(app.screen.query_one(StatusBar).render())
            assert "dropped 1" in bar  # the summary is not made yet: the turn is still only left out
        finally:
            hold.set()
        await until(pilot, lambda: not screen.busy, "the turn to settle")
        view = screen.transcript.views()[-1]
        assert view.text == ANSWERS[2] and "summarising" not in view.note and "waiting" not in view.note
        assert fake.last_body["messages"][1]["content"] == HEADING + SUMMARY


async def test_a_failed_summary_still_says_so_in_the_reply(fake: FakeOpenAI, make_settings: Any) -> None:
    fake.queue(Reply(ANSWERS[0]), Reply(ANSWERS[1]), Error(400, "no summaries today"), Reply(ANSWERS[2]))
    app = make_app(summarizing(make_settings))
    async with app.run_test(size=(120, 40)) as pilot:
        for question in QUESTIONS:
            screen = await send(pilot, question)
        view = screen.transcript.views()[-1]
        assert view.text == ANSWERS[2] and "summarising" not in view.note
        assert "could not summarise the earlier turns: " in view.note and "no summaries today" in view.note


async def test_an_empty_summary_is_not_saved(fake: FakeOpenAI, make_settings: Any) -> None:
    fake.queue(Reply(ANSWERS[0]), Reply(ANSWERS[1]), Reply(SUMMARY), Reply(ANSWERS[2]))
    app = make_app(summarizing(make_settings))
    notified = Notified()
    async with app.run_test(size=(120, 40), message_hook=notified) as pilot:
        for question in QUESTIONS:
            screen = await send(pilot, question)
        made = app.session.conversation.summary
        screen.action_edit_summary()
        await until(pilot, lambda: isinstance(app.screen, SystemPromptScreen) and app.screen.query(TextArea),
                    "the summary editor")
        app.screen.query_one(TextArea).text = "  \n "
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, ChatScreen), "the editor to close")
        assert app.session.conversation.summary is made
        await until(pilot, lambda: bool(notified.messages), "the notice")
        assert notified.messages[-1] == "The summary is unchanged: an empty one would say nothing."
