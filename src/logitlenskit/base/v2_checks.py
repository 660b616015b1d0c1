"""Checks of a seed V2 JSON document (docs/data-format.md §2): token strings for ids."""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from itertools import chain
from typing import Any

import numpy as np

from .edit_records import check_edit_records
from .scalar_checks import (
    _PROBS,
    _SURROGATE,
    _check_k,
    _check_size,
    _describe,
    _fail,
    _ints,
    _strings,
    as_int,
    check_text,
)

__all__ = ["validate_v2"]


def _v2_topk(topk: Any, n_layers: int, n_pos: int) -> int:
    """Check the V2 top-k grid's shape and strings; returns its width k."""
    if not isinstance(topk, (list, tuple)) or len(topk) != n_layers:
        _fail(f"topk must be a list with one entry per layer ({n_layers}), got {_describe(topk)}")
    width = None
    for layer, row in enumerate(topk):
        if not isinstance(row, (list, tuple)) or len(row) != n_pos:
            _fail(
                f"topk[{layer}] must list {n_pos} positions (one per input token), got "
                f"{_describe(row)}"
            )
        for pos, cell in enumerate(row):
            name = f"topk[{layer}][{pos}]"
            if not isinstance(cell, (list, tuple)) or not cell:
                _fail(f"{name} must be a non-empty list of token strings, got {_describe(cell)}")
            if width is None:
                width = len(cell)
                _check_k(width)
                _check_size(n_layers * n_pos * width * 8, f"L={n_layers} x P={n_pos} x k={width}")
            elif len(cell) != width:
                _fail(
                    f"{name} has {len(cell)} tokens but topk[0][0] has {width}: every cell "
                    "lists the same number (k) of tokens"
                )
            _strings(cell, name)
    return int(width or 0)


def _v2_trajectories(entry: Mapping[Any, Any], pos: int, n_layers: int) -> None:
    """Check one position's {token: trajectory} object; the common case stays in C loops."""
    keys, values = list(entry), list(entry.values())
    if not all(isinstance(key, str) for key in keys):
        key = next(key for key in keys if not isinstance(key, str))
        _fail(f"tracked[{pos}] has a key {_describe(key)}; keys are token strings")
    if _SURROGATE.search("".join(keys)):
        for key in keys:
            check_text(key, f"tracked[{pos}] key {key!r}")
    for key, traj in zip(keys, values, strict=True):
        if not isinstance(traj, (list, tuple)) or len(traj) != n_layers:
            _fail(
                f"tracked[{pos}][{key!r}] must list {n_layers} probabilities (one per "
                f"layer), got {_describe(traj)}"
            )
    # Plain floats and ints are the norm (json.load); anything else takes the slow path.
    if not set(map(type, chain.from_iterable(values))) <= {float, int}:
        for key, traj in zip(keys, values, strict=True):
            for layer, p in enumerate(traj):
                if isinstance(p, (bool, np.bool_)) or not isinstance(p, numbers.Real):
                    _fail(f"tracked[{pos}][{key!r}][{layer}] is {_describe(p)}; {_PROBS}")
    if not values:
        return
    probs = np.fromiter(chain.from_iterable(values), np.float64, len(values) * n_layers).reshape(
        len(values), n_layers
    )
    with np.errstate(invalid="ignore"):
        bad = ~((probs >= 0) & (probs <= 1))
    if bad.any():
        row, layer = np.unravel_index(int(np.flatnonzero(bad)[0]), probs.shape)
        _fail(f"tracked[{pos}][{keys[row]!r}][{layer}] is {_describe(probs[row, layer])}; {_PROBS}")


def validate_v2(doc: Mapping[str, Any]) -> dict[str, Any]:
    """Check a seed V2 JSON document (docs/data-format.md §2) before it is shown.

    Args:
        doc: the document, e.g. from ``to_js_format`` or ``json.load``.

    Returns:
        A shallow copy of ``doc``.

    Raises:
        InvalidDataError: the first problem found, naming field and index.
    """
    if not isinstance(doc, Mapping):
        _fail(f"a V2 document must be a dict, got {_describe(doc)}")
    meta = doc.get("meta")
    if not isinstance(meta, Mapping) or as_int(meta.get("version")) != 2:
        _fail("meta must be {'version': 2, 'model': name}, got " + _describe(meta))
    if meta.get("model") is not None:
        check_text(meta["model"], "meta['model']")
    if meta.get("edits"):
        check_edit_records(meta["edits"])
    missing = [key for key in ("input", "layers", "topk", "tracked") if key not in doc]
    if missing:
        _fail(f"the V2 document is missing {missing}; build it with to_js_format(data)")
    inputs = _strings(doc["input"], "input")
    layers = _ints(doc["layers"], "layers")
    n_layers, n_pos = len(layers), len(inputs)
    if not n_layers or not n_pos:
        _fail(f"the V2 document has {n_layers} layers and {n_pos} positions: nothing to show")
    k = _v2_topk(doc["topk"], n_layers, n_pos)
    tracked = doc["tracked"]
    if not isinstance(tracked, (list, tuple)) or len(tracked) != n_pos:
        _fail(
            f"tracked must be a list with one entry per position ({n_pos}), got "
            f"{_describe(tracked)}"
        )
    n_tracked = 0
    for pos, entry in enumerate(tracked):
        if not isinstance(entry, Mapping):
            _fail(f"tracked[{pos}] must be an object {{token: trajectory}}, got {_describe(entry)}")
        n_tracked += len(entry)
        _check_size(
            n_layers * n_pos * k * 8 + n_tracked * (4 + 4 * n_layers),
            f"L={n_layers} x P={n_pos} x k={k} and {n_tracked:,} trajectories",
        )
        _v2_trajectories(entry, pos, n_layers)
    for layer, row in enumerate(doc["topk"]):
        for pos, cell in enumerate(row):
            for j, token in enumerate(cell):
                if token not in tracked[pos]:
                    _fail(
                        f"topk[{layer}][{pos}][{j}] is {token!r}, which has no trajectory "
                        f"in tracked[{pos}]: every top-k token needs one"
                    )
    return dict(doc)
