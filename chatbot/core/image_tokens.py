"""What an image costs in prompt tokens, and the size the model looks at, by the model's rule in the catalogue.

Both rules are OpenAI's ("Calculating costs", developers.openai.com/api/docs/guides/images-vision; the catalogue
in models.py names the copy it read). The arithmetic is exact (fractions, not floats): a tile or patch boundary
is where a float would round the wrong way.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Literal

from chatbot.core.models import ImageRule, PatchRule, TileRule

Detail = Literal["auto", "low", "high"]
DETAILS: tuple[Detail, ...] = ("auto", "low", "high")

TILE = 512
TILE_FIT = 2048
TILE_SHORT_SIDE = 768
PATCH = 32
# detail "low": "the model receives a low-resolution 512px x 512px version of the image".
LOW_FIT = 512

ASSUMED_RULE = TileRule(85, 170)
"""For a model the catalogue has no rule for (another server's): gpt-4o's rule, an estimate like the window a
model nobody describes is assumed to have. The server's own count (usage) replaces it once the reply comes."""


def model_size(width: int, height: int, detail: Detail, rule: ImageRule | None) -> tuple[int, int]:
    """The pixels the model uses of a `width` x `height` image: never larger, the aspect ratio kept. An image
    downscaled to this size costs what the original would, so chat sends no more pixels than are billed."""
    rule = rule or ASSUMED_RULE
    if isinstance(rule, TileRule):
        if detail == "low":
            return _floor(_fit(width, height, LOW_FIT))
        w, h = _tile_size(width, height)
        # Rounded up: a side just over a tile boundary keeps its tile, so the downscaled image costs the same.
        return max(1, math.ceil(w)), max(1, math.ceil(h))
    return _patch_size(width, height, detail, rule)


def image_tokens(width: int, height: int, detail: Detail, rule: ImageRule | None) -> int:
    """Prompt tokens of one `width` x `height` image sent with `detail` to a model with `rule`."""
    rule = rule or ASSUMED_RULE
    if isinstance(rule, TileRule):
        if detail == "low":
            return rule.base
        w, h = _tile_size(width, height)
        return rule.base + math.ceil(w / TILE) * math.ceil(h / TILE) * rule.tile
    return math.ceil(patch_count(width, height, detail, rule) * rule.multiplier)


def patch_count(width: int, height: int, detail: Detail, rule: PatchRule) -> int:
    """The 32-px patches that cover the image once the model has resized it to its budget."""
    w, h = _patch_size(width, height, detail, rule)
    return min(rule.max_patches, _patches(w, h))


def _tile_size(width: int, height: int) -> tuple[Fraction, Fraction]:
    """Fit in 2048x2048, then scale so the short side is 768 (only ever down)."""
    w, h = _fit(width, height, TILE_FIT)
    scale = min(Fraction(1), Fraction(TILE_SHORT_SIDE) / min(w, h))
    return w * scale, h * scale


def _patch_size(width: int, height: int, detail: Detail, rule: PatchRule) -> tuple[int, int]:
    """Fit within the rule's largest side (512 px at detail low), then shrink until the patches fit the budget:
    by sqrt(32^2 x budget / (w x h)), then down until both sides end on whole patches (OpenAI's steps B and C)."""
    w, h = _floor(_fit(width, height, LOW_FIT if detail == "low" else rule.max_side))
    if _patches(w, h) <= rule.max_patches:
        return w, h
    # The square root is irrational in general; float precision is far below a pixel at these sizes.
    shrink = math.sqrt(PATCH * PATCH * rule.max_patches / (w * h))
    shrink *= min(math.floor(w * shrink / PATCH) / (w * shrink / PATCH),
                  math.floor(h * shrink / PATCH) / (h * shrink / PATCH))
    return max(1, int(w * shrink)), max(1, int(h * shrink))


def _patches(width: int, height: int) -> int:
    return math.ceil(width / PATCH) * math.ceil(height / PATCH)


def _fit(width: int, height: int, side: int) -> tuple[Fraction, Fraction]:
    scale = min(Fraction(1), Fraction(side, max(width, height)))
    return width * scale, height * scale


def _floor(size: tuple[Fraction, Fraction]) -> tuple[int, int]:
    return max(1, math.floor(size[0])), max(1, math.floor(size[1]))
