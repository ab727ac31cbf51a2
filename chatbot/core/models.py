"""The model catalogue: context window, output limit, tokenizer, price, and what each model accepts.

Every figure below comes from OpenAI's own pages; the comment above each block names the page and the
date it was read. Stored copies were read on 2026-12-01: the pricing page's copy carries the 2026-08-21
price change and predates the 2026-09-03 release of gpt-6-astra, so that is the date the prices hold for.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal
from typing import TYPE_CHECKING, Literal, TypeVar, get_args

from chatbot.core.pricing import Price

if TYPE_CHECKING:
    # Only a type: the config schema imports this module for ReasoningEffort.
    from chatbot.core.settings.schema import ModelConfig

PRICES_AS_OF = "2026-08-21"
OPENAI_URL = "https://api.openai.com/v1"
DEFAULT_ENCODING = "o200k_base"

ReasoningEffort = Literal["none", "minimal", "low", "medium", "high", "xhigh", "max"]
"""The values the API's `reasoning_effort` can take for some model (openai-python's ReasoningEffort)."""
REASONING_EFFORTS: tuple[ReasoningEffort, ...] = get_args(ReasoningEffort)

WindowSource = Literal["catalogue", "config", "server", "assumed"]
"""Where a context window came from; "assumed" means nobody said, and the UI should say so."""


@dataclass(frozen=True, slots=True)
class TileRule:
    """Images cost `base` tokens plus `tile` per 512-px square.

    detail "low" costs `base` alone. "high" and "auto": fit the image in 2048x2048, scale its shortest side
    down to 768 px, then count the 512-px squares that cover it.
    """

    base: int
    tile: int


@dataclass(frozen=True, slots=True)
class PatchRule:
    """Images cost one token per 32-px patch, times `multiplier`, rounded up.

    For detail "auto" (what is sent when none is asked for): fit the image within `max_side` px, then shrink
    it until at most `max_patches` patches cover it.
    """

    multiplier: Decimal
    max_patches: int
    max_side: int = 2048


ImageRule = TileRule | PatchRule


@dataclass(frozen=True, slots=True)
class LongContextTier:
    """A request whose prompt has more than `above` tokens is billed at `price` for all of its tokens: prompt,
    cached prompt and output alike (pricing.rate applies it, to costs and to the spend guard's worst case)."""

    above: int
    price: Price


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
    reasoning_efforts: tuple[ReasoningEffort, ...] = ()
    """The `reasoning_effort` values the model accepts; empty: send none."""
    tools: bool = False
    """Accepts function tools in Chat Completions."""
    vision: bool = False
    """Accepts image input."""
    image_rule: ImageRule | None = None
    long_context: LongContextTier | None = None
    window_source: WindowSource = "catalogue"

    @property
    def accepts_sampling(self) -> bool:
        return not self.reasoning

    @property
    def system_role(self) -> str:
        return "developer" if self.reasoning else "system"

    @property
    def max_tokens_param(self) -> str:
        return "max_completion_tokens" if self.reasoning else "max_tokens"

    def with_overrides(self, *, name: str | None = None, context_window: int | None = None,
                       max_output: int | None = None, encoding: str | None = None, price: Price | None = None,
                       reasoning: bool | None = None, reasoning_efforts: tuple[ReasoningEffort, ...] | None = None,
                       tools: bool | None = None, vision: bool | None = None,
                       window_source: WindowSource | None = None) -> ModelSpec:
        """A copy with the values given; None keeps this spec's own."""
        return replace(
            self,
            name=self.name if name is None else name,
            context_window=self.context_window if context_window is None else context_window,
            max_output=self.max_output if max_output is None else max_output,
            encoding=self.encoding if encoding is None else encoding,
            price=self.price if price is None else price,
            reasoning=self.reasoning if reasoning is None else reasoning,
            reasoning_efforts=self.reasoning_efforts if reasoning_efforts is None else reasoning_efforts,
            tools=self.tools if tools is None else tools,
            vision=self.vision if vision is None else vision,
            window_source=self.window_source if window_source is None else window_source,
        )


def _p(inp: str, cached: str, out: str) -> Price:
    return Price(Decimal(inp), Decimal(out), Decimal(cached))


def _tile(base: int, tile: int) -> TileRule:
    return TileRule(base, tile)


def _patch(multiplier: str, max_patches: int, max_side: int = 2048) -> PatchRule:
    return PatchRule(Decimal(multiplier), max_patches, max_side)


# Reasoning efforts: the API reference's `reasoning_effort` (platform.openai.com/docs/api-reference, read
# 2026-12-01 as generated from OpenAI's spec into learn.microsoft.com's @azure/ai-projects ReasoningEffort and
# docs.rs agentsdk-openai): "All models before gpt-5.1 default to medium reasoning effort, and do not support
# none"; gpt-5.1 supports none, low, medium, high; "xhigh is supported for all models after gpt-5.1-codex-max";
# the GPT-5-era spec listed minimal, low, medium, high. The o-series never took minimal. The model pages below
# say the same per model. The set of values itself is openai-python 3.57's ReasoningEffort.
_O_SERIES: tuple[ReasoningEffort, ...] = ("low", "medium", "high")
_GPT_5: tuple[ReasoningEffort, ...] = ("minimal", "low", "medium", "high")
_GPT_5_1: tuple[ReasoningEffort, ...] = ("none", "low", "medium", "high")
_XHIGH: tuple[ReasoningEffort, ...] = ("none", "low", "medium", "high", "xhigh")

# Prices: https://developers.openai.com/api/docs/pricing, Standard tier, $ per 1M tokens (input, cached input,
# output), read 2026-12-01 from the stored copy (llms-txt-archive/openai-platform api/docs/pricing.md @a30a622),
# which reflects the 2026-08-21 change. Long-context rows apply above 272K prompt tokens; the pricing page lists
# them for gpt-5.4 and gpt-5.5 only ("Prompts with more than 272K input tokens are priced at 2x input and 1.5x
# output for the full session", developers.openai.com/api/docs/models/gpt-5.4-pro, read 2026-12-01).
_LONG = 272_000

# Image rules: https://developers.openai.com/api/docs/guides/images-vision, "Model sizing behavior" and
# "Calculating costs", read 2026-12-02 from the stored copy (llms-txt-archive/openai-platform
# api/docs/guides/images-vision.md @209a958, which already describes the GPT-5.6 family). Tiles (base / per tile):
# gpt-5 70/140, gpt-4o and gpt-4.1 85/170, gpt-4o-mini 2833/5667, o1 and o3 75/150. Patch multipliers, from its
# table "D. Apply a multiplier based on the model": gpt-5-mini 1.62, gpt-5-nano 2.46, gpt-4.1-mini 1.62,
# gpt-4.1-nano 2.46, o4-mini 1.72 (and gpt-5.4-mini 1.62, gpt-5.4-nano 2.46). Patch budgets at high, which auto is
# counted as: 1,536 patches within 2048 px for gpt-5-mini, gpt-5-nano, o4-mini and the gpt-4.1-mini and
# gpt-4.1-nano snapshots (the page says the same for gpt-5.2, gpt-5.4-mini and gpt-5.4-nano); 2,500 for gpt-5.4;
# gpt-5.5's auto is its "original": 10,000 patches within 6000 px.
# Users measure gpt-5-mini at 1.2 and gpt-5-nano at 1.5 off the API's usage (community.openai.com/t/1344040): the
# published figures are kept, so their estimates err high. The page gives no multiplier for gpt-5.2, gpt-5.4 or
# gpt-5.5: theirs (1.2) is what users measured (community.openai.com/t/1377015).

CATALOGUE: dict[str, ModelSpec] = {
    m.name: m
    for m in (
        # Windows and output limits of these models were checked on their model pages when first added
        # (2025-08-07); prices and image rules re-read 2026-12-01 as above.
        ModelSpec("gpt-4o", 128_000, 16_384, price=_p("2.50", "1.25", "10.00"),
                  tools=True, vision=True, image_rule=_tile(85, 170)),
        ModelSpec("gpt-4o-mini", 128_000, 16_384, price=_p("0.15", "0.075", "0.60"),
                  tools=True, vision=True, image_rule=_tile(2833, 5667)),
        ModelSpec("gpt-4.1", 1_047_576, 32_768, price=_p("2.00", "0.50", "8.00"),
                  tools=True, vision=True, image_rule=_tile(85, 170)),
        ModelSpec("gpt-4.1-mini", 1_047_576, 32_768, price=_p("0.40", "0.10", "1.60"),
                  tools=True, vision=True, image_rule=_patch("1.62", 1_536)),
        ModelSpec("gpt-4.1-nano", 1_047_576, 32_768, price=_p("0.10", "0.025", "0.40"),
                  tools=True, vision=True, image_rule=_patch("2.46", 1_536)),
        ModelSpec("o3", 200_000, 100_000, price=_p("2.00", "0.50", "8.00"), reasoning=True,
                  reasoning_efforts=_O_SERIES, tools=True, vision=True, image_rule=_tile(75, 150)),
        ModelSpec("o4-mini", 200_000, 100_000, price=_p("1.10", "0.275", "4.40"), reasoning=True,
                  reasoning_efforts=_O_SERIES, tools=True, vision=True, image_rule=_patch("1.72", 1_536)),
        # GPT-5: 400,000 window, 128,000 max output, text and image input, function calling
        # (developers.openai.com/api/docs/models/gpt-5-nano.md, read 2026-12-01; gpt-5 and gpt-5-mini as added
        # 2025-08-07).
        ModelSpec("gpt-5", 400_000, 128_000, price=_p("1.25", "0.125", "10.00"), reasoning=True,
                  reasoning_efforts=_GPT_5, tools=True, vision=True, image_rule=_tile(70, 140)),
        ModelSpec("gpt-5-mini", 400_000, 128_000, price=_p("0.25", "0.025", "2.00"), reasoning=True,
                  reasoning_efforts=_GPT_5, tools=True, vision=True, image_rule=_patch("1.62", 1_536)),
        ModelSpec("gpt-5-nano", 400_000, 128_000, price=_p("0.05", "0.005", "0.40"), reasoning=True,
                  reasoning_efforts=_GPT_5, tools=True, vision=True, image_rule=_patch("2.46", 1_536)),
        # GPT-5.1: 400,000 window, 128,000 max output, reasoning.effort none (default), low, medium, high,
        # image input, function calling (developers.openai.com/api/docs/models/gpt-5.1, read 2026-12-01).
        # OpenAI publishes no gpt-5.1 mini or nano.
        ModelSpec("gpt-5.1", 400_000, 128_000, price=_p("1.25", "0.125", "10.00"), reasoning=True,
                  reasoning_efforts=_GPT_5_1, tools=True, vision=True, image_rule=_tile(70, 140)),
        # GPT-5.2: 400,000 window, 128,000 max output, efforts none..xhigh, function calling. Read 2026-12-01 from
        # "Using GPT-5.2" (platform.openai.com/docs/guides/latest-model) and the API reference; the window and
        # output limit as quoted from its model page by docs.oxen.ai (gpt-5-2-2025-12-11): OpenAI's own page for
        # it is not among the stored copies. OpenAI publishes no gpt-5.2 mini or nano.
        ModelSpec("gpt-5.2", 400_000, 128_000, price=_p("1.75", "0.175", "14.00"), reasoning=True,
                  reasoning_efforts=_XHIGH, tools=True, vision=True, image_rule=_patch("1.2", 1_536)),
        # GPT-5.4: 1,050,000 window (developers.openai.com/api/docs/models/gpt-5.4-pro: "models with a 1.05M
        # context window (GPT-5.4 and GPT-5.4 Pro)"), 128,000 max output, efforts none..xhigh, functions
        # (developers.openai.com/docs/models). gpt-5.4-mini: 400K window, 128K output, same efforts
        # (developers.openai.com/docs/models); gpt-5.4-nano: 400,000, 128,000, "none (default), low, medium,
        # high, xhigh", function calling, image input (developers.openai.com/api/docs/models/gpt-5.4-nano). All
        # read 2026-12-01.
        ModelSpec("gpt-5.4", 1_050_000, 128_000, price=_p("2.50", "0.25", "15.00"), reasoning=True,
                  reasoning_efforts=_XHIGH, tools=True, vision=True, image_rule=_patch("1.2", 2_500),
                  long_context=LongContextTier(_LONG, _p("5.00", "0.50", "22.50"))),
        ModelSpec("gpt-5.4-mini", 400_000, 128_000, price=_p("0.75", "0.075", "4.50"), reasoning=True,
                  reasoning_efforts=_XHIGH, tools=True, vision=True, image_rule=_patch("1.62", 1_536)),
        ModelSpec("gpt-5.4-nano", 400_000, 128_000, price=_p("0.20", "0.02", "1.25"), reasoning=True,
                  reasoning_efforts=_XHIGH, tools=True, vision=True, image_rule=_patch("2.46", 1_536)),
        # GPT-5.5: "1M" window, 128K max output, efforts none..xhigh, functions (developers.openai.com/docs/models,
        # read 2026-12-01). The overview rounds (it says 1M for gpt-5.4's 1,050,000), so 1,000,000 is a floor.
        ModelSpec("gpt-5.5", 1_000_000, 128_000, price=_p("5.00", "0.50", "30.00"), reasoning=True,
                  reasoning_efforts=_XHIGH, tools=True, vision=True, image_rule=_patch("1.2", 10_000, 6_000),
                  long_context=LongContextTier(_LONG, _p("10.00", "1.00", "45.00"))),
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
    """A model we know nothing about, e.g. one served by Ollama: price unknown, generous output limit.

    The window is assumed (the configured default) until the config or the server says otherwise.
    """
    return ModelSpec(name, context_window, context_window, price=None, known=False, window_source="assumed")


def is_openai_url(base_url: str | None) -> bool:
    """Whether requests go to OpenAI itself (no base URL is OpenAI's)."""
    return base_url is None or base_url.rstrip("/") == OPENAI_URL


def resolve_spec(name: str, *, default_window: int, config: ModelConfig | None = None,
                 server_window: int | None = None, catalogue_prices: bool = True) -> ModelSpec:
    """The model's spec: the catalogue's (or an assumed one), then what the server and the config say.

    Without `catalogue_prices` a catalogue model keeps its window and what it accepts but has no price (its
    replies cost `$?`) unless the config gives one: another server's gpt-4o is not billed at OpenAI's rates.

    `server_window` is the context window the serving OpenAI-compatible server reported (server_info.py);
    it beats the catalogue, which describes OpenAI's deployment, and loses to the config, which is the
    user's word. `default_window` is what a model nobody describes is assumed to hold.
    """
    spec = match_catalogue(name, CATALOGUE) or unknown_model(name, default_window)
    if not catalogue_prices:
        spec = replace(spec, price=None, long_context=None)
    if server_window is not None:
        spec = _with_window(spec, server_window, "server")
    if config is None:
        return spec
    price = spec.price
    if any(p is not None for p in (config.input_price, config.cached_input_price, config.output_price)):
        # The config's prices are the user's word for every prompt length: the catalogue's long-context rates
        # were OpenAI's, and billing a long prompt at them would mix two price lists.
        spec = replace(spec, long_context=None)
    if price is not None:
        price = Price(_first(config.input_price, price.input), _first(config.output_price, price.output),
                      _first(config.cached_input_price, price.cached_input))
    elif config.input_price is not None and config.output_price is not None:
        price = Price(config.input_price, config.output_price, config.cached_input_price)
    if config.context_window is not None:
        spec = _with_window(spec, config.context_window, "config")
    efforts = None if config.reasoning_efforts is None else tuple(config.reasoning_efforts)
    spec = spec.with_overrides(max_output=config.max_output, encoding=config.encoding, reasoning=config.reasoning,
                               price=price, reasoning_efforts=efforts, tools=config.tools, vision=config.vision)
    # A reply can never be longer than the window it shares with the prompt.
    return spec.with_overrides(max_output=min(spec.max_output, spec.context_window))


def _with_window(spec: ModelSpec, window: int, source: WindowSource) -> ModelSpec:
    # A model we know nothing about may write as much as its window holds; a known one keeps its own limit.
    max_output = window if not spec.known else min(spec.max_output, window)
    return spec.with_overrides(context_window=window, max_output=max_output, window_source=source)


_Rate = TypeVar("_Rate", Decimal, Decimal | None)


def _first(value: Decimal | None, fallback: _Rate) -> Decimal | _Rate:
    # A configured 0 is a price (a free local model), so only None falls back.
    return fallback if value is None else value
