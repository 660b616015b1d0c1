"""Checks of a version-3 payload's optional fields: cell status, generation, metrics, rows.

Each is independent of the others (docs/data-format.md §3); payload_checks.py calls them
once the required arrays are known to fit.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from .kl_reference import final_row, flag_problem, kl_problem
from .scalar_checks import _describe, _fail, _index, _ints, as_int, binary_field, check_text

__all__ = ["ENTROPY_SLACK", "METRIC_SLACK", "cell_status_field"]

_STATUS = {0: "computed", 1: "invalid", 2: "pending"}
_KINDS = {0: "prompt text", 1: "chat template or special token", 2: "generated"}
#: Entropies are float32 sums over the vocabulary: a one-hot row can round to a tiny negative
#: (about 1e-7; the slack keeps a wide margin). frontend/schema.js carries the same number.
ENTROPY_SLACK = 1e-5
#: KL divergences and log-probabilities are computed exactly but stored as float32: a cell equal
#: to the output (KL 0) or a certain target (log p 0) may round a hair past 0.
METRIC_SLACK = 1e-6
_TARGET = "{'name': str, 'ids': [token ids]}"


def cell_status_field(payload: Mapping[str, Any], n_layers: int, n_pos: int) -> np.ndarray:
    """A payload's ``cell_status`` as uint8 ``[L, P]`` (all 0 when absent), values checked."""
    if payload.get("cell_status") is None:
        return np.zeros((n_layers, n_pos), dtype=np.uint8)
    status = binary_field(payload, "cell_status", "u1", n_layers * n_pos, "uint8 [L, P]").reshape(
        n_layers, n_pos
    )
    bad = status > max(_STATUS)
    if bad.any():
        flat = int(np.flatnonzero(bad)[0])
        _fail(
            f"cell_status{_index(flat, status.shape)} is {status.ravel()[flat]}; a cell's "
            "status is 0 (computed), 1 (invalid) or 2 (pending)"
        )
    return status


def _check_generation(payload: Mapping[str, Any], n_layers: int, n_pos: int) -> None:
    """Check the optional fields of a generation, each independent of the others.

    ``position_kinds``: uint8 [P], 0 prompt text, 1 chat template or special token,
    2 generated. ``commitment`` / ``entered_topk``: int32 [P], a lens row in [-1, L - 1]
    (an index into ``layers``; -1 for none).
    """
    if payload.get("position_kinds") is not None:
        kinds = binary_field(payload, "position_kinds", "u1", n_pos, "uint8 [P]")
        bad = np.flatnonzero(kinds > max(_KINDS))
        if bad.size:
            p = int(bad[0])
            _fail(
                f"position_kinds[{p}] is {kinds[p]}; a position's kind is 0 (prompt text), "
                "1 (chat template or special token) or 2 (generated)"
            )
    for key in ("commitment", "entered_topk"):
        if payload.get(key) is None:
            continue
        rows = binary_field(payload, key, "<i4", n_pos, "int32 [P]")
        bad = np.flatnonzero((rows < -1) | (rows >= n_layers))
        if bad.size:
            p = int(bad[0])
            _fail(
                f"{key}[{p}] is {rows[p]}; it must be a lens row from -1 to {n_layers - 1} "
                "(an index into layers; -1 for none)"
            )


def _check_entropy(payload: Mapping[str, Any], computed: np.ndarray) -> None:
    if payload.get("entropy") is None:
        return
    entropy = binary_field(payload, "entropy", "<f4", computed.size, "float32 [L, P]").reshape(
        computed.shape
    )
    with np.errstate(invalid="ignore"):
        bad = computed & ~(np.isfinite(entropy) & (entropy >= -ENTROPY_SLACK))
    if bad.any():
        flat = int(np.flatnonzero(bad)[0])
        _fail(
            f"entropy{_index(flat, entropy.shape)} is {_describe(entropy.ravel()[flat])}; "
            "entropies must be finite numbers >= 0 (nats)"
        )


def _check_kl(payload: Mapping[str, Any], status: np.ndarray, header: dict[str, Any]) -> None:
    """KL: finite and >= 0 at computed cells, NaN only where ``kl_undefined`` flags it."""
    n_pos = status.shape[1]
    undefined = np.zeros(n_pos, bool)
    if payload.get("kl_undefined") is not None:
        flags = binary_field(payload, "kl_undefined", "u1", n_pos, "uint8 [P]")
        if (flags > 1).any():
            p = int(np.flatnonzero(flags > 1)[0])
            _fail(f"kl_undefined[{p}] is {flags[p]}; a position's flag is 0 or 1")
        undefined = flags == 1
        final = final_row(header["layers"], header.get("num_layers"), header.get("row_kinds"))
        problem = flag_problem(undefined, status, final)
        if problem:
            _fail(problem)
    if payload.get("kl") is None:
        return
    kl = binary_field(payload, "kl", "<f4", status.size, "float32 [L, P]").reshape(status.shape)
    flat = kl_problem(kl, status == 0, undefined, METRIC_SLACK)
    if flat is not None:
        _fail(
            f"kl{_index(flat, kl.shape)} is {_describe(kl.ravel()[flat])}; KL divergences must "
            "be finite numbers >= 0 (nats), NaN only at a position whose model output is not "
            "finite (flagged in the per-position KL flags, docs/data-format.md)"
        )


