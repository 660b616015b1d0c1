"""Checks on logit-lens data that comes from outside: seed V2 JSON and version-3 payloads.

The widget shows whatever numbers it is given, and people draw conclusions from them, so data
is checked in Python before it reaches the browser or a saved page (docs/data-format.md,
"What is validated, and how errors look"). Every failure raises :class:`InvalidDataError`
(a ``ValueError``) with one message that names the field, the index and the rule, e.g.::

    tracked[3][' Paris'][12] is NaN; probabilities must be finite numbers in [0, 1]

Numeric checks are vectorized, so a 5,000-token payload is checked in milliseconds.
"""

from __future__ import annotations

import math
import numbers
import operator
import re
from collections.abc import Mapping
from itertools import chain
from typing import Any, NoReturn

import numpy as np

from .kl_reference import final_row, flag_problem, kl_problem

__all__ = [
    "ENTROPY_SLACK",
    "MAX_K",
    "MAX_PAYLOAD_BYTES",
    "METRIC_SLACK",
    "InvalidDataError",
    "as_int",
    "binary_field",
    "cell_status_field",
    "check_text",
    "validate_data",
    "validate_payload",
    "validate_v2",
]

# Real lenses use k = 5..50 and at most a few hundred; a top-k of 10,000 makes the browser
# allocate L·P·10,000 slots for a grid that shows one token per cell.
MAX_K = 1024
# What the browser holds for one view (typed arrays plus token text). 512 MiB admits an
# 80-layer model on a 5,000-token prompt with k = 10 (about 200 MB) with room to spare, and
# refuses the 683 MB payload of an accidental huge k.
MAX_PAYLOAD_BYTES = 512 * 2**20
# Integers travel to the browser as JSON numbers, exact only below 2**53.
_JS_SAFE_INT = 2**53
_PROBS = "probabilities must be finite numbers in [0, 1]"
_STATUS = {0: "computed", 1: "invalid", 2: "pending"}
_KINDS = {0: "prompt text", 1: "chat template or special token", 2: "generated"}
_SURROGATE = re.compile("[\ud800-\udfff]")
_ID_KEY = re.compile(r"0|[1-9][0-9]*")
#: Entropies are float32 sums over the vocabulary: a one-hot row can round to a tiny negative
#: (about 1e-7; the slack keeps a wide margin). frontend/schema.js carries the same number.
ENTROPY_SLACK = 1e-5
#: KL divergences and log-probabilities are computed exactly but stored as float32: a cell equal
#: to the output (KL 0) or a certain target (log p 0) may round a hair past 0.
METRIC_SLACK = 1e-6
_TARGET = "{'name': str, 'ids': [token ids]}"


class InvalidDataError(ValueError):
    """Logit-lens data that breaks docs/data-format.md; the message names field and index."""


def _fail(message: str) -> NoReturn:
    raise InvalidDataError(message)


def _describe(value: Any) -> str:
    """A bad value as a message shows it: NaN, Infinity, 7.0, 'abc', or its type."""
    if isinstance(value, (float, np.floating)):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return repr(float(value))
    if isinstance(value, (bool, int, str)) or value is None:
        return repr(value)
    if isinstance(value, np.integer):
        return repr(int(value))
    if isinstance(value, (list, tuple)):
        return f"a {type(value).__name__} of {len(value)}"
    return f"a {type(value).__module__}.{type(value).__name__}".replace("builtins.", "")


def as_int(value: Any) -> int | None:
    """The integer behind an int, numpy or torch integer; None for bools and non-integers.

    Bools are refused because ``True`` is almost always a mistake where a count or an id is
    expected (Python would silently read it as 1).
    """
    if isinstance(value, bool) or "bool" in str(getattr(value, "dtype", "")):
        return None
    try:
        return operator.index(value)
    except TypeError:
        return None


