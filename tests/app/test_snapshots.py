"""SVG snapshots of the chat UI (pytest-textual-snapshot), driven against the fake OpenAI server.

Run `pytest tests/app/test_snapshots.py --snapshot-update` after an intended visual change, look at the SVGs under
tests/app/__snapshots__/test_snapshots/, and commit them with the change.

Everything that could differ between runs is pinned down:
- the session's clock is fixed, so elapsed times read "0s" and no tokens/s figure is shown;
- replies are awaited (or, mid-stream, polled for) before the screenshot, never timed;
- text cursors stop blinking and scrollbars are repainted just before the screenshot (see settle());
- the model menu waits for the server's model list, which arrives after the menu opens;
- stored conversations carry fixed times, shown in a fixed zone (UTC).
Waits are bounded loops of short pauses that fail loudly instead of snapshotting a half-drawn screen.
"""

from __future__ import annotations

import os
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Input, OptionList, Static, TextArea

from chatbot.core.client import ChatClient
from chatbot.core.session import Session
from chatbot.core.settings import Settings, load_settings
from chatbot.core.store.history import HistoryStore
from chatbot.ui.app import ChatApp
from chatbot.ui.screens.history import HistoryScreen
from chatbot.ui.screens.system_prompt import SystemPromptScreen
from chatbot.ui.widgets.confirm_bar import ConfirmBar
from chatbot.ui.widgets.message_view import MessageView
from fake_openai import Error, FakeOpenAI, Reply
from stored_history import seed
from support import chat_screen, send, status, until

SIZE = (100, 30)
SMALL = (80, 24)
FIXED_NOW = 1000.0

RICH_REPLY = """\
## Sorting in Python

- `sorted(xs)` returns a new list
- `xs.sort()` sorts the list in place

```python
def top(xs, n=3):
    return sorted(xs, reverse=True)[:n]
```

| call | returns | in place |
|------|---------|----------|
| `xs.sort()` | `None` | yes |
"""

RunBefore = Callable[[Pilot[Any]], Awaitable[None]]


def make_app(settings: Settings, store: HistoryStore | None = None) -> ChatApp:
    """The app with a session whose clock never moves, so no time or speed on screen depends on the run."""
    session = Session(settings, ChatClient.from_settings(settings), clock=lambda: FIXED_NOW)
    return ChatApp(settings, session=session, store=store)


@pytest.fixture
def settings_for(make_settings: Callable[..., Settings]) -> Callable[..., Settings]:
    """make_settings with the theme pinned to chatbot-dark unless a test asks for another."""

    def make(**flags: Any) -> Settings:
        flags.setdefault("theme", "chatbot-dark")
        return make_settings(**flags)

    return make


# -- driving the app ----------------------------------------------------------------------------


async def settle(pilot: Pilot[Any]) -> None:
    """Make the next frame depend only on the app's state, not on when it is taken.

    - Text cursors stop blinking (a focused one stays drawn); otherwise a 0.5 s timer decides whether it shows.
    - Scrollbars are repainted. When an anchored container (the transcript) grows, Textual 8.2.8's compositor
      moves the scroll position with set_reactive and never repaints the scrollbar, so the thumb can be drawn
      one row behind the real position, depending on which frame last painted it.
    """
    for screen in pilot.app.screen_stack:
        for widget in screen.query("*"):
            if isinstance(widget, (TextArea, Input)):
                widget.cursor_blink = False
            if widget.show_vertical_scrollbar:
                widget.vertical_scrollbar.refresh()
            if widget.show_horizontal_scrollbar:
                widget.horizontal_scrollbar.refresh()
    await pilot.pause()


def exchanges(*turns: str) -> RunBefore:
    """A run_before that sends each text in turn (the replies are queued on the fake) and settles the screen."""

    async def run_before(pilot: Pilot[Any]) -> None:
        await pilot.pause()
        for text in turns:
            await send(pilot, text)
        await settle(pilot)

    return run_before


