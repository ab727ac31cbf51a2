"""Helpers shared by the test modules: the test key, a port nothing listens on, an offline subprocess
environment, a sleep that only records, and the pilot steps and readings of the app tests.

The app's modules are imported inside the helpers, so a test of the core can import this module without loading
Textual.
"""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

PROJECT = Path(__file__).resolve().parents[1]

# Recognisable, so a test can check it never leaks into an error message, a file or the terminal.
TEST_API_KEY = "sk-test-SECRETSECRET1234"


def closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def offline(env: dict[str, str]) -> dict[str, str]:
    """`env` for a `chat` subprocess: the package importable, UTF-8 output, and anything that tries to leave
    this machine sent to a closed local port instead."""
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT), env.get("PYTHONPATH", "")]))
    guard = f"http://127.0.0.1:{closed_port()}"
    for var in ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "https_proxy", "http_proxy", "all_proxy"):
        env[var] = guard
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    env["PYTHONIOENCODING"] = "utf-8"
    return env


class SleepRecorder:
    """Stands in for asyncio.sleep: records each requested delay and returns at once."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


# -- the app under the pilot -------------------------------------------------------------------------------------

SIZE = (100, 30)  # the terminal of the app tests that do not need another


def app_for(make_settings: Callable[..., Any], **flags: Any) -> Any:
    """The app as `chat` makes it, on settings from `make_settings(**flags)`."""
    from chatbot.ui.app import make_app

    return make_app(make_settings(**flags))


def chat_screen(app: Any) -> Any:
    """The chat screen, under whatever screen is open on top of it."""
    from chatbot.ui.screens.chat import ChatScreen

    screen = app.screen_stack[0] if not isinstance(app.screen, ChatScreen) else app.screen
    assert isinstance(screen, ChatScreen)
    return screen


def views(app: Any) -> list[tuple[str, str]]:
    """The transcript as (role, text) of each message view."""
    return [(v.role, v.text) for v in chat_screen(app).transcript.views()]


def screen_text(app: Any) -> str:
    """The plain text of every widget on screen, as rendered."""
    texts = []
    for widget in app.screen.query("*"):
        plain = getattr(widget.render(), "plain", None)
        if isinstance(plain, str):
            texts.append(plain)
    return "\n".join(texts)


def status(app: Any) -> str:
    """The status bar as drawn."""
    from chatbot.ui.widgets.status_bar import StatusBar

    return str(app.query_one(StatusBar).render())


def options(app: Any) -> list[tuple[str | None, str]]:
    """The open screen's option list: (id, text) of each option."""
    from textual.widgets import OptionList

    option_list = app.screen.query_one(OptionList)
    found = []
    for i in range(option_list.option_count):
        option = option_list.get_option_at_index(i)
        found.append((option.id, str(option.prompt)))
    return found


class Notified:
    """The toasts the app raised, collected through `run_test(message_hook=...)` as Textual posts them."""

    def __init__(self) -> None:
        self.notes: list[Any] = []

    def __call__(self, message: object) -> None:
        from textual.notifications import Notify

        if isinstance(message, Notify):
            self.notes.append(message.notification)

    @property
    def messages(self) -> list[str]:
        return [str(note.message) for note in self.notes]

    @property
    def errors(self) -> list[str]:
        return [str(note.message) for note in self.notes if note.severity == "error"]


async def caught_up(app: Any) -> None:
    """Wait until the app's writer has stored what was queued so far (it writes on its own thread)."""
    assert app.writer is not None
    await app.writer.caught_up()


async def until(pilot: Any, condition: Callable[[], object], what: str = "condition", *, limit: int = 1000) -> None:
    """Let the app run until `condition()` holds, bounded by a number of steps (never by asserting on time): a
    wait that never ends fails, naming `what` it waited for, instead of hanging the suite."""
    for _ in range(limit):
        if condition():
            return
        await pilot.pause(0.01)
    raise AssertionError(f"never held: {what}")


async def wait_turn(pilot: Any) -> None:
    """Wait until the screen's turn (if any) has settled, however it ended, and its outcome is on screen."""
    screen = pilot.app.screen
    if screen.turn_worker is not None:
        with contextlib.suppress(Exception):  # a cancelled or failed worker has settled too
            await screen.turn_worker.wait()
    await until(pilot, lambda: not screen.busy)
    await pilot.pause()


async def send(pilot: Any, text: str) -> Any:
    """Type `text`, press enter, and wait until the reply has settled. Returns the chat screen."""
    from chatbot.ui.screens.chat import ChatScreen
    from chatbot.ui.widgets.prompt_input import PromptInput

    screen = pilot.app.screen
    assert isinstance(screen, ChatScreen)
    pilot.app.query_one(PromptInput).insert(text)
    await pilot.press("enter")
    await wait_turn(pilot)
    return screen


async def stop_mid_reply(pilot: Any, text: str) -> Any:
    """Send `text`, press escape once the reply has begun, and wait until it has settled. Returns the screen."""
    from chatbot.ui.widgets.prompt_input import PromptInput

    screen = pilot.app.screen
    pilot.app.query_one(PromptInput).insert(text)
    await pilot.press("enter")
    await until(pilot, lambda: screen.session.in_flight is not None and screen.session.in_flight.parts)
    await pilot.press("escape")
    await wait_turn(pilot)
    return screen


async def run_command(pilot: Any, name: str) -> None:
    """Run the command palette's command `name` as a user would: ctrl+p, type it, enter on the top hit."""
    from textual.command import CommandList, CommandPalette

    await pilot.press("ctrl+p")
    await until(pilot, lambda: isinstance(pilot.app.screen, CommandPalette))
    await pilot.press(*name)

    def top_hit() -> bool:
        commands = pilot.app.screen.query_one(CommandList)
        if not commands.option_count:
            return False
        option = commands.get_option_at_index(commands.highlighted or 0)
        return getattr(option, "hit", None) is not None and option.hit.text == name

    await until(pilot, top_hit)
    await pilot.press("enter")
    await until(pilot, lambda: not isinstance(pilot.app.screen, CommandPalette))  # the command may open a screen


def new_user_demo_settings() -> Any:
    """The demo's settings on top of a user's who has set nothing up: no key, no server."""
    from chatbot.core.demo import demo_settings
    from chatbot.core.settings import load_settings

    loaded, _warnings = load_settings(None)
    return demo_settings(loaded)


def stand_in(bin_dir: Path, name: str, kept: Path, *, status: int = 0) -> None:
    """A `name` on PATH that writes its input to `kept` and its arguments beside it."""
    bin_dir.mkdir(exist_ok=True)
    script = bin_dir / name
    script.write_text(f'#!/bin/sh\necho "$@" > "{kept}.args"\ncat > "{kept}"\nexit {status}\n')
    script.chmod(0o755)

