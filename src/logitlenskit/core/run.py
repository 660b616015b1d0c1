"""A lens run's kept state: the result so far, each cell's status, and what follow-ups need.

:mod:`.session` builds runs (a full pass, streamed blocks, NDIF) and answers follow-ups on
them; generation extends them one position at a time (:func:`append_position`).
"""

from __future__ import annotations

import dataclasses
import itertools
from typing import Any

import numpy as np
import torch

from ..base.lens_fields import LOGIT_LENS_NAME
from .edits import records
from .prefix import KeptCache
from .request import LensRequest, layer_count, model_name, token_strings

__all__ = [
    "CACHE_BYTES",
    "DEEP_K",
    "INVALID",
    "OK",
    "PENDING",
    "Cancelled",
    "Control",
    "LensRun",
    "add_vocab",
    "append_position",
    "continued_length",
    "copy_prefix",
    "empty_run",
    "fill",
    "lens_fields",
]

#: Largest hidden-state cache a local run keeps for instant follow-ups (float32 bytes).
CACHE_BYTES = 1 << 30
#: Each cell's top list a local run keeps, as deep as the popup's first deeper list, so a
#: click needs a few dot products instead of a pass over the whole unembedding.
DEEP_K = 20
#: Cell status codes, as in docs/live-loop.md.
OK, INVALID, PENDING = 0, 1, 2

_run_ids = itertools.count(1)


class Cancelled(Exception):  # noqa: N818 (a signal, not an error: nothing failed)
    """The run was abandoned (Stop, or a newer request); its result must not be shown."""


class Control:
    """What a run reports to, and how it is stopped; the default does nothing."""

    def check(self) -> None:
        """Raise :class:`Cancelled` if the run was abandoned."""

    def progress(self, fraction: float, status: str) -> None:
        """Report ``fraction`` (0..1, or -1 when unknown) done and what is happening."""


@dataclasses.dataclass
class LensRun:
    """One collection and its follow-up cache.

    Attributes:
        run_id: identifies the run; extending it (track) keeps the id.
        request: what was asked (model, prompt, input ids, layers, k, remote), checked;
            ``model``, ``prompt``, ``input_ids``, ``layers``, ``k`` and ``remote`` read it.
        result: the collection dict of docs/data-format.md §1 (``tracked``/``probs`` as
            numpy arrays per position).
        status: ``[L, P]`` uint8 cell status (0 ok, 1 invalid, 2 pending).
        lse: ``[L, P]`` log-sum-exp of each cell's logits (NaN where pending).
        normed: final-normed hidden states ``[L, P, d]`` (local runs within
            :data:`CACHE_BYTES`), else None.
        extra: ids tracked at every position.
        deep_ids: ``[L, P, DEEP_K]`` int32 top ids of each cell, best first (-1 where not
            computed: pending cells, NDIF runs).
        kept: the KV cache of its prompt's tokens, for a next prompt that starts with them
            (local runs within :data:`~.prefix.KV_BYTES`), else None.
    """

    run_id: int
    request: LensRequest
    result: dict[str, Any]
    status: np.ndarray
    lse: np.ndarray
    normed: torch.Tensor | None
    extra: list[int]
    deep_ids: np.ndarray
    kept: KeptCache | None = None

    @property
    def model(self) -> Any:
        """The model it ran on."""
        return self.request.model

    @property
    def prompt(self) -> str:
        """The text."""
        return self.request.prompt

    @property
    def input_ids(self) -> list[int]:
        """Its token ids, one per position."""
        return self.request.input_ids

    @property
    def layers(self) -> list[int]:
        """The model layer number of each lens row."""
        return self.request.layers

    @property
    def k(self) -> int:
        """Top-k width."""
        return self.request.k

    @property
    def remote(self) -> bool | str:
        """Where it ran (False, True or "local")."""
        return self.request.remote

    @property
    def complete(self) -> bool:
        """Every cell is computed (none pending)."""
        return not (self.status == PENDING).any()

    def payload_source(self) -> dict[str, Any]:
        """The collection dict with its cell status, ready for ``to_widget_payload``."""
        return {**self.result, "cell_status": self.status}


# ---------------------------------------------------------------- model access


def lens_fields(request: LensRequest) -> dict[str, Any]:
    """The data's record of how it was made: its edits and a lens other than the logit lens."""
    fields: dict[str, Any] = {}
    if request.edits:
        fields["edits"] = records(request.edits)
    if request.readout.name != LOGIT_LENS_NAME:
        fields["lens"] = request.readout.name
    return fields