def header_text(view: MessageView) -> str:
    return str(view.query_one(".header", Static).render())


def body_text(view: MessageView) -> str:
    """What the view's body shows now (the Markdown blocks as rendered, not the source fed to them)."""
    texts = []
    for widget in view.query("*"):
        if not widget.has_class("header"):
            plain = getattr(widget.render(), "plain", None)
            if isinstance(plain, str):
                texts.append(plain)
    return "\n".join(texts)


class HeldBack(Reply):
    """A reply whose first `shown` pieces stream at once and whose remaining pieces each wait `hold` seconds.

    The fake's chunk_delay is slept before every piece, the first included, so Reply(chunk_delay=30) would show
    nothing at all for 30 s. Here chunk_delay is read once per piece: 0 for the shown ones, then `hold`.
    """

    def __init__(self, shown: list[str], rest: list[str], hold: float = 30.0) -> None:
        self._delays: Iterator[float] = iter([0.0] * len(shown))
        self._hold = hold
        super().__init__(chunks=[*shown, *rest])

    @property  # type: ignore[override]
    def chunk_delay(self) -> float:
        return next(self._delays, self._hold)

    @chunk_delay.setter
    def chunk_delay(self, _value: float) -> None:
        pass  # the dataclass __init__ assigns the default; the schedule above decides


# -- the snapshots ------------------------------------------------------------------------------


def test_one_exchange(snap_compare: Any, fake: FakeOpenAI, settings_for: Callable[..., Settings]) -> None:
    """A question and a reply with a heading, a list, a python code block and a table."""
    fake.queue(Reply(RICH_REPLY, prompt_tokens=24, completion_tokens=61))
    app = make_app(settings_for())
    assert snap_compare(app, terminal_size=SIZE, run_before=exchanges("How do I sort a list in Python?"))


def test_one_exchange_80x24(snap_compare: Any, fake: FakeOpenAI, settings_for: Callable[..., Settings]) -> None:
    """The same exchange in a classic 80x24 terminal: the transcript follows the end of the reply."""
    fake.queue(Reply(RICH_REPLY, prompt_tokens=24, completion_tokens=61))
    app = make_app(settings_for())
    assert snap_compare(app, terminal_size=SMALL, run_before=exchanges("How do I sort a list in Python?"))


@pytest.mark.parametrize("theme", ["chatbot-dark", "chatbot-light"])
def test_theme(snap_compare: Any, fake: FakeOpenAI, settings_for: Callable[..., Settings], theme: str) -> None:
    """Each packaged theme on the one-exchange screen."""
    fake.queue(Reply(RICH_REPLY, prompt_tokens=24, completion_tokens=61))
    app = make_app(settings_for(theme=theme))
    assert snap_compare(app, terminal_size=SIZE, run_before=exchanges("How do I sort a list in Python?"))


