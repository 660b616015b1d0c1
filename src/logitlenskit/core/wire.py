"""The client's side of the engine's wire format: the packed result back into arrays.

:func:`~logitlenskit.core.engine.lens_reduce` packs its result into one uint8 tensor (layout
in the engine's docstring); this module reads it. It runs only here, never in a trace, so it
is not shipped to NDIF.
"""

from __future__ import annotations

import io
import itertools
import math
from typing import Any

import numpy as np
import torch

from .engine import _CODE_SHIFT, CODE_LINEAR, CODE_PER_NAT, _wire_dtypes

__all__ = ["code_error_bound", "decode_lens", "decode_probs", "payload_bytes"]


def _code_table() -> np.ndarray:
    """Log-probability of every int16 code, solved by Newton's method in float64.

    f(x) = CODE_LINEAR·eˣ + CODE_PER_NAT·x − u is convex and increasing, and f ≥ 0 at the
    start point min(0, u/CODE_PER_NAT), so the iteration decreases monotonically to the root.
    """
    u = np.arange(-32768, 32768, dtype=np.float64) + _CODE_SHIFT
    x = np.minimum(0.0, u / CODE_PER_NAT)
    for _ in range(100):
        ex = np.exp(x)
        step = (CODE_LINEAR * ex + CODE_PER_NAT * x - u) / (CODE_LINEAR * ex + CODE_PER_NAT)
        x -= step
        if np.abs(step).max() < 1e-13:
            break
    return x


_TABLE: list[np.ndarray] = []


def decode_probs(codes: Any) -> np.ndarray:
    """Probabilities (float64) of int16 codes made by :func:`encode_probs`."""
    if not _TABLE:
        _TABLE.append(np.exp(_code_table()))
    return _TABLE[0][np.asarray(codes, dtype=np.int64) + 32768]


def code_error_bound(p: float) -> float:
    """Largest absolute decoding error at probability ``p`` (half a code step)."""
    # Rounding can land up to half a code above p, where dp/du is steeper than at p.
    p_high = max(p, 1e-300) * math.exp(0.5 / CODE_PER_NAT)
    return 0.5 / (CODE_LINEAR + CODE_PER_NAT / p_high) * (1 + 1e-9)


def _take(buf: np.ndarray, at: int, dtype: Any, count: int) -> tuple[np.ndarray, int]:
    size = np.dtype(dtype).itemsize * count
    return np.frombuffer(buf[at : at + size].tobytes(), dtype=dtype), at + size


