"""Helpers shared by the test modules: a port nothing listens on, an offline subprocess environment, a sleep
that only records, and the pilot steps of the UI tests."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

PROJECT = Path(__file__).resolve().parents[1]


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


async def until(pilot: Any, condition: Callable[[], object], limit: int = 400) -> None:
    """Let the app run until `condition()` holds (bounded by a number of steps, not by time)."""
    for _ in range(limit):
        if condition():
            return
        await pilot.pause(0.01)
    raise AssertionError("condition never held")


async def wait_turn(pilot: Any) -> None:
    """Wait until the screen's turn (if any) has settled, however it ended, and its outcome is on screen."""
    screen = pilot.app.screen
    if screen.turn_worker is not None:
        try:
            await screen.turn_worker.wait()
        except Exception:  # noqa: BLE001 - a cancelled or failed worker has settled too
            pass
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
