"""Theme files: the packaged ones load, broken ones are reported with the file and the reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from chatbot.core.paths import packaged
from chatbot.ui.themes import load_theme, load_themes


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

