"""The ``edits`` field: what an edited run changed, as data (docs/data-format.md).

A run made with interventions (patch, steer, ablate; :mod:`logitlenskit.core.edits`)
carries one record per edit in its collection dict and its payload, so every view, export
and figure can say the numbers are not the model's own output and mark the cells the edit
can reach. Records come from outside too (saved files, a browser), so they are checked
like the rest of the data: a bad record is refused with its index and field named.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from .scalar_checks import _describe, _fail, _int, check_text

__all__ = ["EDIT_KINDS", "check_edit_records", "edits_caption"]

#: What an edit can be.
EDIT_KINDS = ("patch", "steer", "ablate", "custom")
_LABEL_LIMIT = 200
_OPTIONAL_TEXT = {"part": ("attention", "mlp", "heads"), "mode": ("zero", "mean")}


def _record(value: Any, name: str) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        _fail(f"{name} must be a dict (an edit record), got {_describe(value)}")
    kind = value.get("kind")
    if kind not in EDIT_KINDS:
        _fail(f"{name}['kind'] is {_describe(kind)}; it must be one of {', '.join(EDIT_KINDS)}")
    label = check_text(value.get("label"), f"{name}['label']")
    if not label or len(label) > _LABEL_LIMIT:
        _fail(f"{name}['label'] must be 1..{_LABEL_LIMIT} characters, got {len(label)}")
    out = {
        "kind": kind,
        "label": label,
        "layer": _int(value.get("layer"), f"{name}['layer']"),
        "row_kind": _int(value.get("row_kind"), f"{name}['row_kind']", high=1),
        "from_position": _int(value.get("from_position"), f"{name}['from_position']"),
    }
    if kind == "steer":
        alpha = value.get("alpha")
        if isinstance(alpha, bool) or not isinstance(alpha, (int, float)):
            _fail(f"{name}['alpha'] must be a number, got {_describe(alpha)}")
        if not math.isfinite(alpha):
            _fail(f"{name}['alpha'] is {_describe(alpha)}; it must be finite")
        out["alpha"] = float(alpha)
    for field, allowed in _OPTIONAL_TEXT.items():
        if field in value:
            if value[field] not in allowed:
                _fail(f"{name}[{field!r}] is {_describe(value[field])}; one of {allowed}")
            out[field] = value[field]
    if "heads" in value:
        heads = value["heads"]
        if not isinstance(heads, (list, tuple)) or not heads:
            _fail(f"{name}['heads'] must be a non-empty list of head numbers")
        out["heads"] = [_int(h, f"{name}['heads'][{i}]") for i, h in enumerate(heads)]
    return out


def check_edit_records(
    values: Any, n_layers: int | None = None, n_positions: int | None = None
) -> list[dict[str, Any]]:
    """Check an ``edits`` field: a list of records (see the module docstring).

    Args:
        values: the field.
        n_layers: the model's layer count, when known (a record's layer must be below it).
        n_positions: the run's positions, when known (``from_position`` must be below it).

    Returns:
        Clean copies (plain ints and floats, no unknown keys).

    Raises:
        InvalidDataError: the field or a record is malformed; the message names which.
    """
    if not isinstance(values, (list, tuple)):
        _fail(f"edits must be a list of edit records, got {_describe(values)}")
    out = [_record(value, f"edits[{i}]") for i, value in enumerate(values)]
    for i, record in enumerate(out):
        if n_layers is not None and record["layer"] >= n_layers:
            _fail(f"edits[{i}]['layer'] is {record['layer']}, past the model's {n_layers} layers")
        if n_positions is not None and record["from_position"] >= n_positions:
            _fail(
                f"edits[{i}]['from_position'] is {record['from_position']}, past the run's "
                f"{n_positions} positions"
            )
    return out


def edits_caption(records: Any) -> str:
    """One line naming a run's edits, for titles and figures ("" when there are none)."""
    if not records:
        return ""
    return "edited: " + "; ".join(record["label"] for record in records)
