"""Messages and the conversation that holds them, in memory."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Literal

from chatbot.core.attachments import Attachment
from chatbot.core.events import Usage

Role = Literal["system", "user", "assistant"]
_ids = itertools.count(1)


@dataclass(frozen=True, slots=True)
class Message:
    role: Role
    content: str
    id: int = field(default_factory=lambda: next(_ids))
    model: str | None = None
    usage: Usage | None = None
    cost: Decimal | None = None
    finish_reason: str | None = None
    stopped: bool = False  # the user stopped the reply; what arrived is kept
    error: str | None = None  # the reply broke off with this error; what arrived is kept
    attachments: tuple[Attachment, ...] = ()  # files sent with a user message, as they were sent
    reasoning: str = ""  # the model's reasoning before the reply, as streamed; never sent back to it
    # Token counts per encoding, filled lazily by TokenCounter so no message is tokenized twice.
    token_counts: dict[str, int] = field(default_factory=dict, compare=False, repr=False)

    @property
    def partial(self) -> bool:
        return self.stopped or self.error is not None


@dataclass
class Conversation:
    system_prompt: str = ""
    messages: list[Message] = field(default_factory=list)
    _system: Message | None = field(default=None, init=False, repr=False, compare=False)

    def add(self, message: Message) -> Message:
        self.messages.append(message)
        return message

    def add_user(self, text: str) -> Message:
        return self.add(Message("user", text))

    def set_system_prompt(self, text: str) -> None:
        self.system_prompt = text

    def pop_last_reply(self) -> Message | None:
        """Remove the trailing assistant reply (to regenerate it); returns it, or None if there is none."""
        if self.messages and self.messages[-1].role == "assistant":
            return self.messages.pop()
        return None

    def last_reply(self) -> Message | None:
        return next((m for m in reversed(self.messages) if m.role == "assistant"), None)

    def last_user(self) -> Message | None:
        return next((m for m in reversed(self.messages) if m.role == "user"), None)

    def system_message(self) -> Message | None:
        """The system prompt as a message, reused while its text is unchanged so its count stays cached."""
        if not self.system_prompt:
            return None
        if self._system is None or self._system.content != self.system_prompt:
            self._system = Message("system", self.system_prompt, id=0)
        return self._system

    def all_messages(self) -> list[Message]:
        system = self.system_message()
        return ([system] if system else []) + self.messages


def to_api_messages(messages: list[Message], system_role: str = "system") -> list[dict[str, str]]:
    """The chat-completions `messages` array. Reasoning models take the system prompt as `developer`."""
    return [{"role": system_role if m.role == "system" else m.role, "content": m.content} for m in messages]


def with_content(message: Message, content: str) -> Message:
    return replace(message, content=content, token_counts={})
