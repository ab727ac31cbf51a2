"""The start-up probe for Kitty graphics (chatbot/ui/graphics.py) on a pseudo-terminal that plays the terminal:
what counts as a yes, what is handed on as typed keys, and the terminals that are never asked."""

from __future__ import annotations

import os
import select
import termios
import threading

import pytest

from chatbot.ui.graphics import QUERY, may_draw_images, placeholder_rows, probe

DEVICE_ATTRIBUTES = b"\x1b[?62;22c"
LIMIT = 60.0  # the probe's wait: the terminal here always replies, so nothing depends on it


def answered(reply: bytes, term: str = "xterm-256color") -> tuple[bool, bytes, bytes]:
    """Probe a pty whose terminal writes `reply` once it has read the query; returns (kitty, typed, what the
    terminal was sent)."""
    master, slave = os.openpty()
    sent = bytearray()

    def terminal() -> None:
        while QUERY.encode() not in sent:
            if not select.select([master], [], [], LIMIT)[0]:
                return
            sent.extend(os.read(master, 4096))
        os.write(master, reply)

    thread = threading.Thread(target=terminal, daemon=True)
    thread.start()
    try:
        before = termios.tcgetattr(slave)
        answer = probe(slave, slave, term, LIMIT)
        assert termios.tcgetattr(slave) == before  # the terminal's modes as they were
    finally:
        if term in ("dumb", "linux"):
            os.write(slave, QUERY.encode())  # ends the terminal's wait: nothing was asked
        thread.join(LIMIT)
        os.close(master)
        os.close(slave)
    return answer.kitty, answer.typed, bytes(sent)


def test_an_ok_to_the_query_is_a_yes_and_keys_around_the_replies_are_handed_on_in_order() -> None:
    kitty, typed, _ = answered(b"ab\x1b[A" + b"\x1b_Gi=31;OK\x1b\\" + b"cd" + DEVICE_ATTRIBUTES)
    assert kitty
    assert typed == b"ab\x1b[Acd"


@pytest.mark.parametrize("reply", [b"\x1b_Gi=31;ENOTSUPPORTED:no\x1b\\", b"\x1b_Gi=7;OK\x1b\\", b""])
def test_anything_but_ok_to_this_query_is_a_no(reply: bytes) -> None:
    kitty, typed, _ = answered(b"x" + reply + DEVICE_ATTRIBUTES)
    assert not kitty
    assert typed == b"x"


@pytest.mark.parametrize("term", ["dumb", "linux"])
def test_a_dumb_terminal_or_the_linux_console_is_not_asked(term: str) -> None:
    kitty, _, sent = answered(b"\x1b_Gi=31;OK\x1b\\" + DEVICE_ATTRIBUTES, term)
    assert not kitty
    assert sent == QUERY.encode()  # only what the test itself wrote to end the wait


def test_no_terminal_is_not_asked() -> None:
    read, write = os.pipe()
    try:
        assert not probe(read, write, "xterm-256color", LIMIT).kitty
        assert not select.select([read], [], [], 0)[0]  # nothing written
    finally:
        os.close(read)
        os.close(write)


def test_placeholders_name_each_cell_by_its_row_and_column() -> None:
    rows = placeholder_rows(2, 2)
    assert rows == ["\U0010eeee\u0305\u0305\U0010eeee\u0305\u030d", "\U0010eeee\u030d\u0305\U0010eeee\u030d\u030d"]


@pytest.mark.parametrize(("env", "asked"), [
    ({"TERM": "xterm-kitty"}, True), ({"TERM": "xterm-256color", "KITTY_WINDOW_ID": "3"}, True),
    ({"TERM": "xterm-ghostty"}, True), ({"TERM_PROGRAM": "WezTerm"}, True), ({"KONSOLE_VERSION": "240202"}, True),
    ({"TERM": "xterm-256color"}, False), ({"TERM": "tmux-256color", "TERM_PROGRAM": "tmux"}, False), ({}, False),
])
def test_only_a_terminal_that_may_draw_kitty_graphics_is_asked(env: dict[str, str], asked: bool) -> None:
    assert may_draw_images(env) is asked
