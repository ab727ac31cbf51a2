"""Config edits (`chatbot.core.settings.edit`): one top-level key set, every other byte of the file kept.

Each shape is checked three ways: the exact text written, what TOML reads from it (the old data plus the key),
and what the settings loader makes of it (the new theme, everything else as before).
"""

from __future__ import annotations

import os
import stat
import tomllib
from pathlib import Path
from typing import Any

import pytest

from chatbot.core.errors import ConfigError
from chatbot.core.settings import load_settings
from chatbot.core.settings.edit import set_top_level_key
from support import PROJECT


@pytest.fixture(autouse=True)
def _no_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Only the file under test is read: no CHAT_*/OPENAI_* variables, no .env in the working directory."""
    for name in list(os.environ):
        if name.upper().startswith(("CHAT_", "OPENAI_")):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


def loaded(path: Path) -> dict[str, Any]:
    return load_settings(path)[0].model_dump()


SHAPES = {
    "empty file": ("", 'theme = "nord"\n'),
    "only comments": ("# my config\n# keep this\n", '# my config\n# keep this\ntheme = "nord"\n'),
    "top-level keys only": ('model = "gpt-4o"\ntimeout = 5.0\n', 'model = "gpt-4o"\ntimeout = 5.0\ntheme = "nord"\n'),
    "no newline at the end": ('model = "gpt-4o"', 'model = "gpt-4o"\ntheme = "nord"\n'),
    "theme present, its comment kept": (
        '# top\ntheme = "chatbot-light"   # my pick\nmodel = "gpt-4o"\n',
        '# top\ntheme = "nord"   # my pick\nmodel = "gpt-4o"\n'),
    "theme present as a quoted key": ('"theme" = "old"\n\n[budget]\n', '"theme" = "nord"\n\n[budget]\n'),
    "a [budget] table and no top-level theme": (
        'model = "gpt-4o"\n\n[budget]\nmax_context_tokens = 16000\n',
        'model = "gpt-4o"\ntheme = "nord"\n\n[budget]\nmax_context_tokens = 16000\n'),
    "only a table": ("[budget]\nmax_context_tokens = 16000\n",
                     'theme = "nord"\n\n[budget]\nmax_context_tokens = 16000\n'),
    "a comment block above the first table stays with it": (
        "# my config\n\n# the token budget\n[budget]\nmax_context_tokens = 16000\n",
        '# my config\n\ntheme = "nord"\n\n# the token budget\n[budget]\nmax_context_tokens = 16000\n'),
    "comments between the keys and the first table": (
        'model = "gpt-4o"\n\n# ---- tables ----\n\n[budget]\n',
        'model = "gpt-4o"\ntheme = "nord"\n\n# ---- tables ----\n\n[budget]\n'),
    "dotted keys": (
        'budget.max_context_tokens = 16000\nmodel = "gpt-4o"\n\n[presets.support]\ntemperature = 0.2\n',
        'budget.max_context_tokens = 16000\nmodel = "gpt-4o"\ntheme = "nord"\n\n[presets.support]\n'
        'temperature = 0.2\n'),
    "an inline table": (
        'keymap = { send = "ctrl+s" }\n\n[budget]\nmax_context_tokens = 16000\n',
        'keymap = { send = "ctrl+s" }\ntheme = "nord"\n\n[budget]\nmax_context_tokens = 16000\n'),
    "CRLF line endings": (
        'model = "gpt-4o"\r\n\r\n[budget]\r\nmax_context_tokens = 16000\r\n',
        'model = "gpt-4o"\r\ntheme = "nord"\r\n\r\n[budget]\r\nmax_context_tokens = 16000\r\n'),
    "CRLF, only a table": ("[budget]\r\nmax_context_tokens = 16000\r\n",
                           'theme = "nord"\r\n\r\n[budget]\r\nmax_context_tokens = 16000\r\n'),
    "an array of tables": ('[[models.x.notes]]\ntext = "a"\n', 'theme = "nord"\n\n[[models.x.notes]]\ntext = "a"\n'),
}


@pytest.mark.parametrize(("before", "after"), SHAPES.values(), ids=SHAPES.keys())
def test_a_top_level_key_is_set_and_nothing_else_changes(tmp_path: Path, before: str, after: str) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes(before.encode())
    data = tomllib.loads(before)
    settings = loaded(path) if "models.x" not in before else None

    set_top_level_key(path, "theme", "nord")

    assert path.read_bytes().decode() == after
    assert tomllib.loads(after) == {**data, "theme": "nord"}
    if settings is not None:  # an array of tables is TOML the settings schema has no place for
        assert loaded(path) == {**settings, "theme": "nord"}


def test_the_example_config_keeps_every_line_but_the_theme(tmp_path: Path) -> None:
    example = (PROJECT / "config.example.toml").read_text(encoding="utf-8")
    path = tmp_path / "config.toml"
    path.write_text(example, encoding="utf-8")
    set_top_level_key(path, "theme", "nord")
    written = path.read_text(encoding="utf-8")
    assert written == example.replace('theme = "chatbot-dark"', 'theme = "nord"')
    assert written != example


def test_a_missing_file_is_created_with_its_folder(tmp_path: Path) -> None:
    path = tmp_path / "new" / "chatbot" / "config.toml"
    set_top_level_key(path, "theme", "nord")
    assert path.read_text(encoding="utf-8") == 'theme = "nord"\n'
    assert loaded(path)["theme"] == "nord"


@pytest.mark.parametrize("value", ['say "hi"', "back\\slash", "tab\there", "ünïcode"])
def test_values_are_written_as_toml_strings(tmp_path: Path, value: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text("[budget]\n", encoding="utf-8")
    set_top_level_key(path, "theme", value)
    assert tomllib.loads(path.read_text(encoding="utf-8")) == {"theme": value, "budget": {}}


@pytest.mark.parametrize(("content", "says"), [
    (b'model = "gpt-4o\n[budget]\n', "invalid TOML"),
    (b"theme = 1\ntheme = 2\n", "invalid TOML"),
    (b'model = "caf\xe9"\n', "not UTF-8"),
])
def test_a_broken_file_is_reported_and_left_alone(tmp_path: Path, content: bytes, says: str) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes(content)
    with pytest.raises(ConfigError) as caught:
        set_top_level_key(path, "theme", "nord")
    assert str(path) in caught.value.message and says in caught.value.message
    assert path.read_bytes() == content
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.toml"]  # no temporary file left behind


def test_the_file_keeps_its_permissions(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('api_key = "sk-test-x"\n', encoding="utf-8")
    path.chmod(0o600)
    set_top_level_key(path, "theme", "nord")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_symlinked_config_stays_a_link_and_its_target_is_edited(tmp_path: Path) -> None:
    target = tmp_path / "dotfiles" / "chat.toml"
    target.parent.mkdir()
    target.write_text("[budget]\n", encoding="utf-8")
    link = tmp_path / "config.toml"
    link.symlink_to(target)
    set_top_level_key(link, "theme", "nord")
    assert link.is_symlink()
    assert target.read_text(encoding="utf-8") == 'theme = "nord"\n\n[budget]\n'


def test_a_config_folder_that_is_a_file_is_reported(tmp_path: Path) -> None:
    blocker = tmp_path / "chatbot"
    blocker.write_text("a file where the config folder should be", encoding="utf-8")
    path = blocker / "config.toml"
    with pytest.raises(ConfigError) as caught:
        set_top_level_key(path, "theme", "nord")
    assert str(path) in caught.value.message and "Not a directory" in caught.value.message
