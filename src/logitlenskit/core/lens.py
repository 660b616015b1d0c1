"""A checked request's lens, reduced inside one trace (here or on NDIF) and expanded."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .capture import capture_lens
from .engine import lens_reduce, target_index
from .request import LensRequest
from .wire import decode_lens

__all__ = ["run_lens"]


def run_lens(request: LensRequest, extra: Sequence[int] | None = None) -> dict[str, Any]:
    """Run the engine for a checked request, inside its trace, and expand the result.

    The request's targets are tracked at every position too (``extra``), so their members'
    trajectories sit beside their summed ones.

    Args:
        request: from :func:`~logitlenskit.core.request.prepare_request`.
        extra: token ids tracked at every position (checked, e.g. by ``check_track_ids``).

    Returns:
        :func:`~logitlenskit.core.wire.decode_lens`'s dict: per-position ``tracked`` ids
        and ``probs`` ``[L, n]``, ``topk``/``topk_probs`` ``[L, P, k]``, ``entropy``,
        ``lse`` and ``invalid`` ``[L, P]``.
    """
    if hasattr(request.readout, "normed_rows"):
        return _run_outside(request, extra)
    packed = capture_lens(
        request.adapter,
        request.input_ids,
        request.row_specs(),
        k=request.k,
        vocab_size=request.vocab_size,
        extra_ids=sorted({*(extra or ()), *request.target_ids()}) or None,
        targets=target_index(request.target_sets()) if request.targets else None,
        kl=request.metrics,
        remote=request.remote,
        readout=request.readout,
        edits=request.edits,
    )
    return _decoded(request, packed)


def _run_outside(request: LensRequest, extra: Sequence[int] | None) -> dict[str, Any]:
    """A lens that makes its states with passes of its own (a Patchscope), reduced here.

    The states come back from its captures (NDIF included); the reduction is the engine's,
    as for a local run's cache.
    """
    final = request.final_row()
    reference = request.final_layer if request.metrics and final is None else None
    normed = request.readout.normed_rows(request, reference)
    rows, kl_reference = (normed[:-1], normed[-1]) if reference is not None else (normed, final)
    head = request.adapter.head_module()
    packed = lens_reduce(
        rows,
        None,
        head,
        request.k,
        request.vocab_size,
        request.adapter.softcap(),
        extra_ids=sorted({*(extra or ()), *request.target_ids()}) or None,
        targets=target_index(request.target_sets()) if request.targets else None,
        kl_reference=kl_reference if request.metrics else None,
        head_weight=head.weight if request.metrics and head.bias is None else None,
    )
    return _decoded(request, packed)


def _decoded(request: LensRequest, packed: Any) -> dict[str, Any]:
    """The engine's packed result of the whole request, expanded."""
    return decode_lens(
        packed,
        request.n_rows,
        request.n_positions,
        request.k,
        request.vocab_size,
        n_targets=len(request.targets),
        kl=request.metrics,
    )
