"""The user's answer to a tool call that needs a yes, and the question the turn asks them.

The turn asks through an `Approver` that the app (a dialog) or the one-shot command (its flags) supplies; the
core never decides for the user beyond what the config's `approve` says."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import Enum


class Approval(Enum):
    ONCE = "once"  # run this call
    CONVERSATION = "conversation"  # run it and every later call of this tool in this conversation
    ALWAYS = "always"  # as CONVERSATION, and `approve = "always"` for the tool is written to the config file
    DENY = "deny"  # do not run it: the model is told the user declined
    STOP = "stop"  # escape: deny this call and end the turn


@dataclass(frozen=True)
class ApprovalRequest:
    """What the user sees before saying yes: whose tool, what it says of itself, and what the model passes.

    `arguments` is None when the model's text did not parse; `raw_arguments` is that text, as written."""

    server: str
    tool: str
    description: str
    annotations: dict[str, object]
    arguments: dict[str, object] | None
    raw_arguments: str


Approver = Callable[[ApprovalRequest], Awaitable[Approval]]
