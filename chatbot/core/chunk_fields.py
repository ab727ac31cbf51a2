"""The fields of a streamed chunk, read from its JSON (sse.py says why not through the SDK's models). A server
may leave any field out, send null or a value of the wrong type: each reader gives what is there, or nothing."""

from __future__ import annotations

from typing import Any

from chatbot.core.events import Usage


def dicts(value: object) -> list[dict[str, Any]]:
    """The objects in a JSON array; nothing for anything else (a server may leave a field out or send null)."""
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def count(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def usage_of(usage: dict[str, Any]) -> Usage:
    prompt, completion = usage.get("prompt_tokens_details"), usage.get("completion_tokens_details")
    completion_tokens = count(usage.get("completion_tokens"))
    reasoning = count(completion.get("reasoning_tokens")) if isinstance(completion, dict) else 0
    return Usage(
        prompt_tokens=count(usage.get("prompt_tokens")),
        completion_tokens=completion_tokens,
        cached_tokens=count(prompt.get("cached_tokens")) if isinstance(prompt, dict) else 0,
        # Part of completion_tokens, never more: a server that says otherwise is not trusted past them.
        reasoning_tokens=min(reasoning, completion_tokens),
    )


# Where OpenAI-compatible servers stream reasoning: `reasoning_content` (DeepSeek's name, llama.cpp's server,
# older vLLM) and `reasoning` (OpenRouter, vLLM since it renamed the field). Servers between the two names send
# both with the same text, so only the first is read.
_REASONING_FIELDS = ("reasoning_content", "reasoning")


def reasoning_of(delta: dict[str, Any]) -> str:
    for name in _REASONING_FIELDS:
        value = delta.get(name)
        if isinstance(value, str) and value:
            return value
    return ""
