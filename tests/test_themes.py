"""Theme files: the packaged ones load, broken ones are reported and never stop the app, the wheel ships them."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

from support import run_command, until

from chatbot.core.settings import load_settings
from chatbot.ui.app import make_app
from chatbot.core.paths import packaged
from chatbot.ui.themes import load_theme, load_themes

ROOT = Path(__file__).resolve().parents[1]


def test_packaged_themes_have_a_dark_and_a_light_one() -> None:
    themes, problems = load_themes([packaged("themes")])
    assert problems == []
    by_name = {t.name: t for t in themes}
    assert by_name["chatbot-dark"].dark is True
    assert by_name["chatbot-light"].dark is False
    for theme in themes:
        assert {"chat-user", "chat-assistant"} <= set(theme.variables)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ('name = "x"\nprimary = \n', "invalid TOML"),
        ('name = "x"\nprimary = "#fff"\nsparkle = true\n', "unknown key 'sparkle'"),
        ('name = "x"\nprimary = "not-a-colour"\n', "is not a colour"),
        ('primary = "#ffffff"\n', "'name' is required"),
        ('name = "x"\nprimary = "#fff"\n[variables]\nchat-user = 3\n', "[variables]"),
    ],
)
def test_broken_theme_file_is_reported_with_file_and_reason(tmp_path: Path, text: str, reason: str) -> None:
    (tmp_path / "broken.toml").write_text(text, encoding="utf-8")
    (tmp_path / "fine.toml").write_text('name = "fine"\nprimary = "#336699"\n', encoding="utf-8")
    themes, problems = load_themes([tmp_path])
    assert [t.name for t in themes] == ["fine"]
    assert len(problems) == 1
    assert "broken.toml" in problems[0] and reason in problems[0]


def test_user_theme_overrides_and_adds(tmp_path: Path) -> None:
    (tmp_path / "mine.toml").write_text('name = "mine"\nprimary = "#123456"\ndark = false\n', encoding="utf-8")
    theme = load_theme(tmp_path / "mine.toml")
    assert theme.name == "mine" and theme.primary == "#123456" and theme.dark is False


async def test_app_opens_with_a_broken_user_theme_and_says_so(make_settings: Any, _isolated_chat_env: Path) -> None:
    folder = _isolated_chat_env / "config" / "chatbot" / "themes"
    folder.mkdir(parents=True)
    (folder / "oops.toml").write_text("name = [", encoding="utf-8")
    (folder / "mine.toml").write_text('name = "mine"\nprimary = "#aa5500"\n', encoding="utf-8")
    app = make_app(make_settings(theme="mine"))
    notes: list[str] = []
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        notes = [n.message for n in app._notifications]
        assert app.theme == "mine"
        assert app.is_running
    assert any("oops.toml" in n for n in notes)


async def test_unknown_theme_falls_back_with_a_warning(make_settings: Any) -> None:
    app = make_app(make_settings(theme="no-such-theme"))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert app.theme == "chatbot-dark"
        assert any("no-such-theme" in n.message for n in app._notifications)


def test_wheel_contains_themes_and_encodings(tmp_path: Path) -> None:
    """Build the wheel the way pip does and look inside: themes and tokenizer files must ship with it."""
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(tmp_path), str(ROOT)],
        capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    wheel = next(tmp_path.glob("chatbot-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {"chatbot/themes/chatbot-dark.toml", "chatbot/themes/chatbot-light.toml"} <= names
    assert "chatbot/config.example.toml" in names  # what `chat --config-example` prints
    assert {"chatbot/core/data/o200k_base.tiktoken", "chatbot/core/data/cl100k_base.tiktoken"} <= names
    assert any(n.endswith(".tcss") for n in names)


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
    async with app.run_test(size=(80, 24)) as pilot:
        await run_command(pilot, "Save theme to config")
        await until(pilot, lambda: app._notifications)
        notes = [str(n.message) for n in app._notifications]
    assert notes == [f"Theme chatbot-light saved to {config}"]
    assert config.read_text(encoding="utf-8") == ('# mine\nmodel = "gpt-4o"\ntheme = "chatbot-light"\n\n[budget]\n'
                                                  "max_context_tokens = 16000\n")
    settings, _ = load_settings()
    assert (settings.theme, settings.model, settings.budget.max_context_tokens) == ("chatbot-light", "gpt-4o", 16000)


async def test_save_theme_into_a_broken_config_says_so_and_leaves_it(make_settings: Any,
                                                                     _isolated_chat_env: Path) -> None:
    app = make_app(make_settings(theme="chatbot-light"))
    async with app.run_test(size=(80, 24)) as pilot:
        # Broken while the app runs, as an edit in another window would leave it.
        config = user_config(_isolated_chat_env, 'model = "gpt-4o\n[budget]\n')
        await run_command(pilot, "Save theme to config")
        await until(pilot, lambda: app._notifications)
        notes = [(str(n.message), n.severity) for n in app._notifications]
    assert len(notes) == 1 and notes[0][1] == "error"
    assert notes[0][0].startswith(f"Theme not saved: {config}: invalid TOML")
    assert config.read_text(encoding="utf-8") == 'model = "gpt-4o\n[budget]\n'
