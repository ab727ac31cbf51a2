"""The model catalogue as data: every entry complete and sane, the models of today known, the documented figures."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest

from chatbot.core.errors import ConfigError
from chatbot.core.models import (
    CATALOGUE,
    PRICES_AS_OF,
    REASONING_EFFORTS,
    LongContextTier,
    PatchRule,
    TileRule,
    match_catalogue,
    unknown_model,
)
from chatbot.core.presets import sent_summary
from chatbot.core.pricing import Price
from chatbot.core.request_body import build_params
from chatbot.core.settings import load_settings
from support import PROJECT

README = PROJECT / "README.md"


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# -- every entry -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(CATALOGUE))
def test_entry_is_complete(name: str) -> None:
    spec = CATALOGUE[name]
    assert spec.name == name
    assert spec.known and spec.window_source == "catalogue"
    assert spec.price is not None and spec.price.cached_input is not None
    assert 0 < spec.price.cached_input <= spec.price.input < spec.price.output
    assert 0 < spec.max_output <= spec.context_window


@pytest.mark.parametrize("name", sorted(CATALOGUE))
def test_entry_says_what_it_accepts(name: str) -> None:
    spec = CATALOGUE[name]
    assert set(spec.reasoning_efforts) <= set(REASONING_EFFORTS)
    assert len(set(spec.reasoning_efforts)) == len(spec.reasoning_efforts)
    # A reasoning model takes some effort; a model that takes none must not be sent one.
    assert bool(spec.reasoning_efforts) == spec.reasoning
    # Counting an image needs its rule.
    assert spec.vision == (spec.image_rule is not None)


@pytest.mark.parametrize("name", sorted(n for n in CATALOGUE if CATALOGUE[n].long_context))
def test_long_context_tier_is_above_the_normal_rate_and_inside_the_window(name: str) -> None:
    spec = CATALOGUE[name]
    tier = spec.long_context
    assert tier is not None and spec.price is not None
    assert 0 < tier.above < spec.context_window
    assert tier.price.input > spec.price.input and tier.price.output > spec.price.output


def test_prices_are_dated_and_the_readme_says_the_same_date() -> None:
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", PRICES_AS_OF)
    assert f"Prices as of {PRICES_AS_OF}" in README.read_text(encoding="utf-8")


# -- the models people pick today ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["gpt-5.1", "gpt-5.2", "gpt-5.4", "gpt-5.4-mini", "gpt-5.4-nano", "gpt-5.5"])
def test_current_models_have_a_price_and_their_window(name: str) -> None:
    # They used to be unknown: "$?" and an assumed 8,192-token window that dropped turns for nothing.
    spec = load_settings(None)[0].model_spec(name)
    assert spec.known and spec.price is not None
    assert spec.context_window >= 400_000
    assert spec.window_source == "catalogue"


@pytest.mark.parametrize(
    ("name", "window", "max_output", "price"),
    [
        ("gpt-5.1", 400_000, 128_000, ("1.25", "0.125", "10.00")),
        ("gpt-5.2", 400_000, 128_000, ("1.75", "0.175", "14.00")),
        ("gpt-5.4", 1_050_000, 128_000, ("2.50", "0.25", "15.00")),
        ("gpt-5.4-mini", 400_000, 128_000, ("0.75", "0.075", "4.50")),
        ("gpt-5.4-nano", 400_000, 128_000, ("0.20", "0.02", "1.25")),
        ("gpt-5.5", 1_000_000, 128_000, ("5.00", "0.50", "30.00")),
    ],
)
def test_published_figures(name: str, window: int, max_output: int, price: tuple[str, str, str]) -> None:
    spec = CATALOGUE[name]
    inp, cached, out = price
    assert (spec.context_window, spec.max_output) == (window, max_output)
    assert spec.price == Price(Decimal(inp), Decimal(out), Decimal(cached))


def test_long_context_prices() -> None:
    assert CATALOGUE["gpt-5.4"].long_context == LongContextTier(
        272_000, Price(Decimal("5.00"), Decimal("22.50"), Decimal("0.50")))
    assert CATALOGUE["gpt-5.5"].long_context == LongContextTier(
        272_000, Price(Decimal("10.00"), Decimal("45.00"), Decimal("1.00")))
    # OpenAI lists no long-context rate for these.
    assert CATALOGUE["gpt-5.4-mini"].long_context is None
    assert CATALOGUE["gpt-5.2"].long_context is None


# -- reasoning efforts, tools, images -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "efforts"),
    [
        ("gpt-4o", ()),
        ("gpt-4.1-mini", ()),
        ("o3", ("low", "medium", "high")),
        ("o4-mini", ("low", "medium", "high")),
        ("gpt-5", ("minimal", "low", "medium", "high")),
        ("gpt-5-nano", ("minimal", "low", "medium", "high")),
        ("gpt-5.1", ("none", "low", "medium", "high")),
        ("gpt-5.2", ("none", "low", "medium", "high", "xhigh")),
        ("gpt-5.4-mini", ("none", "low", "medium", "high", "xhigh")),
    ],
)
def test_reasoning_efforts(name: str, efforts: tuple[str, ...]) -> None:
    assert CATALOGUE[name].reasoning_efforts == efforts


@pytest.mark.parametrize("name", sorted(CATALOGUE))
def test_every_catalogue_model_takes_tools_and_images(name: str) -> None:
    assert CATALOGUE[name].tools and CATALOGUE[name].vision


@pytest.mark.parametrize(
    ("name", "rule"),
    [
        ("gpt-4o", TileRule(85, 170)),
        ("gpt-4.1", TileRule(85, 170)),
        ("gpt-5", TileRule(70, 140)),
        ("gpt-5.1", TileRule(70, 140)),
        ("o3", TileRule(75, 150)),
        ("gpt-4o-mini", TileRule(2833, 5667)),
    ],
)
def test_tile_rules(name: str, rule: TileRule) -> None:
    assert CATALOGUE[name].image_rule == rule


@pytest.mark.parametrize(
    ("name", "multiplier"),
    [
        ("gpt-4.1-mini", "1.62"),
        ("gpt-4.1-nano", "2.46"),
        ("o4-mini", "1.72"),
        # OpenAI's images guide gives gpt-5-mini and gpt-5-nano the gpt-4.1 pair's figures (the copy models.py
        # cites); users measure 1.2 and 1.5, below them.
        ("gpt-5-mini", "1.62"),
        ("gpt-5-nano", "2.46"),
        ("gpt-5.2", "1.2"),
        ("gpt-5.4", "1.2"),
        ("gpt-5.4-mini", "1.62"),
        ("gpt-5.4-nano", "2.46"),
    ],
)
def test_patch_multipliers(name: str, multiplier: str) -> None:
    rule = CATALOGUE[name].image_rule
    assert isinstance(rule, PatchRule)
    assert rule.multiplier == Decimal(multiplier)


@pytest.mark.parametrize(("name", "budget"), [("gpt-4.1-nano", 1_536), ("gpt-4.1-mini", 1_536), ("o4-mini", 1_536),
                                             ("gpt-5-mini", 1_536), ("gpt-5-nano", 1_536), ("gpt-5.2", 1_536),
                                             ("gpt-5.4-mini", 1_536), ("gpt-5.4-nano", 1_536), ("gpt-5.4", 2_500)])
def test_patch_budgets(name: str, budget: int) -> None:
    rule = CATALOGUE[name].image_rule
    assert isinstance(rule, PatchRule)
    assert (rule.max_patches, rule.max_side) == (budget, 2048)


# -- snapshots and unknown models ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("snapshot", "family"),
    [
        ("gpt-5.4-mini-2026-03-17", "gpt-5.4-mini"),
        ("gpt-5.4-nano-2026-03-17", "gpt-5.4-nano"),
        ("gpt-5.4-2026-03-05", "gpt-5.4"),
        ("gpt-5.2-2025-12-11", "gpt-5.2"),
        ("gpt-5.1-2025-11-13", "gpt-5.1"),
        ("gpt-5-mini-2025-08-07", "gpt-5-mini"),
        ("gpt-4o-2024-08-06", "gpt-4o"),
    ],
)
def test_dated_snapshot_is_its_family(snapshot: str, family: str) -> None:
    spec = match_catalogue(snapshot, CATALOGUE)
    assert spec is not None
    assert spec.name == snapshot
    assert spec == CATALOGUE[family].with_overrides(name=snapshot)


@pytest.mark.parametrize("name", ["gpt-5.1-codex", "gpt-5.4-pro", "gpt-5.1-mini", "gpt-5.4-turbo", "gpt-5x"])
def test_a_variant_is_not_its_base_model(name: str) -> None:
    # gpt-5.4-pro costs twelve times gpt-5.4: it must not be priced as gpt-5.4.
    assert match_catalogue(name, CATALOGUE) is None


def test_unknown_model_says_its_window_is_assumed() -> None:
    spec = unknown_model("llama3.2", 8192)
    assert (spec.context_window, spec.max_output, spec.window_source) == (8192, 8192, "assumed")
    assert not spec.known and spec.price is None
    assert spec.reasoning_efforts == () and not spec.tools and not spec.vision


# -- where a window comes from --------------------------------------------------------------------------------


def test_model_spec_marks_an_unknown_models_window_assumed() -> None:
    spec = load_settings(None)[0].model_spec("llama3.2")
    assert (spec.context_window, spec.window_source) == (8192, "assumed")


def test_model_spec_takes_the_servers_window_for_an_unknown_model() -> None:
    spec = load_settings(None)[0].model_spec("llama3.2", server_window=131_072)
    assert (spec.context_window, spec.max_output, spec.window_source) == (131_072, 131_072, "server")


def test_model_spec_takes_the_servers_window_for_a_catalogue_name() -> None:
    # A local server serving a model under a catalogue name (llama.cpp --alias gpt-4o-mini) knows its own window.
    spec = load_settings(None)[0].model_spec("gpt-4o-mini", server_window=4096)
    assert (spec.context_window, spec.max_output, spec.window_source) == (4096, 4096, "server")
    assert spec.price == CATALOGUE["gpt-4o-mini"].price


def test_config_window_beats_the_servers(tmp_path: Path) -> None:
    cfg = write(tmp_path / "c.toml", '[models."llama3.2"]\ncontext_window = 32768\n')
    spec = load_settings(cfg)[0].model_spec("llama3.2", server_window=131_072)
    assert (spec.context_window, spec.window_source) == (32768, "config")


def test_config_without_a_window_keeps_the_servers(tmp_path: Path) -> None:
    cfg = write(tmp_path / "c.toml", '[models."llama3.2"]\ninput_price = 0\noutput_price = 0\n')
    spec = load_settings(cfg)[0].model_spec("llama3.2", server_window=131_072)
    assert (spec.context_window, spec.window_source) == (131_072, "server")


def test_config_says_what_a_local_model_accepts(tmp_path: Path) -> None:
    cfg = write(tmp_path / "c.toml",
                '[models."qwen3"]\nreasoning_efforts = ["low", "high"]\ntools = true\nvision = false\n'
                '[models."gpt-5.4"]\nreasoning_efforts = []\nvision = false\n')
    settings = load_settings(cfg)[0]
    qwen = settings.model_spec("qwen3")
    assert (qwen.reasoning_efforts, qwen.tools, qwen.vision) == (("low", "high"), True, False)
    gpt = settings.model_spec("gpt-5.4")
    assert (gpt.reasoning_efforts, gpt.tools, gpt.vision) == ((), True, False)


def test_config_rejects_an_effort_the_api_does_not_have(tmp_path: Path) -> None:
    cfg = write(tmp_path / "c.toml", '[models."qwen3"]\nreasoning_efforts = ["ultra"]\n')
    with pytest.raises(ConfigError) as info:
        load_settings(cfg)
    assert "models.qwen3.reasoning_efforts" in str(info.value)


# -- catalogue prices are OpenAI's: they apply to OpenAI's URL, or where the config says so --


@pytest.mark.parametrize("base_url", [None, "https://api.openai.com/v1", "https://api.openai.com/v1/"])
def test_openai_is_priced_from_the_catalogue(base_url: str | None) -> None:
    spec = load_settings(None, base_url=base_url)[0].model_spec("gpt-4o")
    assert spec.price == CATALOGUE["gpt-4o"].price


def test_another_servers_catalogue_model_keeps_its_window_but_has_no_price() -> None:
    settings = load_settings(None, base_url="http://localhost:11434/v1")[0]
    spec = settings.model_spec("gpt-5.4")
    assert spec.price is None and spec.long_context is None
    assert (spec.context_window, spec.max_output, spec.reasoning_efforts, spec.tools) == (
        CATALOGUE["gpt-5.4"].context_window, CATALOGUE["gpt-5.4"].max_output,
        CATALOGUE["gpt-5.4"].reasoning_efforts, True)
    assert settings.model_spec("gpt-4o-2024-08-06").price is None  # a dated snapshot too
    assert all(spec.price is None for spec in settings.all_models().values())  # as the menu and --list-models show


def test_another_servers_model_is_priced_by_the_config(tmp_path: Path) -> None:
    cfg = write(tmp_path / "c.toml", '[models."gpt-4o"]\ninput_price = 0\noutput_price = 0\n'
                                     '[models."gpt-4o-mini"]\ninput_price = 1\n')
    settings = load_settings(cfg, base_url="http://localhost:8080/v1")[0]
    assert settings.model_spec("gpt-4o").price == Price(Decimal(0), Decimal(0), None)
    # Half a price is no price: the catalogue's output rate is OpenAI's, not this server's.
    assert settings.model_spec("gpt-4o-mini").price is None


def test_catalogue_prices_can_be_asked_for_a_proxy_or_refused_for_openai() -> None:
    proxy = load_settings(None, base_url="https://gateway.example/v1", catalogue_prices=True)[0]
    assert proxy.model_spec("gpt-4o").price == CATALOGUE["gpt-4o"].price
    openai = load_settings(None, catalogue_prices=False)[0]
    assert openai.model_spec("gpt-4o").price is None


# -- long-context rates, and presets' reasoning effort, as the config leaves them ------------------------------


def test_openai_keeps_the_long_context_rate_and_a_dated_snapshot_too() -> None:
    settings = load_settings(None)[0]
    assert settings.model_spec("gpt-5.4").long_context == CATALOGUE["gpt-5.4"].long_context
    assert settings.model_spec("gpt-5.5-2026-04-23").long_context == CATALOGUE["gpt-5.5"].long_context


@pytest.mark.parametrize("key", ["input_price", "cached_input_price", "output_price"])
def test_a_configured_price_holds_for_every_prompt_length(tmp_path: Path, key: str) -> None:
    # A negotiated rate is the user's word: billing a long prompt at OpenAI's long-context list price instead
    # would mix two price lists.
    cfg = write(tmp_path / "c.toml", f'[models."gpt-5.4"]\n{key} = 1\n')
    spec = load_settings(cfg)[0].model_spec("gpt-5.4")
    assert spec.long_context is None
    assert spec.price is not None and getattr(spec.price, key.removesuffix("_price")) == 1


def test_a_config_without_prices_keeps_the_long_context_rate(tmp_path: Path) -> None:
    cfg = write(tmp_path / "c.toml", '[models."gpt-5.4"]\ntools = false\n')
    assert load_settings(cfg)[0].model_spec("gpt-5.4").long_context == CATALOGUE["gpt-5.4"].long_context


def test_a_preset_takes_a_reasoning_effort_and_says_so(tmp_path: Path) -> None:
    cfg = write(tmp_path / "c.toml", '[presets.deep]\nreasoning_effort = "high"\n'
                                     '[presets.support]\nreasoning_effort = "low"\n')
    settings = load_settings(cfg)[0]
    deep, support = settings.active_preset("deep"), settings.active_preset("support")
    assert deep.reasoning_effort == "high" and deep.temperature == 1.0  # the rest is balanced's
    assert (support.reasoning_effort, support.temperature) == ("low", 0.3)  # the rest is support's
    sent = sent_summary(build_params([], settings.model_spec("o3"), deep))
    assert sent == "max_completion_tokens 4096, reasoning_effort high"  # a reasoning model is sent no sampling
    assert sent_summary(build_params([], settings.model_spec("gpt-4o"), support)) == \
        "max_tokens 1500, temperature 0.3, top_p 0.8"  # and a model that samples no effort
    assert all(p.reasoning_effort is None for p in load_settings(None)[0].all_presets().values())


def test_a_preset_rejects_an_effort_the_api_does_not_have(tmp_path: Path) -> None:
    cfg = write(tmp_path / "c.toml", '[presets.deep]\nreasoning_effort = "ultra"\n')
    with pytest.raises(ConfigError) as info:
        load_settings(cfg)
    assert "presets.deep.reasoning_effort" in str(info.value)
    assert "'xhigh'" in str(info.value)  # what it may be: the key itself is known
