"""Where `chat` keeps its files, following the XDG base-directory spec. Nothing happens at import."""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

APP_DIR = "chatbot"


def _xdg(var: str, fallback: str) -> Path:
    value = os.environ.get(var, "")
    # The spec says relative paths in these variables are invalid and must be ignored.
    base = Path(value) if value and Path(value).is_absolute() else Path.home() / fallback
    return base / APP_DIR


def config_dir() -> Path:
    return _xdg("XDG_CONFIG_HOME", ".config")


def data_dir() -> Path:
    return _xdg("XDG_DATA_HOME", ".local/share")


def state_dir() -> Path:
    return _xdg("XDG_STATE_HOME", ".local/state")


def default_config_file() -> Path:
    return config_dir() / "config.toml"


def user_themes_dir() -> Path:
    return config_dir() / "themes"


def packaged(name: str) -> Path:
    """A file or folder shipped inside the installed package, or beside the package in a source checkout
    (an editable install leaves the wheel's extra files where they are)."""
    installed = Path(str(resources.files("chatbot") / name))
    return installed if installed.exists() else Path(__file__).resolve().parents[2] / name


def for_display(path: Path) -> str:
    """`path` with the home folder as ~, as a person would type it."""
    try:
        return "~/" + str(path.relative_to(Path.home()))
    except ValueError:
        return str(path)
