"""The API key never appears in the app: its screen as drawn, its toasts, its screenshot and its transcript, nor
in any file the run leaves behind."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path
from typing import Any

import pytest

from chatbot.core.settings import load_settings
from chatbot.ui.app import ChatApp, make_app
from fake_openai import Error, FakeOpenAI
from hostile import terminal_update
from leak_check import (
    ECHO,
    ECHOED,
    HTTP_FAULTS,
    LEAK,
    assert_no_key,
    assert_no_key_in_files,
    key_cmd,
    write_config,
)
from support import SIZE, Notified, screen_text, send, until, views, wait_turn

pytestmark = pytest.mark.usefixtures("no_key_left_in_files")


@pytest.mark.parametrize(("mode", "warned"), [(0o644, True), (0o600, False)])
async def test_readable_config_with_the_key_warns_in_the_app(mode: int, warned: bool, fake: FakeOpenAI,
                                                             tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path / "config.toml", f'api_key = "{LEAK}"\nbase_url = "{fake.base_url}"\n', mode)
    settings, warnings = load_settings(config)
    app = make_app(settings, warnings=warnings)
    notified = Notified()
    async with app.run_test(size=SIZE, message_hook=notified) as pilot:
        await pilot.pause()
        notes = [n for n in notified.notes if "api_key" in n.message]
        assert len(notes) == (1 if warned else 0), [n.message for n in notified.notes]
        if warned:
            assert notes[0].severity == "warning" and str(config) in notes[0].message
        check_app_output(app, notified)
    check_captured(capfd)


# -- the TUI -------------------------------------------------------------------------------------------------


def check_app_output(app: ChatApp, notified: Notified) -> None:
    """Screen (as drawn), widgets' text, notifications, screenshot, transcript views."""
    lines, written = terminal_update(app)
    assert_no_key("\n".join(lines), "the screen")
    assert_no_key(written, "the terminal output")
    assert_no_key(screen_text(app), "a widget")
    for note in notified.notes:
        assert_no_key(f"{note.title} {note.message}", "a notification")
    assert_no_key(app.export_screenshot(), "the screenshot")
    from chatbot.ui.screens.chat import ChatScreen

    if isinstance(app.screen, ChatScreen):
        for _, text in views(app):
            assert_no_key(text, "the transcript")
    for message in app.session.conversation.messages:
        assert_no_key(repr(message), "a stored message")


def check_captured(capfd: pytest.CaptureFixture[str]) -> None:
    out, err = capfd.readouterr()
    assert_no_key(out, "the process's stdout")
    assert_no_key(err, "the process's stderr")


TUI_FAULTS = {name: scripted for name, (scripted, _) in HTTP_FAULTS.items()}


@pytest.mark.parametrize("fault", list(TUI_FAULTS), ids=list(TUI_FAULTS))
async def test_app_http_faults_never_show_the_key(fault: str, fake: FakeOpenAI, make_settings: Any,
                                                  tmp_path: Path, _isolated_chat_env: Path,
                                                  capfd: pytest.CaptureFixture[str]) -> None:
    from chatbot.core.store.history import HistoryStore

    fake.queue(*TUI_FAULTS[fault])
    store = HistoryStore()  # under the isolated XDG_DATA_HOME
    app = make_app(make_settings(api_key=LEAK, max_retries=0), store=store)
    try:
        notified = Notified()
        async with app.run_test(size=SIZE, message_hook=notified) as pilot:
            await send(pilot, "keep my words")
            assert views(app)[-1][0] == "error"
            if fault in ECHOED:
                assert "[redacted]" in views(app)[-1][1], views(app)[-1][1]
            check_app_output(app, notified)
            await pilot.press("f1")  # the help screen, then back
            await pilot.pause()
            check_app_output(app, notified)
    finally:
        store.close()
    assert fake.chat_requests[-1].headers["authorization"] == f"Bearer {LEAK}"
    check_captured(capfd)
    assert assert_no_key_in_files(_isolated_chat_env) >= 1  # the history database at least


async def test_app_retry_countdown_never_shows_the_key(fake: FakeOpenAI, make_settings: Any,
                                                       capfd: pytest.CaptureFixture[str]) -> None:
    fake.queue(Error(429, ECHO, type="requests", retry_after=30))
    app = make_app(make_settings(api_key=LEAK, max_retries=2, retry_max_wait=60))
    notified = Notified()
    async with app.run_test(size=SIZE, message_hook=notified) as pilot:
        app.screen.prompt.insert("patience")
        await pilot.press("enter")
        screen = app.screen
        await until(pilot, lambda: screen.reply_view is not None and "retrying in" in screen.reply_view.note)
        check_app_output(app, notified)
        await pilot.press("escape")
        await wait_turn(pilot)
        check_app_output(app, notified)
    check_captured(capfd)


def test_app_connection_refused_never_shows_the_key(make_settings: Any, capfd: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]

    async def run() -> None:
        app = make_app(make_settings(base_url=f"http://127.0.0.1:{port}/v1", api_key=LEAK, max_retries=0))
        notified = Notified()
        async with app.run_test(size=SIZE, message_hook=notified) as pilot:
            await send(pilot, "anyone?")
            assert views(app)[-1][0] == "error"
            check_app_output(app, notified)

    asyncio.run(run())
    check_captured(capfd)


async def test_app_api_key_cmd_failure_never_shows_the_key(fake: FakeOpenAI, tmp_path: Path,
                                                           capfd: pytest.CaptureFixture[str]) -> None:
    settings, _ = load_settings(None, api_key_cmd=key_cmd(1), base_url=fake.base_url)
    app = make_app(settings)
    notified = Notified()
    async with app.run_test(size=SIZE, message_hook=notified) as pilot:
        await until(pilot, lambda: app.ready.is_set() and notified.notes)
        await pilot.pause()
        messages = [n.message for n in notified.notes]
        assert any("api_key_cmd failed" in m for m in messages), messages
        check_app_output(app, notified)
    check_captured(capfd)

