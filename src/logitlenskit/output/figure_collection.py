"""Figures: a collection dict's arrays, checked by the payload's rules without packing them.

A figure of a collection dict (``collect_logit_lens``'s, docs/data-format.md §1) reads the
dict's own numpy arrays. They are checked as the widget checks its data (``formats``'s
shape checks, then ``validate_payload``'s value rules over zero-copy views of the same
arrays), so data the widget refuses is refused here too, with the same message, and the
grid's arrays are never packed into bytes for a payload nobody will send.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..base import collection, formats
from ..base.checked import integer
from ..base.validate import validate_payload

__all__ = ["Collection", "checked_collection"]


@dataclass
class Collection:
    """A checked collection dict's arrays (flagged cells keep whatever numbers they had)."""

    model: str
    input: list[str]
    layers: list[int]
    num_layers: int | None
    vocab: dict[int, str]  # the ids of topk and tracked only, as the payload keeps them
    topk: np.ndarray  # int32 [L, P, k]
    topk_probs: np.ndarray  # float32 [L, P, k]
    tracked: list[np.ndarray]  # per position: int32 [n], increasing
    probs: list[np.ndarray]  # per position: float32 [L, n]
    entropy: np.ndarray | None  # float32 [L, P]
    kl: np.ndarray | None  # float32 [L, P]
    status: np.ndarray  # uint8 [L, P]
    targets: list[dict[str, Any]]
    target_logprobs: np.ndarray | None  # float32 [T, L, P]
    target_ranks: np.ndarray | None  # int32 [T, L, P]


def checked_collection(data: Mapping[str, Any]) -> Collection:
    """The arrays of ``data``, refused as ``to_widget_payload`` would refuse them.

    Raises:
        ValueError: a key is missing or the arrays disagree (``InvalidDataError`` for a
            value that breaks docs/data-format.md, e.g. a NaN probability).
    """
    n_layers, n_pos, _ = collection.check_collection(data)
    ids = collection.token_ids(data["topk"], "topk")
    topk = ids.astype(np.int32)
    tracked, trajectories = collection.sorted_tracking(data)  # ids sorted, [n, L] each
    status = collection.cell_status(data, n_layers, n_pos)
    entropy = _optional(data, "entropy", (n_layers, n_pos))
    kl = _optional(data, "kl", (n_layers, n_pos))
    targets, logprobs, ranks = _targets(data, n_layers, n_pos)
    out = Collection(
        model=collection.model_name(data),
        input=collection.texts(data["input"], "input"),
        layers=collection.ints(data["layers"], "layers"),
        num_layers=None,
        vocab={},
        topk=topk,
        topk_probs=collection.topk_probs(data, ids),
        tracked=tracked,
        probs=[t.T for t in trajectories],
        entropy=entropy,
        kl=kl,
        status=np.zeros((n_layers, n_pos), np.uint8) if status is None else status,
        targets=targets,
        target_logprobs=logprobs,
        target_ranks=ranks,
    )
    if data.get("num_layers") is not None:
        out.num_layers = integer(data["num_layers"], "num_layers", 1)
    used = np.concatenate([topk.ravel(), *tracked])
    lookup = collection.vocab_lookup(data["vocab"], used)
    out.vocab = {int(key): text for key, text in lookup.items()}
    validate_payload(_views(out, lookup, trajectories, _kl_flags(data, status, out), data))
    return out


def _optional(data: Mapping[str, Any], key: str, shape: tuple[int, ...]) -> np.ndarray | None:
    if data.get(key) is None:
        return None
    return collection.shaped(data[key], np.float32, shape, key)


def _targets(data: Mapping[str, Any], n_layers: int, n_pos: int) -> tuple[list, Any, Any]:
    if not data.get("targets"):
        return [], None, None
    targets = [
        {"name": t["name"], "ids": collection.ints(t["ids"], f"targets[{i}]['ids']")}
        for i, t in enumerate(data["targets"])
    ]
    shape = (len(targets), n_layers, n_pos)
    logprobs = collection.shaped(data["target_logprobs"], np.float32, shape, "target_logprobs")
    ranks = collection.shaped(data["target_ranks"], np.int64, shape, "target_ranks")
    return targets, logprobs, ranks.astype(np.int32)


def _kl_flags(data: Mapping[str, Any], status: Any, out: Collection) -> np.ndarray | None:
    if out.kl is None:
        return None
    flags = collection.kl_undefined(data, status, len(out.layers), len(out.input))
    return flags.astype(np.uint8) if flags.any() else None


def _views(
    out: Collection,
    vocab: dict[str, str],
    trajectories: list[np.ndarray],
    kl_undefined: np.ndarray | None,
    data: Mapping[str, Any],
) -> dict[str, Any]:
    """The payload ``validate_payload`` checks: memoryviews of ``out``'s arrays, no bytes.

    Only the tracked ids and trajectories are joined, since the payload holds them flat.
    """
    n_layers = len(out.layers)
    sizes = [len(ids) for ids in out.tracked]
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int32)
    flat_ids = np.concatenate(out.tracked) if out.tracked else np.zeros(0, np.int32)
    flat_probs = np.concatenate(trajectories) if trajectories else np.zeros((0, n_layers))

    def view(array: np.ndarray, dtype: Any) -> memoryview:
        return memoryview(np.ascontiguousarray(array, dtype=dtype))

    payload: dict[str, Any] = {
        "version": formats.PAYLOAD_VERSION,
        "model": out.model,
        "input": out.input,
        "layers": out.layers,
        "k": int(out.topk.shape[2]),
        "vocab": vocab,
        "topk_ids": view(out.topk, np.int32),
        "topk_probs": view(out.topk_probs, np.float32),
        "tracked_offsets": view(offsets, np.int32),
        "tracked_ids": view(flat_ids, np.int32),
        "tracked_probs": view(flat_probs, np.float32),
        "num_layers": out.num_layers,
        "cell_status": view(out.status, np.uint8) if out.status.any() else None,
        "entropy": None if out.entropy is None else view(out.entropy, np.float32),
        "kl": None if out.kl is None else view(out.kl, np.float32),
        "kl_undefined": None if kl_undefined is None else view(kl_undefined, np.uint8),
    }
    if out.targets:
        payload["targets"] = out.targets
        payload["target_logprobs"] = view(out.target_logprobs, np.float32)
        payload["target_ranks"] = view(out.target_ranks, np.int32)
    if data.get("input_ids") is not None:
        payload["input_ids"] = collection.ints(data["input_ids"], "input_ids")
    # [P] or one per row: small enough to pack, and packed as the widget packs them.
    payload.update(formats.generation_fields(data, len(out.input)))
    return payload
