"""Model text is data: strip what a terminal would act on (escape sequences, control characters)."""

from __future__ import annotations

import re

# Whole sequences: CSI, OSC (title, clipboard, hyperlinks) and DCS/SOS/PM/APC strings with their terminator,
# and the two-character escapes that open nothing.
_SEQUENCE = (
    r"\x1b\[[0-?]*[ -/]*[@-~]"
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)"
    r"|\x1b[PX^_][^\x1b]*\x1b\\"
    r"|\x1b[@-OQ-WYZ\\]"
)
# An unterminated string loses only its introducer, never the text after it; then any control left (ESC,
# C0 but tab and newline, DEL, C1) goes.
_ESCAPES = re.compile(_SEQUENCE + r"|\x1b[\[\]PX^_]?|[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\x80-\x9f]")
_COMPLETE = re.compile(_SEQUENCE)
# The start of a sequence that more text could still complete.
_PARTIAL = re.compile(r"\x1b(?:\[[0-?]*[ -/]*|\][^\x07\x1b]*\x1b?|[PX^_][^\x1b]*\x1b?)?")
MAX_SEQUENCE = 4096


def neutralize(text: str) -> str:
    """Text with terminal control sequences removed; carriage returns become newlines."""
    return _ESCAPES.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))


class StreamFilter:
    """neutralize() for text that arrives in pieces: a sequence split across two pieces is held back until it
    is complete, so none of it is printed."""

    def __init__(self) -> None:
        self._pending = ""

    def feed(self, text: str) -> str:
        data = self._pending + text
        self._pending = ""
        pos = 0
        while (start := data.find("\x1b", pos)) != -1:
            if match := _COMPLETE.match(data, start):
                pos = match.end()
                continue
            if len(data) - start < MAX_SEQUENCE and _PARTIAL.fullmatch(data, start):
                data, self._pending = data[:start], data[start:]
            break
        return neutralize(data)

    def flush(self) -> str:
        data, self._pending = self._pending, ""
        return neutralize(data)


def one_line(text: str) -> str:
    """neutralize(), then every run of whitespace (newlines too) made one space: a name or a title, as one line
    of a listing shows it."""
    return " ".join(neutralize(text).split())
