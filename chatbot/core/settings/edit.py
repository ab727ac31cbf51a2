"""Changes the app makes to the user's config file: comments, layout, line endings and other tables kept."""

from __future__ import annotations

import copy
import os
import tempfile
import tomllib
from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.exceptions import TOMLKitError
from tomlkit.items import AoT, Comment, Table

from chatbot.core.errors import ConfigError


def set_top_level_key(path: Path, key: str, value: str) -> None:
    """Set `key = "value"` at the top level of the config file, creating the file (and its folder) if missing.

    An existing key is replaced where it stands, its comment kept. A new key goes after the last top-level key,
    or above the first table and the comments directly over it: in TOML a key after a `[table]` header belongs
    to that table. A file that is not valid TOML is reported and left as it is. Raises ConfigError only.
    """
    text = _read(path)
    before, document = _parse(path, text)
    if key in document:
        document[key] = value  # tomlkit keeps the old line's comment and ending
    else:
        _insert(document, key, value)
    edited = document.as_string()
    if "\r\n" in text and "\n" not in text.replace("\r\n", ""):
        # tomlkit ends the lines it adds with \n; in a file of CRLF lines every lone \n is one of those.
        edited = edited.replace("\r\n", "\n").replace("\n", "\r\n")
    # The edit must be exactly the one key: anything else would be a change the user did not ask for.
    if tomllib.loads(edited) != {**before, key: value}:
        raise ConfigError(f"{path}: cannot set {key} without changing other settings; it was left as it is",
                          f'add the line {key} = "{value}" above the first [table] by hand')
    _write(path, edited)


def set_tool_rule(path: Path, server: str, tool: str, rule: str) -> None:
    """Set `tool = "rule"` in the `tools` of `[mcp_servers.SERVER]` in the config file (an inline table made if
    there is none), the rest of the file kept. Raises ConfigError only: for a server the file does not define
    (it came from the environment), or a file that is not valid TOML."""
    text = _read(path)
    before, document = _parse(path, text)
    servers = document.get("mcp_servers")
    entry = servers.get(server) if isinstance(servers, dict) else None
    line = f'{tool} = "{rule}" under [mcp_servers.{server}.tools]'
    if not isinstance(entry, dict):
        raise ConfigError(f"{path} does not define mcp_servers.{server}; the rule was not saved", f"add {line}")
    tools = entry.get("tools")
    if tools is None:
        entry["tools"] = tools = tomlkit.inline_table()
    if not isinstance(tools, dict):
        raise ConfigError(f"{path}: mcp_servers.{server}.tools is not a table; the rule was not saved", f"add {line}")
    tools[tool] = rule
    edited = document.as_string()
    expected = copy.deepcopy(before)
    expected["mcp_servers"][server].setdefault("tools", {})[tool] = rule
    if tomllib.loads(edited) != expected:  # exactly the one rule, nothing else
        raise ConfigError(f"{path}: cannot save the rule without changing other settings; it was left as it is",
                          f"add {line} by hand")
    _write(path, edited)


def _parse(path: Path, text: str) -> tuple[dict[str, Any], tomlkit.TOMLDocument]:
    """The file's settings as they stand, and the document to edit; a file that is not valid TOML is reported
    and left as it is."""
    try:
        return tomllib.loads(text), tomlkit.parse(text)
    except (tomllib.TOMLDecodeError, TOMLKitError) as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}; it was left as it is",
                          "fix the syntax, then save again") from None


def _insert(document: tomlkit.TOMLDocument, key: str, value: str) -> None:
    body = document.body
    # A dotted key (`budget.max_context_tokens = 1`) is a table too, but a line of the top level.
    tables = [i for i, (k, item) in enumerate(body)
              if isinstance(item, (Table, AoT)) and not (k is not None and k.is_dotted())]
    if not tables:
        document[key] = value  # no table: the end of the file is the top level
        return
    first = tables[0]
    pairs = [i for i, (k, item) in enumerate(body[:first]) if k is not None]
    if pairs:
        where, trail = pairs[-1] + 1, "\n"
    else:
        where, trail = first, "\n\n"  # a blank line between the key and what belongs to the table
        while where > 0 and isinstance(body[where - 1][1], Comment):
            where -= 1
    item = tomlkit.item(value)
    item.trivia.trail = trail
    # tomlkit's public API appends a new key after the comments above the first table, taking them from it.
    document._insert_at(where, key, item)


def _read(path: Path) -> str:
    error: ConfigError | None = None
    try:
        return path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        return ""
    except UnicodeDecodeError as exc:
        error = ConfigError(f"{path}: not UTF-8 text (byte {exc.start}); it was left as it is",
                            "save the file as UTF-8")
    except OSError as exc:
        error = ConfigError(f"{path}: cannot read ({exc.strerror})", "check the file's permissions")
    raise error


def _write(path: Path, text: str) -> None:
    """Write through a temporary file and a rename, so a failed write leaves the old file whole."""
    target = path.resolve()  # a symlinked config (dotfiles) stays a link; its target is what changes
    temporary: str | None = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        mode = target.stat().st_mode & 0o777 if target.exists() else 0o600
        handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        with os.fdopen(handle, "wb") as out:
            out.write(text.encode("utf-8"))
        os.chmod(temporary, mode)
        os.replace(temporary, target)
        temporary = None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot write ({exc.strerror})", "check the folder's permissions") from None
    finally:
        if temporary is not None:
            Path(temporary).unlink(missing_ok=True)
