"""KeyOrder on a small app of its own: keys posted to the app in one go, as a terminal's burst arrives, each
reaching what the keys before it made the focus. The pty tests in test_pty_input.py show the same in `chat`."""

from __future__ import annotations

import asyncio
from typing import ClassVar

from textual import events
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from chatbot.ui.key_order import KeyOrder, _after

GUARD = 30.0  # seconds: a hang fails the test instead of stopping the suite


class Menu(ModalScreen[str]):
    def compose(self) -> ComposeResult:
        yield Input(id="filter")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.value != "keep":
            self.dismiss(event.value)


class Burst(App[None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("f2", "menu")]

    def __init__(self) -> None:
        super().__init__()
        self.keys = KeyOrder(self, super().on_event, [])
        self.picked: list[str] = []

    def compose(self) -> ComposeResult:
        yield Input(id="prompt")

    def on_mount(self) -> None:
        self.keys.opened()

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, (events.Key, events.Paste)) and not event.is_forwarded:
            await self.keys.take(event)
            return
        await super().on_event(event)

    def action_menu(self) -> None:
        self.push_screen(Menu(), lambda value: self.picked.append(value or ""))


def burst(app: App[None], text: str) -> None:
    """Every key of `text` posted to the app at once ("\r" is enter, "@" is f2)."""
    for char in text:
        if char == "\r":
            app.post_message(events.Key("enter", "\r"))
        elif char == "@":
            app.post_message(events.Key("f2", None))
        else:
            app.post_message(events.Key(char, char))


async def settled(app: Burst) -> None:
    while app.keys.holding:
        await asyncio.sleep(0.01)


async def test_keys_after_a_binding_go_where_it_put_the_focus() -> None:
    app = Burst()
    async with app.run_test() as pilot:
        burst(app, "@mini\rstill here")
        await asyncio.wait_for(settled(app), GUARD)
        await pilot.pause()
        assert app.picked == ["mini"]
        assert app.query_one("#prompt", Input).value == "still here"


async def test_a_screen_that_keeps_its_enter_gets_the_keys_after_it() -> None:
    app = Burst()
    async with app.run_test() as pilot:
        burst(app, "@keep\r more")
        await asyncio.wait_for(settled(app), GUARD)
        await pilot.pause()
        assert isinstance(app.screen, Menu)
        assert app.screen.query_one("#filter", Input).value == "keep more"
        assert app.query_one("#prompt", Input).value == ""


async def test_a_widget_that_is_gone_is_not_waited_for() -> None:
    app = Burst()
    async with app.run_test() as pilot:
        gone = Static("x")
        await app.mount(gone)
        await gone.remove()
        await pilot.pause()
        await asyncio.wait_for(_after(gone), GUARD)  # returns: nothing will ever run its callback
