"""The one way text reaches a widget: as data, never markup, never terminal control.

Model, tool and stored text (a reply, a title, a model name from a server, a server's error) is drawn only
through these: a widget gets `shown(text)`, or `shown_text(text)` where it takes a string and draws it as it
is. A literal of the app's own may be passed as it is. tests/unit/test_terminal_boundary.py reads chatbot/ui and
fails on any other way in; notifications are cleaned by ChatApp.notify, which every notify() reaches.
"""

from __future__ import annotations

from textual.content import Content

from chatbot.core.terminal import StreamFilter, neutralize


def shown(text: str) -> Content:
    """`text` for a Static, a Label or an Option: literal, never markup, with terminal controls removed."""
    return Content(neutralize(text))


def shown_text(text: str) -> str:
    """`text` for what takes a string and draws it as it is (Markdown source, a TextArea, an Input's value) or
    hands it on (the clipboard: what is copied is what the screen shows)."""
    return neutralize(text)


class ShownStream:
    """shown_text() for text that arrives in pieces: a sequence split across two pieces is held back until it
    is whole, so none of it is drawn."""

    def __init__(self) -> None:
        self._filter = StreamFilter()

    def shown_text(self, piece: str) -> str:
        return self._filter.feed(piece)

    def shown_rest(self) -> str:
        return self._filter.flush()
