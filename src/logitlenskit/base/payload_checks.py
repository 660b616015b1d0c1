"""Checks of a version-3 widget payload (docs/data-format.md §3): header and arrays.

Numeric checks are vectorized, so a 5,000-token payload is checked in milliseconds. The
optional fields are checked by payload_field_checks.py.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import numpy as np

from .edit_records import check_edit_records
from .lens_fields import check_lens_name, check_reliability
from .payload_field_checks import (
    _check_entropy,
    _check_generation,
    _check_kl,
    _check_targets,
    _row_kinds,
    cell_status_field,
)
from .scalar_checks import (
    _PROBS,
    _SURROGATE,
    _check_k,
    _check_size,
    _describe,
    _fail,
    _index,
    _int,
    _ints,
    _strings,
    as_int,
    binary_field,
    check_text,
)

__all__ = ["validate_payload"]

_ID_KEY = re.compile(r"0|[1-9][0-9]*")


def _check_probs(probs: np.ndarray, valid: np.ndarray | None, name: str, where: Any = None) -> None:
    """Every probability of a computed cell is finite and in [0, 1]."""
    with np.errstate(invalid="ignore"):
        bad = ~((probs >= 0) & (probs <= 1))  # NaN fails both comparisons
    if valid is not None:
        bad &= valid
    if bad.any():
        flat = int(np.flatnonzero(bad)[0])
        note = f" ({where(flat)})" if where else ""
        _fail(
            f"{name}{_index(flat, probs.shape)}{note} is {_describe(probs.ravel()[flat])}; {_PROBS}"
        )


def _vocab_ids(vocab: Any) -> np.ndarray:
    """The sorted ids a payload vocab names; its keys are decimal ids, values strings."""
    if not isinstance(vocab, Mapping):
        _fail(f"vocab must be an object {{'<id>': string}}, got {_describe(vocab)}")
    ids = []
    for key, text in vocab.items():
        number = as_int(key)
        if number is None and isinstance(key, str) and _ID_KEY.fullmatch(key):
            number = int(key)
        if number is None or number < 0:
            _fail(
                f"vocab key {key!r} is not a token id: keys are ids >= 0 written in decimal, "
                "e.g. '42'"
            )
        if not isinstance(text, str):
            _fail(f"vocab[{key!r}] must be a string, got {_describe(text)}")
        ids.append(number)
    texts = list(vocab.values())
    if _SURROGATE.search("".join(texts)):
        for key, text in vocab.items():
            check_text(text, f"vocab[{key!r}]")
    return np.unique(np.asarray(ids, dtype=np.int64))


def _check_tracked_ids(ids: np.ndarray, vocab: np.ndarray, owner: np.ndarray) -> None:
    if ids.size and ids.min() < 0:
        t = int(np.flatnonzero(ids < 0)[0])
        _fail(f"tracked_ids[{t}] (position {owner[t]}) is {ids[t]}; token ids must be >= 0")
    same = owner[1:] == owner[:-1]
    unsorted = np.flatnonzero(same & (ids[1:] <= ids[:-1]))
    if unsorted.size:
        t = int(unsorted[0]) + 1
        _fail(
            f"tracked_ids of position {owner[t]} must strictly increase ({ids[t - 1]} comes "
            f"before {ids[t]} at tracked_ids[{t}]): sort each position's ids and drop repeats"
        )
    missing = np.setdiff1d(ids, vocab)
    if missing.size:
        _fail(
            f"vocab has no string for tracked token ids {missing[:10].tolist()}: add "
            "'<id>': decoded token for each"
        )


def _check_topk_ids(
    topk: np.ndarray, valid: np.ndarray, ids: np.ndarray, owner: np.ndarray
) -> None:
    """Every top-k id of a computed cell is among its position's tracked ids."""
    n_pos = topk.shape[1]
    negative = valid & (topk < 0)
    if negative.any():
        flat = int(np.flatnonzero(negative)[0])
        _fail(f"topk_ids{_index(flat, topk.shape)} is {topk.ravel()[flat]}; token ids must be >= 0")
    # (position, id) pairs as one sortable key: tracked keys are sorted by the check above.
    tracked_keys = owner.astype(np.int64) << 32 | ids.astype(np.int64)
    pos = np.broadcast_to(np.arange(n_pos)[None, :, None], topk.shape)
    keys = pos.astype(np.int64) << 32 | topk.astype(np.int64)
    at = np.searchsorted(tracked_keys, keys.ravel()).clip(0, max(len(tracked_keys) - 1, 0))
    found = tracked_keys[at] == keys.ravel() if len(tracked_keys) else np.zeros(keys.size, bool)
    lost = valid.ravel() & ~found
    if lost.any():
        flat = int(np.flatnonzero(lost)[0])
        layer, p, j = np.unravel_index(flat, topk.shape)
        _fail(
            f"topk_ids[{layer}][{p}][{j}] is token {topk.ravel()[flat]}, which is not among "
            f"position {p}'s tracked_ids: every top-k id needs a trajectory "
            "(docs/data-format.md §3)"
        )


