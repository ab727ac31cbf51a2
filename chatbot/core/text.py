"""Wording shared by the command line and the app."""

from __future__ import annotations


def plural(count: int, noun: str) -> str:
    """`1 turn`, `2 turns`, `1,000 tokens`."""
    return f"{count:,} {noun}{'' if count == 1 else 's'}"
