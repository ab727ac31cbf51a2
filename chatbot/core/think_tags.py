"""Reasoning written inline in the reply: a `<think>...</think>` block at the start of the content.

Ollama's deepseek-r1 and qwen3 (and other servers that apply such a model's chat template without a reasoning
parser) send the model's reasoning as part of the content, in one block before the answer. `ThinkTags` turns
that block into ReasoningDelta events and the rest into TextDelta, as the content streams in pieces that may
split a tag at any character.

Only a block that opens the reply counts (whitespace before it aside): a `<think>` later in the answer is the
answer's own text (a reply explaining these models' output). A block the stream leaves unclosed is reasoning:
the reply was cut off while the model was reasoning. The whitespace the templates put around the block
(`<think>\\n...\\n</think>\\n\\n`) is not part of either side.
"""

from __future__ import annotations

from enum import Enum, auto

from chatbot.core.events import ReasoningDelta, TextDelta

OPEN, CLOSE = "<think>", "</think>"

Piece = TextDelta | ReasoningDelta


class _State(Enum):
    START = auto()  # nothing but whitespace yet, or the beginning of what may be OPEN
    THINKING = auto()  # inside the block
    AFTER = auto()  # the block closed; only whitespace since
    ANSWER = auto()  # the rest is answer text, whatever it holds


def _partial_suffix(text: str, tag: str) -> int:
    """How many characters at the end of `text` are the start of `tag` (it may be completed by the next piece)."""
    for size in range(min(len(text), len(tag) - 1), 0, -1):
        if tag.startswith(text[-size:]):
            return size
    return 0


class ThinkTags:
    """Splits streamed content into reasoning and answer. Feed it each piece; `end()` when the stream ends
    (also when it broke off: what was held back is part of what arrived)."""

    def __init__(self) -> None:
        self._state = _State.START
        self._held = ""  # text not yet given out: a tag may be forming in it, or whitespace at an edge
        self._reasoned = False  # some reasoning went out: later whitespace inside the block is between its words

    def feed(self, text: str) -> list[Piece]:
        if not text:
            return []
        if self._state is _State.ANSWER:
            return [TextDelta(text)]
        self._held += text
        return self._advance()

    def end(self) -> list[Piece]:
        held, self._held = self._held, ""
        state, self._state = self._state, _State.ANSWER
        if state is _State.START and held:
            return [TextDelta(held)]  # the start of OPEN that never finished is answer text
        if state is _State.THINKING and (reasoning := held.rstrip()):
            return [ReasoningDelta(reasoning)]  # an unclosed block: the model was cut off reasoning
        return []

    def _advance(self) -> list[Piece]:
        out: list[Piece] = []
        if self._state is _State.START:
            stripped = self._held.lstrip()
            if stripped.startswith(OPEN):
                self._state, self._held = _State.THINKING, stripped[len(OPEN):]
            elif not stripped or OPEN.startswith(stripped):
                return out  # whitespace, or OPEN not yet whole
            else:
                self._state, held, self._held = _State.ANSWER, self._held, ""
                return [TextDelta(held)]
        if self._state is _State.THINKING:
            if not self._reasoned:
                self._held = self._held.lstrip()
            at = self._held.find(CLOSE)
            if at < 0:
                # Held back: what may be the start of CLOSE, and trailing whitespace, which goes out with the
                # next words (or not at all, if CLOSE comes next).
                body = self._held[:len(self._held) - _partial_suffix(self._held, CLOSE)]
                give = body.rstrip()
                self._held = self._held[len(give):]
                if give:
                    self._reasoned = True
                    out.append(ReasoningDelta(give))
                return out
            if reasoning := self._held[:at].rstrip():
                out.append(ReasoningDelta(reasoning))
            self._state, self._held = _State.AFTER, self._held[at + len(CLOSE):]
        if self._state is _State.AFTER:
            answer = self._held.lstrip()
            if answer:
                self._state, self._held = _State.ANSWER, ""
                out.append(TextDelta(answer))
            else:
                self._held = ""
        return out