def _payload_header(payload: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON part of a payload, checked and with numpy integers turned into ints."""
    required = (
        "version",
        "input",
        "layers",
        "k",
        "vocab",
        "topk_ids",
        "topk_probs",
        "tracked_offsets",
        "tracked_ids",
        "tracked_probs",
    )
    missing = [key for key in required if key not in payload]
    if missing:
        _fail(
            f"the payload is missing {missing}; build it with to_widget_payload(data) "
            "(docs/data-format.md §3)"
        )
    if as_int(payload["version"]) != 3:
        _fail(f"version must be 3, got {_describe(payload['version'])}")
    out = dict(payload, version=3)
    if payload.get("model") is not None:
        check_text(payload["model"], "model")
    out["input"] = _strings(payload["input"], "input")
    out["layers"] = _ints(payload["layers"], "layers")
    if not out["input"] or not out["layers"]:
        _fail(
            f"the payload has {len(out['layers'])} layers and {len(out['input'])} "
            "positions: nothing to show"
        )
    out["k"] = _int(payload["k"], "k", low=1)
    _check_k(out["k"])
    n_layers, n_pos, k = len(out["layers"]), len(out["input"]), out["k"]
    _check_size(n_layers * n_pos * (8 * k + 5), f"L={n_layers} x P={n_pos} x k={k}")
    if payload.get("input_ids") is not None:
        out["input_ids"] = _ints(payload["input_ids"], "input_ids")
        if out["input_ids"] and len(out["input_ids"]) != len(out["input"]):
            _fail(
                f"input_ids has {len(out['input_ids'])} ids for {len(out['input'])} input "
                "tokens: give one id per token, or []"
            )
    if payload.get("num_layers") is not None:
        out["num_layers"] = _int(payload["num_layers"], "num_layers", low=1)
        too_deep = [layer for layer in out["layers"] if layer >= out["num_layers"]]
        if too_deep:
            _fail(
                f"layers names layer {too_deep[0]}, but num_layers is {out['num_layers']} "
                f"(valid layers: 0..{out['num_layers'] - 1})"
            )
    if payload.get("run") is not None:
        out["run"] = _int(payload["run"], "run")
    if payload.get("row_kinds") is not None:
        out["row_kinds"] = _row_kinds(payload["row_kinds"], out["layers"])
    if payload.get("edits"):
        out["edits"] = check_edit_records(payload["edits"], out.get("num_layers"), n_pos)
    if payload.get("lens"):
        out["lens"] = check_lens_name(payload["lens"])
    if payload.get("lens_reliability"):
        out["lens_reliability"] = check_reliability(payload["lens_reliability"], n_layers)
    return out


def validate_payload(payload: Mapping[str, Any]) -> dict[str, Any]:
    """Check a version-3 widget payload (docs/data-format.md §3) before it is shown.

    Probabilities, top-k ids and metrics (``kl``, ``target_logprobs``, ``target_ranks``) of
    cells whose ``cell_status`` is not 0 (invalid or pending) are not checked: the view shows
    no numbers there. The generation fields (``position_kinds``, ``commitment``,
    ``entered_topk``) are checked at every position.

    Args:
        payload: the payload, e.g. from ``to_widget_payload`` or a saved widget state.

    Returns:
        A shallow copy whose integer fields (``k``, ``layers``, ...) are plain ints, so numpy
        integers are welcome.

    Raises:
        InvalidDataError: the first problem found, naming field and index.
    """
    if not isinstance(payload, Mapping):
        _fail(f"a payload must be a dict, got {_describe(payload)}")
    out = _payload_header(payload)
    n_layers, n_pos, k = len(out["layers"]), len(out["input"]), out["k"]
    grid = n_layers * n_pos
    vocab = _vocab_ids(payload["vocab"])
    text_bytes = sum(map(len, out["input"])) + sum(map(len, payload["vocab"].values()))
    offsets = binary_field(payload, "tracked_offsets", "<i4", n_pos + 1, "int32 [P + 1]")
    if offsets[0] != 0 or np.any(np.diff(offsets) < 0):
        _fail(
            f"tracked_offsets must start at 0 and never decrease, got "
            f"{offsets[:10].tolist()}{'...' if n_pos >= 10 else ''}"
        )
    n_tracked = int(offsets[-1])
    _check_size(
        grid * (8 * k + 5) + n_tracked * (4 + 4 * n_layers) + text_bytes,
        f"L={n_layers} x P={n_pos} x k={k} and {n_tracked:,} trajectories",
    )
    ids = binary_field(
        payload, "tracked_ids", "<i4", n_tracked, "int32 [T], T = tracked_offsets[P]"
    )
    owner = np.repeat(np.arange(n_pos), np.diff(offsets))
    _check_tracked_ids(ids, vocab, owner)
    status = cell_status_field(payload, n_layers, n_pos)
    _check_generation(payload, n_layers, n_pos)
    computed = status == 0
    _check_entropy(payload, computed)
    _check_kl(payload, status, out)
    _check_targets(payload, computed)
    topk = binary_field(payload, "topk_ids", "<i4", grid * k, "int32 [L, P, k]")
    _check_topk_ids(
        topk.reshape(n_layers, n_pos, k),
        np.repeat(computed, k).reshape(n_layers, n_pos, k),
        ids,
        owner,
    )
    topk_probs = binary_field(payload, "topk_probs", "<f4", grid * k, "float32 [L, P, k]")
    _check_probs(
        topk_probs.reshape(n_layers, n_pos, k),
        np.repeat(computed, k).reshape(n_layers, n_pos, k),
        "topk_probs",
    )
    trajectories = binary_field(
        payload,
        "tracked_probs",
        "<f4",
        n_tracked * n_layers,
        "float32 [T, L], T = tracked_offsets[P]",
    )
    _check_probs(
        trajectories.reshape(n_tracked, n_layers),
        computed[:, owner].T,
        "tracked_probs",
        lambda flat: f"position {owner[flat // n_layers]}, token {ids[flat // n_layers]}",
    )
    return out
