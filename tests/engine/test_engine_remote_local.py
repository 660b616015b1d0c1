"""Every collection mode through nnsight's NDIF simulation, with logitlenskit unimportable
on the simulated server (see the ``strict_ndif`` fixture).
"""

from __future__ import annotations

import pytest
import torch
from nnsight import LanguageModel

from logitlenskit.analyses.collect import (
    collect_logit_lens,
    collect_logit_lens_topk,
    collect_logit_lens_topk_efficient,
    decode_tracked_tokens,
)
from logitlenskit.core.engine import lens_reduce
from logitlenskit.core.wire import decode_lens

PROMPT = "The capital of France is Paris, and 東京 is 🍕"


@pytest.fixture(scope="module")
def smol_lm(smollm2) -> LanguageModel:
    """The same weights as a plain nnsight LanguageModel (the registry path)."""
    return LanguageModel(smollm2._model, tokenizer=smollm2.tokenizer)


def _same(a: dict, b: dict, keys: list[str]) -> None:
    for key in keys:
        if isinstance(a[key], list) and isinstance(a[key][0], torch.Tensor):
            assert all(torch.equal(x, y) for x, y in zip(a[key], b[key], strict=True))
        elif isinstance(a[key], torch.Tensor):
            assert torch.equal(a[key], b[key]), key
        else:
            assert a[key] == b[key], key


def test_collect_logit_lens_local_simulation(smollm2, strict_ndif):
    here = collect_logit_lens(PROMPT, smollm2, k=4, layers=[2, -1], remote=False)
    sim = collect_logit_lens(PROMPT, smollm2, k=4, layers=[2, -1], remote="local")
    _same(
        here,
        sim,
        [
            "input",
            "input_ids",
            "layers",
            "topk",
            "topk_probs",
            "tracked",
            "probs",
            "entropy",
            "vocab",
        ],
    )


@pytest.mark.parametrize("track", [False, True])
def test_topk_efficient_local_simulation(smol_lm, strict_ndif, track):
    here = collect_logit_lens_topk_efficient(
        PROMPT, smol_lm, top_k=3, track_across_layers=track, remote=False
    )
    sim = collect_logit_lens_topk_efficient(
        PROMPT, smol_lm, top_k=3, track_across_layers=track, remote="local"
    )
    keys = ["tokens", "layers", "top_indices", "top_probs"]
    _same(here, sim, keys + (["tracked_indices", "tracked_probs"] if track else []))
    assert ("tracked_indices" in sim) == track


def test_topk_full_logits_local_simulation(smol_lm, strict_ndif):
    efficient = collect_logit_lens_topk_efficient(
        PROMPT, smol_lm, top_k=3, remote=False, track_across_layers=True, layers=[0, 29]
    )
    slow = collect_logit_lens_topk(
        PROMPT, smol_lm, top_k=3, remote="local", track_across_layers=True, layers=[0, 29]
    )
    assert torch.equal(slow["top_indices"], efficient["top_indices"])
    assert (slow["top_probs"] - efficient["top_probs"]).abs().max() <= 1e-5
    decoded = decode_tracked_tokens(slow, smol_lm.tokenizer)
    assert len(decoded) == len(slow["tokens"])
    assert all(len(decoded[p]) == len(t) for p, t in enumerate(slow["tracked_indices"]))


def test_strict_simulation_can_fail(smollm2, strict_ndif, monkeypatch):
    """Without by-value registration the strict simulation rejects our functions."""
    import importlib

    import cloudpickle

    import logitlenskit.core.capture as capture

    monkeypatch.setattr(capture, "ship_by_value", lambda *args: None)
    # nnsight registers packages it finds outside site-packages (e.g. via PYTHONPATH).
    names = (
        "logitlenskit",
        "logitlenskit.core.engine",
        "logitlenskit.core.architectures",
        "logitlenskit.core.readout",
        "logitlenskit.core.capture",
        "logitlenskit.core.edits",
        "logitlenskit.core.sites",
    )
    was = [n for n in names if n in cloudpickle.list_registry_pickle_by_value()]
    for name in was:
        cloudpickle.unregister_pickle_by_value(importlib.import_module(name))
    try:
        with pytest.raises(Exception, match="logitlenskit"):
            collect_logit_lens(PROMPT, smollm2, k=2, layers=[-1], remote="local")
    finally:
        for name in was:
            cloudpickle.register_pickle_by_value(importlib.import_module(name))


def test_engine_outside_a_trace_matches_inside(smollm2):
    data = collect_logit_lens(PROMPT, smollm2, k=3, layers=[5], remote=False)
    hf = smollm2._model
    captured = []
    handle = hf.model.layers[5].register_forward_hook(lambda m, i, o: captured.append(o))
    with torch.no_grad():
        hf(torch.tensor([data["input_ids"]]))
    handle.remove()
    out = captured[0][0] if isinstance(captured[0], tuple) else captured[0]
    lens = decode_lens(
        lens_reduce([out[0]], hf.model.norm, hf.lm_head, 3, 49152), 1, out.shape[1], 3, 49152
    )
    assert torch.equal(lens["topk"], data["topk"])
    assert torch.equal(lens["topk_probs"], data["topk_probs"])
