"""The base of the app's dialogs: a ModalScreen that is dismissed once."""

from __future__ import annotations

from typing import TypeVar

from textual.await_complete import AwaitComplete
from textual.screen import ModalScreen

R = TypeVar("R")


class Dialog(ModalScreen[R]):
    """A ModalScreen dismissed once. Keys already on their way when it is dismissed (enter twice in one burst)
    reach it after it is gone, and Textual's dismiss would answer its callback again and pop whatever screen is
    on top then: the chat screen itself, which ends the app."""

    def dismiss(self, result: R | None = None) -> AwaitComplete:
        if not self.is_active:
            return AwaitComplete()
        return super().dismiss(result)
