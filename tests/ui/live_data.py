"""Payloads and command answers of a live widget, built from fake_lens' exact distributions."""

from __future__ import annotations

from typing import Any

import numpy as np

from fake_lens import collection
from logitlenskit.formats import to_widget_payload


def full_probs(
    n_layers: int = 6, n_pos: int = 4, seed: int = 0, vocab_size: int = 30, **_: Any
) -> np.ndarray:
    """The whole lens distribution [L, P, V] behind ``fake_lens.collection`` (same draws)."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(n_layers, n_pos, vocab_size))
    logits *= np.linspace(0.5, 4.0, n_layers)[:, None, None]
    probs = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    check = collection(n_layers=n_layers, n_pos=n_pos, seed=seed, vocab_size=vocab_size)
    top = np.take_along_axis(probs, check["topk"].astype(np.int64), -1)
    assert np.allclose(top, check["topk_probs"], atol=1e-6), "fake_lens changed its draws"
    return probs


def live_payload(
    run: int = 1, cell_status: np.ndarray | None = None, track: tuple[int, ...] = (), **kw: Any
) -> dict[str, Any]:
    """The version-3 payload of run ``run``; ``track`` adds exact trajectories of those ids
    at every position (what Python sends after a pin).
    """
    data = collection(**kw)
    if track:
        probs = full_probs(**kw)
        data["tracked"] = [np.union1d(t, track).astype(np.int32) for t in data["tracked"]]
        data["probs"] = [probs[:, p, t].astype(np.float32) for p, t in enumerate(data["tracked"])]
    if cell_status is not None:
        data["cell_status"] = cell_status.astype(np.uint8)
    return {**to_widget_payload(data), "run": run}


def detail_answer(
    run: int, layer: int, position: int, count: int, **kw: Any
) -> tuple[dict[str, Any], tuple[bytes]]:
    """What Python answers to ``detail`` with k=count: the most probable ids at (layer,
    position) and their trajectories at that position, float32 [n, L]. ``kw`` as for
    ``collection`` (its own ``k`` is ignored).
    """
    kw.pop("k", None)
    probs = full_probs(**kw)
    order = np.argsort(-probs[layer, position], kind="stable")[:count]
    ids = [int(i) for i in order]
    answer = {
        "run": run,
        "layer": layer,
        "position": position,
        "ids": ids,
        "tokens": [f"tok{i}" for i in ids],
    }
    return answer, (np.ascontiguousarray(probs[:, position, order].T, dtype="<f4").tobytes(),)
