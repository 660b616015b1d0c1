"""A collection dict's arrays, read and checked once for every output that uses them.

``collect_logit_lens`` returns the collection dict (docs/data-format.md §1) as tensors or
numpy arrays; the widget payload (:mod:`.formats`) and figures (``output.figure_collection``)
both read it through these functions, so the two refuse the same data with the same message.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from .checked import ID_MAX, integer, numbers_array
from .kl_reference import final_row
from .validate import check_text

__all__ = [
    "REQUIRED",
    "as_array",
    "cell_status",
    "check_collection",
    "ints",
    "invalid_mask",
    "kl_undefined",
    "model_name",
    "or_empty",
    "shaped",
    "sorted_tracking",
    "texts",
    "token_ids",
    "topk_probs",
    "vocab_key",
    "vocab_lookup",
]

#: The keys every collection dict has.
REQUIRED = ("input", "layers", "topk", "tracked", "probs", "vocab")


def as_array(value: Any, dtype: type, name: str) -> np.ndarray:
    """A numpy copy of a tensor, array or nested list in ``dtype``, refused if that changes it."""
    return numbers_array(value, dtype, name)


def token_ids(value: Any, name: str) -> np.ndarray:
    """Token ids as int64, each a whole number in int32's range (how they travel)."""
    return numbers_array(value, np.int64, name, 0, ID_MAX, "token ids")


def ints(values: Any, name: str, low: int = 0) -> list[int]:
    """A list of plain ints (``layers``, ``input_ids``, ...); bools and fractions refused."""
    return [integer(v, f"{name}[{i}]", low) for i, v in enumerate(values)]


def texts(values: Any, name: str) -> list[str]:
    """A list of strings: None or a number is refused, not shown as "None"."""
    return [check_text(t, f"{name}[{i}]") for i, t in enumerate(values)]


def or_empty(values: Any) -> Any:
    """``values``, or an empty list for None."""
    return [] if values is None else values  # not `or`: a tensor has no truth value


def model_name(data: Mapping[str, Any]) -> str:
    """The dict's model name, checked as text (empty when it has none)."""
    name = data.get("model")
    return "" if name is None else check_text(name, "model")


def check_collection(data: Mapping[str, Any]) -> tuple[int, int, int]:
    """Validate a collection dict's shapes; returns (n_layers, n_positions, k)."""
    missing = [key for key in REQUIRED if key not in data]
    if missing:
        raise ValueError(
            f"collection dict is missing {missing}; expected the dict returned by "
            "collect_logit_lens() (keys: " + ", ".join(REQUIRED) + ")"
        )
    ints(data["layers"], "layers")
    topk = token_ids(data["topk"], "topk")
    n_layers, n_pos = len(data["layers"]), len(data["input"])
    if topk.ndim != 3 or topk.shape[:2] != (n_layers, n_pos):
        raise ValueError(
            f"topk has shape {topk.shape}, expected [n_layers={n_layers}, n_positions={n_pos}, k]"
        )
    if len(data["tracked"]) != n_pos or len(data["probs"]) != n_pos:
        raise ValueError(
            f"tracked and probs need one entry per position ({n_pos}); got "
            f"{len(data['tracked'])} and {len(data['probs'])}"
        )
    for pos, (ids, traj) in enumerate(zip(data["tracked"], data["probs"], strict=True)):
        shape = tuple(np.shape(as_array(traj, np.float32, f"probs[{pos}]")))
        if shape != (n_layers, len(ids)):
            raise ValueError(
                f"probs[{pos}] has shape {shape}, expected [n_layers={n_layers}, "
                f"n_tracked={len(ids)}]"
            )
    return n_layers, n_pos, topk.shape[2]


def vocab_lookup(vocab: Mapping[Any, str], ids: np.ndarray) -> dict[str, str]:
    """The strings of ``ids`` keyed by decimal id, refused when the vocab lacks one."""
    table = {vocab_key(key): text for key, text in vocab.items()}
    unknown = sorted({int(i) for i in ids.ravel()} - table.keys())
    if unknown:
        raise ValueError(f"vocab has no string for token ids {unknown[:10]}")
    return {str(i): table[i] for i in sorted({int(i) for i in ids.ravel()})}


