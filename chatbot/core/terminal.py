"""Model text is data: strip what a terminal would act on (escape sequences, control characters)."""

from __future__ import annotations

import re

# CSI, OSC (title, clipboard, hyperlinks), DCS/PM/APC/SOS strings, single-character escapes, and the
# C0/C1 controls other than tab and newline.
_ESCAPES = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"
    r"|\x1b[PX^_][^\x1b]*(?:\x1b\\)?"
    r"|\x1b[@-Z\\-_]?"
    r"|[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\x80-\x9f]"
)


def neutralize(text: str) -> str:
    """Text with terminal control sequences removed; carriage returns become newlines."""
    return _ESCAPES.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