def decode_lens(
    packed: torch.Tensor,
    n_layers: int,
    n_pos: int,
    k: int,
    vocab_size: int,
    n_targets: int = 0,
    kl: bool = False,
    deep_k: int = 0,
) -> dict[str, Any]:
    """Expand :func:`lens_reduce`'s packed result (client side).

    Args:
        packed: the uint8 tensor :func:`lens_reduce` returned.
        n_layers: lens rows it was computed for.
        n_pos: positions it was computed for.
        k: top-k width it was computed for.
        vocab_size: vocabulary size it was computed for.
        n_targets: how many targets it was given (``targets.shape[0]``).
        kl: whether it was given a ``kl_reference``.
        deep_k: the ``deep_k`` it was given.

    Returns:
        Dict with ``topk`` [L, P, k] int32, ``topk_probs`` [L, P, k] float32, ``tracked``
        (per position int32 ids, sorted), ``probs`` (per position [L, n] float32),
        ``entropy`` [L, P] float32, ``lse`` [L, P] float32 (log-sum-exp of the logits),
        ``invalid`` [L, P] bool (non-finite model output: those cells' probabilities,
        entropy and metrics are NaN, their target ranks 0), and ``tracked_offsets`` [P+1] /
        ``tracked_probs`` [T, L] (the flat form of the same trajectories); with ``kl``,
        ``kl`` [L, P] and ``kl_undefined`` [P] bool (the position's KL reference, the
        model's output, is not finite: KL is NaN at every layer there while the cells keep
        their own numbers); with ``deep_k``, ``deep_ids`` [L, P, deep_k] int32.
    """
    ids_dtype, slot_dtype = _wire_dtypes(n_layers, k, vocab_size)
    np_dtype = {torch.int16: np.int16, torch.int32: np.int32, torch.uint8: np.uint8}
    buf = packed.cpu().numpy()
    counts, at = _take(buf, 0, np.int32, n_pos)
    total = int(counts.sum())
    ids, at = _take(buf, at, np_dtype[ids_dtype], total)
    codes, at = _take(buf, at, np.int16, total * n_layers)
    slots, at = _take(buf, at, np_dtype[slot_dtype], n_layers * n_pos * k)
    entropy, at = _take(buf, at, np.float32, n_layers * n_pos)
    lse, at = _take(buf, at, np.float32, n_layers * n_pos)
    cells = n_layers * n_pos
    t_lp, at = _take(buf, at, np.float32, n_targets * cells)
    t_rank, at = _take(buf, at, np.int32, n_targets * cells)
    kl_values, at = _take(buf, at, np.float32, cells if kl else 0)
    deep_ids, at = _take(buf, at, np.int32, cells * deep_k)
    if at != buf.size:
        raise ValueError(f"packed lens result has {buf.size} bytes, expected {at}")
    ids = ids.astype(np.int64) + (32768 if ids_dtype == torch.int16 else 0)
    offsets = np.concatenate([[0], np.cumsum(counts, dtype=np.int64)])
    flat = decode_probs(codes).astype(np.float32).reshape(total, n_layers)
    lse = lse.reshape(n_layers, n_pos).copy()
    invalid = ~np.isfinite(lse)
    kl_undefined = None
    if kl:
        kl_values = kl_values.reshape(n_layers, n_pos).copy()
        kl_undefined = _kl_undefined(kl_values, invalid)
    if invalid.any():
        # Codes made from NaN decode to ordinary-looking probabilities: blank them.
        owner = np.repeat(np.arange(n_pos), counts)
        flat[invalid[:, owner].T] = np.nan
    where = offsets[:-1][None, :, None] + slots.astype(np.int64).reshape(n_layers, n_pos, k)
    spans = list(itertools.pairwise(offsets))
    entropy = entropy.astype(np.float32).reshape(n_layers, n_pos)
    entropy[invalid] = np.nan
    metrics = {}
    if n_targets:
        t_lp = t_lp.reshape(n_targets, n_layers, n_pos).copy()
        t_rank = t_rank.reshape(n_targets, n_layers, n_pos).copy()
        t_lp[:, invalid] = np.nan
        t_rank[:, invalid] = 0
        metrics["target_logprobs"] = torch.from_numpy(t_lp)
        metrics["target_ranks"] = torch.from_numpy(t_rank)
    if kl:
        kl_values[invalid | kl_undefined] = np.nan
        metrics["kl"] = torch.from_numpy(kl_values)
        metrics["kl_undefined"] = torch.from_numpy(kl_undefined)
    if deep_k:
        metrics["deep_ids"] = torch.from_numpy(deep_ids.reshape(n_layers, n_pos, deep_k).copy())
    return {
        **metrics,
        "topk": torch.from_numpy(ids[where].astype(np.int32)),
        "topk_probs": torch.from_numpy(flat[where, np.arange(n_layers)[:, None, None]]),
        "tracked": [torch.from_numpy(ids[a:b].astype(np.int32)) for a, b in spans],
        "probs": [torch.from_numpy(np.ascontiguousarray(flat[a:b].T)) for a, b in spans],
        "entropy": torch.from_numpy(entropy),
        "lse": torch.from_numpy(lse),
        "invalid": torch.from_numpy(invalid),
        "tracked_offsets": offsets.astype(np.int32),
        "tracked_probs": flat,
    }


def _kl_undefined(kl_values: np.ndarray, invalid: np.ndarray) -> np.ndarray:
    """Positions ``[P]`` whose KL reference (the model's output there) is not finite.

    A cell with a finite lens and a finite reference always has a finite KL, so a non-finite
    KL at a finite cell means the reference is not (e.g. a float16 overflow in the last
    block); a position with no finite cell at all has no finite output either. The cells
    keep their own numbers: only their KL is undefined.
    """
    return (~np.isfinite(kl_values) & ~invalid).any(axis=0) | invalid.all(axis=0)


def payload_bytes(obj: Any) -> int:
    """Size of ``torch.save(obj)``: what a trace returning ``obj`` sends back."""
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getbuffer().nbytes
