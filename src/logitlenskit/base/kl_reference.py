"""Where KL is undefined: positions whose KL reference, the model's output, is not finite.

Each cell's KL is measured from the model's final output at its position. When that output
is not finite (a float16 overflow in the last block, an intervention that wrote NaN), KL is
undefined at every layer of the position, while each cell's own lens distribution may be
finite and keeps its numbers. ``kl_undefined`` (one flag per position, docs/data-format.md)
says so; it is the only place a NaN KL of a computed cell is accepted. When the lens rows
include the model's output (the last layer's output row), the flag must agree with it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["final_row", "flag_problem", "kl_problem"]


def final_row(
    layers: Sequence[int], num_layers: int | None, row_kinds: Sequence[int] | None = None
) -> int | None:
    """The lens row that is the model's output (the last layer's output), or None.

    Args:
        layers: each lens row's layer.
        num_layers: the model's layer count (None: unknown, so no row is known to be it).
        row_kinds: each row's kind (0 after the layer, 1 after its attention); None: all 0.
    """
    if num_layers is None or not layers or int(layers[-1]) != num_layers - 1:
        return None
    if row_kinds is not None and int(row_kinds[-1]) != 0:
        return None
    return len(layers) - 1


def flag_problem(undefined: np.ndarray, status: np.ndarray, final: int | None) -> str | None:
    """Why ``kl_undefined`` disagrees with the model's output row, or None when it agrees.

    A flagged position needs a final row that is not computed (invalid): a computed, hence
    finite, model output makes KL defined there.
    """
    if final is None:
        return None
    wrong = np.flatnonzero(undefined & (status[final] == 0))
    if not wrong.size:
        return None
    p = int(wrong[0])
    return (
        f"kl_undefined[{p}] is 1, but the model's output at position {p} (lens row {final}) "
        "is computed and finite, so KL is defined there: set it to 0, or mark that cell invalid"
    )


def kl_problem(
    kl: np.ndarray, computed: np.ndarray, undefined: np.ndarray, slack: float
) -> int | None:
    """Flat index of the first computed cell whose KL breaks the rules, or None.

    KL must be a finite number >= -``slack``, except at positions flagged ``undefined``,
    where it may be NaN.
    """
    with np.errstate(invalid="ignore"):
        fine = np.isfinite(kl) & (kl >= -slack)
    bad = computed & ~fine & ~(undefined[None, :] & np.isnan(kl))
    return int(np.flatnonzero(bad)[0]) if bad.any() else None
