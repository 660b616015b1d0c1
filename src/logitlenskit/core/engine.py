"""The one logit-lens reduction engine behind every collection API.

:func:`lens_reduce` turns hidden states into what a logit-lens view needs, without ever
holding the full ``[layers, positions, vocab]`` distribution. It runs inside nnsight traces,
on NDIF servers too, so it imports only torch, numpy and the standard library, and
:func:`~logitlenskit.core.wire.decode_lens` turns its compact result back into arrays on
the client.

How it works (see docs/engine.md):

* Positions are processed in blocks that hold *all* requested layers of a few positions,
  sized so one block of logits stays under ``chunk_bytes``. Memory is O(L·P·(d+k)) plus
  one block, instead of O(L·P·V).
* Per block: one GEMM (norm → unembed → softcap), top-k, a shifted ``exp`` for
  log-sum-exp and entropy. Because a block holds every layer of its positions, each
  position's tracked set (union of its top-k over layers) is known inside the block, and
  the trajectories are gathered from the very logits the top-k came from: exact, and
  consistent with the top-k to the last bit.
* The result travels as one uint8 tensor (one storage: ``torch.save`` overhead is paid
  once) holding, back to back in native (little-endian) byte order: per-position tracked
  counts (int32), tracked ids (int16 offset by -32768 when the vocabulary fits 16 bits,
  else int32), trajectories as 16-bit codes (see :func:`encode_probs`), the top-k as slot
  indices into the position's tracked list (uint8, or int16 past 256 slots), float32
  entropy and float32 log-sum-exp of the logits. Top-k probabilities are the trajectory
  values at those slots, so they are not sent twice. Every size follows from (L, P, k, V)
  and the counts, which the client knows.
* Optional per-cell metrics follow, computed from the same logits: for T *targets*
  (token sets) the float32 log of the set's summed probability and the int32 rank of its
  best member in the whole vocabulary (``[T, L, P]`` each), then the float32 KL divergence
  of each cell from a reference distribution (the model's final output) ``[L, P]``. A
  target's set may differ per position (a study puts one prompt per position, each with
  its own answer). Last, when asked, each cell's deeper top list (int32 ``[L, P,
  deep_k]``, best first), which a local session keeps so that a cell's deeper list needs
  no pass over the unembedding.
* The log-sum-exp makes follow-up questions cheap and honest: with it, any token's exact
  probability at a cell is one dot product away (:func:`token_log_probs`), and a
  non-finite value marks a cell whose hidden state or logits were NaN/Inf, which
  :func:`decode_lens` reports as invalid instead of decoding codes made from NaN. A
  position whose KL reference is not finite keeps its cells' numbers; only its KL is
  undefined (``kl_undefined``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import torch

__all__ = [
    "CODE_LINEAR",
    "CODE_PER_NAT",
    "DEFAULT_CHUNK_BYTES",
    "DEFAULT_SUB_BYTES",
    "REF_CHUNK_BYTES",
    "cell_log_probs",
    "encode_probs",
    "lens_reduce",
    "target_index",
    "token_log_probs",
]

DEFAULT_CHUNK_BYTES = 128 * 2**20
#: Float64 KL-reference log-probabilities computed in one pass over the unembedding: the
#: product is bandwidth-bound on the weight, so the more positions per pass, the better.
REF_CHUNK_BYTES = 64 * 2**20
#: Logits per element-wise pass. Each pass over a sub-block is a few torch ops, each a
#: parallel region whose start costs ~0.1 ms on a thread other than the main one (a widget's
#: worker), so fewer, larger passes win while two of them fit in the last-level cache: 16 MB
#: took 7-17% less time than 4 MB on 5-400 tokens (docs/engine.md); a machine with a small
#: cache may prefer less (``sub_bytes``).
DEFAULT_SUB_BYTES = 16 * 2**20

# Probability codec: u(p) = CODE_LINEAR·p + CODE_PER_NAT·ln p, rounded to an int16.
# The linear term keeps the absolute error ≤ 0.5/CODE_LINEAR ≈ 7.9e-6 for large p (the
# fidelity bound is 1e-5); the log term keeps the relative error ≤ 0.5/CODE_PER_NAT = 0.9%
# for small p. Both fit 65,536 levels down to p ≈ 1.2e-16, below which values saturate
# there (they are never rounded to zero).
CODE_LINEAR = 63500.0
CODE_PER_NAT = 1.0 / 0.018
_CODE_SHIFT = CODE_LINEAR - 32767.0
_SMALL_ID_VOCAB = 65536


def encode_probs(log_probs: torch.Tensor) -> torch.Tensor:
    """Encode log-probabilities as int16 codes (runs inside traces)."""
    lp = log_probs.double()
    u = lp.exp() * CODE_LINEAR + lp * CODE_PER_NAT - _CODE_SHIFT
    return u.round().clamp(-32768, 32767).to(torch.int16)


def _rows_reduce(
    z: torch.Tensor, k: int, p_ref: torch.Tensor | None = None
) -> tuple[torch.Tensor | None, ...]:
    """Top-k, log-sum-exp and entropy of a few rows, small enough to stay in cache.

    Shifts ``z`` in place by each row's max (so exp cannot overflow) and returns
    (top-k ids, log Σ exp(shifted z), entropy, log-sum-exp, Σ p_ref·shifted z). The last,
    the cross term of KL(ref ‖ row), is None without ``p_ref``: the reference distribution
    ``[q, V]`` (float32) of the q positions that ``z``'s rows repeat layer after layer. It
    is a product and torch's cascaded sum while the rows are in cache, not a BLAS
    matrix-vector product: the cascade keeps float32 error near 1e-7 relative, where
    sgemv's running sum was 1e-4 off (30-nat logits, 49k terms).
    """
    top_z, top_i = z.topk(k, dim=-1)
    z.sub_(top_z[:, :1])
    cross = None
    if p_ref is not None:  # z's rows are whole layers of p_ref's positions: broadcast
        cross = (z.view(-1, *p_ref.shape) * p_ref).sum(-1).reshape(-1)
    e = torch.exp(z)
    s = e.sum(-1)
    log_s = s.log()
    # H = log s − Σ eᵢ·zᵢ / s, multiplied in place to avoid another buffer.
    entropy = log_s - e.mul_(z).sum(-1) / s
    # topk ranks NaN above every number, so a row with any NaN (or ±Inf, which turns into NaN
    # after the shift) gets a non-finite log-sum-exp: the row is flagged, not trusted.
    return top_i, log_s, entropy, log_s + top_z[:, 0], cross


def _sub_blocks(n_layers: int, n_pos: int, step: int) -> Iterator[tuple[int, int, int, int]]:
    """Row ranges ``(r0, r1, q0, q1)`` of at most ``step`` layer-major rows (at least one).

    A range is positions ``q0:q1`` of one layer, or whole layers when a layer has fewer than
    ``step`` rows, so that its reference rows are a slice of the reference, never a copy.
    """
    if n_pos >= step:
        for layer in range(n_layers):
            for q0 in range(0, n_pos, step):
                q1 = min(q0 + step, n_pos)
                yield layer * n_pos + q0, layer * n_pos + q1, q0, q1
        return
    per = step // n_pos * n_pos
    for r0 in range(0, n_layers * n_pos, per):
        yield r0, min(r0 + per, n_layers * n_pos), 0, n_pos


def _logits(
    x: torch.Tensor, head: Callable[[torch.Tensor], Any] | None, softcap: float | None
) -> torch.Tensor:
    z = (head(x) if head is not None else x).float()
    if softcap:
        z = z / softcap
        z.tanh_().mul_(softcap)
    return z


def _reference_log_probs(
    x: torch.Tensor,
    head: Callable[[torch.Tensor], Any] | None,
    weight: torch.Tensor | None,
    softcap: float | None,
) -> torch.Tensor:
    """Log-distribution ``[n, V]`` of the KL reference, in float64 when ``weight`` is given.

    A KL divergence amplifies the reference's rounding: an error ε in log p_ref moves
    Σ p_ref·(log p_ref − log p) by about p_ref·ε·(1 + log p_ref − log p), and at early layers
    log p_ref − log p reaches 20–30 nats, so float32 reference logits (ε ≈ 1e-5) would put
    KL off by 3e-4. The weight is converted in vocabulary slices that stay in cache, so no
    float64 copy of the whole unembedding is ever made.
    """
    if weight is None:
        return torch.log_softmax(_logits(x, head, softcap), dim=-1)
    x64 = x.double()
    step = max(1, (8 << 20) // (x.shape[-1] * 8))
    z = torch.cat(
        [x64 @ weight[v : v + step].double().t() for v in range(0, weight.shape[0], step)], -1
    )
    if softcap:
        z = torch.tanh(z / softcap) * softcap
    return torch.log_softmax(z, dim=-1)


def _target_metrics(
    z: torch.Tensor, log_s: torch.Tensor, n_pos: int, step: int, targets: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Target log-probabilities and ranks ``[T, rows]`` of a block's rows.

    ``z`` holds each row's logits shifted by its maximum and ``log_s`` the log of its
    shifted partition sum, so ``z - log_s`` is the row's exact log-distribution (the one
    the top-k and trajectories came from). ``targets`` is ``[T, n_pos or 1, m]`` token ids
    padded with -1.
    """
    rows = z.shape[0]
    where = torch.arange(rows, device=z.device) % n_pos
    t_lp = z.new_empty(targets.shape[0], rows)
    t_rank = torch.empty(targets.shape[0], rows, dtype=torch.int32, device=z.device)
    for r in range(0, rows, step):
        part, pos = z[r : r + step], where[r : r + step]
        for t in range(targets.shape[0]):
            index = targets[t].expand(n_pos, -1)[pos]
            member = part.gather(1, index.clamp(min=0)).masked_fill(index < 0, -math.inf)
            t_lp[t, r : r + step] = torch.logsumexp(member, -1) - log_s[r : r + step]
            best = member.max(-1).values
            t_rank[t, r : r + step] = (part > best[:, None]).sum(-1).to(torch.int32) + 1
    return t_lp, t_rank


