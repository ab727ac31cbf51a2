"""Themes in the app: a broken or unknown theme never stops it, and "save theme" writes the config."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from chatbot.core.settings import load_settings
from chatbot.ui.app import make_app
from support import Notified, run_command, until


async def test_app_opens_with_a_broken_user_theme_and_says_so(make_settings: Any, _isolated_chat_env: Path) -> None:
    folder = _isolated_chat_env / "config" / "chatbot" / "themes"
    folder.mkdir(parents=True)
    (folder / "oops.toml").write_text("name = [", encoding="utf-8")
    (folder / "mine.toml").write_text('name = "mine"\nprimary = "#aa5500"\n', encoding="utf-8")
    app = make_app(make_settings(theme="mine"))
    notes: list[str] = []
    notified = Notified()
    async with app.run_test(size=(80, 24), message_hook=notified) as pilot:
        await pilot.pause()
        notes = [n.message for n in notified.notes]
        assert app.theme == "mine"
        assert app.is_running
    assert any("oops.toml" in n for n in notes)


async def test_unknown_theme_falls_back_with_a_warning(make_settings: Any) -> None:
    app = make_app(make_settings(theme="no-such-theme"))
    notified = Notified()
    async with app.run_test(size=(80, 24), message_hook=notified) as pilot:
        await pilot.pause()
        assert app.theme == "chatbot-dark"
        assert any("no-such-theme" in n.message for n in notified.notes)


async def test_textual_builtin_theme_works_without_app_variables(make_settings: Any) -> None:
    app = make_app(make_settings(theme="nord"))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert app.theme == "nord"
        variables = app.get_css_variables()
        assert variables["chat-user"] == variables["secondary"]


def user_config(env: Path, text: str) -> Path:
    config = env / "config" / "chatbot" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(text, encoding="utf-8")
    return config


async def test_save_theme_puts_the_theme_above_the_first_table(make_settings: Any, _isolated_chat_env: Path) -> None:
    """A key written after a [table] header would belong to that table: the theme must go above it."""
    config = user_config(_isolated_chat_env, '# mine\nmodel = "gpt-4o"\n\n[budget]\nmax_context_tokens = 16000\n')
    app = make_app(make_settings(theme="chatbot-light"))
    notified = Notified()
    async with app.run_test(size=(80, 24), message_hook=notified) as pilot:
        await run_command(pilot, "Save theme to config")
        await until(pilot, lambda: notified.notes)
        notes = [str(n.message) for n in notified.notes]
    assert notes == [f"Theme chatbot-light saved to {config}"]
    assert config.read_text(encoding="utf-8") == ('# mine\nmodel = "gpt-4o"\ntheme = "chatbot-light"\n\n[budget]\n'
                                                  "max_context_tokens = 16000\n")
    settings, _ = load_settings()
    assert (settings.theme, settings.model, settings.budget.max_context_tokens) == ("chatbot-light", "gpt-4o", 16000)


async def test_save_theme_into_a_broken_config_says_so_and_leaves_it(make_settings: Any,
                                                                     _isolated_chat_env: Path) -> None:
    app = make_app(make_settings(theme="chatbot-light"))
    notified = Notified()
    async with app.run_test(size=(80, 24), message_hook=notified) as pilot:
        # Broken while the app runs, as an edit in another window would leave it.
        config = user_config(_isolated_chat_env, 'model = "gpt-4o\n[budget]\n')
        await run_command(pilot, "Save theme to config")
        await until(pilot, lambda: notified.notes)
        notes = [(str(n.message), n.severity) for n in notified.notes]
    assert len(notes) == 1 and notes[0][1] == "error"
    assert notes[0][0].startswith(f"Theme not saved: {config}: invalid TOML")
    assert config.read_text(encoding="utf-8") == 'model = "gpt-4o\n[budget]\n'