def _check_target_list(targets: Any) -> int:
    """Check the payload's ``targets`` list; returns how many there are (T)."""
    if not isinstance(targets, (list, tuple)):
        _fail(f"targets must be a list of {_TARGET}, got {_describe(targets)}")
    seen: dict[str, int] = {}
    for t, target in enumerate(targets):
        if not isinstance(target, Mapping) or "name" not in target or "ids" not in target:
            _fail(f"targets[{t}] must be {_TARGET}, got {_describe(target)}")
        name = check_text(target["name"], f"targets[{t}]['name']")
        if not name:
            _fail(f"targets[{t}]['name'] is empty; every target needs a name")
        if name in seen:
            _fail(
                f"targets[{t}]['name'] {name!r} is also targets[{seen[name]}]'s: target names "
                "must be unique"
            )
        seen[name] = t
        ids = _ints(target["ids"], f"targets[{t}]['ids']")
        if not ids:
            _fail(f"targets[{t}]['ids'] is empty; a target needs at least one token id")
    return len(targets)


def _check_targets(payload: Mapping[str, Any], computed: np.ndarray) -> None:
    """``targets`` with their exact log-probabilities and ranks, all three or none."""
    arrays = ("target_logprobs", "target_ranks")
    if payload.get("targets") is None:
        given = [key for key in arrays if payload.get(key) is not None]
        if given:
            _fail(
                f"{given[0]} is given without targets: it holds one [L, P] block per target, "
                "so the payload needs targets too"
            )
        return
    n_targets = _check_target_list(payload["targets"])
    for key in arrays:
        if payload.get(key) is None:
            _fail(
                f"{key} is missing: a payload with targets needs target_logprobs and "
                "target_ranks ([T, L, P] each)"
            )
    shape = (n_targets, *computed.shape)
    flagged = ~np.broadcast_to(computed, shape)
    logprobs = binary_field(
        payload, "target_logprobs", "<f4", int(np.prod(shape)), "float32 [T, L, P]"
    ).reshape(shape)
    with np.errstate(invalid="ignore"):
        bad = ~flagged & ~(logprobs <= METRIC_SLACK)  # NaN fails, -Infinity passes
    if bad.any():
        flat = int(np.flatnonzero(bad)[0])
        _fail(
            f"target_logprobs{_index(flat, shape)} is {_describe(logprobs.ravel()[flat])}; "
            "log-probabilities must be numbers <= 0 (-Infinity for a probability of 0)"
        )
    ranks = binary_field(
        payload, "target_ranks", "<i4", int(np.prod(shape)), "int32 [T, L, P]"
    ).reshape(shape)
    bad = ~flagged & (ranks < 1)
    if bad.any():
        flat = int(np.flatnonzero(bad)[0])
        _fail(
            f"target_ranks{_index(flat, shape)} is {ranks.ravel()[flat]}; ranks are integers "
            ">= 1 (1 = the most probable token)"
        )


def _row_kinds(values: Any, layers: list[int]) -> list[int]:
    """Check ``row_kinds`` (docs/data-format.md §3), one kind per lens row.

    0 is after the layer, 1 after its attention (before its MLP); a row of kind 1 is followed
    by the kind-0 row of the same layer, so the view never shows an attention half alone.
    """
    if not isinstance(values, (list, tuple)):
        _fail(f"row_kinds must be a list of integers, got {_describe(values)}")
    if len(values) != len(layers):
        _fail(
            f"row_kinds has {len(values)} values for {len(layers)} lens rows (one per layers entry)"
        )
    kinds = []
    for i, value in enumerate(values):
        kind = as_int(value)
        if kind not in (0, 1):
            _fail(
                f"row_kinds[{i}] is {_describe(value)}; a lens row's kind is 0 (after the "
                "layer) or 1 (after the layer's attention, before its MLP)"
            )
        kinds.append(kind)
    for i, kind in enumerate(kinds):
        if kind == 1 and (i + 1 == len(kinds) or kinds[i + 1] != 0 or layers[i + 1] != layers[i]):
            _fail(
                f"row_kinds[{i}] is 1 (layer {layers[i]} after attention), but the next lens row "
                f"is not layer {layers[i]}'s output: an after-attention row must be followed by "
                "a row of kind 0 of the same layer"
            )
    return kinds
