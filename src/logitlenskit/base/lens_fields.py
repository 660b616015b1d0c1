"""The ``lens`` and ``lens_reliability`` fields: which lens made the data, and how far to trust it.

Data made by a lens other than the logit lens (a tuned lens, a linear shortcut, a
Patchscope; docs/lenses.md) names it in ``lens``, so every view, figure and file can say
which lens produced the numbers. ``lens_reliability`` holds, per lens row, the lens's mean
KL(final ‖ lens) in nats and its top-1 agreement with the model's output on held-out
text, measured when the lens was fitted (null where nothing was measured). Both come from
outside too (saved files), so they are checked like the rest of the data.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from .scalar_checks import _describe, _fail, check_text

__all__ = [
    "LOGIT_LENS_NAME",
    "check_lens_name",
    "check_reliability",
    "lens_caption",
    "rows_reliability",
]

#: What data without a ``lens`` field was made by.
LOGIT_LENS_NAME = "logit lens"
_NAME_LIMIT = 100


def check_lens_name(value: Any) -> str:
    """A lens's name: text of 1..100 characters."""
    name = check_text(value, "lens")
    if not name or len(name) > _NAME_LIMIT:
        _fail(f"lens must be a name of 1..{_NAME_LIMIT} characters, got {len(name)}")
    return name


def _values(values: Any, field: str, n_rows: int, high: float) -> list[float | None]:
    if not isinstance(values, (list, tuple)) or len(values) != n_rows:
        _fail(f"lens_reliability['{field}'] must be a list of {n_rows} values (one per lens row)")
    out: list[float | None] = []
    for i, value in enumerate(values):
        if value is None:
            out.append(None)
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            _fail(
                f"lens_reliability['{field}'][{i}] must be a number or null, got {_describe(value)}"
            )
        if not math.isfinite(value) or not 0 <= value <= high:
            _fail(
                f"lens_reliability['{field}'][{i}] is {_describe(value)}; it must be in 0..{high}"
            )
        out.append(float(value))
    return out


def check_reliability(value: Any, n_rows: int) -> dict[str, Any]:
    """``{"kl": [...], "top1": [...], "note": str}``, one value per lens row (or null)."""
    if not isinstance(value, Mapping):
        _fail(f"lens_reliability must be a dict with kl, top1 and note, got {_describe(value)}")
    return {
        "kl": _values(value.get("kl"), "kl", n_rows, math.inf),
        "top1": _values(value.get("top1"), "top1", n_rows, 1.0),
        "note": check_text(value.get("note", ""), "lens_reliability['note']"),
    }


def rows_reliability(
    per_layer: Mapping[str, Sequence[float]], layers: Sequence[int], row_kinds: Any, note: str
) -> dict[str, Any]:
    """A lens's per-decoder-layer reliability laid out per lens row (after-attention: null)."""
    kinds = list(row_kinds) if row_kinds is not None else [0] * len(layers)

    def pick(values: Sequence[float], layer: int, kind: int) -> float | None:
        if kind != 0 or layer >= len(values) or not math.isfinite(values[layer]):
            return None
        return float(values[layer])

    return {
        "kl": [pick(per_layer["kl"], n, kind) for n, kind in zip(layers, kinds, strict=True)],
        "top1": [pick(per_layer["top1"], n, kind) for n, kind in zip(layers, kinds, strict=True)],
        "note": note,
    }


def lens_caption(name: Any) -> str:
    """How titles name a lens other than the logit lens ("" for the logit lens)."""
    return "" if not name or name == LOGIT_LENS_NAME else str(name)
