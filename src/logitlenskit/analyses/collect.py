"""Collecting logit-lens data: the public API over the one engine (:mod:`.engine`).

Two families of callers, one reduction underneath:

* :func:`collect_logit_lens` (nnterp ``StandardizedTransformer``, or any nnsight
  ``LanguageModel`` of a registered architecture) returns the collection dict of
  docs/data-format.md §1.
* :func:`collect_logit_lens_topk_efficient` / :func:`collect_logit_lens_topk` keep the
  seed LanguageModel API (``tokens``, ``top_indices``, ``top_probs``, ``tracked_*``).

The reduction runs inside the nnsight trace, so with ``remote=True`` only the compact
result leaves the NDIF server. ``remote='local'`` runs nnsight's NDIF simulation.

Every function checks its arguments once (:func:`~logitlenskit.request.prepare_request`)
and runs the engine for that :class:`~logitlenskit.request.LensRequest` with
:func:`run_lens`, which the live widget's runs (:mod:`.session`) use too.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Sequence
from typing import Any

import torch

from ..core.capture import BLOCK_OUTPUT, Edit, capture_logits
from ..core.engine import lens_reduce
from ..core.lens import run_lens
from ..core.options import LensOptions
from ..core.request import (
    LensRequest,
    NonFiniteWarning,
    Remote,
    check_track_ids,
    large_run,
    layer_count,
    logit_softcap,
    model_name,
    prepare_request,
    token_strings,
    warn_non_finite,
)
from ..core.run import lens_fields
from ..core.wire import decode_lens
from .lens_choice import choose_lens, reliability_fields

__all__ = [
    "NonFiniteWarning",
    "collect_logit_lens",
    "collect_logit_lens_topk",
    "collect_logit_lens_topk_efficient",
    "decode_tracked_tokens",
    "metric_fields",
]


def _vocab(tokenizer: Any, lens: dict[str, Any]) -> dict[int, str]:
    all_ids = sorted({int(i) for t in lens["tracked"] for i in t.tolist()})
    return dict(zip(all_ids, token_strings(tokenizer, all_ids), strict=True))


# ---------------------------------------------------------------- public API


def collect_logit_lens(
    prompt: str,
    model: Any,
    k: int = 5,
    layers: Sequence[int] | None = None,
    remote: Remote = None,
    track: Sequence[int] | None = None,
    targets: Any = None,
    metrics: bool = False,
    sublayers: bool = False,
    edits: Sequence[Edit] = (),
    lens: Any = None,
) -> dict[str, Any]:
    """Collect logit-lens data: top-k and exact trajectories at every layer and position.

    Args:
        prompt: the text to analyse.
        model: an nnterp ``StandardizedTransformer`` (or an nnsight ``LanguageModel`` of an
            architecture in ``MODEL_CONFIGS``), with its tokenizer.
        k: how many top predictions per cell, ``1 <= k <= vocabulary size``.
        layers: layer indices to show (any subset, negative counts from the end); ``None``
            for all.
        remote: ``True`` runs on NDIF, ``'local'`` runs nnsight's NDIF simulation,
            ``False`` runs here; ``None`` runs here unless the model's weights were never
            loaded locally (a model made for NDIF).
        track: token ids whose exact probability is wanted at every layer and position,
            whether or not they reach a top-k (they join every position's ``tracked``).
        targets: named tokens or words to measure at every cell, e.g. ``{"French":
            "Paris", "English": ["London", 1234]}`` (a word counts every first token of its
            spellings; see :mod:`logitlenskit.targets`). Adds ``targets``,
            ``target_logprobs`` and ``target_ranks``.
        metrics: also compute each cell's KL divergence from the model's final output
            (``kl``, nats), exact and inside the trace.
        sublayers: two lens rows per layer, the residual stream after its attention and
            after the whole layer (``row_kinds``: 1, 0), so a token's rise can be split
            between attention and MLP. Not for parallel-attention blocks (GPT-J, NeoX).
        edits: interventions made inside the forward pass before the lens reads it
            (:class:`~logitlenskit.Patch`, :class:`~logitlenskit.Steer`,
            :class:`~logitlenskit.Ablate`; docs/interventions.md). The result then holds
            ``edits``, one record per edit, and is not the model's own output.
        lens: how each state is decoded (docs/lenses.md): None or ``"logit"`` (the logit
            lens), ``"tuned"`` or ``"linear"`` (the model's fitted lens; fitted once on
            first use, minutes, then cached), ``"patchscope"``, a lens folder, a
            ``FittedLens`` or a readout. The result then names it (``lens``) and, for a
            fitted lens, holds its per-row reliability (``lens_reliability``).

    Returns:
        The collection dict of docs/data-format.md §1: ``model``, ``input``,
        ``input_ids``, ``layers``, ``topk`` [L, P, k] int32, ``topk_probs`` [L, P, k],
        ``tracked`` (per position sorted int32 ids), ``probs`` (per position [L, n]),
        ``entropy`` [L, P], ``vocab`` {id: str}, ``num_layers`` (the model's layer count,
        so a view knows whether the last collected layer is the model's final one) and
        ``invalid`` [L, P] bool. With ``targets``: ``targets`` (``[{"name", "ids"}]``),
        ``target_logprobs`` [T, L, P] float32 (log of each target's summed probability)
        and ``target_ranks`` [T, L, P] int32 (1-based rank of its best member among the
        whole vocabulary); with ``metrics``: ``kl`` [L, P] float32; with ``edits``:
        ``edits`` (one record per edit: ``kind``, ``label``, ``layer``, ``row_kind``,
        ``from_position``; docs/data-format.md).

    Non-finite model output (a NaN or Inf hidden state or logit, e.g. a float16 overflow) is
    flagged, not raised: those cells' probabilities and entropy are NaN, ``invalid`` marks
    them, and a :class:`NonFiniteWarning` names the layers and positions. The other cells
    are still exact. A large collection (over 2,000 tokens, or an estimated 50 MB, the
    widget's rule) emits a ``ResourceWarning`` with its estimated size first.

    Raises:
        TypeError: not an nnsight model, no tokenizer, or arguments of the wrong type.
        ValueError: empty prompt, prompt longer than the context, layer out of range,
            k out of range, unknown architecture.
    """
    options = LensOptions(
        k=k,
        layers=layers,
        remote=remote,
        targets=targets,
        metrics=metrics,
        sublayers=sublayers,
        edits=tuple(edits),
    )
    request = prepare_request(prompt, model, options)  # refused before a lens is fitted
    choice = choose_lens(lens, model)
    request = dataclasses.replace(request, readout=choice.readout)
    _warn_if_large(request)
    decoded = run_lens(request, check_track_ids(track, request.vocab_size))
    warn_non_finite(decoded["invalid"].numpy(), request.layers)
    return {
        **metric_fields(request, decoded),
        "model": model_name(model),
        "input": token_strings(request.tokenizer, request.input_ids),
        "input_ids": request.input_ids,
        "layers": request.layers,
        "topk": decoded["topk"],
        "topk_probs": decoded["topk_probs"],
        "tracked": decoded["tracked"],
        "probs": decoded["probs"],
        "entropy": decoded["entropy"],
        "vocab": _vocab(request.tokenizer, decoded),
        "num_layers": layer_count(model, request.architecture),
        "invalid": decoded["invalid"],
        **reliability_fields(choice, request.layers, request.row_kinds),
    }


def _warn_if_large(request: LensRequest) -> None:
    """A ResourceWarning before a collection the widget would ask about first."""
    megabytes = large_run(request.n_rows, request.n_positions, request.k)
    if megabytes is not None:
        warnings.warn(
            f"This collection is large: {request.n_positions:,} tokens × {request.n_rows} "
            f"lens rows with k={request.k} holds about {megabytes:,.0f} MB; a smaller k or "
            "fewer layers (layers=[...]) makes it smaller",
            ResourceWarning,
            stacklevel=3,
        )


def metric_fields(request: LensRequest, lens: dict[str, Any]) -> dict[str, Any]:
    """The collection dict's metric keys for a request, from a decoded lens."""
    fields: dict[str, Any] = {}
    if request.targets:
        fields["targets"] = [t.as_dict() for t in request.targets]
        fields["target_logprobs"] = lens["target_logprobs"]
        fields["target_ranks"] = lens["target_ranks"]
    if request.metrics:
        fields["kl"] = lens["kl"]
        fields["kl_undefined"] = lens["kl_undefined"]
    if request.row_kinds is not None:
        fields["row_kinds"] = list(request.row_kinds)
    fields.update(lens_fields(request))
    return fields


def _seed_result(request: LensRequest, lens: dict[str, Any], track: bool) -> dict[str, Any]:
    data = {
        "model": model_name(request.model),
        "tokens": token_strings(request.tokenizer, request.input_ids),
        "input_ids": request.input_ids,
        "layers": request.layers,
        "top_indices": lens["topk"],
        "top_probs": lens["topk_probs"],
        "entropy": lens["entropy"],
    }
    if track:
        data["tracked_indices"] = lens["tracked"]
        data["tracked_probs"] = lens["probs"]
    return data


def collect_logit_lens_topk_efficient(
    prompt: str,
    model: Any,
    top_k: int = 5,
    track_across_layers: bool = False,
    remote: Remote = True,
    layers: Sequence[int] | None = None,
    model_type: str | None = None,
) -> dict[str, Any]:
    """Collect top-k (and trajectories) with the reduction on the server.

    Args:
        prompt: input text.
        model: an nnsight ``LanguageModel`` with a tokenizer.
        top_k: top predictions per layer and position.
        track_across_layers: also return each position's tracked ids and trajectories.
        remote: ``True`` NDIF, ``'local'`` NDIF simulation, ``False`` local, ``None`` local
            unless the model was made for NDIF.
        layers: layer indices (default all; negative allowed).
        model_type: a ``MODEL_CONFIGS`` key or alias; ``None`` auto-detects.

    Returns:
        ``tokens``, ``layers``, ``top_indices`` [L, P, k], ``top_probs`` [L, P, k] (and
        ``input_ids``, ``model``, ``entropy``); with ``track_across_layers`` also
        ``tracked_indices`` (per position) and ``tracked_probs`` (per position [L, n]).
    """
    options = LensOptions(k=top_k, layers=layers, remote=remote)
    request = prepare_request(prompt, model, options, model_type, nnterp_ok=False)
    return _seed_result(request, run_lens(request), track_across_layers)


def collect_logit_lens_topk(
    prompt: str,
    model: Any,
    top_k: int = 5,
    track_across_layers: bool = False,
    remote: Remote = True,
    layers: Sequence[int] | None = None,
    model_type: str | None = None,
) -> dict[str, Any]:
    """The slow reference version: download every layer's full logits, reduce here.

    Same parameters and return keys as :func:`collect_logit_lens_topk_efficient`. It moves
    L·P·V floats out of the trace (hundreds of MB for big models); use it to cross-check,
    not for NDIF work. The reduction is the same engine, run on the client.
    """
    options = LensOptions(k=top_k, layers=layers, remote=remote)
    request = prepare_request(prompt, model, options, model_type, nnterp_ok=False)
    rows = [(layer, BLOCK_OUTPUT) for layer in request.layers]
    logits = capture_logits(request.adapter, request.input_ids, rows, remote=request.remote)
    packed = lens_reduce(logits, None, None, request.k, request.vocab_size, logit_softcap(model))
    lens = decode_lens(packed, request.n_rows, request.n_positions, request.k, request.vocab_size)
    return _seed_result(request, lens, track_across_layers)


def decode_tracked_tokens(data: dict[str, Any], tokenizer: Any) -> dict[int, list[str]]:
    """Decode each position's tracked ids to strings (one batch call).

    Args:
        data: a result with ``tracked_indices`` (seed API) or ``tracked`` (collection dict).
        tokenizer: the model's tokenizer.

    Returns:
        ``{position: [string, ...]}`` in the order of the tracked ids.
    """
    tracked = data.get("tracked_indices")
    if tracked is None:
        tracked = data.get("tracked")
    if tracked is None:
        raise ValueError("no tracked tokens: collect with track_across_layers=True")
    per_pos = [[int(i) for i in torch.as_tensor(t).tolist()] for t in tracked]
    unique = sorted({i for ids in per_pos for i in ids})
    strings = dict(zip(unique, token_strings(tokenizer, unique), strict=True))
    return {pos: [strings[i] for i in ids] for pos, ids in enumerate(per_pos)}
