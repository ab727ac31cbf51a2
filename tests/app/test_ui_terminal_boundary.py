"""The app draws and copies stored and model text as shown: no sequence of hostile.HOSTILE_ESCAPES reaches the
terminal from a reply, a toast, a stored title or a stored system prompt."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from chatbot.core.store.history import HistoryStore
from chatbot.core.terminal import neutralize
from chatbot.ui.app import make_app
from fake_openai import FakeOpenAI, Reply
from hostile import (
    CONTROL,
    HIDDEN,
    H,
    assert_terminal_clean,
    seed_old_database,
)
from support import SIZE, Notified, send, until

# -- the app draws and copies the text as shown -------------------------------------------------------------------


def app_on(db: Path, make_settings: Any, **kwargs: Any) -> Any:
    return make_app(make_settings(), store=HistoryStore(db), **kwargs)


async def test_ctrl_y_copies_the_reply_as_shown(fake: FakeOpenAI, make_settings: Any) -> None:
    fake.queue(Reply(H))
    app = make_app(make_settings())
    notified = Notified()
    async with app.run_test(size=SIZE, message_hook=notified) as pilot:
        await send(pilot, "hi")
        await pilot.press("ctrl+y")
        await pilot.pause()
        # What the app hands to the terminal's clipboard (OSC 52) is the text on the screen, not the raw reply.
        assert app.clipboard == neutralize(H)
        assert any(f"({len(neutralize(H)):,} characters)" in n for n in notified.messages), notified.messages
        assert app.session.conversation.last_reply().content == H  # the conversation keeps what was sent


async def test_notifications_are_drawn_as_data(fake: FakeOpenAI, make_settings: Any) -> None:
    app = make_app(make_settings())
    notified = Notified()
    async with app.run_test(size=SIZE, message_hook=notified) as pilot:
        app.notify(H + " [@click=app.quit]markup[/]", title=H)
        app.screen.notify("from a screen " + H)
        await pilot.pause()
        assert all(not CONTROL.search(n.replace("\t", "")) for n in notified.messages), notified.messages
        assert any("[@click=app.quit]markup[/]" in n for n in notified.messages)  # literal, never markup
        assert_terminal_clean(app, forbidden=HIDDEN)


async def test_opening_a_conversation_with_a_hostile_title_shows_it_clean(fake: FakeOpenAI, make_settings: Any,
                                                                          tmp_path: Path) -> None:
    db = tmp_path / "history.db"
    seed_old_database(db)
    app = app_on(db, make_settings)
    notified = Notified()
    async with app.run_test(size=SIZE, message_hook=notified) as pilot:
        await pilot.press("f4")
        await until(pilot, lambda: app.screen.__class__.__name__ == "HistoryScreen")
        await pilot.pause()
        assert_terminal_clean(app, forbidden=HIDDEN)
        await pilot.press("ctrl+t")  # rename: the title goes into the search box
        await pilot.pause()
        assert_terminal_clean(app, forbidden=HIDDEN)
        await pilot.press("escape")
        await pilot.press("f4")
        await until(pilot, lambda: app.screen.__class__.__name__ == "HistoryScreen")
        await pilot.press("enter")
        await until(pilot, lambda: any(n.startswith("Opened") for n in notified.messages))
        await pilot.pause()
        assert_terminal_clean(app, forbidden=HIDDEN)
        assert all(not CONTROL.search(n.replace("\t", "")) for n in notified.messages), notified.messages


async def test_the_system_prompt_editor_shows_a_stored_prompt_clean(fake: FakeOpenAI, make_settings: Any,
                                                                    tmp_path: Path) -> None:
    db = tmp_path / "history.db"
    conversation_id = seed_old_database(db)
    app = app_on(db, make_settings, resume_id=conversation_id)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.session.conversation.system_prompt == H
        app.screen.action_edit_system_prompt()
        await until(pilot, lambda: app.screen.__class__.__name__ == "SystemPromptScreen")
        await pilot.pause()
        assert_terminal_clean(app, forbidden=HIDDEN)
        assert "cleared" in app.screen.query_one("TextArea").text

