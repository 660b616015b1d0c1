"""The lens on the two real models: fidelity and float64 agreement."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from logitlenskit import LogitLensWidget
from logitlenskit.analyses.collect import collect_logit_lens

pytestmark = pytest.mark.slow

PROMPTS = [
    "The capital of France is",
    "Der schnelle braune Fuchs springt über den faulen Hund. 東京は日本の首都です。",
    "I love pizza 🍕🎉 and coffee ☕ with friends 👩‍👩‍👧",
    "the the the the cat cat cat sat sat on on the the mat mat",
    "Москва — столица России, а Киев — Украины.",
]


def _hf_parts(model):
    hf = model._model
    return hf, hf.model.layers, hf.model.norm, hf.lm_head


def _fidelity(model, prompt: str) -> float:
    data = collect_logit_lens(prompt, model, k=10, layers=[-1], remote=False)
    with torch.no_grad():
        logits = model._model(torch.tensor([data["input_ids"]])).logits[0]
    # The exact distribution of the model's own float32 logits. (torch's float32 softmax
    # over 49k entries is itself up to ~2e-5 off it, so it cannot be the yardstick.)
    own = logits.double().softmax(-1)
    worst = data["topk_probs"][0].double() - own.gather(-1, data["topk"][0].long())
    worst = worst.abs().max().item()
    for p, ids in enumerate(data["tracked"]):
        diff = data["probs"][p][0].double() - own[p, ids.long()]
        worst = max(worst, diff.abs().max().item())
    # The last layer's top-k is the model's own top-k.
    assert torch.equal(data["topk"][0, :, 0].long(), own.argmax(-1))
    return worst


@pytest.mark.parametrize("prompt", PROMPTS[:2])
def test_fidelity_smollm2(smollm2, prompt):
    assert _fidelity(smollm2, prompt) <= 1e-5


def test_fidelity_gemma3(gemma3):
    assert _fidelity(gemma3, PROMPTS[0]) <= 1e-5
    assert _fidelity(gemma3, PROMPTS[2]) <= 1e-5


@pytest.mark.parametrize("prompt", PROMPTS)
def test_float64_reference_smollm2(smollm2, prompt, reference, check_reference):
    data = collect_logit_lens(prompt, smollm2, k=5, remote=False)
    hf, layers, norm, head = _hf_parts(smollm2)
    ref_lp, _ = reference(hf, layers, norm, head, data["input_ids"], data["layers"])
    check_reference(data, ref_lp)
    # Entropy is exact like every other value (float32 on the wire, within 5e-5 nats).
    ref_h = -(ref_lp.exp() * ref_lp).sum(-1)
    assert (data["entropy"].double() - ref_h).abs().max().item() <= 5e-5


def test_entropy_in_the_widget_payload_is_exact(smollm2, reference):
    w = LogitLensWidget(model=smollm2, prompt=PROMPTS[0])
    assert w.wait(120) and w.error == ""
    hf, layers, norm, head = _hf_parts(smollm2)
    ref_lp, _ = reference(hf, layers, norm, head, w.result["input_ids"], w.result["layers"])
    ref_h = -(ref_lp.exp() * ref_lp).sum(-1).numpy()
    shown = np.frombuffer(w.data["entropy"], "<f4").reshape(ref_h.shape)
    assert np.abs(shown - ref_h).max() <= 5e-5


def test_float64_reference_gemma3(gemma3, reference, check_reference):
    prompt = PROMPTS[2]
    data = collect_logit_lens(prompt, gemma3, k=3, layers=[0, 5, -6, -1], remote=False)
    hf, layers, norm, head = _hf_parts(gemma3)
    ref_lp, _ = reference(hf, layers, norm, head, data["input_ids"], data["layers"])
    check_reference(data, ref_lp)


def test_layers_subset_negative_unsorted_duplicates(smollm2):
    full = collect_logit_lens("Hello there, general Kenobi", smollm2, k=3, remote=False)
    sub = collect_logit_lens(
        "Hello there, general Kenobi", smollm2, k=3, layers=[-1, 3, 3, 0], remote=False
    )
    assert sub["layers"] == [29, 3, 3, 0]
    assert torch.equal(sub["topk"], full["topk"][[29, 3, 3, 0]])
    assert torch.allclose(sub["topk_probs"], full["topk_probs"][[29, 3, 3, 0]])


def test_ids_not_strings_end_to_end(smollm2):
    """Emoji split into byte tokens: distinct ids that decode alike stay distinct."""
    data = collect_logit_lens(PROMPTS[2], smollm2, k=20, remote=False)
    strings = [data["vocab"][i] for i in data["vocab"]]
    collisions = len(strings) - len(set(strings))
    assert collisions > 0, "prompt no longer produces same-string ids; pick another"
    for p, ids in enumerate(data["tracked"]):
        assert len(set(ids.tolist())) == len(ids)
        assert data["probs"][p].shape[1] == len(ids)
    assert set(data["vocab"]) == {int(i) for t in data["tracked"] for i in t}


def test_engine_keeps_colliding_ids_apart(smollm2):
    """Steer the lens onto two byte-fragment ids that both decode to U+FFFD."""
    tok = smollm2.tokenizer
    frags = [i for i in range(tok.vocab_size) if tok.decode([i]) == "\ufffd"][:2]
    assert len(frags) == 2
    from logitlenskit.core.engine import lens_reduce
    from logitlenskit.core.wire import decode_lens

    W = smollm2._model.lm_head.weight.detach()
    h = (W[frags[0]] * 3 + W[frags[1]] * 2.9)[None]  # both far ahead of the rest
    saved = lens_reduce([h, h], None, lambda x: x @ W.T, 2, W.shape[0])
    lens = decode_lens(saved, 2, 1, 2, W.shape[0])
    assert sorted(lens["tracked"][0].tolist()) == sorted(frags)
    p = lens["probs"][0][0]
    assert p[0] != p[1]
