"""Conversions between the collection dict, the seed V2 JSON and the widget payload.

See docs/data-format.md for the three formats. Tokens are identified by id everywhere but in
V2 JSON, whose string keys cannot tell apart two ids that decode to the same text.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from .checked import ID_MAX, integer, numbers_array
from .kl_reference import final_row
from .validate import check_text, validate_data, validate_payload, validate_v2

__all__ = [
    "PAYLOAD_VERSION",
    "format_data_for_widget",
    "from_topk_efficient",
    "to_js_format",
    "to_widget_payload",
    "widget_payload",
]

PAYLOAD_VERSION = 3
_REQUIRED = ("input", "layers", "topk", "tracked", "probs", "vocab")


def _array(value: Any, dtype: type, name: str) -> np.ndarray:
    """A numpy copy of a tensor, array or nested list in ``dtype``, refused if that changes it."""
    return numbers_array(value, dtype, name)


def _ids(value: Any, name: str) -> np.ndarray:
    """Token ids as int64, each a whole number in int32's range (how they travel)."""
    return numbers_array(value, np.int64, name, 0, ID_MAX, "token ids")


def _ints(values: Any, name: str, low: int = 0) -> list[int]:
    """A list of plain ints (``layers``, ``input_ids``, ...); bools and fractions refused."""
    return [integer(v, f"{name}[{i}]", low) for i, v in enumerate(values)]


def _texts(values: Any, name: str) -> list[str]:
    """A list of strings: None or a number is refused, not shown as "None"."""
    return [check_text(t, f"{name}[{i}]") for i, t in enumerate(values)]


def _or_empty(values: Any) -> Any:
    return [] if values is None else values  # not `or`: a tensor has no truth value


def _model_name(data: Mapping[str, Any]) -> str:
    name = data.get("model")
    return "" if name is None else check_text(name, "model")


def _check_collection(data: Mapping[str, Any]) -> tuple[int, int, int]:
    """Validate a collection dict's shapes; returns (n_layers, n_positions, k)."""
    missing = [key for key in _REQUIRED if key not in data]
    if missing:
        raise ValueError(
            f"collection dict is missing {missing}; expected the dict returned by "
            "collect_logit_lens() (keys: " + ", ".join(_REQUIRED) + ")"
        )
    _ints(data["layers"], "layers")
    topk = _ids(data["topk"], "topk")
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
        shape = tuple(np.shape(_array(traj, np.float32, f"probs[{pos}]")))
        if shape != (n_layers, len(ids)):
            raise ValueError(
                f"probs[{pos}] has shape {shape}, expected [n_layers={n_layers}, "
                f"n_tracked={len(ids)}]"
            )
    return n_layers, n_pos, topk.shape[2]


def _vocab_lookup(vocab: Mapping[Any, str], ids: np.ndarray) -> dict[str, str]:
    table = {_vocab_key(key): text for key, text in vocab.items()}
    unknown = sorted({int(i) for i in ids.ravel()} - table.keys())
    if unknown:
        raise ValueError(f"vocab has no string for token ids {unknown[:10]}")
    return {str(i): table[i] for i in sorted({int(i) for i in ids.ravel()})}


def _topk_probs(data: Mapping[str, Any], topk: np.ndarray) -> np.ndarray:
    """The top-k probabilities, read from the trajectories when the dict lacks them."""
    if data.get("topk_probs") is not None:
        return _array(data["topk_probs"], np.float32, "topk_probs")
    out = np.empty(topk.shape, dtype=np.float32)
    for pos, (ids, traj) in enumerate(zip(data["tracked"], data["probs"], strict=True)):
        column = {int(t): c for c, t in enumerate(_ids(ids, f"tracked[{pos}]"))}
        try:
            index = np.vectorize(column.__getitem__, otypes=[np.int64])(topk[:, pos, :])
        except KeyError as exc:
            raise ValueError(
                f"top-k id {exc} of position {pos} is not among its tracked ids"
            ) from None
        probs = _array(traj, np.float32, f"probs[{pos}]")
        out[:, pos, :] = np.take_along_axis(probs, index, axis=1)
    return out


