"""Image token costs by each model's rule in the catalogue, and the size the model looks at."""

from __future__ import annotations

import math
from decimal import Decimal

import pytest

from chatbot.core.image_tokens import ASSUMED_RULE, image_tokens, model_size, patch_count
from chatbot.core.models import CATALOGUE, PatchRule, TileRule


def rule(name: str) -> TileRule | PatchRule:
    found = CATALOGUE[name].image_rule
    assert found is not None
    return found


# -- the tile rule ------------------------------------------------------------------------------


@pytest.mark.parametrize(("width", "height", "tokens"), [
    (1024, 1024, 765),    # OpenAI's example: 768x768, 4 tiles
    (2048, 4096, 1105),   # OpenAI's example: 1024x2048 -> 768x1536, 6 tiles
    (512, 512, 255),      # small: never scaled up, 1 tile
    (100, 50, 255),       # tiny: 1 tile
    (768, 768, 765),      # exactly the short side: 2x2 tiles
    (513, 100, 425),      # just over one tile wide: 2 tiles
    (4096, 2048, 1105),   # landscape is the transpose of portrait
    (4096, 1024, 765),    # 2048x512, short side under 768: 4x1 tiles
    (1920, 1080, 1105),   # 16:9 -> 1365.3x768: 3x2 tiles
    (10000, 100, 765),    # a strip: 2048x20.48, short side under 768, 4x1 tiles
    (4000, 3000, 765),    # 4:3 -> 2048x1536 -> 1024x768: 2x2 tiles
])
def test_tile_rule_at_high_for_gpt_4o(width: int, height: int, tokens: int) -> None:
    assert image_tokens(width, height, "high", rule("gpt-4o")) == tokens


@pytest.mark.parametrize("size", [(1, 1), (1024, 1024), (2048, 4096), (30000, 200)])
def test_low_detail_costs_the_base_alone(size: tuple[int, int]) -> None:
    assert image_tokens(*size, "low", rule("gpt-4o")) == 85
    assert image_tokens(*size, "low", rule("gpt-4o-mini")) == 2833


def test_auto_is_counted_as_high() -> None:
    for name in ("gpt-4o", "o3", "gpt-5", "gpt-4.1-nano", "o4-mini"):
        assert image_tokens(1500, 900, "auto", rule(name)) == image_tokens(1500, 900, "high", rule(name))


@pytest.mark.parametrize(("model", "base", "tile"), [
    ("gpt-4o", 85, 170), ("gpt-4.1", 85, 170), ("gpt-5", 70, 140), ("gpt-5.1", 70, 140), ("o3", 75, 150),
    ("gpt-4o-mini", 2833, 5667),
])
def test_each_tile_model_uses_its_base_and_tile(model: str, base: int, tile: int) -> None:
    assert image_tokens(1024, 1024, "high", rule(model)) == base + 4 * tile
    assert image_tokens(2048, 4096, "high", rule(model)) == base + 6 * tile
    assert image_tokens(1024, 1024, "low", rule(model)) == base


# -- the patch rule -----------------------------------------------------------------------------


def test_patch_rule_examples_with_a_1536_patch_budget() -> None:
    nano = rule("gpt-4.1-nano")
    assert isinstance(nano, PatchRule)
    assert patch_count(1024, 1024, "high", nano) == 1024  # under the budget: no resize
    # Over it: shrunk by sqrt(32^2 x 1536 / (w x h)), then down to whole patches: 1056x1408.
    assert patch_count(1800, 2400, "high", nano) == 1452
    assert model_size(1800, 2400, "high", nano) == (1056, 1408)


@pytest.mark.parametrize(("model", "multiplier"), [
    # OpenAI's published multipliers (images-vision, "Calculating costs"; the source comment in models.py).
    ("gpt-4.1-mini", "1.62"), ("gpt-4.1-nano", "2.46"), ("o4-mini", "1.72"), ("gpt-5-mini", "1.62"),
    ("gpt-5-nano", "2.46"),
])
def test_patch_tokens_are_patches_times_the_multiplier_rounded_up(model: str, multiplier: str) -> None:
    assert image_tokens(1024, 1024, "high", rule(model)) == math.ceil(1024 * Decimal(multiplier))
    assert image_tokens(33, 33, "high", rule(model)) == math.ceil(4 * Decimal(multiplier))  # a patch may overhang


