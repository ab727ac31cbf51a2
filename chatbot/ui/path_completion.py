"""`@` and a path in the prompt: the file names it can complete to, from the folder it names."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

MAX_ENTRIES = 500  # a folder with more is read this far: completion must never stall the prompt
# `@` at the start or after a space, then a path without spaces up to the cursor.
_AT_PATH = re.compile(r"(?:^|\s)@(\S*)$")


@dataclass(frozen=True, slots=True)
class Completion:
    """What `fragment` completes to (the longest part every match shares), the matches' names (a folder's
    ending in /), and the file it names when exactly one file matched."""

    fragment: str
    names: tuple[str, ...]
    file: Path | None = None


def fragment_before(line: str) -> str | None:
    """The path after an `@` that ends where `line` (the text before the cursor) ends; None if there is none."""
    found = _AT_PATH.search(line)
    return None if found is None else found.group(1)


def complete(fragment: str, cwd: Path) -> Completion:
    """Complete `fragment`, a path relative to `cwd` (or absolute, or from ~), by the names in its folder."""
    folder_part, _, start = fragment.rpartition("/")
    folder_text = folder_part + "/" if "/" in fragment else ""
    folder = cwd / Path(folder_text).expanduser() if folder_text else cwd
    names: list[str] = []
    only_file: Path | None = None
    try:
        with os.scandir(folder) as entries:
            for n, entry in enumerate(entries):
                if n >= MAX_ENTRIES:
                    break
                if not entry.name.startswith(start) or (entry.name.startswith(".") and not start.startswith(".")):
                    continue
                is_dir = entry.is_dir()
                names.append(entry.name + "/" if is_dir else entry.name)
                only_file = None if is_dir else Path(entry.path)
    except OSError:
        return Completion(fragment, ())
    names.sort()
    if not names:
        return Completion(fragment, ())
    common = os.path.commonprefix(names)  # noqa: RUF071 - names share letters, not folders
    return Completion(folder_text + common, tuple(names), only_file if len(names) == 1 else None)