def check_text(value: Any, name: str) -> str:
    """Check that ``value`` is a ``str`` that can be sent to a browser and saved as UTF-8.

    Args:
        value: the text.
        name: how messages name it (e.g. ``"title"`` or ``"input[3]"``).

    Returns:
        ``value`` unchanged.

    Raises:
        InvalidDataError: not a string, or it holds a lone surrogate (a half of a UTF-16
            pair, e.g. from ``bytes.decode(errors="surrogateescape")``), which UTF-8 cannot
            encode.
    """
    if not isinstance(value, str):
        _fail(f"{name} must be a string, got {_describe(value)}")
    found = _SURROGATE.search(value)
    if found:
        _fail(
            f"{name} holds a lone surrogate {found.group()!r} at character {found.start()}, "
            "which is not valid Unicode and cannot be shown or saved: remove it, or decode "
            "the original bytes with errors='replace'"
        )
    return value


def _strings(values: Any, name: str) -> list[str]:
    if not isinstance(values, (list, tuple)):
        _fail(f"{name} must be a list of strings, got {_describe(values)}")
    for i, text in enumerate(values):
        if not isinstance(text, str):
            _fail(f"{name}[{i}] must be a string, got {_describe(text)}")
    # One regex pass over all strings; the slow per-string pass only runs to name a culprit.
    if _SURROGATE.search("".join(values)):
        for i, text in enumerate(values):
            check_text(text, f"{name}[{i}]")
    return list(values)


def _int(value: Any, name: str, low: int = 0, high: int = _JS_SAFE_INT - 1) -> int:
    number = as_int(value)
    if number is None:
        _fail(f"{name} must be an integer, got {_describe(value)}")
    if not low <= number <= high:
        _fail(f"{name} is {number}; it must be between {low} and {high}")
    return number


def _ints(values: Any, name: str, low: int = 0) -> list[int]:
    if not isinstance(values, (list, tuple)):
        _fail(f"{name} must be a list of integers, got {_describe(values)}")
    return [_int(v, f"{name}[{i}]", low) for i, v in enumerate(values)]


def _check_size(n_bytes: int, detail: str) -> None:
    if n_bytes > MAX_PAYLOAD_BYTES:
        _fail(
            f"the data would take {n_bytes / 1e6:,.0f} MB in the browser ({detail}), over "
            f"the {MAX_PAYLOAD_BYTES // 2**20} MiB limit: collect fewer layers, a shorter "
            "prompt or a smaller k"
        )


def _check_k(k: int) -> None:
    if k > MAX_K:
        _fail(
            f"k is {k}: at most {MAX_K} predictions per cell are supported (the grid shows "
            "one per cell and the popup a few): collect with a smaller k"
        )


def _index(flat: int, shape: tuple[int, ...]) -> str:
    return "".join(f"[{i}]" for i in np.unravel_index(flat, shape))


# ---------------------------------------------------------------- version-3 payload


def binary_field(
    payload: Mapping[str, Any], key: str, dtype: str, count: int, layout: str
) -> np.ndarray:
    """A payload's little-endian bytes field as a flat array (no copy), its length checked.

    Raises:
        InvalidDataError: not bytes, or not ``count`` values of ``dtype``.
    """
    value = payload[key]
    if not isinstance(value, (bytes, bytearray, memoryview)):
        _fail(
            f"{key} must be bytes holding {layout} little-endian, got {_describe(value)}: "
            f"convert with numpy, array.astype('{dtype}').tobytes()"
        )
    view = memoryview(value)
    if not view.c_contiguous:
        _fail(f"{key} is a non-contiguous memoryview; pass bytes(...) of it")
    size = np.dtype(dtype).itemsize
    if view.nbytes != count * size:
        _fail(
            f"{key} has {view.nbytes} bytes, expected {count * size} "
            f"({layout}: {count} values of {size} bytes)"
        )
    return np.frombuffer(view.cast("B"), dtype=dtype)


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
    return out


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


# ---------------------------------------------------------------- seed V2 JSON


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


def validate_data(data: Mapping[str, Any]) -> dict[str, Any]:
    """Check data the widget shows as it is: a version-3 payload or a seed V2 document.

    Args:
        data: a dict with ``version == 3`` or ``meta.version == 2``.

    Returns:
        The checked data (see :func:`validate_payload` and :func:`validate_v2`).

    Raises:
        InvalidDataError: the first problem found, naming field and index.
    """
    # Dispatch as widget_payload does: a top-level "version" is a payload, "meta" is V2.
    if isinstance(data, Mapping) and "version" in data and "meta" not in data:
        return validate_payload(data)
    return validate_v2(data)