def topk_probs(data: Mapping[str, Any], topk: np.ndarray) -> np.ndarray:
    """The top-k probabilities, read from the trajectories when the dict lacks them."""
    if data.get("topk_probs") is not None:
        return as_array(data["topk_probs"], np.float32, "topk_probs")
    out = np.empty(topk.shape, dtype=np.float32)
    for pos, (ids, traj) in enumerate(zip(data["tracked"], data["probs"], strict=True)):
        column = {int(t): c for c, t in enumerate(token_ids(ids, f"tracked[{pos}]"))}
        try:
            index = np.vectorize(column.__getitem__, otypes=[np.int64])(topk[:, pos, :])
        except KeyError as exc:
            raise ValueError(
                f"top-k id {exc} of position {pos} is not among its tracked ids"
            ) from None
        probs = as_array(traj, np.float32, f"probs[{pos}]")
        out[:, pos, :] = np.take_along_axis(probs, index, axis=1)
    return out


def sorted_tracking(data: Mapping[str, Any]) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Each position's tracked ids in increasing order with their [n, L] trajectories.

    The browser finds a trajectory by binary search over the ids, so order matters; the
    [L, n] → [n, L] transpose gives each token's whole trajectory as one contiguous row.
    Ids from the engine and the live widget are sorted already: they are only checked
    (one comparison per id), and sorted here when a hand-made dict lists them in another
    order.
    """
    tracked, trajectories = [], []
    for pos, (ids, probs) in enumerate(zip(data["tracked"], data["probs"], strict=True)):
        ids = token_ids(ids, f"tracked[{pos}]")
        # a view: the copy is the payload's concat
        by_token = as_array(probs, np.float32, f"probs[{pos}]").T
        if not np.all(ids[1:] > ids[:-1]):
            order = np.argsort(ids, kind="stable")
            ids, by_token = ids[order], by_token[order]
            if np.any(ids[1:] == ids[:-1]):
                raise ValueError(f"tracked ids of position {pos} repeat an id: {ids.tolist()[:10]}")
        tracked.append(ids.astype(np.int32))
        trajectories.append(by_token)
    return tracked, trajectories


def kl_undefined(
    data: Mapping[str, Any], status: np.ndarray | None, n_layers: int, n_pos: int
) -> np.ndarray:
    """Positions whose KL reference (the model's output) is not finite, as bool ``[P]``.

    The collection's ``kl_undefined``, or, without it, the positions whose model-output row
    (the last layer's, when the lens rows hold it) is invalid.
    """
    if data.get("kl_undefined") is not None:
        value = data["kl_undefined"]
        if hasattr(value, "detach"):
            value = value.detach().cpu().numpy()
        if np.asarray(value).dtype != np.bool_:
            value = numbers_array(value, np.uint8, "kl_undefined", 0, 1)
        flags = np.asarray(value, bool)
        if flags.shape != (n_pos,):
            raise ValueError(f"kl_undefined has shape {list(flags.shape)}, expected [{n_pos}]")
        return flags
    num = data.get("num_layers")
    num = None if num is None else integer(num, "num_layers", 1)
    final = final_row(ints(data["layers"], "layers"), num, data.get("row_kinds"))
    if final is None or status is None:
        return np.zeros(n_pos, bool)
    return status[final] == 1


def shaped(value: Any, dtype: Any, shape: tuple[int, ...], name: str) -> np.ndarray:
    """``value`` as ``dtype``, refused unless its shape is ``shape``."""
    array = as_array(value, dtype, name)
    if array.shape != shape:
        raise ValueError(f"{name} has shape {list(array.shape)}, expected {list(shape)}")
    return array


def cell_status(data: Mapping[str, Any], n_layers: int, n_pos: int) -> np.ndarray | None:
    """Per-cell status (0 computed, 1 invalid, 2 pending), or None when every cell is fine.

    From ``cell_status`` (the live widget's runs) or the collection's ``invalid`` mask.
    """
    if data.get("cell_status") is not None:
        status = numbers_array(data["cell_status"], np.uint8, "cell_status", 0, 2)
    elif data.get("invalid") is not None:
        status = invalid_mask(data["invalid"])
    else:
        return None
    if status.shape != (n_layers, n_pos):
        raise ValueError(f"cell status has shape {status.shape}, expected [{n_layers}, {n_pos}]")
    return status if status.any() else None


def invalid_mask(value: Any) -> np.ndarray:
    """The collection's ``invalid`` mask as uint8 status: booleans, or 0 and 1."""
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    if np.asarray(value).dtype == np.bool_:
        return np.asarray(value).astype(np.uint8)
    return numbers_array(value, np.uint8, "invalid", 0, 1)


def vocab_key(key: Any) -> int:
    """A vocab key: an id, or an id written in decimal (JSON keys are strings)."""
    if isinstance(key, str) and key.isdecimal() and key.isascii():
        return int(key)
    return integer(key, f"vocab key {key!r}")