def test_mid_stream(snap_compare: Any, fake: FakeOpenAI, settings_for: Callable[..., Settings]) -> None:
    """The first pieces of a reply have arrived and the rest is held back: the reply is marked as streaming."""
    fake.queue(HeldBack(["Sure", " — here is", " the **first** part"], [" and the rest.", " Done."]))
    app = make_app(settings_for())

    async def run_before(pilot: Pilot[Any]) -> None:
        await pilot.pause()
        screen = chat_screen(pilot.app)
        screen.prompt.insert("Tell me in parts")
        await pilot.press("enter")

        def replying() -> MessageView | None:
            views = [v for v in screen.transcript.views() if v.role == "assistant"]
            return views[-1] if views else None

        def shown() -> bool:
            view = replying()
            return (view is not None and "here is the first part" in body_text(view)
                    and "streaming" in header_text(view) and " out ~9 " in status(pilot.app))

        # The header says "streaming" once the turn has reported its first piece; the status bar has the figures
        # of all three once the report due after the stream paused has come (the pieces came faster than the
        # reports are made). Nothing else changes until the held-back pieces, 30 s away.
        await until(pilot, shown, "the first pieces of the reply on screen, marked streaming")
        await settle(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def _model_menu(query: str) -> RunBefore:
    async def run_before(pilot: Pilot[Any]) -> None:
        await pilot.pause()
        await pilot.press("f2")
        app = pilot.app
        assert isinstance(app, ChatApp)
        # The menu asks the server for its models and adds them when they arrive ("from the server").
        await until(pilot, lambda: app.server_models_fetched, "the server's model list in the menu")
        await pilot.pause()
        if query:
            await pilot.press(*query)
        await settle(pilot)

    return run_before


def test_model_menu(snap_compare: Any, fake: FakeOpenAI, settings_for: Callable[..., Settings]) -> None:
    """F2: every known model with its context, output and price, and the fake server's own model."""
    app = make_app(settings_for())
    assert snap_compare(app, terminal_size=SIZE, run_before=_model_menu(""))


def test_model_menu_filtered(snap_compare: Any, fake: FakeOpenAI, settings_for: Callable[..., Settings]) -> None:
    """F2 then typing "mini": only the matching models are left."""
    app = make_app(settings_for())
    assert snap_compare(app, terminal_size=SIZE, run_before=_model_menu("mini"))


def test_preset_menu(snap_compare: Any, fake: FakeOpenAI, settings_for: Callable[..., Settings]) -> None:
    """F3: the presets with their parameters; the current one is marked."""
    app = make_app(settings_for())

    async def run_before(pilot: Pilot[Any]) -> None:
        await pilot.pause()
        await pilot.press("f3")
        await settle(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_help(snap_compare: Any, fake: FakeOpenAI, settings_for: Callable[..., Settings]) -> None:
    """F1: every binding with its keys and id."""
    app = make_app(settings_for())

    async def run_before(pilot: Pilot[Any]) -> None:
        await pilot.pause()
        await pilot.press("f1")
        await settle(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_error_in_transcript(snap_compare: Any, fake: FakeOpenAI, settings_for: Callable[..., Settings]) -> None:
    """A 401: the error is in the transcript, the message is marked not sent and is back in the prompt."""
    fake.queue(Error(401, "Incorrect API key provided: sk-test-SECRETSECRET1234", type="invalid_request_error",
                     code="invalid_api_key"))
    app = make_app(settings_for())
    assert snap_compare(app, terminal_size=SIZE, run_before=exchanges("my precious words"))


def test_first_run_without_key(snap_compare: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """No key and no base_url: the welcome note explains what to do before anything can be sent, naming the
    config file this user's chat reads."""
    monkeypatch.setenv("HOME", "/home/you")
    monkeypatch.setenv("XDG_CONFIG_HOME", "/home/you/.config-elsewhere")
    settings, _warnings = load_settings(None)
    assert settings.base_url is None and settings.api_key is None
    app = make_app(settings)

    async def run_before(pilot: Pilot[Any]) -> None:
        await pilot.pause()
        await settle(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_dropped_turns(snap_compare: Any, fake: FakeOpenAI, settings_for: Callable[..., Settings]) -> None:
    """A small prompt budget after three exchanges: the oldest turn is dimmed and the status bar says dropped."""
    fake.queue(Reply("alpha " * 20), Reply("beta " * 20), Reply("gamma"))
    app = make_app(settings_for(max_tokens=10, budget={"max_context_tokens": 90}))

    async def run_before(pilot: Pilot[Any]) -> None:
        await exchanges("one " * 10, "two " * 10, "three")(pilot)
        screen = chat_screen(pilot.app)
        assert any(v.has_class("dropped") for v in screen.transcript.views())

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


# -- the history and the system prompt ---------------------------------------------------------------------------


@pytest.fixture
def history(tmp_path: Path) -> Iterator[Path]:
    """A history file with three conversations at fixed times; the times are shown in UTC for the test."""
    zone = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    db = tmp_path / "history.db"
    seed(db, "Penguins", "gpt-4.1-nano", [("How do penguins keep warm?", "They huddle."),
                                          ("And emperor penguins?", "Even closer.")], updated=1_700_000_000.0)
    seed(db, "Volcanoes", "gpt-4o", [("Why do volcanoes erupt?", "Pressure builds.")], updated=1_700_000_300.0)
    seed(db, "Teapots, kettles and the long story of the brown betty", "gpt-4o-mini",
         [("Best teapot?", "A brown betty.")], updated=1_700_000_200.0)
    yield db
    if zone is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = zone
    time.tzset()


def _history(*keys: str) -> RunBefore:
    """F4, then `keys`, and wait until the screen shows what they did."""

    async def run_before(pilot: Pilot[Any]) -> None:
        await pilot.pause()
        await pilot.press("f4")
        await until(pilot, lambda: isinstance(pilot.app.screen, HistoryScreen), "the history screen")
        screen = pilot.app.screen
        assert isinstance(screen, HistoryScreen)
        await until(pilot, lambda: screen.query_one(OptionList).option_count == 3, "the three conversations listed")
        if keys:
            await pilot.press(*keys)
        await pilot.pause()
        await settle(pilot)

    return run_before


def test_history(snap_compare: Any, fake: FakeOpenAI, settings_for: Callable[..., Settings], history: Path) -> None:
    """F4: the stored conversations newest first, with time, model, turns and cost; a long title is cut."""
    app = make_app(settings_for(), HistoryStore(history))
    assert snap_compare(app, terminal_size=SIZE, run_before=_history())


def test_history_search(snap_compare: Any, fake: FakeOpenAI, settings_for: Callable[..., Settings],
                        history: Path) -> None:
    """F4 then "penguins": the messages that match, each under its conversation's title, the words marked."""
    app = make_app(settings_for(), HistoryStore(history))

    async def run_before(pilot: Pilot[Any]) -> None:
        await _history(*"penguins")(pilot)
        screen = pilot.app.screen
        assert isinstance(screen, HistoryScreen)
        await until(pilot, lambda: screen.query_one(OptionList).option_count == 2, "the two hits")
        await settle(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_history_delete_question(snap_compare: Any, fake: FakeOpenAI, settings_for: Callable[..., Settings],
                                 history: Path) -> None:
    """F4, down, ctrl+d: the question in place under the list, the title in it cut to fit; nothing deleted yet."""
    app = make_app(settings_for(), HistoryStore(history))

    async def run_before(pilot: Pilot[Any]) -> None:
        await _history("down", "ctrl+d")(pilot)
        await until(pilot, lambda: pilot.app.screen.query_one(ConfirmBar).display, "the delete question")
        await settle(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_system_prompt_editor(snap_compare: Any, fake: FakeOpenAI, settings_for: Callable[..., Settings]) -> None:
    """The system prompt editor (from the palette) with a prompt of two paragraphs, one wrapped."""
    prompt = ("You are a careful assistant for a team of field biologists. Answer briefly, name your sources, "
              "and say so when you are unsure.\n\nUse metric units.")
    app = make_app(settings_for(system_prompt=prompt))

    async def run_before(pilot: Pilot[Any]) -> None:
        await pilot.pause()
        chat_screen(pilot.app).action_edit_system_prompt()
        await until(pilot, lambda: isinstance(pilot.app.screen, SystemPromptScreen), "the system prompt editor")
        await pilot.pause()
        await settle(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_reply_with_folded_thinking(snap_compare: Any, fake: FakeOpenAI, settings_for: Callable[..., Settings]) -> None:
    """A reasoning model's reply: its reasoning folded into one "thinking" line above the answer."""
    fake.queue(Reply("The capital of France is **Paris**.", reasoning="The user asks for a capital. France: Paris.",
                     prompt_tokens=20, completion_tokens=300, reasoning_tokens=290))
    app = make_app(settings_for())
    assert snap_compare(app, terminal_size=SIZE, run_before=exchanges("What is the capital of France?"))
