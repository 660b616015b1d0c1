"""Conversions between the collection dict, the seed V2 JSON and the widget payload.

See docs/data-format.md for the three formats. Tokens are identified by id everywhere but in
V2 JSON, whose string keys cannot tell apart two ids that decode to the same text.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from .checked import integer
from .collection import (
    as_array,
    cell_status,
    check_collection,
    ints,
    kl_undefined,
    model_name,
    or_empty,
    shaped,
    sorted_tracking,
    texts,
    token_ids,
    topk_probs,
    vocab_key,
    vocab_lookup,
)
from .edit_records import check_edit_records
from .lens_fields import check_lens_name, check_reliability
from .validate import validate_data, validate_payload, validate_v2

__all__ = [
    "PAYLOAD_VERSION",
    "format_data_for_widget",
    "from_topk_efficient",
    "generation_fields",
    "to_js_format",
    "to_widget_payload",
    "widget_payload",
]

PAYLOAD_VERSION = 3


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
    n_layers, n_pos, k = check_collection(data)
    topk = token_ids(data["topk"], "topk")
    tracked, trajectories = sorted_tracking(data)
    offsets = np.concatenate([[0], np.cumsum([len(ids) for ids in tracked])]).astype("<i4")
    flat_ids = np.concatenate(tracked) if tracked else np.zeros(0, np.int32)
    flat_probs = np.concatenate(trajectories) if trajectories else np.zeros((0, n_layers))
    status = cell_status(data, n_layers, n_pos)
    probs_at_topk = topk_probs(data, topk)
    entropy = None
    if data.get("entropy") is not None:
        entropy = as_array(data["entropy"], np.float32, "entropy")
    if status is not None:
        # Flagged cells carry no numbers (NaN from non-finite model output, nothing yet for
        # pending ones); zeros keep the wire format strict and cell_status says why.
        flagged = status != 0
        probs_at_topk[flagged] = 0
        owner = np.repeat(np.arange(n_pos), np.diff(offsets))
        flat_probs = np.where(flagged[:, owner].T, 0.0, flat_probs)
        if entropy is not None and entropy.shape == flagged.shape:
            entropy = np.where(flagged, 0.0, entropy)
    payload: dict[str, Any] = {
        "version": PAYLOAD_VERSION,
        "model": model_name(data),
        "input": texts(data["input"], "input"),
        "input_ids": ints(or_empty(data.get("input_ids")), "input_ids"),
        "layers": ints(data["layers"], "layers"),
        "k": int(k),
        "vocab": vocab_lookup(data["vocab"], np.concatenate([topk.ravel(), flat_ids])),
        "topk_ids": topk.astype("<i4").tobytes(),
        "topk_probs": probs_at_topk.astype("<f4").tobytes(),
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
    payload.update(generation_fields(data, n_pos))
    return validate_payload(payload)


def generation_fields(data: Mapping[str, Any], n_pos: int) -> dict[str, Any]:
    """The payload's optional generation and row fields.

    Position and row kinds, commitment, the edits that made the run (:mod:`.edit_records`),
    and the lens that decoded it with its reliability (:mod:`.lens_fields`).
    """
    fields: dict[str, Any] = {}
    if data.get("position_kinds") is not None:
        kinds = shaped(data["position_kinds"], np.uint8, (n_pos,), "position_kinds")
        fields["position_kinds"] = kinds.tobytes()
    if data.get("row_kinds") is not None:
        fields["row_kinds"] = ints(data["row_kinds"], "row_kinds")
    if data.get("edits"):
        fields["edits"] = check_edit_records(data["edits"], data.get("num_layers"), n_pos)
    if data.get("lens"):
        fields["lens"] = check_lens_name(data["lens"])
    if data.get("lens_reliability"):
        fields["lens_reliability"] = check_reliability(
            data["lens_reliability"], len(data["layers"])
        )
    for name in ("commitment", "entered_topk"):
        if data.get(name) is not None:
            fields[name] = shaped(data[name], np.int64, (n_pos,), name).astype("<i4").tobytes()
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
        kl = shaped(data["kl"], np.float32, (n_layers, n_pos), "kl")
        fields["kl"] = np.where(flagged, 0.0, kl).astype("<f4").tobytes()
        undefined = kl_undefined(data, status, n_layers, n_pos)
        if undefined.any():
            fields["kl_undefined"] = undefined.astype(np.uint8).tobytes()
    if data.get("targets"):
        targets = [
            {"name": t["name"], "ids": ints(t["ids"], f"targets[{i}]['ids']")}
            for i, t in enumerate(data["targets"])
        ]
        shape = (len(targets), n_layers, n_pos)
        log_p = shaped(data["target_logprobs"], np.float32, shape, "target_logprobs")
        ranks = shaped(data["target_ranks"], np.int64, shape, "target_ranks")
        fields["targets"] = targets
        fields["target_logprobs"] = np.where(flagged, 0.0, log_p).astype("<f4").tobytes()
        fields["target_ranks"] = np.where(flagged, 1, ranks).astype("<i4").tobytes()
    return fields


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
    n_layers, n_pos, _ = check_collection(data)
    status = cell_status(data, n_layers, n_pos)
    if status is not None:
        layers, positions = np.nonzero(status)
        raise ValueError(
            f"{len(layers)} cells have no valid probabilities (non-finite model output or not "
            f"computed yet; first at layer {int(data['layers'][layers[0]])}, position "
            f"{int(positions[0])}) and V2 JSON has no way to mark them: show this data with "
            "LogitLensWidget(data) or export the widget payload instead"
        )
    vocab = {vocab_key(key): text for key, text in data["vocab"].items()}
    topk = token_ids(data["topk"], "topk")
    tracked = [token_ids(ids, f"tracked[{pos}]") for pos, ids in enumerate(data["tracked"])]
    keys = _v2_keys(np.concatenate([topk.ravel(), *tracked]), vocab)
    topk_js = [
        [[keys[int(i)] for i in topk[li, pos]] for pos in range(n_pos)] for li in range(n_layers)
    ]
    tracked_js = []
    for pos, (ids, traj) in enumerate(zip(tracked, data["probs"], strict=True)):
        traj = as_array(traj, np.float64, f"probs[{pos}]")
        tracked_js.append(
            {
                keys[int(token_id)]: [_significant(p) for p in traj[:, column]]
                for column, token_id in enumerate(ids)
            }
        )
    return validate_v2(
        {
            "meta": {
                "version": 2,
                "model": model_name(data),
                # An edited run's file says so (the seed format has no other place for it).
                **({"edits": check_edit_records(data["edits"])} if data.get("edits") else {}),
            },
            "input": list(data["input"]),
            "layers": ints(data["layers"], "layers"),
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
    topk = token_ids(data["top_indices"], "top_indices")
    tracked = [
        token_ids(ids, f"tracked_indices[{p}]") for p, ids in enumerate(data["tracked_indices"])
    ]
    all_ids = sorted({int(i) for i in topk.ravel()}.union(*(set(t.tolist()) for t in tracked)))
    strings = tokenizer.batch_decode([[i] for i in all_ids])
    return {
        "model": model_name(data),
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
