"""A search hit's snippet: a few words of the message around its first match, cut from the text as shown."""

from __future__ import annotations

import re

from chatbot.core.terminal import neutralize

SNIPPET_WORDS = 12
# What highlight() puts around each match: noncharacters, which no text holds and neutralize() keeps.
MATCH_OPEN, MATCH_CLOSE = "\ufdd0", "\ufdd1"
_MARKED = re.compile(f"{MATCH_OPEN}([^{MATCH_OPEN}{MATCH_CLOSE}]*){MATCH_CLOSE}")


def snippet(marked: str) -> str:
    """About SNIPPET_WORDS words of a message around its first match («word»), on one line.

    Cut from the text as shown (neutralize() first): FTS5's own snippet() cuts the stored text, and could stop
    inside an escape sequence, whose open string then swallowed what a terminal printed after it. A match
    inside a sequence (a window title) is removed with it; the hit is still listed, from its first words."""
    words = neutralize(marked).split()
    first = next((i for i, word in enumerate(words) if MATCH_OPEN in word), 0)
    start = max(0, min(first - 3, len(words) - SNIPPET_WORDS))
    end = start + SNIPPET_WORDS
    text = _MARKED.sub(r"«\1»", " ".join(words[start:end]))
    text = text.replace(MATCH_OPEN, "").replace(MATCH_CLOSE, "")  # one half of a match the cut split
    return ("…" if start else "") + text + ("…" if end < len(words) else "")