def empty_run(request: LensRequest, extra: list[int]) -> LensRun:
    """A run whose cells are all pending, with placeholders that keep the format valid."""
    n_rows, n_pos, k = request.n_rows, request.n_positions, request.k
    tokenizer = request.tokenizer
    result = {
        "model": model_name(request.model),
        "input": token_strings(tokenizer, request.input_ids),
        "input_ids": list(request.input_ids),
        "layers": list(request.layers),
        "topk": np.zeros((n_rows, n_pos, k), np.int32),
        "topk_probs": np.zeros((n_rows, n_pos, k), np.float32),
        "tracked": [np.zeros(1, np.int32) for _ in range(n_pos)],
        "probs": [np.zeros((n_rows, 1), np.float32) for _ in range(n_pos)],
        "entropy": np.zeros((n_rows, n_pos), np.float32),
        "vocab": {0: token_strings(tokenizer, [0])[0]},
        "num_layers": layer_count(request.model, request.architecture),
    }
    n_t = len(request.targets)
    if n_t:
        result["targets"] = [t.as_dict() for t in request.targets]
        result["target_logprobs"] = np.full((n_t, n_rows, n_pos), np.nan, np.float32)
        result["target_ranks"] = np.zeros((n_t, n_rows, n_pos), np.int32)
    if request.metrics:
        result["kl"] = np.full((n_rows, n_pos), np.nan, np.float32)
        result["kl_undefined"] = np.zeros(n_pos, bool)
    if request.position_kinds is not None:
        result["position_kinds"] = np.asarray(request.position_kinds, np.uint8)
    if request.row_kinds is not None:
        result["row_kinds"] = list(request.row_kinds)
    result.update(lens_fields(request))
    return LensRun(
        run_id=next(_run_ids),
        request=request,
        result=result,
        status=np.full((n_rows, n_pos), PENDING, np.uint8),
        lse=np.full((n_rows, n_pos), np.nan, np.float32),
        normed=None,
        extra=list(extra),
        deep_ids=np.full((n_rows, n_pos, DEEP_K), -1, np.int32),
    )


def fill(run: LensRun, a: int, lens: dict[str, Any]) -> None:
    """Write a decoded block of positions ``a..`` into the run."""
    r = run.result
    b = a + lens["topk"].shape[1]
    r["topk"][:, a:b] = lens["topk"].numpy()
    r["topk_probs"][:, a:b] = lens["topk_probs"].numpy()
    r["entropy"][:, a:b] = lens["entropy"].numpy()
    r["tracked"][a:b] = [t.numpy() for t in lens["tracked"]]
    r["probs"][a:b] = [p.numpy() for p in lens["probs"]]
    for name in ("target_logprobs", "target_ranks"):
        if name in lens:
            r[name][:, :, a:b] = lens[name].numpy()
    if "kl" in lens:
        r["kl"][:, a:b] = lens["kl"].numpy()
        r["kl_undefined"][a:b] = lens["kl_undefined"].numpy()
    run.lse[:, a:b] = lens["lse"].numpy()
    if "deep_ids" in lens:
        deep = lens["deep_ids"].numpy()
        run.deep_ids[:, a:b, : deep.shape[2]] = deep
    run.status[:, a:b] = np.where(lens["invalid"].numpy(), INVALID, OK)
    add_vocab(r, run.request.tokenizer, np.concatenate([t.numpy() for t in lens["tracked"]]))
    r["invalid"] = torch.from_numpy(run.status == INVALID)


def continued_length(previous: LensRun | None, request: LensRequest, extra: list[int]) -> int:
    """How many leading positions of ``request`` can be taken from ``previous`` (0: none).

    A local run continues another when it asks the same of the same model (lens rows, k,
    targets, KL, lens and edits; the same objects) and tracks no id the other did not:
    then the cells of their shared token prefix are the other's, and only the positions
    after it run, from its kept KV cache.
    """
    if previous is None or previous.kept is None or request.remote or not previous.complete:
        return 0
    old = previous.request
    same = (
        old.model is request.model
        and old.layers == request.layers
        and old.row_kinds == request.row_kinds
        and old.k == request.k
        and old.targets == request.targets
        and old.metrics == request.metrics
        and old.readout is request.readout
        and len(old.edits) == len(request.edits)
        and all(a is b for a, b in zip(old.edits, request.edits, strict=True))
        and set(extra) <= set(previous.extra)
    )
    return previous.kept.reusable(request.input_ids) if same else 0


