"""Payloads and command answers of a live widget, built from fake_lens' exact distributions."""

from __future__ import annotations

from typing import Any

import numpy as np

from fake_lens import collection
from logitlenskit.base.formats import to_widget_payload


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


def _held_from(mask: np.ndarray) -> int:
    """The first lens row from which ``mask`` [L] holds to the last row; -1 if not at the last."""
    if not mask[-1]:
        return -1
    row = len(mask) - 1
    while row > 0 and mask[row - 1]:
        row -= 1
    return row


def generation_payload(
    run: int = 1,
    n_prompt: int = 4,
    n_gen: int = 2,
    template: tuple[int, ...] = (),
    shown: int | None = None,
    sampled: tuple[int, ...] = (),
    commitment: list[int] | None = None,
    entered: list[int] | None = None,
    layer_step: int = 1,
    **kw: Any,
) -> dict[str, Any]:
    """A generation's payload (docs/data-format.md §3): ``n_prompt`` prompt positions (those
    in ``template`` are chat-template tokens) followed by ``n_gen`` generated ones, of which
    the first ``shown`` positions are sent (all by default) so that a stream of payloads of
    one run grows by a position each, earlier cells unchanged.

    Each generated token is position p - 1's top-1 at the last lens row (greedy), or its
    second (positions in ``sampled``); ``commitment`` and ``entered_topk`` are computed from
    the top-k unless given. ``layer_step`` spaces the layer numbers (lens row r is layer
    ``r * layer_step``), so rows and layer numbers differ. ``kw`` as for ``collection``.
    """
    total = n_prompt + n_gen
    data = collection(n_pos=total, **kw)
    topk = data["topk"]
    n_layers = topk.shape[0]
    kinds = np.zeros(total, np.uint8)
    kinds[list(template)] = 1
    kinds[n_prompt:] = 2
    commit = np.full(total, -1, np.int32)
    enter = np.full(total, -1, np.int32)
    for p in range(n_prompt, total):
        token = int(topk[-1, p - 1, 1 if p in sampled else 0])
        data["input"][p] = data["vocab"][token]
        data["input_ids"][p] = token
        commit[p] = _held_from(topk[:, p - 1, 0] == token)
        enter[p] = _held_from((topk[:, p - 1, :] == token).any(-1))
    if commitment is not None:
        commit = np.asarray(commitment, np.int32)
    if entered is not None:
        enter = np.asarray(entered, np.int32)
    n = total if shown is None else shown
    data["input"] = data["input"][:n]
    data["input_ids"] = data["input_ids"][:n]
    data["layers"] = [r * layer_step for r in range(n_layers)]
    for key in ("topk", "topk_probs"):
        data[key] = np.ascontiguousarray(data[key][:, :n])
    data["entropy"] = np.ascontiguousarray(data["entropy"][:, :n])
    data["tracked"] = data["tracked"][:n]
    data["probs"] = data["probs"][:n]
    return {
        **to_widget_payload(data),
        "run": run,
        "position_kinds": kinds[:n].tobytes(),
        "commitment": commit[:n].astype("<i4").tobytes(),
        "entered_topk": enter[:n].astype("<i4").tobytes(),
    }
