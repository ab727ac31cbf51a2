"""The start-up probe for Kitty graphics and Sixel (chatbot/ui/graphics.py) on a pseudo-terminal that plays the
terminal: what counts as a yes, what is handed on as typed keys, and the terminals that are never asked."""

from __future__ import annotations

import os
import select
import termios
import threading

import pytest

from chatbot.ui.graphics import CELL_SIZE, QUERY, Answer, may_draw_images, placeholder_rows, probe
from chatbot.ui.graphics import DEVICE_ATTRIBUTES as ASKED

DEVICE_ATTRIBUTES = b"\x1b[?62;22c"
LIMIT = 60.0  # the probe's wait: the terminal here always replies, so nothing depends on it


def answered(reply: bytes, term: str = "xterm-256color") -> tuple[bool, bytes, bytes]:
    """Probe a pty whose terminal writes `reply` once it has read the query; returns (kitty, typed, what the
    terminal was sent)."""
    answer, sent = asked(reply, term)
    return answer.kitty, answer.typed, sent


def asked(reply: bytes, term: str = "xterm-256color") -> tuple[Answer, bytes]:
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
    return answer, bytes(sent)


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
    ({"TERM": "foot"}, True), ({"TERM": "xterm-256color", "XTERM_VERSION": "XTerm(390)"}, True),
    ({"WT_SESSION": "0b7c"}, True), ({"TERM_PROGRAM": "vscode"}, True), ({"TERM": "mlterm"}, True),
    ({"TERM": "xterm-256color"}, False), ({"TERM": "tmux-256color", "TERM_PROGRAM": "tmux"}, False), ({}, False),
])
def test_only_a_terminal_that_may_draw_kitty_graphics_or_sixel_is_asked(env: dict[str, str], asked: bool) -> None:
    assert may_draw_images(env) is asked


def test_the_terminal_is_asked_for_kitty_graphics_its_cell_size_and_its_attributes_in_that_order() -> None:
    _, sent = asked(DEVICE_ATTRIBUTES)
    assert sent == (QUERY + CELL_SIZE + ASKED).encode()


@pytest.mark.parametrize(("attributes", "sixel"), [
    (b"\x1b[?62;4;22c", True), (b"\x1b[?64;1;2;4;6;9;15;18;21;22c", True), (b"\x1b[?65;4c", True),
    (b"\x1b[?62;22c", False), (b"\x1b[?4;22c", False), (b"\x1b[?62;14c", False), (b"\x1b[?6c", False),
], ids=["vt220+sixel", "vt420+sixel", "vt500+sixel", "no sixel", "class 4 is no feature", "14 is not 4", "vt102"])
def test_sixel_is_attribute_4_of_the_device_attributes_after_the_terminal_class(attributes: bytes,
                                                                                 sixel: bool) -> None:
    answer, _ = asked(attributes)
    assert answer.sixel is sixel
    assert not answer.kitty


def test_the_cell_size_reply_is_read_as_pixels_and_keys_around_every_reply_are_handed_on_in_order() -> None:
    answer, _ = asked(b"a" + b"\x1b[6;20;10t" + b"b\x1b[B" + b"\x1b[?62;4;22c" + b"c")
    assert answer.cell == (10, 20)  # width, height
    assert answer.sixel
    assert answer.typed == b"ab\x1b[Bc"


@pytest.mark.parametrize("reply", [b"", b"\x1b[6;0;0t"], ids=["no reply", "zero"])
def test_a_cell_size_not_told_is_none(reply: bytes) -> None:
    answer, _ = asked(reply + b"\x1b[?62;4c")
    assert answer.cell is None
    assert answer.typed == b""
