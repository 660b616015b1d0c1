"""Figures: cells whose KL is undefined (the model's output at their position is not finite).

Such a cell is computed (its own lens is finite) but its KL has no reference, so a KL figure
hatches it, as the widget does, and its SVG title says why, instead of drawing a KL of 0.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from matplotlib.patches import Rectangle

__all__ = ["KL_UNDEFINED_NOTE", "hatch_undefined_kl"]

KL_UNDEFINED_NOTE = "KL undefined: the model's output at this position is not finite"


def hatch_undefined_kl(
    ax: Any,
    kl: np.ndarray,
    status: np.ndarray,
    columns: Sequence[int],
    ink: str,
    titles: dict[str, str],
    gid: Callable[[int, int], str],
) -> None:
    """Hatch the computed cells of ``columns`` whose KL is NaN, and note it in their titles.

    Args:
        ax: the grid's axes (cell (column ci, position p) spans [ci, ci+1] x [p, p+1]).
        kl: KL ``[L, P]``; NaN at a computed cell means undefined (the validators allow it
            only there).
        status: cell status ``[L, P]``, 0 computed.
        columns: the lens rows drawn, left to right.
        ink: the hatch's color.
        titles: the figure's titles by gid; the cells' are extended.
        gid: the gid of cell (lens row, position)'s label.
    """
    for ci, row in enumerate(columns):
        for p in np.flatnonzero((status[row] == 0) & np.isnan(kl[row])):
            ax.add_patch(
                Rectangle((ci, int(p)), 1, 1, fill=False, hatch="////", edgecolor=ink, lw=0)
            )
            key = gid(row, int(p))
            titles[key] = f"{titles.get(key, '')} \u00b7 {KL_UNDEFINED_NOTE}"
