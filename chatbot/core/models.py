"""The model catalogue: context window, output limit, tokenizer, price and accepted parameters."""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal

from chatbot.core.pricing import Price

PRICES_AS_OF = "2025-08-07"
DEFAULT_ENCODING = "o200k_base"


@dataclass(frozen=True, slots=True)
class ModelSpec:
    name: str
    context_window: int
    max_output: int
    encoding: str = DEFAULT_ENCODING
    price: Price | None = None
    # Reasoning models (o-series, gpt-5) reject temperature/top_p, take max_completion_tokens
    # instead of max_tokens, and want the system prompt in the `developer` role.
    reasoning: bool = False
    known: bool = True

    @property
    def accepts_sampling(self) -> bool:
        return not self.reasoning

    @property
    def system_role(self) -> str:
        return "developer" if self.reasoning else "system"

    @property
    def max_tokens_param(self) -> str:
        return "max_completion_tokens" if self.reasoning else "max_tokens"

    def with_overrides(self, **changes: object) -> ModelSpec:
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


def _p(inp: str, cached: str, out: str) -> Price:
    return Price(Decimal(inp), Decimal(out), Decimal(cached))


CATALOGUE: dict[str, ModelSpec] = {
    m.name: m
    for m in (
        ModelSpec("gpt-4o", 128_000, 16_384, price=_p("2.50", "1.25", "10.00")),
        ModelSpec("gpt-4o-mini", 128_000, 16_384, price=_p("0.15", "0.075", "0.60")),
        ModelSpec("gpt-4.1", 1_047_576, 32_768, price=_p("2.00", "0.50", "8.00")),
        ModelSpec("gpt-4.1-mini", 1_047_576, 32_768, price=_p("0.40", "0.10", "1.60")),
        ModelSpec("gpt-4.1-nano", 1_047_576, 32_768, price=_p("0.10", "0.025", "0.40")),
        ModelSpec("gpt-5", 400_000, 128_000, price=_p("1.25", "0.125", "10.00"), reasoning=True),
        ModelSpec("gpt-5-mini", 400_000, 128_000, price=_p("0.25", "0.025", "2.00"), reasoning=True),
        ModelSpec("gpt-5-nano", 400_000, 128_000, price=_p("0.05", "0.005", "0.40"), reasoning=True),
        ModelSpec("o3", 200_000, 100_000, price=_p("2.00", "0.50", "8.00"), reasoning=True),
        ModelSpec("o4-mini", 200_000, 100_000, price=_p("1.10", "0.275", "4.40"), reasoning=True),
    )
}


def match_catalogue(name: str, catalogue: dict[str, ModelSpec]) -> ModelSpec | None:
    """The entry for `name`, or for the model a dated snapshot belongs to (gpt-4o-2024-08-06 -> gpt-4o)."""
    if name in catalogue:
        return catalogue[name]
    family = max((k for k in catalogue if name.startswith(k + "-") and name[len(k) + 1 : len(k) + 2].isdigit()),
                 key=len, default=None)
    return None if family is None else replace(catalogue[family], name=name)


def unknown_model(name: str, context_window: int) -> ModelSpec:
    """A model we know nothing about, e.g. one served by Ollama: price unknown, generous output limit."""
    return ModelSpec(name, context_window, context_window, price=None, known=False)