@pytest.mark.parametrize(("model", "tokens_1024", "tokens_1800x2400"), [
    # The issue's examples: 1024x1024 is 1,024 patches, under the budget; 1800x2400 is shrunk to 1056x1408, 1,452.
    ("gpt-4.1-mini", 1659, 2353), ("gpt-5-mini", 1659, 2353), ("gpt-4.1-nano", 2520, 3572),
    ("gpt-5-nano", 2520, 3572), ("o4-mini", 1762, 2498), ("gpt-5.4-mini", 1659, 2353), ("gpt-5.4-nano", 2520, 3572),
    ("gpt-5.2", 1229, 1743),  # its multiplier (1.2) is what users measured: the page gives none
])
def test_the_issue_models_have_a_1536_patch_budget_and_their_published_multiplier(
        model: str, tokens_1024: int, tokens_1800x2400: int) -> None:
    patch = rule(model)
    assert isinstance(patch, PatchRule)
    assert (patch.max_patches, patch.max_side) == (1536, 2048)
    assert patch_count(1024, 1024, "auto", patch) == 1024
    assert patch_count(1800, 2400, "auto", patch) == 1452
    assert image_tokens(1024, 1024, "auto", patch) == tokens_1024
    assert image_tokens(1800, 2400, "auto", patch) == tokens_1800x2400
    assert image_tokens(5000, 5000, "auto", patch) <= math.ceil(1536 * patch.multiplier)


def test_a_larger_budget_keeps_more_patches() -> None:
    larger = rule("gpt-5.4")  # 2,500 patches at high
    assert isinstance(larger, PatchRule)
    assert patch_count(1800, 2400, "high", larger) > 1536
    assert patch_count(1800, 2400, "high", larger) <= 2500


@pytest.mark.parametrize("size", [(1800, 2400), (2400, 1800), (5000, 5000), (20000, 300), (300, 20000),
                                  (1280, 1281), (2049, 2049), (1, 9000)])
@pytest.mark.parametrize("model", ["gpt-4.1-nano", "o4-mini", "gpt-4.1-mini", "gpt-5.4", "gpt-5.5"])
def test_patches_never_exceed_the_budget_and_sides_never_the_largest(size: tuple[int, int], model: str) -> None:
    patch = rule(model)
    assert isinstance(patch, PatchRule)
    width, height = model_size(*size, "high", patch)
    assert max(width, height) <= patch.max_side
    assert math.ceil(width / 32) * math.ceil(height / 32) <= patch.max_patches
    assert patch_count(*size, "high", patch) <= patch.max_patches


def test_low_detail_on_a_patch_model_is_a_512_px_image() -> None:
    nano = rule("gpt-4.1-nano")
    assert model_size(4000, 2000, "low", nano) == (512, 256)
    assert patch_count(4000, 2000, "low", nano) == 16 * 8


# -- the size the model looks at ----------------------------------------------------------------


@pytest.mark.parametrize("size", [(1024, 1024), (2048, 4096), (1920, 1080), (513, 100), (10000, 100),
                                  (4000, 3000), (1025, 3001), (1800, 2400), (640, 480), (3, 7000)])
@pytest.mark.parametrize("model", ["gpt-4o", "gpt-5", "o3", "gpt-4.1-nano", "o4-mini", "gpt-4.1-mini"])
@pytest.mark.parametrize("detail", ["auto", "low", "high"])
def test_an_image_downscaled_to_the_model_size_costs_the_same(size: tuple[int, int], model: str,
                                                            detail: str) -> None:
    """What the downscale before upload relies on: the smaller image is billed as the original would be, and
    is never larger than it, with its aspect ratio within a pixel."""
    image_rule = rule(model)
    width, height = model_size(*size, detail, image_rule)  # type: ignore[arg-type]
    assert width <= size[0] and height <= size[1]
    assert image_tokens(width, height, detail, image_rule) == image_tokens(*size, detail, image_rule)  # type: ignore[arg-type]
    assert model_size(width, height, detail, image_rule) == (width, height)  # type: ignore[arg-type]
    assert abs(width / height - size[0] / size[1]) <= max(1 / height, width / height ** 2, 1 / width) * 2


def test_tile_size_is_768_on_the_short_side() -> None:
    assert model_size(2048, 4096, "high", rule("gpt-4o")) == (768, 1536)
    assert model_size(4000, 3000, "high", rule("gpt-4o")) == (1024, 768)
    assert model_size(300, 200, "high", rule("gpt-4o")) == (300, 200)  # never up
    assert model_size(4000, 3000, "low", rule("gpt-4o")) == (512, 384)


def test_a_model_without_a_rule_is_counted_by_the_assumed_rule() -> None:
    assert image_tokens(1024, 1024, "high", None) == image_tokens(1024, 1024, "high", ASSUMED_RULE) == 765
