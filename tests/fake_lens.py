"""Model-free lens data for format, display and browser tests.

The engine's tests use real models.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch


def collection(
    n_layers: int = 6,
    n_pos: int = 4,
    k: int = 3,
    vocab: dict[int, str] | None = None,
    input_tokens: list[str] | None = None,
    seed: int = 0,
    vocab_size: int = 30,
) -> dict[str, Any]:
    """A consistent collection dict (docs/data-format.md §1) from random softmaxes.

    Later layers are sharpened so the final layer has a clear winner, as in real lenses.
    """
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(n_layers, n_pos, vocab_size))
    logits *= np.linspace(0.5, 4.0, n_layers)[:, None, None]
    probs = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    topk = np.argsort(-probs, axis=-1)[..., :k].astype(np.int32)
    tracked = [np.unique(topk[:, p, :]).astype(np.int32) for p in range(n_pos)]
    entropy = -(probs * np.log(probs)).sum(-1).astype(np.float32)
    inputs = input_tokens or [f"in{p}" for p in range(n_pos)]
    return {
        "model": "fake-model",
        "input": inputs,
        "input_ids": list(range(100, 100 + n_pos)),
        "layers": list(range(n_layers)),
        "topk": topk,
        "topk_probs": np.take_along_axis(probs, topk, -1).astype(np.float32),
        "tracked": tracked,
        "probs": [probs[:, p, t].astype(np.float32) for p, t in enumerate(tracked)],
        "entropy": entropy,
        "vocab": vocab or {i: f"tok{i}" for i in range(vocab_size)},
    }


def payload(**kwargs: Any) -> dict[str, Any]:
    """The version-3 widget payload, built by the package's own encoder."""
    from logitlenskit.base.formats import to_widget_payload

    return to_widget_payload(collection(**kwargs))


def torch_collection(**kwargs: Any) -> dict[str, Any]:
    """``collection`` with tensors where ``collect_logit_lens`` returns tensors."""
    data = collection(**kwargs)
    for key in ("topk", "topk_probs", "entropy"):
        data[key] = torch.from_numpy(data[key])
    data["tracked"] = [torch.from_numpy(t) for t in data["tracked"]]
    data["probs"] = [torch.from_numpy(np.ascontiguousarray(p)) for p in data["probs"]]
    return data
