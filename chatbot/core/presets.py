"""Parameter presets: sampling and length settings a user switches between by name."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Literal

from chatbot.core.errors import ConfigError

if TYPE_CHECKING:
    from chatbot.core.models import ModelSpec, ReasoningEffort

    # Only a type: the config schema imports this module for the built-in presets.
    from chatbot.core.settings.schema import PresetConfig

ResponseFormat = Literal["text", "json_object"]


@dataclass(frozen=True, slots=True)
class Preset:
    name: str
    temperature: float | None
    top_p: float | None
    max_tokens: int
    response_format: ResponseFormat = "text"
    description: str = ""
    reasoning_effort: ReasoningEffort | None = None
    """Sent to reasoning models only (as temperature and top_p go to the others); None: the model's default."""


def with_effort(preset: Preset, effort: ReasoningEffort | None, spec: ModelSpec) -> Preset:
    """`preset` with the reasoning effort the user chose for the session (the effort menu), if `spec` takes it.
    A choice the model does not take (it was made for another model) leaves the preset's own: a model switch
    must not turn into a refused request."""
    if effort is None or not spec.reasoning or effort not in spec.reasoning_efforts:
        return preset
    return replace(preset, reasoning_effort=effort)


def sent_summary(params: Mapping[str, object]) -> str:
    """What a request body sets besides its model and messages, as the preset menu shows it: the values that go
    out after the overrides and the model's limits (`temperature 0.3, top_p 0.8, max_tokens 200`)."""
    parts = []
    for key, value in params.items():
        if key in ("model", "messages", "stream", "stream_options", "tools", "tool_choice"):
            continue
        if isinstance(value, Mapping):
            value = value.get("type", value)
        parts.append(f"{key} {_fmt(value) if isinstance(value, float) else value}")
    return ", ".join(parts)


def _fmt(value: float | None) -> str:
    return "default" if value is None else f"{value:g}"


# From OpenAI's prompting guides: low temperature for support and extraction, higher for prose. None of them sets
# a reasoning effort: each reasoning model thinks as hard as it does by default (medium before gpt-5.1, none from
# it on), and no built-in preset can ask a model for an effort it refuses.
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


def resolve_presets(configs: Mapping[str, PresetConfig]) -> dict[str, Preset]:
    """The built-in presets with the config's: a field left out keeps the built-in preset's value, or, for a
    preset of the user's own, `balanced`'s."""
    presets = dict(BUILTIN_PRESETS)
    for name, config in configs.items():
        base = presets.get(name, BUILTIN_PRESETS[DEFAULT_PRESET])
        values = {k: v for k, v in config.model_dump().items() if v is not None}
        presets[name] = replace(base, **values, name=name)
    return presets


def choose_preset(presets: Mapping[str, Preset], name: str, *, temperature: float | None, top_p: float | None,
                  max_tokens: int | None) -> Preset:
    """The named preset with the overrides that are set; ConfigError for a name no preset has."""
    if name not in presets:
        raise ConfigError(f"unknown preset {name!r}", f"known presets: {', '.join(presets)}")
    base = presets[name]
    return replace(base, temperature=base.temperature if temperature is None else temperature,
                   top_p=base.top_p if top_p is None else top_p,
                   max_tokens=base.max_tokens if max_tokens is None else max_tokens)