def _sorted_tracking(data: Mapping[str, Any]) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Each position's tracked ids in increasing order with their [n, L] trajectories.

    The browser finds a trajectory by binary search over the ids, so order matters; the
    [L, n] → [n, L] transpose gives each token's whole trajectory as one contiguous row.
    Ids from the engine and the live widget are sorted already: they are only checked
    (one comparison per id), and sorted here when a hand-made dict lists them in another
    order.
    """
    tracked, trajectories = [], []
    for pos, (ids, probs) in enumerate(zip(data["tracked"], data["probs"], strict=True)):
        ids = _ids(ids, f"tracked[{pos}]")
        # a view: the copy is the payload's concat
        by_token = _array(probs, np.float32, f"probs[{pos}]").T
        if not np.all(ids[1:] > ids[:-1]):
            order = np.argsort(ids, kind="stable")
            ids, by_token = ids[order], by_token[order]
            if np.any(ids[1:] == ids[:-1]):
                raise ValueError(f"tracked ids of position {pos} repeat an id: {ids.tolist()[:10]}")
        tracked.append(ids.astype(np.int32))
        trajectories.append(by_token)
    return tracked, trajectories


def to_widget_payload(data: Mapping[str, Any]) -> dict[str, Any]:
    """Pack a collection dict into the widget payload (docs/data-format.md, version 3).

    Args:
        data: the dict returned by ``collect_logit_lens`` (tensors or numpy arrays).

    Returns:
        A dict whose numeric arrays are little-endian ``bytes``, so they travel to the
        browser as binary buffers.

    Raises:
        ValueError: a key is missing, an array's shape disagrees with the others, or a
            value breaks the format (``validate.validate_payload``: e.g. a NaN probability).
    """
    n_layers, n_pos, k = _check_collection(data)
    topk = _ids(data["topk"], "topk")
    tracked, trajectories = _sorted_tracking(data)
    offsets = np.concatenate([[0], np.cumsum([len(ids) for ids in tracked])]).astype("<i4")
    flat_ids = np.concatenate(tracked) if tracked else np.zeros(0, np.int32)
    flat_probs = np.concatenate(trajectories) if trajectories else np.zeros((0, n_layers))
    status = _cell_status(data, n_layers, n_pos)
    topk_probs = _topk_probs(data, topk)
    entropy = None
    if data.get("entropy") is not None:
        entropy = _array(data["entropy"], np.float32, "entropy")
    if status is not None:
        # Flagged cells carry no numbers (NaN from non-finite model output, nothing yet for
        # pending ones); zeros keep the wire format strict and cell_status says why.
        flagged = status != 0
        topk_probs[flagged] = 0
        owner = np.repeat(np.arange(n_pos), np.diff(offsets))
        flat_probs = np.where(flagged[:, owner].T, 0.0, flat_probs)
        if entropy is not None and entropy.shape == flagged.shape:
            entropy = np.where(flagged, 0.0, entropy)
    payload: dict[str, Any] = {
        "version": PAYLOAD_VERSION,
        "model": _model_name(data),
        "input": _texts(data["input"], "input"),
        "input_ids": _ints(_or_empty(data.get("input_ids")), "input_ids"),
        "layers": _ints(data["layers"], "layers"),
        "k": int(k),
        "vocab": _vocab_lookup(data["vocab"], np.concatenate([topk.ravel(), flat_ids])),
        "topk_ids": topk.astype("<i4").tobytes(),
        "topk_probs": topk_probs.astype("<f4").tobytes(),
        "tracked_offsets": offsets.tobytes(),
        "tracked_ids": flat_ids.astype("<i4").tobytes(),
        "tracked_probs": np.ascontiguousarray(flat_probs, dtype="<f4").tobytes(),
    }
    if data.get("num_layers") is not None:
        payload["num_layers"] = integer(data["num_layers"], "num_layers", 1)
    if entropy is not None:
        if entropy.shape != (n_layers, n_pos):
            raise ValueError(f"entropy has shape {entropy.shape}, expected [{n_layers}, {n_pos}]")
        payload["entropy"] = entropy.astype("<f4").tobytes()
    if status is not None:
        payload["cell_status"] = status.astype(np.uint8).tobytes()
    payload.update(_metric_fields(data, n_layers, n_pos, status))
    payload.update(_generation_fields(data, n_pos))
    return validate_payload(payload)


def _generation_fields(data: Mapping[str, Any], n_pos: int) -> dict[str, Any]:
    """The payload's optional generation and row fields: position and row kinds, commitment."""
    fields: dict[str, Any] = {}
    if data.get("position_kinds") is not None:
        kinds = _shaped(data["position_kinds"], np.uint8, (n_pos,), "position_kinds")
        fields["position_kinds"] = kinds.tobytes()
    if data.get("row_kinds") is not None:
        fields["row_kinds"] = _ints(data["row_kinds"], "row_kinds")
    for name in ("commitment", "entered_topk"):
        if data.get(name) is not None:
            fields[name] = _shaped(data[name], np.int64, (n_pos,), name).astype("<i4").tobytes()
    return fields


