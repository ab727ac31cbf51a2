"""An MCP server's tools as the model sees them, and what a call gives back to the model.

Everything a server sends (names, descriptions, schemas, results, stderr) is the server's text, not ours: it goes
to the model as it is, and to a terminal only through the terminal boundary, like the model's own text.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mcp.types import CallToolResult, ContentBlock, Tool

    from chatbot.core.errors import ToolServerError

# The API's pattern for a function's name.
NAME_LIMIT = 64
_NOT_IN_NAME = re.compile(r"[^A-Za-z0-9_-]")


def exposed_name(server: str, tool: str) -> str:
    """The name the model calls `tool` of `server` by: "server__tool", in the characters and length the API
    takes. Prefixed, so two servers may each have a tool of the same name."""
    return _NOT_IN_NAME.sub("_", f"{server}__{tool}")[:NAME_LIMIT]


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """One tool of one server. `name` is the model's name for it, `tool` the server's."""

    server: str
    tool: str
    name: str
    description: str
    parameters: Mapping[str, Any] = field(default_factory=dict)
    read_only: bool | None = None
    """The tool's readOnlyHint annotation; None when it gives none."""
    annotations: Mapping[str, Any] = field(default_factory=dict)
    """Every annotation the tool gives (readOnlyHint, destructiveHint, ...), as the server wrote them: its word."""

    def to_api(self) -> dict[str, Any]:
        """The tool as the request's `tools` carries it."""
        function: dict[str, Any] = {"name": self.name, "parameters": dict(self.parameters)}
        if self.description:
            function["description"] = self.description
        return {"type": "function", "function": function}


def spec_of(server: str, tool: Tool) -> ToolSpec:
    """`tool` as listed by `server`, its input schema made one the API takes."""
    annotations = tool.annotations
    title = tool.title or (annotations.title if annotations else None)
    return ToolSpec(server=server, tool=tool.name, name=exposed_name(server, tool.name),
                    description=tool.description or title or "", parameters=parameters_of(tool.input_schema),
                    read_only=annotations.read_only_hint if annotations else None,
                    annotations=annotations.model_dump(by_alias=True, exclude_none=True) if annotations else {})


def parameters_of(schema: Mapping[str, Any] | None) -> dict[str, Any]:
    """An input schema as the API takes it: an object, with `properties` even when it has none (OpenAI refuses
    an object schema without them, and servers list parameterless tools as a bare {"type": "object"})."""
    parameters = dict(schema or {})
    parameters["type"] = "object"
    if not isinstance(parameters.get("properties"), Mapping):
        parameters["properties"] = {}
    return parameters


@dataclass(frozen=True, slots=True)
class ToolResult:
    """What one call gives back to the model: `content` is the tool's text (untrusted), or our word of why there
    is none; `is_error` says the call failed, so a view can mark it."""

    call_id: str
    content: str
    is_error: bool = False
    problem: ToolServerError | None = field(default=None, compare=False)
    """The server's failure behind an error result, with its stderr, to show the user."""

    def to_api(self) -> dict[str, str]:
        """The `tool` message that answers the call."""
        return {"role": "tool", "tool_call_id": self.call_id, "content": self.content}


def result_text(result: CallToolResult) -> str:
    """A call's content as one text: text blocks as they are, other blocks as a line naming what they held, and
    the structured result as JSON when there is nothing else."""
    parts = [_block_text(block) for block in result.content]
    if not parts and result.structured_content is not None:
        parts.append(json.dumps(result.structured_content, ensure_ascii=False))
    return "\n".join(parts)


def _block_text(block: ContentBlock) -> str:
    kind = getattr(block, "type", "")
    if kind == "text":
        return str(getattr(block, "text", ""))
    if kind == "resource":
        resource = getattr(block, "resource", None)
        text = getattr(resource, "text", None)
        if isinstance(text, str):
            return text
        return f"[resource {getattr(resource, 'uri', '')}]"
    if kind == "resource_link":
        return f"[resource link {getattr(block, 'uri', '')}]"
    # Images and audio: this client sends the model no media from tools, so it says what was there.
    return f"[{kind or 'content'} of type {getattr(block, 'mime_type', 'unknown')}]"
