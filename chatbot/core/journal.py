"""What happened to a session's conversation, as it happened: the events the session tells its observers.

The session runs turns and keeps nothing; whoever keeps something (the history, the usage log) observes these.
Each event holds values copied when it was made, so an observer never reads the session back, and is told
synchronously, in order: an observer must return at once (queue its work) and must not raise.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Protocol

from chatbot.core.conversation import Message, Summary
from chatbot.core.request import Request


class Observer(Protocol):
    def observe(self, event: Entry) -> None:
        """Take note of `event`; called on the session's thread, so it must not wait."""


@dataclass(frozen=True, slots=True)
class Setup:
    """The model, the preset and the system prompt the conversation goes on with, as they are kept with it."""

    model: str
    preset: str
    system_prompt: str


@dataclass(frozen=True, slots=True)
class ConversationStarted:
    """A new, empty conversation took the place of the one before."""

    setup: Setup


@dataclass(frozen=True, slots=True)
class ConversationResumed:
    """A conversation made earlier (a stored one) took the place of the one before."""

    setup: Setup


@dataclass(frozen=True, slots=True)
class SettingsChanged:
    """The user switched the model or the preset, or edited the system prompt."""

    setup: Setup


@dataclass(frozen=True, slots=True)
class MessageAdded:
    """The user's message joined the conversation, before its request goes out, after `parent` (a Message.id;
    None for a first message). An edit is a message beside the one it edits: same parent, another branch. A tool
    message (a call's result) joins the same way, after the reply that called it or the result before it."""

    message: Message
    setup: Setup
    parent: int | None = None


@dataclass(frozen=True, slots=True)
class MessageWithdrawn:
    """A message left the conversation: the user's, when nothing came back. (A reply a regenerate replaced
    stays, as an alternative.)"""

    message: Message


@dataclass(frozen=True, slots=True)
class MessagesDeleted:
    """The user deleted a message and everything under it: these Message.ids, each after its parent. What their
    requests cost stays counted."""

    ids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class ConversationForked:
    """A new conversation took the place of the one before, holding copies (new ids) of its path up to a
    message: `messages`, each after the one before it, with the summary of the oldest of them if it was
    copied too. Their requests were counted with the old one."""

    setup: Setup
    messages: tuple[Message, ...]
    summary: Summary | None = None


@dataclass(frozen=True, slots=True)
class RequestStarted:
    """A request to `model` is going out (again, after a retry's wait)."""

    model: str


@dataclass(frozen=True, slots=True)
class ReplyStarted:
    """The first token of a reply from `model` arrived; the reply answers `parent` (a Message.id)."""

    model: str
    setup: Setup
    parent: int | None = None


@dataclass(frozen=True, slots=True)
class ReplyProgress:
    """More of the reply arrived. Told on every delta, so it costs nothing to make: `text` builds the reply so far
    only when called, and whoever keeps it decides how often that is worth it."""

    text: Callable[[], str]


@dataclass(frozen=True, slots=True)
class ReplyFinal:
    """The reply joined the conversation as it ended (finished, stopped or broken off), with the parameters it
    was made with; its token counts are filled in, so whoever keeps it spares a resume the tokenizing."""

    message: Message
    params: dict[str, object] = field(hash=False)
    setup: Setup
    parent: int | None = None


@dataclass(frozen=True, slots=True)
class BranchSwitched:
    """The active path changed without a message joining it (a switch to another alternative, an unsent edit
    withdrawn, a regenerate that brought nothing): it now ends at `leaf`, a Message.id (None: it is empty)."""

    leaf: int | None


@dataclass(frozen=True, slots=True)
class SummaryMade:
    """The oldest turns of the conversation were summarised (or the user edited the summary): `summary` stands in
    for them in requests."""

    summary: Summary


@dataclass(frozen=True, slots=True)
class RequestSettled:
    """A request ended, as billed: once per request, a failed attempt that was retried included."""

    request: Request


Entry = (ConversationStarted | ConversationResumed | ConversationForked | SettingsChanged | MessageAdded
         | MessageWithdrawn | MessagesDeleted | BranchSwitched | RequestStarted | ReplyStarted | ReplyProgress
         | ReplyFinal | RequestSettled | SummaryMade)


def frozen(message: Message) -> Message:
    """The message as it is now: its token counts go on growing on the event loop while an observer holds it."""
    return replace(message, token_counts=dict(message.token_counts))