def _metric_fields(
    data: Mapping[str, Any], n_layers: int, n_pos: int, status: np.ndarray | None
) -> dict[str, Any]:
    """The payload's optional metric fields: KL and the targets' log-probabilities and ranks.

    Flagged cells carry neutral numbers (0 nats, rank 1), like the other fields.
    """
    flagged = status != 0 if status is not None else np.zeros((n_layers, n_pos), bool)
    fields: dict[str, Any] = {}
    if data.get("kl") is not None:
        kl = _shaped(data["kl"], np.float32, (n_layers, n_pos), "kl")
        fields["kl"] = np.where(flagged, 0.0, kl).astype("<f4").tobytes()
        undefined = _kl_undefined(data, status, n_layers, n_pos)
        if undefined.any():
            fields["kl_undefined"] = undefined.astype(np.uint8).tobytes()
    if data.get("targets"):
        targets = [
            {"name": t["name"], "ids": _ints(t["ids"], f"targets[{i}]['ids']")}
            for i, t in enumerate(data["targets"])
        ]
        shape = (len(targets), n_layers, n_pos)
        log_p = _shaped(data["target_logprobs"], np.float32, shape, "target_logprobs")
        ranks = _shaped(data["target_ranks"], np.int64, shape, "target_ranks")
        fields["targets"] = targets
        fields["target_logprobs"] = np.where(flagged, 0.0, log_p).astype("<f4").tobytes()
        fields["target_ranks"] = np.where(flagged, 1, ranks).astype("<i4").tobytes()
    return fields


