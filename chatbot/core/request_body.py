"""The request body of a chat completion: only the parameters the model accepts, and the messages with their
attached files as content parts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from chatbot.core import errors
from chatbot.core.attachments import request_content
from chatbot.core.conversation import Message, to_api_messages
from chatbot.core.models import ModelSpec, ReasoningEffort
from chatbot.core.presets import Preset

ToolDefinitions = Sequence[Mapping[str, Any]]
"""Function tools as the API's `tools` takes them ({"type": "function", "function": {...}})."""


def build_params(messages: list[Message], spec: ModelSpec, preset: Preset,
                 tools: ToolDefinitions | None = None) -> dict[str, Any]:
    """The request body for `spec`: only the parameters that model accepts. `tools` go to a model that
    accepts_tools, with tool_choice "auto"."""
    params: dict[str, Any] = {
        "model": spec.name,
        "messages": api_messages(messages, spec.system_role),
        spec.max_tokens_param: reply_reserve(spec, preset),
    }
    if spec.accepts_sampling:
        if preset.temperature is not None:
            params["temperature"] = preset.temperature
        if preset.top_p is not None:
            params["top_p"] = preset.top_p
    if (effort := accepted_effort(spec, preset)) is not None:
        params["reasoning_effort"] = effort
    if preset.response_format == "json_object":
        params["response_format"] = {"type": "json_object"}
    if tools and accepts_tools(spec):
        params["tools"] = [dict(tool) for tool in tools]
        params["tool_choice"] = "auto"
    return params


def api_messages(messages: list[Message], system_role: str) -> list[dict[str, Any]]:
    """The `messages` array: a message with attached files has them in its content (attachments.py)."""
    return to_api_messages(messages, system_role, content=lambda m: (
        request_content(m.content, m.attachments) if m.attachments else m.content))


def has_images(params: dict[str, Any]) -> bool:
    return any(isinstance(m["content"], list) and any(p.get("type") == "image_url" for p in m["content"])
               for m in params["messages"])


def accepts_tools(spec: ModelSpec) -> bool:
    """Whether `spec` is sent tools: a model the catalogue (or the config) says takes them, and any model it does
    not know, which is tried; a server that refuses them says so (ToolsRejectedError)."""
    return spec.tools or not spec.known


def accepted_effort(spec: ModelSpec, preset: Preset) -> ReasoningEffort | None:
    """The preset's reasoning_effort, if `spec` takes it: ConfigError, naming what it takes, if not. A model
    that samples takes none and is sent none, as a reasoning model is sent no temperature."""
    effort = preset.reasoning_effort
    if effort is None or not spec.reasoning:
        return None
    if effort not in spec.reasoning_efforts:
        takes = ", ".join(spec.reasoning_efforts)
        raise errors.ConfigError(
            f"model {spec.name!r} does not take reasoning_effort {effort!r} (preset {preset.name!r})",
            f"it takes {takes}: set one of them in the preset, or leave reasoning_effort out" if takes else
            f"it takes none: leave reasoning_effort out of the preset, or list the values it takes as "
            f'reasoning_efforts under [models."{spec.name}"]',
        )
    return effort


def reply_reserve(spec: ModelSpec, preset: Preset) -> int:
    """max_tokens as sent: the preset's, capped by what the model can write."""
    return min(preset.max_tokens, spec.max_output)


def reply_params(spec: ModelSpec, preset: Preset) -> dict[str, object]:
    """The parameters a reply was made with, as stored beside it."""
    return {"preset": preset.name, "temperature": preset.temperature, "top_p": preset.top_p,
            "max_tokens": reply_reserve(spec, preset), "response_format": preset.response_format,
            "reasoning_effort": accepted_effort(spec, preset)}