def copy_prefix(run: LensRun, source: LensRun, n: int) -> None:
    """Give ``run`` the cells of ``source``'s first ``n`` positions, as they are.

    Both runs must have the same lens rows, k, targets and metrics, and ``run`` must track
    at least ``source``'s ids (its first ``n`` tokens are ``source``'s: a shared prefix).
    """
    r, s = run.result, source.result
    for name in ("topk", "topk_probs", "entropy", "kl"):
        if name in r:
            r[name][:, :n] = np.asarray(s[name])[:, :n]
    for name in ("target_logprobs", "target_ranks"):
        if name in r:
            r[name][:, :, :n] = np.asarray(s[name])[:, :, :n]
    if "kl_undefined" in r:
        r["kl_undefined"][:n] = np.asarray(s["kl_undefined"])[:n]
    r["tracked"][:n] = s["tracked"][:n]
    r["probs"][:n] = s["probs"][:n]
    run.lse[:, :n] = source.lse[:, :n]
    run.deep_ids[:, :n] = source.deep_ids[:, :n]
    run.status[:, :n] = source.status[:, :n]
    shown = {int(i) for i in np.unique(r["topk"][:, :n])}
    shown.update(int(i) for ids in r["tracked"][:n] for i in ids)
    known = s["vocab"]
    r["vocab"].update({i: known[i] for i in shown if i in known})
    add_vocab(r, run.request.tokenizer, sorted(shown - known.keys()))
    r["invalid"] = torch.from_numpy(run.status == INVALID)


def append_position(run: LensRun, lens: dict[str, Any], token: int, normed: torch.Tensor) -> None:
    """Add one position (a generated token) with its decoded lens to the end of ``run``.

    Args:
        run: the run; its request's input ids grow by ``token``.
        lens: :func:`~logitlenskit.core.wire.decode_lens` of that one position.
        token: the position's token id.
        normed: its final-normed hidden states ``[L, d]``, for the follow-up cache.
    """
    r = run.result
    for name in ("topk", "topk_probs", "entropy", "kl", "kl_undefined"):
        if name in r:
            axis = 0 if name == "kl_undefined" else 1  # [P] flags, the rest [L, P, ...]
            r[name] = np.concatenate([np.asarray(r[name]), lens[name].numpy()], axis=axis)
    for name in ("target_logprobs", "target_ranks"):
        if name in r:
            r[name] = np.concatenate([r[name], lens[name].numpy()], axis=2)
    r["tracked"].append(lens["tracked"][0].numpy())
    r["probs"].append(lens["probs"][0].numpy())
    r["input"].append(token_strings(run.request.tokenizer, [token])[0])
    r["input_ids"].append(int(token))
    status = np.where(lens["invalid"].numpy(), INVALID, OK).astype(np.uint8)
    run.status = np.concatenate([run.status, status], axis=1)
    run.lse = np.concatenate([run.lse, lens["lse"].numpy()], axis=1)
    deep = np.full((run.deep_ids.shape[0], 1, DEEP_K), -1, np.int32)
    if "deep_ids" in lens:
        deep[:, :, : lens["deep_ids"].shape[2]] = lens["deep_ids"].numpy()
    run.deep_ids = np.concatenate([run.deep_ids, deep], axis=1)
    r["invalid"] = torch.from_numpy(run.status == INVALID)
    add_vocab(r, run.request.tokenizer, [token, *lens["tracked"][0].tolist()])
    run.request = dataclasses.replace(run.request, input_ids=[*run.request.input_ids, token])
    if run.normed is not None:
        run.normed = torch.cat([run.normed, normed.to(run.normed.dtype)[:, None, :]], dim=1)
        if run.normed.numel() * 4 > CACHE_BYTES:
            run.normed = None


def add_vocab(result: dict[str, Any], tokenizer: Any, ids: Any) -> None:
    """Add the strings of ``ids`` the result's ``vocab`` does not hold yet."""
    vocab = result["vocab"]
    missing = sorted({int(i) for i in np.asarray(ids).ravel()} - vocab.keys())
    vocab.update(zip(missing, token_strings(tokenizer, missing), strict=True))