def _kl_undefined(
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
    final = final_row(_ints(data["layers"], "layers"), num, data.get("row_kinds"))
    if final is None or status is None:
        return np.zeros(n_pos, bool)
    return status[final] == 1


def _shaped(value: Any, dtype: Any, shape: tuple[int, ...], name: str) -> np.ndarray:
    array = _array(value, dtype, name)
    if array.shape != shape:
        raise ValueError(f"{name} has shape {list(array.shape)}, expected {list(shape)}")
    return array


def _cell_status(data: Mapping[str, Any], n_layers: int, n_pos: int) -> np.ndarray | None:
    """Per-cell status (0 computed, 1 invalid, 2 pending), or None when every cell is fine.

    From ``cell_status`` (the live widget's runs) or the collection's ``invalid`` mask.
    """
    if data.get("cell_status") is not None:
        status = numbers_array(data["cell_status"], np.uint8, "cell_status", 0, 2)
    elif data.get("invalid") is not None:
        status = _invalid_mask(data["invalid"])
    else:
        return None
    if status.shape != (n_layers, n_pos):
        raise ValueError(f"cell status has shape {status.shape}, expected [{n_layers}, {n_pos}]")
    return status if status.any() else None


def _invalid_mask(value: Any) -> np.ndarray:
    """The collection's ``invalid`` mask as uint8 status: booleans, or 0 and 1."""
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    if np.asarray(value).dtype == np.bool_:
        return np.asarray(value).astype(np.uint8)
    return numbers_array(value, np.uint8, "invalid", 0, 1)


def _vocab_key(key: Any) -> int:
    """A vocab key: an id, or an id written in decimal (JSON keys are strings)."""
    if isinstance(key, str) and key.isdecimal() and key.isascii():
        return int(key)
    return integer(key, f"vocab key {key!r}")


def _significant(value: float, digits: int = 5) -> float:
    # The seed rounded to 5 decimals, which turns every probability below 5e-6 into 0 and
    # breaks log-scale charts; 5 significant digits keep small values.
    return float(f"{value:.{digits}g}")


def to_js_format(data: Mapping[str, Any]) -> dict[str, Any]:
    """Convert a collection dict to the seed V2 JSON (logit-lens-tutorial.md, Part 4).

    Args:
        data: the dict returned by ``collect_logit_lens``.

    Returns:
        ``{"meta", "input", "layers", "topk", "tracked"}`` with token strings for ids.
        V2 keys trajectories by string: when several ids decode to the same string, the
        lowest id keeps the plain key and the others get ``"<string>#<id>"`` — in every
        ``tracked`` entry and ``topk`` list alike, so a key means one id everywhere, no
        trajectory is silently overwritten and every top-k string finds its own trajectory.
    """
    n_layers, n_pos, _ = _check_collection(data)
    status = _cell_status(data, n_layers, n_pos)
    if status is not None:
        layers, positions = np.nonzero(status)
        raise ValueError(
            f"{len(layers)} cells have no valid probabilities (non-finite model output or not "
            f"computed yet; first at layer {int(data['layers'][layers[0]])}, position "
            f"{int(positions[0])}) and V2 JSON has no way to mark them: show this data with "
            "LogitLensWidget(data) or export the widget payload instead"
        )
    vocab = {_vocab_key(key): text for key, text in data["vocab"].items()}
    topk = _ids(data["topk"], "topk")
    tracked = [_ids(ids, f"tracked[{pos}]") for pos, ids in enumerate(data["tracked"])]
    keys = _v2_keys(np.concatenate([topk.ravel(), *tracked]), vocab)
    topk_js = [
        [[keys[int(i)] for i in topk[li, pos]] for pos in range(n_pos)] for li in range(n_layers)
    ]
    tracked_js = []
    for pos, (ids, traj) in enumerate(zip(tracked, data["probs"], strict=True)):
        traj = _array(traj, np.float64, f"probs[{pos}]")
        tracked_js.append(
            {
                keys[int(token_id)]: [_significant(p) for p in traj[:, column]]
                for column, token_id in enumerate(ids)
            }
        )
    return validate_v2(
        {
            "meta": {"version": 2, "model": _model_name(data)},
            "input": list(data["input"]),
            "layers": _ints(data["layers"], "layers"),
            "topk": topk_js,
            "tracked": tracked_js,
        }
    )


def _v2_keys(ids: np.ndarray, vocab: Mapping[int, str]) -> dict[int, str]:
    """One distinct V2 key per id, the same at every position."""
    keys: dict[int, str] = {}
    taken: set[str] = set()
    for token_id in sorted({int(i) for i in ids}):
        key = vocab[token_id]
        while key in taken:  # a loop: a real token could already read "<string>#<id>"
            key = f"{key}#{token_id}"
        taken.add(key)
        keys[token_id] = key
    return keys


def from_topk_efficient(data: Mapping[str, Any], tokenizer: Any) -> dict[str, Any]:
    """Turn a ``collect_logit_lens_topk_efficient`` result into a collection dict.

    Args:
        data: a result collected with ``track_across_layers=True`` (keys ``tokens``,
            ``layers``, ``top_indices``, ``top_probs``, ``tracked_indices``,
            ``tracked_probs``).
        tokenizer: the model's tokenizer, to decode the ids.

    Raises:
        ValueError: the result has no trajectories.
    """
    if data.get("tracked_indices") is None or data.get("tracked_probs") is None:
        raise ValueError("the widget needs trajectories: collect with track_across_layers=True")
    topk = _ids(data["top_indices"], "top_indices")
    tracked = [_ids(ids, f"tracked_indices[{p}]") for p, ids in enumerate(data["tracked_indices"])]
    all_ids = sorted({int(i) for i in topk.ravel()}.union(*(set(t.tolist()) for t in tracked)))
    strings = tokenizer.batch_decode([[i] for i in all_ids])
    return {
        "model": _model_name(data),
        "input": list(data["tokens"]),
        "input_ids": list(data.get("input_ids", [])),
        "layers": list(data["layers"]),
        "topk": topk,
        "topk_probs": data.get("top_probs"),
        "tracked": tracked,
        "probs": list(data["tracked_probs"]),
        "entropy": data.get("entropy"),
        "vocab": dict(zip(all_ids, strings, strict=True)),
    }


def format_data_for_widget(data: Mapping[str, Any], tokenizer: Any) -> dict[str, Any]:
    """Convert a ``collect_logit_lens_topk_efficient`` result to widget JSON (seed V2).

    The result is plain JSON (it can be saved with ``json.dump``). ``LogitLensWidget``
    accepts it, but passing the raw result to ``LogitLensWidget(data=...)`` keeps tokens
    keyed by id and is more exact.

    Args:
        data: a result collected with ``track_across_layers=True``.
        tokenizer: the model's tokenizer.
    """
    return to_js_format(from_topk_efficient(data, tokenizer))


def widget_payload(data: Mapping[str, Any]) -> dict[str, Any]:
    """Normalize anything the widget accepts into what its ``data`` trait holds.

    Accepted: the collection dict of ``collect_logit_lens`` (turned into the binary
    version-3 payload), a version-3 payload, or seed V2 JSON (kept as it is; the frontend
    decodes it). ``{}`` means no data yet.

    Raises:
        ValueError: the dict is none of these, or its arrays disagree.
    """
    if not data:
        return {}
    meta = data.get("meta")
    if data.get("version") == PAYLOAD_VERSION or (
        isinstance(meta, Mapping) and meta.get("version") == 2
    ):
        return validate_data(data)
    if "topk" in data:
        return to_widget_payload(data)
    if "top_indices" in data:
        raise ValueError(
            "this looks like a collect_logit_lens_topk_efficient result, which holds ids "
            "only: convert it with the tokenizer first, "
            "LogitLensWidget(data=from_topk_efficient(data, model.tokenizer))"
        )
    raise ValueError(
        "unrecognized logit-lens data: expected the dict from collect_logit_lens(), "
        "seed V2 JSON (to_js_format), or a widget payload; got keys "
        f"{sorted(data)[:8]}"
    )
