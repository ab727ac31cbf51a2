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


PASTE_START = "\x1b[200~"
PASTE_END = "\x1b[201~"
# Stands in for ESC inside a bracketed paste: a Unicode noncharacter, which is reserved for a program's own use
# and is not text anyone pastes.
PASTE_ESC = "\ufdd0"


class PasteShield:
    """Carries a bracketed paste whole through a key parser that reads ESC as the start of a key.

    Textual's parser ends a paste's text at its first ESC and reads what follows as keys, so a paste holding a
    control sequence (colour from a terminal, a title) had its tail typed before the paste, and a line break in
    that tail was enter. feed() turns each ESC inside a paste into PASTE_ESC, so only the paste's end marker is
    an escape sequence; restore() turns the pasted text back to exactly what was pasted. Outside a paste the
    text passes at once, unchanged: an escape key is never held back.
    """

    def __init__(self) -> None:
        self._in_paste = False
        self._seen = ""  # the last characters passed outside a paste: a start marker may span two reads
        self._pending = ""  # inside a paste: the start of what may be its end marker

    def feed(self, text: str) -> str:
        data, self._pending = self._pending + text, ""
        out = []
        pos = 0
        while pos < len(data):
            if not self._in_paste:
                window = self._seen + data[pos:]
                start = window.find(PASTE_START)
                if start == -1:
                    out.append(data[pos:])
                    self._seen = window[-(len(PASTE_START) - 1):]
                    break
                end = pos + start + len(PASTE_START) - len(self._seen)
                out.append(data[pos:end])
                pos, self._in_paste, self._seen = end, True, ""
            else:
                end = data.find(PASTE_END, pos)
                if end == -1:
                    tail = data.rfind("\x1b", pos)
                    if tail != -1 and PASTE_END.startswith(data[tail:]):
                        data, self._pending = data[:tail], data[tail:]
                    out.append(data[pos:].replace("\x1b", PASTE_ESC))
                    break
                out.append(data[pos:end].replace("\x1b", PASTE_ESC) + PASTE_END)
                pos, self._in_paste = end + len(PASTE_END), False
        return "".join(out)

    @staticmethod
    def restore(pasted: str) -> str:
        """The pasted text as it was, from what the parser made of feed()'s output."""
        return pasted.replace(PASTE_ESC, "\x1b")