def _block_reduce(
    x: torch.Tensor,
    head: Callable[[torch.Tensor], Any] | None,
    n_layers: int,
    k: int,
    softcap: float | None,
    sub_bytes: int,
    extra: torch.Tensor | None,
    targets: torch.Tensor | None = None,
    ref_lp: torch.Tensor | None = None,
    ref_row: int | None = None,
    deep_k: int = 0,
) -> tuple[torch.Tensor | None, ...]:
    """Reduce one block of rows ``[n_layers * n_pos, d]`` (layer-major).

    ``ref_lp``: the log-distribution ``[n_pos, V]`` each cell's KL is measured from
    (:func:`_reference_log_probs`); ``ref_row``: the lens row it came from, if it is one.
    ``deep_k``: also return each cell's top-``deep_k`` ids (one top-k of the wider width).
    """
    z = _logits(x, head, softcap)
    n_pos, vocab = z.shape[0] // n_layers, z.shape[1]
    p_ref = own = None
    if ref_lp is not None:
        p_ref = ref_lp.exp()
        own = (p_ref * ref_lp).sum(-1)  # Σ p_ref·log p_ref, float64
        p_ref = p_ref.float()
    # One large GEMM per block keeps the unembedding efficient; the element-wise passes
    # then run on sub-blocks that stay in cache, so only their first pass touches DRAM.
    step = max(1, sub_bytes // (vocab * 4))
    parts = [
        _rows_reduce(z[r0:r1], max(k, deep_k), None if p_ref is None else p_ref[q0:q1])
        for r0, r1, q0, q1 in _sub_blocks(n_layers, n_pos, step)
    ]
    wide_i, log_s, entropy, lse = (torch.cat([p[i] for p in parts]) for i in range(4))
    top_i = wide_i[:, :k]
    kl = None
    if own is not None:
        # KL = Σ p_ref·log p_ref − Σ p_ref·z + log_s, with z each row's shifted logits.
        cross = torch.cat([p[4] for p in parts]).double()
        kl = (own.repeat(n_layers) - cross + log_s.double()).clamp_(min=0).float()
        if ref_row is not None:
            kl.view(n_layers, n_pos)[ref_row] = 0.0  # KL(p ‖ p), exactly

    # Tracked set per position: sort its L·k candidates (and the ids tracked everywhere),
    # keep first occurrences.
    n_top = n_layers * k
    cand = top_i.reshape(n_layers, n_pos, k).permute(1, 0, 2).reshape(n_pos, n_top)
    if extra is not None:
        cand = torch.cat([cand, extra.to(cand.device).expand(n_pos, -1)], dim=1)
    srt, order = cand.sort(dim=1)
    first = torch.ones_like(srt, dtype=torch.bool)
    first[:, 1:] = srt[:, 1:] != srt[:, :-1]
    rank = first.long().cumsum(1) - 1
    slots = torch.empty_like(rank).scatter_(1, order, rank)[:, :n_top]
    slots = slots.reshape(n_pos, n_layers, k).permute(1, 0, 2)
    pos, col = first.nonzero(as_tuple=True)
    ids = srt[pos, col]
    log_p = z.view(n_layers, n_pos, vocab)[:, pos, ids] - log_s.view(n_layers, n_pos)[:, pos]
    codes = encode_probs(log_p.t())
    t_lp = t_rank = None
    if targets is not None:
        t_lp, t_rank = _target_metrics(z, log_s, n_pos, step, targets)
    shape = (-1, n_layers, n_pos)
    return (
        ids,
        first.sum(1),
        slots,
        codes,
        entropy.view(n_layers, n_pos),
        lse.view(n_layers, n_pos),
        None if t_lp is None else t_lp.view(shape),
        None if t_rank is None else t_rank.view(shape),
        None if kl is None else kl.view(n_layers, n_pos),
        wide_i[:, :deep_k].to(torch.int32).reshape(n_layers, n_pos, deep_k) if deep_k else None,
    )


def lens_reduce(
    hidden: Sequence[torch.Tensor],
    norm: Callable[[torch.Tensor], Any] | None,
    head: Callable[[torch.Tensor], Any] | None,
    k: int,
    vocab_size: int,
    softcap: float | None = None,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    sub_bytes: int = DEFAULT_SUB_BYTES,
    extra_ids: Sequence[int] | None = None,
    targets: torch.Tensor | None = None,
    kl_reference: int | torch.Tensor | None = None,
    head_weight: torch.Tensor | None = None,
    deep_k: int = 0,
) -> torch.Tensor:
    """Reduce per-layer hidden states to the logit lens's compact result.

    Call it inside an nnsight trace (it only uses torch) or on plain tensors.

    Args:
        hidden: one ``[P, d]`` tensor per lens row (layer), in row order, or all of them
            stacked as ``[L, P, d]``.
        norm: the final norm, applied to all rows at once; ``None`` skips it (``hidden``
            already normed, or already logits with ``head=None``).
        head: the unembedding ``[n, d] → [n, V]``; ``None`` when ``hidden`` are logits.
        k: top-k width, ``1 <= k <= vocab_size``.
        vocab_size: width of the unembedding output.
        softcap: the model's final logit softcapping (``cap·tanh(z/cap)``), if any.
        chunk_bytes: upper bound for one block of float32 logits (one GEMM).
        sub_bytes: rows per element-wise pass, in bytes of logits (:data:`DEFAULT_SUB_BYTES`).
        extra_ids: token ids to track at every position whether or not they reach a top-k
            (pinned tokens, targets); ids in ``[0, vocab_size)``.
        targets: ``[T, P or 1, m]`` token ids padded with -1 (:func:`target_index`): the
            sets whose summed log-probability and best rank are wanted at every cell.
        kl_reference: measure each cell's KL divergence from this distribution: a lens row
            (an index into ``hidden``) or the reference layer's hidden state ``[P, d]``
            (``norm`` and ``head`` are applied to it as to ``hidden``).
        head_weight: the unembedding's weight ``[V, d]`` (no bias), when ``head`` is a
            plain linear map: the KL reference is then computed in float64, which keeps KL
            within 5e-5 of a float64 computation (float32 reference logits can be 3e-4 off).
        deep_k: also return each cell's top-``deep_k`` token ids, best first (0: none; at
            most ``vocab_size``). They cost one wider top-k, not another unembedding pass.

    Returns:
        The packed uint8 result (layout in the module docstring); expand it with
        :func:`decode_lens`.
    """
    with torch.no_grad():
        x = torch.stack([h for h in hidden])
        if norm is not None:
            x = norm(x)
        n_layers, n_pos, d = x.shape
        ref_states = None
        if isinstance(kl_reference, int):
            ref_states = x[kl_reference]
        elif kl_reference is not None:
            ref = torch.stack([kl_reference])[0]
            ref_states = norm(ref) if norm is not None else ref
        extra = torch.tensor(sorted(set(extra_ids)), dtype=torch.long) if extra_ids else None
        block = max(1, chunk_bytes // (n_layers * vocab_size * 4))
        ref_span = block * max(1, REF_CHUNK_BYTES // (block * vocab_size * 8))
        ref_lp = None
        parts = []
        for p0 in range(0, n_pos, block):
            rows = x[:, p0 : p0 + block].reshape(-1, d)
            block_targets = None
            if targets is not None:
                block_targets = targets if targets.shape[1] == 1 else targets[:, p0 : p0 + block]
                block_targets = block_targets.to(x.device)
            if ref_states is not None and p0 % ref_span == 0:
                span = ref_states[p0 : p0 + ref_span]
                ref_lp = _reference_log_probs(span, head, head_weight, softcap)
            parts.append(
                _block_reduce(
                    rows,
                    head,
                    n_layers,
                    k,
                    softcap,
                    sub_bytes,
                    extra,
                    block_targets,
                    None if ref_lp is None else ref_lp[p0 % ref_span : p0 % ref_span + block],
                    kl_reference if isinstance(kl_reference, int) else None,
                    deep_k,
                )
            )
        ids_dtype, slot_dtype = _wire_dtypes(n_layers, k, vocab_size)
        ids = torch.cat([p[0] for p in parts])
        if ids_dtype == torch.int16:
            ids = ids - 32768
        fields = [
            torch.cat([p[1] for p in parts]).to(torch.int32),
            ids.to(ids_dtype),
            torch.cat([p[3] for p in parts]),
            torch.cat([p[2] for p in parts], dim=1).to(slot_dtype),
            torch.cat([p[4] for p in parts], dim=1).to(torch.float32),
            torch.cat([p[5] for p in parts], dim=1).to(torch.float32),
        ]
        for i in (6, 7):  # target log-probs [T, L, P], ranks [T, L, P]
            if parts[0][i] is not None:
                fields.append(torch.cat([p[i] for p in parts], dim=2))
        for i in (8, 9):  # KL [L, P], deeper top ids [L, P, deep_k]
            if parts[0][i] is not None:
                fields.append(torch.cat([p[i] for p in parts], dim=1))
        return torch.cat([f.contiguous().reshape(-1).view(torch.uint8) for f in fields])


def target_index(sets: Sequence[Sequence[int]] | Sequence[Sequence[Sequence[int]]]) -> torch.Tensor:
    """Pack target token sets for :func:`lens_reduce`: ``[T, 1 or P, m]``, padded with -1.

    Args:
        sets: one id list per target (the same at every position), or one list per target
            holding one id list per position.
    """
    per_position = bool(sets) and bool(sets[0]) and isinstance(sets[0][0], (list, tuple))
    rows = [list(s) for s in sets] if per_position else [[list(s)] for s in sets]
    width = max((len(ids) for t in rows for ids in t), default=1)
    out = torch.full((len(rows), len(rows[0]) if rows else 1, max(width, 1)), -1)
    for t, per_pos in enumerate(rows):
        for p, ids in enumerate(per_pos):
            out[t, p, : len(ids)] = torch.tensor(list(ids), dtype=torch.long)
    return out


def _wire_dtypes(n_layers: int, k: int, vocab_size: int) -> tuple[torch.dtype, torch.dtype]:
    """Dtypes of the tracked ids and of the top-k slots, known to both ends."""
    ids = torch.int16 if vocab_size <= _SMALL_ID_VOCAB else torch.int32
    slots = torch.uint8 if n_layers * k <= 256 else torch.int16
    return ids, slots


def token_log_probs(
    normed: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    token_ids: Sequence[int],
    lse: torch.Tensor,
    softcap: float | None = None,
) -> torch.Tensor:
    """Exact lens log-probabilities of chosen tokens at every cell, from normed states.

    The cheap follow-up to :func:`lens_reduce`: with its log-sum-exp, a token's
    log-probability is its logit minus ``lse``, so n tokens cost an ``[L·P, d] × [d, n]``
    product instead of the full unembedding.

    Args:
        normed: final-normed hidden states ``[L, P, d]``.
        weight: the unembedding's weight ``[V, d]``.
        bias: the unembedding's bias ``[V]``, or ``None``.
        token_ids: ids to score.
        lse: ``[L, P]`` log-sum-exp of the logits, from :func:`decode_lens`.
        softcap: the model's final logit softcapping, if any.

    Returns:
        ``[L, P, n]`` float32 log-probabilities.
    """
    with torch.no_grad():
        index = torch.as_tensor(list(token_ids), dtype=torch.long, device=weight.device)
        z = normed.to(weight.dtype) @ weight[index].t()
        if bias is not None:
            z = z + bias[index]
        z = z.float()
        if softcap:
            z = torch.tanh(z / softcap) * softcap
        return z - lse.to(z.device)[..., None]


def cell_log_probs(
    normed: torch.Tensor,
    head: Callable[[torch.Tensor], torch.Tensor],
    softcap: float | None = None,
) -> torch.Tensor:
    """Full lens log-distribution of a few rows (e.g. every layer of one position).

    Args:
        normed: final-normed hidden states ``[n, d]``.
        head: the unembedding.
        softcap: the model's final logit softcapping, if any.

    Returns:
        ``[n, V]`` float32 log-probabilities.
    """
    with torch.no_grad():
        z = head(normed).float()
        if softcap:
            z = torch.tanh(z / softcap) * softcap
        return torch.log_softmax(z, dim=-1)
