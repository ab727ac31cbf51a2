"""Editing the summary of the oldest turns (budget.strategy "summarize"): the palette's "Edit summary", or e on the
summary block, opens its text; ctrl+s puts the user's words in its place from the next request, escape leaves it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chatbot.core import summary as summaries
from chatbot.ui.screens.system_prompt import SystemPromptScreen
from chatbot.ui.widgets.summary_block import title_of

if TYPE_CHECKING:
    from chatbot.ui.screens.chat import ChatScreen

FOOTER = "ctrl+s saves (sent in place of those turns from the next request) · escape cancels"


def edit_summary(screen: ChatScreen) -> None:
    """Open the summary in effect in an editor over the chat screen."""
    summary = summaries.in_effect(screen.session)
    if summary is None:
        screen.notify("There is no summary of earlier turns to edit.")
        return
    if screen.busy:  # a summary may be in the making: it would overwrite the edit
        screen.notify("Wait for the reply to finish, or stop it with escape.")
        return

    def saved(text: str | None) -> None:
        if text is None or text.strip() == summary.text:
            return  # cancelled, or nothing changed
        if not text.strip() or summaries.in_effect(screen.session) is not summary:
            screen.notify("The summary is unchanged: " + ("an empty one would say nothing." if not text.strip()
                                                          else "another took its place meanwhile."))
            return
        summaries.edit(screen.session, text)
        screen.transcript.mark_dropped(screen.session.dropped(), summaries.in_effect(screen.session))
        screen.refresh_status()
        screen.notify("Summary updated; it applies from the next request.")

    screen.app.push_screen(SystemPromptScreen(summary.text, title=title_of(summary).capitalize(), footer=FOOTER),
                           saved)
