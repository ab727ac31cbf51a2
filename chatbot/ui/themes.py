"""Themes from TOML files: the packaged themes/ folder and the user's own. A broken file is reported, never fatal."""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path

from textual.color import Color, ColorParseError
from textual.theme import Theme

from chatbot.core import paths

# The app's own colour variables, and the theme colour each falls back to when a theme lacks it.
APP_VARIABLES = {"chat-user": "secondary", "chat-assistant": "success"}
_COLOR_FIELDS = ("primary", "secondary", "warning", "error", "success", "accent", "foreground", "background",
                 "surface", "panel", "boost")
_FIELDS = {f.name for f in dataclasses.fields(Theme)}


def load_theme(path: Path) -> Theme:
    """One theme file. Raises ValueError with a message naming the file and the problem."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path.name}: cannot read ({exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path.name}: invalid TOML: {exc}") from None
    unknown = sorted(set(data) - _FIELDS)
    if unknown:
        raise ValueError(f"{path.name}: unknown key {unknown[0]!r}")
    for key in ("name", "primary"):
        if not isinstance(data.get(key), str):
            raise ValueError(f"{path.name}: {key!r} is required and must be a string")
    for key in _COLOR_FIELDS:
        if key in data:
            try:
                Color.parse(data[key])
            except (ColorParseError, TypeError):
                raise ValueError(f"{path.name}: {key} = {data[key]!r} is not a colour") from None
    variables = data.get("variables", {})
    if not isinstance(variables, dict) or not all(isinstance(v, str) for v in variables.values()):
        raise ValueError(f"{path.name}: [variables] must map names to colour strings")
    try:
        return Theme(**data)
    except TypeError as exc:
        raise ValueError(f"{path.name}: {exc}") from None


def load_themes(folders: list[Path] | None = None) -> tuple[list[Theme], list[str]]:
    """Themes from the packaged folder and the user's (later folders win), and one message per broken file."""
    themes: dict[str, Theme] = {}
    problems: list[str] = []
    for folder in folders if folders is not None else [paths.packaged("themes"), paths.user_themes_dir()]:
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.toml")):
            try:
                theme = load_theme(path)
            except ValueError as exc:
                problems.append(f"theme {exc}")
                continue
            themes[theme.name] = theme
    return list(themes.values()), problems
