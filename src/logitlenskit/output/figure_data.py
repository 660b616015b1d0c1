"""Figures: the numbers a figure draws, read from a collection dict or a version-3 payload.

A figure reads the collection dict's own arrays (docs/data-format.md §1): per position, its
tracked ids and their ``[L, n]`` trajectories. A collection dict given to a figure is read
as it is, never packed into the payload's bytes to be unpacked again; a payload (a widget's
``data``, what its view shows) is read through numpy views of its bytes, in the same form.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..base.edit_records import check_edit_records
from ..base.formats import widget_payload
from ..base.lens_fields import check_lens_name
from ..base.ui_state import UNKNOWN_TOKEN, UIStateTraits
from ..base.validate import binary_field, cell_status_field
from .figure_collection import checked_collection

__all__: list[str] = []


def _id_key(ids: Sequence[int]) -> tuple[int, ...]:
    """A token set's identity, whatever the order or repeats (frontend/lens.js's idKey)."""
    return tuple(sorted({int(i) for i in ids}))


@dataclass
class _Lens:
    """The arrays the grid and the chart read, in the collection dict's form."""

    model: str
    input: list[str]
    layers: list[int]
    k: int
    vocab: dict[int, str]  # the ids of topk and tracked only, as the payload's vocab
    topk_ids: np.ndarray  # [L, P, k]
    topk_probs: np.ndarray  # [L, P, k]
    tracked: list[np.ndarray]  # per position: its tracked ids [n]
    probs: list[np.ndarray]  # per position: their trajectories [L, n]
    entropy: np.ndarray | None  # [L, P]
    kl: np.ndarray | None  # [L, P]
    targets: list[list[int]]  # the data's named targets' ids
    target_logprobs: np.ndarray | None  # [T, L, P], exact
    target_ranks: np.ndarray | None  # [T, L, P], exact
    status: np.ndarray  # [L, P], 0 = computed
    final_row: int
    edits: list[dict[str, Any]] = field(default_factory=list)  # an edited run's records
    lens: str = ""  # the lens that decoded the data ("" or "logit lens": the logit lens)

    @property
    def n_rows(self) -> int:
        return len(self.layers)

    @property
    def n_pos(self) -> int:
        return len(self.input)

    def token(self, token_id: int) -> str:
        return self.vocab.get(token_id, UNKNOWN_TOKEN)

    def target_index(self, ids: Sequence[int]) -> int | None:
        """The data target with exactly these ids, if any."""
        key = _id_key(ids)
        return next((t for t, ids_t in enumerate(self.targets) if _id_key(ids_t) == key), None)

    def exact_log_prob(self, ids: Sequence[int]) -> np.ndarray | None:
        """``[L, P]`` exact log-probability of a data target with exactly these ids."""
        t = self.target_index(ids)
        return None if t is None or self.target_logprobs is None else self.target_logprobs[t]

    def rank(self, ids: Sequence[int]) -> np.ndarray:
        """``[L, P]`` rank of the best of ``ids``, as frontend/lens.js reads it.

        Exact for a data target, else its place in the top-k (0 where none of them is there).
        """
        t = self.target_index(ids)
        if t is not None and self.target_ranks is not None:
            return self.target_ranks[t].astype(float)
        hits = np.isin(self.topk_ids, list(ids))
        return np.where(hits.any(-1), hits.argmax(-1) + 1, 0).astype(float)

    @property
    def max_rank(self) -> int:
        """The rank the rank mode colors palest (frontend/lens.js's ``maxRank``)."""
        ranks = 0
        if self.target_ranks is not None and self.target_ranks.size:
            ranks = int(self.target_ranks[:, self.status == 0].max(initial=0))
        return max(2, self.k + 1, max(self.vocab, default=-1) + 1, ranks)

    def trajectories(self, ids: Sequence[int]) -> np.ndarray:
        """``[L, P]`` summed tracked probability of ``ids`` (NaN where none is tracked)."""
        out = np.full((self.n_rows, self.n_pos), np.nan)
        for p in range(self.n_pos):
            t = self.trajectory(p, ids)
            if t is not None:
                out[:, p] = t
        return out

    def trajectory(self, position: int, ids: Sequence[int]) -> np.ndarray | None:
        """Summed probability of ``ids`` at every lens row; None when none is tracked."""
        columns = np.flatnonzero(np.isin(self.tracked[position], list(ids)))
        if not columns.size:
            return None
        return self.probs[position][:, columns].sum(axis=1)


