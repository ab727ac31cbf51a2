"""The `[keymap]` checks: key names, and remaps that would take another binding's key."""

from __future__ import annotations

import pytest
from textual.binding import Binding

from chatbot.ui.keymap import closest, resolve, valid_key

BINDINGS = [Binding("f1", "help", "Help", id="help"), Binding("enter", "submit", "Send", id="send"),
            Binding("f2", "model_menu", "Model", id="model_menu")]


@pytest.mark.parametrize("name", ["ctrl+s", "f9", "shift+enter", "question_mark", "a", "ctrl+shift+home",
                                  "alt+x", "escape", "pagedown"])
def test_key_names_textual_knows_are_valid(name: str) -> None:
    assert valid_key(name)


@pytest.mark.parametrize(("name", "hint"), [("F9", "f9"), ("ctlr+s", "ctrl+s"), ("?", "question_mark"),
                                            ("pgdown", "pagedown"), ("Ctrl+S", "ctrl+s"), ("notakey", None),
                                            ("ctrl+ctrl+a", "ctrl+a")])
def test_an_unknown_key_name_gets_the_closest_valid_one(name: str, hint: str | None) -> None:
    assert not valid_key(name)
    assert closest(name) == hint


def test_a_remap_to_an_unknown_key_name_is_refused_and_says_what_was_meant() -> None:
    resolved = resolve({"help": "F9", "send": "notakey", "model_menu": "f3"}, BINDINGS, {})
    assert resolved.keymap == {"model_menu": "f3"}
    assert resolved.warnings == [
        "keymap: help = 'F9' not applied: 'F9' is no key name (did you mean 'f9'?)",
        "keymap: send = 'notakey' not applied: 'notakey' is no key name",
    ]


def test_a_remap_with_one_bad_key_of_several_is_refused_whole() -> None:
    resolved = resolve({"help": "f10,F11"}, BINDINGS, {})
    assert resolved.keymap == {}
    assert "'F11' is no key name (did you mean 'f11'?)" in resolved.warnings[0]


def test_a_remap_onto_another_bindings_key_or_an_editing_key_is_refused() -> None:
    resolved = resolve({"help": "enter", "model_menu": "f6"}, BINDINGS, {"f6": "the prompt's select line"})
    assert resolved.keymap == {}
    assert resolved.warnings == ["keymap: help = 'enter' not applied: enter is send's key",
                                 "keymap: model_menu = 'f6' not applied: f6 is the prompt's select line key"]


def test_an_unknown_binding_id_is_named_with_the_known_ones() -> None:
    resolved = resolve({"halp": "f1"}, BINDINGS, {})
    assert resolved.warnings == ["keymap: unknown binding id halp (known: help, model_menu, send)"]


def test_a_key_freed_by_another_remap_can_be_taken() -> None:
    assert resolve({"help": "f2", "model_menu": "f3"}, BINDINGS, {}).keymap == {"help": "f2", "model_menu": "f3"}
