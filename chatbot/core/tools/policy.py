"""Whether a tool call runs at once or waits for the user's yes: a pure function of the server's config and
what the tool says of itself."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from chatbot.core.settings.schema import McpServerConfig

Decision = Literal["ask", "run"]


def offered(config: McpServerConfig, tool: str) -> bool:
    """Whether the model is offered `tool` (the server's own name for it) at all."""
    return config.tools.get(tool) != "never"


def decide(config: McpServerConfig, tool: str, read_only: bool | None) -> Decision:
    """"run" when the call needs no question, else "ask". `read_only` is the tool's readOnlyHint annotation
    (None when it gives none). The tool's own rule wins over the server's `approve`; a hint is the server's word,
    so only `approve = "read_only"` trusts it, and a hint left out is not read-only (the protocol's default)."""
    own = config.tools.get(tool)
    if own is not None:
        return "run" if own == "always" else "ask"
    if config.approve == "always" or (config.approve == "read_only" and read_only is True):
        return "run"
    return "ask"
