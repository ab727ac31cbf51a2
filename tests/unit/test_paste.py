"""A bracketed paste reaches Textual's key parser whole: PasteShield keeps the terminal controls inside it from
being read as keys, however the reads split it."""

from __future__ import annotations

from textual import events
from textual._xterm_parser import XTermParser

from chatbot.core.terminal import PASTE_END, PASTE_ESC, PASTE_START, PasteShield
from hostile import ESC, PASTED, STREAM


def parse(*reads: str) -> list[tuple[str, str]]:
    """What Textual's key parser makes of `reads`, each passed through one PasteShield as the driver does."""
    parser, shield = XTermParser(False), PasteShield()
    found = []
    for read in reads:
        for event in parser.feed(shield.feed(read)):
            if isinstance(event, events.Paste):
                found.append(("paste", PasteShield.restore(event.text)))
            elif isinstance(event, events.Key):
                found.append(("key", event.key))
    return found


def test_the_parser_gets_a_paste_with_a_control_sequence_whole() -> None:
    # Without the shield the parser typed "^[31mred^[0m", enter and "four" ahead of a paste of "one\r\ntwo ".
    assert parse(STREAM) == [("key", "x"), ("key", "up"), ("paste", PASTED), ("key", "y")]


def test_a_paste_split_across_reads_anywhere_is_the_same() -> None:
    whole = PasteShield().feed(STREAM)
    for i in range(len(STREAM) + 1):
        for j in range(i, len(STREAM) + 1):
            shield = PasteShield()
            assert shield.feed(STREAM[:i]) + shield.feed(STREAM[i:j]) + shield.feed(STREAM[j:]) == whole, (i, j)
    assert parse(STREAM[:20], STREAM[20:41], STREAM[41:]) == parse(STREAM)


def test_outside_a_paste_nothing_is_held_back_or_changed() -> None:
    shield = PasteShield()
    assert shield.feed(ESC) == ESC  # the escape key reaches the parser at once
    assert shield.feed(f"[31m{PASTE_ESC}a") == f"[31m{PASTE_ESC}a"
    # Inside a paste, what may be the start of its end marker waits for the next read.
    assert shield.feed(f"{PASTE_START}a{ESC}[20") == f"{PASTE_START}a"
    assert shield.feed("0~b") == f"{PASTE_ESC}[200~b"
    assert shield.feed(f"{PASTE_END}{ESC}") == f"{PASTE_END}{ESC}"
