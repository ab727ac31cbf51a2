"""The `[keymap]` table: which remaps are applied, and why the others are not.

A remap is refused, with a warning at start, when it names an unknown binding id, a key Textual has no name for
(`notakey`, `F9`: key names are lower case), or a key another binding or the prompt's editing already uses. A
refused remap leaves the binding on its default key, so a typo never makes help, send or quit unreachable.
"""

from __future__ import annotations

import difflib
import string
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache

from textual.binding import Binding
from textual.keys import KEY_NAME_REPLACEMENTS, Keys

MODIFIERS = ("ctrl", "shift", "alt", "meta", "super", "hyper")


@cache
def key_names() -> frozenset[str]:
    """Every key name without modifiers: Textual's named keys and the printable characters' names."""
    named = {key.value.rsplit("+", 1)[-1] for key in Keys if not key.value.startswith("<")}
    printable = {_punctuation_name(c) for c in string.punctuation} | set(string.ascii_letters + string.digits)
    return frozenset(named | printable | {"space", "enter", "tab"})


def valid_key(name: str) -> bool:
    """`ctrl+s`, `f9`, `shift+enter`, `question_mark`: modifiers, each once, then one key name."""
    *modifiers, key = name.split("+")
    return key in key_names() and len(set(modifiers)) == len(modifiers) and all(m in MODIFIERS for m in modifiers)


def closest(name: str) -> str | None:
    """The valid key name a mistyped one most likely meant (`F9` -> `f9`, `ctlr+s` -> `ctrl+s`)."""
    if valid_key(name.lower()):
        return name.lower()
    *modifiers, key = name.split("+")
    if len(key) == 1 and key in string.punctuation:
        key = _punctuation_name(key)
    modifiers, key = [m.lower() for m in modifiers], key.lower()
    fixed = [difflib.get_close_matches(m, MODIFIERS, n=1) for m in modifiers]
    base = difflib.get_close_matches(key, sorted(key_names()), n=1)
    if not base or not all(fixed):
        return None
    guess = "+".join(dict.fromkeys(m[0] for m in fixed)) + "+" + base[0] if fixed else base[0]
    return guess if valid_key(guess) else None


def _punctuation_name(character: str) -> str:
    # Textual names a punctuation key after its Unicode name: "?" is question_mark, "/" is slash.
    name = unicodedata.name(character).lower().replace("-", "_").replace(" ", "_")
    return KEY_NAME_REPLACEMENTS.get(name, name)


@dataclass
class Resolved:
    """The remaps to apply, and one warning for each that is not."""

    keymap: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def resolve(keymap: Mapping[str, str], bindings: Iterable[Binding], editing: Mapping[str, str]) -> Resolved:
    """Check `keymap` (binding id -> keys, comma separated) against the app's `bindings` and the prompt's
    `editing` keys (key -> what it does there)."""
    by_id = {b.id: b for b in bindings if b.id}
    resolved = Resolved()
    unknown = sorted(set(keymap) - set(by_id))
    if unknown:
        resolved.warnings.append(
            f"keymap: unknown binding id {', '.join(unknown)} (known: {', '.join(sorted(by_id))})")
    wanted: dict[str, str] = {}
    for binding_id, keys in keymap.items():
        if binding_id not in by_id:
            continue
        bad = [key.strip() for key in keys.split(",") if not valid_key(key.strip())]
        if bad:
            resolved.warnings.append(f"keymap: {binding_id} = {keys!r} not applied: " + ", ".join(
                f"{key!r} is no key name" + (f" (did you mean {hint!r}?)" if (hint := closest(key)) else "")
                for key in bad))
            continue
        wanted[binding_id] = keys
    # A key taken from another binding would silently take that action away, and one of the prompt's editing
    # keys never reaches the app while the prompt has focus: such a remap is not applied.
    effective = {binding_id: {k.strip() for k in wanted.get(binding_id, b.key).split(",")}
                 for binding_id, b in by_id.items()}
    # An editing key that is also some binding's own key is that binding's (the prompt runs it first).
    defaults = {k.strip() for b in by_id.values() for k in b.key.split(",")}
    editing = {key: owner for key, owner in editing.items() if key not in defaults}
    for binding_id, keys in wanted.items():
        mine = sorted(effective[binding_id])
        taken = [(key, f"{other}'s") for key in mine for other, theirs in effective.items()
                 if other != binding_id and key in theirs]
        taken += [(key, editing[key]) for key in mine if key in editing]
        if taken:
            resolved.warnings.append(f"keymap: {binding_id} = {keys!r} not applied: "
                                     + ", ".join(f"{key} is {owner} key" for key, owner in taken))
        else:
            resolved.keymap[binding_id] = keys
    return resolved
