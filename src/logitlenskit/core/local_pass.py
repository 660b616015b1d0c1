"""A local run's forward pass: every lens row's normed state, the KL reference, the KV cache.

One pass through the capture core (:func:`~.capture.capture_normed`), or a lens's own
passes (a Patchscope's ``normed_rows``). The pass may continue a kept KV cache from a
shared prefix (:mod:`.prefix`) and fills the cache the run keeps.
"""

from __future__ import annotations

from typing import Any

import torch

from .capture import capture_normed
from .prefix import KeptCache, keep, new_cache
from .request import LensRequest

__all__ = ["capture_local"]


def capture_local(
    request: LensRequest, previous: KeptCache | None, start: int
) -> tuple[torch.Tensor, int | torch.Tensor | None, KeptCache | None]:
    """One local forward pass keeping every lens row's normed state, and the KL reference.

    With ``previous`` the pass covers positions ``start..`` only, continuing from the
    kept cache of the ``start`` positions before them.

    Returns:
        (normed rows ``[R, P - start, d]``, the engine's ``kl_reference``: the final
        layer's lens row, its normed state ``[P - start, d]`` when it is not a row, or
        None without KL; the KV cache of the whole prompt to keep, or None).
    """
    rows = request.row_specs()
    final = request.final_row()
    reference = request.final_layer if request.metrics and final is None else None
    outside = getattr(request.readout, "normed_rows", None)  # a lens with passes of its own
    kept = None
    if outside:
        normed = outside(request, reference)
    else:
        cache = _kv_cache(request, previous, start, reference)
        normed = capture_normed(
            request.adapter,
            torch.tensor([request.input_ids[start:]]),
            rows,
            reference=reference,
            readout=request.readout,
            edits=request.edits,
            cache=cache,
            start=start,
        )
        kept = None if cache is None else keep(request.input_ids, cache)
    if reference is not None:
        return normed[:-1], normed[-1], kept
    return normed, final if request.metrics else None, kept


def _kv_cache(
    request: LensRequest, previous: KeptCache | None, start: int, reference: int | None
) -> Any:
    """The KV cache a pass continues and fills: the kept one cut at ``start``, new, or None.

    A pass that reads the last layer runs every layer and fills a cache for free; one that
    stops earlier (a few low layers) keeps none rather than run the rest for it.
    """
    if previous is not None:
        return previous.cache(start)
    if request.final_layer in request.layers or reference is not None:
        return new_cache()
    return None