def _final_row(layers: list[int], num_layers: Any) -> int:
    """The lens row of the model's last layer, else the last row (as the view marks it)."""
    if num_layers is not None and int(num_layers) - 1 in layers:
        return layers.index(int(num_layers) - 1)
    return len(layers) - 1


def _from_payload(payload: Mapping[str, Any]) -> _Lens:
    """A checked version-3 payload, read through views of its bytes (no copies)."""
    layers = [int(x) for x in payload["layers"]]
    n_rows, n_pos, k = len(layers), len(payload["input"]), int(payload["k"])

    def array(key: str, dtype: str, shape: tuple[int, ...]) -> np.ndarray:
        return binary_field(payload, key, dtype, math.prod(shape), key).reshape(shape)

    offsets = array("tracked_offsets", "<i4", (n_pos + 1,))
    n_tracked = int(offsets[-1])
    tracked_ids = array("tracked_ids", "<i4", (n_tracked,))
    tracked_probs = array("tracked_probs", "<f4", (n_tracked, n_rows))
    spans = [(int(offsets[p]), int(offsets[p + 1])) for p in range(n_pos)]
    targets = payload.get("targets") or []
    per_target = (len(targets), n_rows, n_pos)

    def optional(key: str) -> np.ndarray | None:
        return None if payload.get(key) is None else array(key, "<f4", (n_rows, n_pos))

    return _Lens(
        model=str(payload.get("model", "")),
        input=[str(t) for t in payload["input"]],
        layers=layers,
        k=k,
        vocab={int(key): str(text) for key, text in payload["vocab"].items()},
        topk_ids=array("topk_ids", "<i4", (n_rows, n_pos, k)),
        topk_probs=array("topk_probs", "<f4", (n_rows, n_pos, k)),
        tracked=[tracked_ids[lo:hi] for lo, hi in spans],
        probs=[tracked_probs[lo:hi].T for lo, hi in spans],
        entropy=optional("entropy"),
        kl=optional("kl"),
        targets=[[int(i) for i in t["ids"]] for t in targets],
        target_logprobs=array("target_logprobs", "<f4", per_target) if targets else None,
        target_ranks=array("target_ranks", "<i4", per_target) if targets else None,
        status=cell_status_field(payload, n_rows, n_pos),
        final_row=_final_row(layers, payload.get("num_layers")),
        edits=list(payload.get("edits") or []),
        lens=str(payload.get("lens") or ""),
    )


def _from_collection(data: Mapping[str, Any]) -> _Lens:
    """A collection dict's own arrays, checked by the payload's rules (no bytes made)."""
    c = checked_collection(data)
    return _Lens(
        model=c.model,
        input=c.input,
        layers=c.layers,
        k=c.topk.shape[2],
        vocab=c.vocab,
        topk_ids=c.topk,
        topk_probs=c.topk_probs,
        tracked=c.tracked,
        probs=c.probs,
        entropy=c.entropy,
        kl=c.kl,
        targets=[list(t["ids"]) for t in c.targets],
        target_logprobs=c.target_logprobs,
        target_ranks=c.target_ranks,
        status=c.status,
        final_row=_final_row(c.layers, c.num_layers),
        edits=check_edit_records(data["edits"]) if data.get("edits") else [],
        lens=check_lens_name(data["lens"]) if data.get("lens") else "",
    )


def _lens_and_state(source: Any) -> tuple[_Lens, Any]:
    """The data to draw and the UI state (a widget's, or the defaults for bare data)."""
    if isinstance(source, UIStateTraits):
        data, state = getattr(source, "data", {}), source
    elif isinstance(source, Mapping):
        data, state = source, UIStateTraits()
    else:
        raise TypeError(
            f"a figure needs a LogitLensWidget or collected data, got {type(source).__name__}"
        )
    if not data:
        raise ValueError("no data to draw yet: run a prompt or give the widget data first")
    if state is source:  # a widget's data was checked when it was set
        return _checked_payload(data), state
    if "topk" in data and "version" not in data and "meta" not in data:
        return _from_collection(data), state
    return _checked_payload(widget_payload(data)), state  # checks a payload; V2 passes


def _checked_payload(payload: Mapping[str, Any]) -> _Lens:
    if "topk_ids" not in payload:
        raise ValueError(
            "figures need a collection or a version-3 payload, not seed V2 JSON: pass "
            "the dict from collect_logit_lens() to the widget"
        )
    return _from_payload(payload)
