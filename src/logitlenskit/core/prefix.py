"""Kept KV caches: continue a causal model's pass after a token prefix already run.

In a causal model position ``i`` depends on tokens ``0..i`` only, so when a new prompt
starts with the tokens of one already run, those positions' hidden states (and so their
lens cells) do not change: only the new positions need the model, attending to the
prefix's keys and values. A :class:`KeptCache` holds the keys and values of one run's
tokens; a continuation asks it for a fresh transformers ``DynamicCache`` cut at the shared
prefix (:meth:`KeptCache.cache`). The cache grows by concatenation, which makes new
tensors, so the kept ones are never written and a cancelled continuation harms nothing.

Every layer is kept whole, a sliding-window layer's too (Gemma 3): the attention mask,
not the cache, limits what such a layer sees, so a cache cut at any length stays right;
the price is memory beyond the window, bounded by :data:`KV_BYTES`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import torch
from transformers import DynamicCache

__all__ = ["KV_BYTES", "MIN_SHARED", "KeptCache", "keep", "new_cache", "shared_length"]

#: Largest KV cache a run keeps to continue from (bytes); longer runs keep none.
KV_BYTES = 1 << 29
#: Fewest shared tokens worth continuing from. A shorter prefix saves a few percent of a
#: run, so such a run goes whole and equals a fresh collection bit for bit (a continued
#: one equals it within float32 noise: attention sums in another order).
MIN_SHARED = 8


def shared_length(a: Sequence[int], b: Sequence[int]) -> int:
    """How many leading tokens ``a`` and ``b`` have in common."""
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


@dataclasses.dataclass(frozen=True, eq=False)
class KeptCache:
    """The keys and values of every layer for the tokens ``ids``, one sequence.

    Attributes:
        ids: the token ids the cache holds, one per position.
        keys_values: per decoder layer, ``(keys, values)`` ``[1, heads, len(ids), head_dim]``.
    """

    ids: tuple[int, ...]
    keys_values: tuple[tuple[torch.Tensor, torch.Tensor], ...]

    @property
    def nbytes(self) -> int:
        """Memory the kept tensors take."""
        return sum(k.nbytes + v.nbytes for k, v in self.keys_values)

    def reusable(self, ids: Sequence[int]) -> int:
        """How many leading positions of ``ids`` this cache stands for (0: not worth it).

        Their shared token prefix, but at most ``len(ids) - 1``: the last position always
        runs, since a run needs the model's output there; 0 below :data:`MIN_SHARED`.
        """
        n = min(shared_length(self.ids, ids), len(ids) - 1)
        return n if n >= MIN_SHARED else 0

    def cache(self, length: int, batch: int = 1) -> DynamicCache:
        """A fresh cache holding the first ``length`` positions, for ``batch`` sequences."""
        if not 0 < length <= len(self.ids):
            raise ValueError(f"a kept cache of {len(self.ids)} positions cannot give {length}")
        return DynamicCache(
            [
                (_cut(keys, length, batch), _cut(values, length, batch))
                for keys, values in self.keys_values
            ]
        )


def _cut(tensor: torch.Tensor, length: int, batch: int) -> torch.Tensor:
    return tensor[:, :, :length].expand(batch, -1, -1, -1)


def new_cache() -> DynamicCache:
    """An empty cache of whole layers for a first pass (see the module docstring)."""
    return DynamicCache()


def keep(ids: Sequence[int], cache: DynamicCache) -> KeptCache | None:
    """What a filled one-sequence ``cache`` of ``ids`` keeps; None above :data:`KV_BYTES`.

    Also None when the cache does not hold every position of ``ids`` in every layer (a
    pass stopped early), since a continuation would then attend to a hole.
    """
    layers = tuple((keys, values) for keys, values, *_ in cache)
    if not layers or any(k is None or k.shape[-2] != len(ids) for k, _ in layers):
        return None
    kept = KeptCache(tuple(int(i) for i in ids), layers)
    return kept if kept.nbytes <= KV_BYTES else None
