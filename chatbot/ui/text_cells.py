"""Text measured in terminal cells, not characters: a CJK character or an emoji takes two."""

from __future__ import annotations

from rich.cells import cell_len, set_cell_size


def fit(text: str, cells: int) -> str:
    """`text` padded or cut to exactly `cells` cells; a cut one ends in an ellipsis."""
    if cell_len(text) <= cells:
        return set_cell_size(text, cells)
    return set_cell_size(text, cells - 1) + "…" if cells > 0 else ""
