"""Diff two runs in one grid: the rules of a comparison.

A comparison shows run A (the widget's own ``data``) against run B (``compare_data``):
prompt A vs prompt B on one model, or model A vs model B over one tokenizer (e.g. a model
and the same model with a layer ablated or a direction steered through nnsight). A live
diff runs each side with a :class:`~logitlenskit.live.side.LiveSide`. Both sides
share ``k``, ``layers``, targets, pins and metrics; each has its own prompt, so editing one
reruns that side only.

**Alignment.** Positions are aligned by index from the first token. When the prompts have
different lengths, positions past the shorter one have only one side: the view shows them
without a difference. Layers always match (both sides run the same ``layers``).

**What is compared.** Per cell, the change in probability of a chosen token (exact: the
pinned and target tokens are tracked on both sides) and the Jensen–Shannon divergence of
the two top-k distributions, each with the rest of the vocabulary pooled into one "other"
bin (computed by the view from the two top-k lists; ``jsd_topk`` here is the same rule for
Python code and tests).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..core.request import model_tokenizer

__all__ = ["check_same_tokenizer", "jsd_topk"]


def check_same_tokenizer(model_a: Any, model_b: Any) -> None:
    """ValueError unless both models tokenize text into the same ids.

    A diff aligns positions and compares token ids, which means nothing across tokenizers.
    """
    if model_a is model_b:
        return
    vocab_a = model_tokenizer(model_a).get_vocab()
    vocab_b = model_tokenizer(model_b).get_vocab()
    if vocab_a != vocab_b:
        only = len(set(vocab_a.items()) ^ set(vocab_b.items()))
        raise ValueError(
            f"the two models have different tokenizers ({len(vocab_a):,} vs {len(vocab_b):,} "
            f"tokens, {only:,} entries differ): a diff compares token ids position by "
            "position, so compare models that share a tokenizer (e.g. a model and an edited "
            "copy of it)"
        )


def jsd_topk(
    ids_a: np.ndarray, probs_a: np.ndarray, ids_b: np.ndarray, probs_b: np.ndarray
) -> float:
    """Jensen–Shannon divergence (nats) of two top-k lists, the rest pooled as "other".

    Each side is its top-k probabilities plus one bin holding 1 − their sum; a token in one
    top-k but not the other counts 0 on the other side (its probability there is in that
    side's "other" bin). In [0, ln 2].
    """
    tokens = sorted({*map(int, ids_a), *map(int, ids_b)})
    index = {t: i for i, t in enumerate(tokens)}
    p, q = np.zeros(len(tokens) + 1), np.zeros(len(tokens) + 1)
    for ids, probs, dist in ((ids_a, probs_a, p), (ids_b, probs_b, q)):
        for token, prob in zip(ids, probs, strict=True):
            dist[index[int(token)]] = prob
        dist[-1] = max(0.0, 1.0 - dist[:-1].sum())
    m = (p + q) / 2

    def kl(x: np.ndarray) -> float:
        mask = x > 0
        return float(np.sum(x[mask] * np.log(x[mask] / m[mask])))

    return 0.5 * kl(p) + 0.5 * kl(q)
