"""Parameter presets: sampling and length settings a user switches between by name."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ResponseFormat = Literal["text", "json_object"]


@dataclass(frozen=True, slots=True)
class Preset:
    name: str
    temperature: float | None
    top_p: float | None
    max_tokens: int
    response_format: ResponseFormat = "text"
    description: str = ""

    def summary(self) -> str:
        parts = [f"temperature {_fmt(self.temperature)}", f"top_p {_fmt(self.top_p)}",
                 f"max_tokens {self.max_tokens}"]
        if self.response_format != "text":
            parts.append(self.response_format)
        return ", ".join(parts)


def _fmt(value: float | None) -> str:
    return "default" if value is None else f"{value:g}"


# From OpenAI's prompting guides: low temperature for support and extraction, higher for prose.
BUILTIN_PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset("balanced", 1.0, 1.0, 4096, description="the API's defaults"),
        Preset("support", 0.3, 0.8, 1500, description="focused, consistent answers"),
        Preset("writing", 0.7, 0.9, 2000, description="varied, fluent prose"),
        Preset("extraction", 0.0, 1.0, 2000, "json_object", description="deterministic JSON output"),
    )
}
DEFAULT_PRESET = "balanced"
