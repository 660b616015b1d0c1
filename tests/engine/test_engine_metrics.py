"""Targets and per-cell metrics against float64 references, on the real models and on NDIF.

What is held: each target's summed probability and log-probability, the rank of its best
member and the KL divergence from the final output, within 5e-5 of a float64 computation
(KL at the final layer 0 within 1e-6); the live run (session) and the collection agree;
the NDIF simulation returns the same numbers, with logitlenskit absent on the "server".
"""

from __future__ import annotations

import pytest
import torch

from logitlenskit.analyses.collect import collect_logit_lens
from logitlenskit.core.engine import lens_reduce, target_index
from logitlenskit.core.session import start_run
from logitlenskit.core.wire import decode_lens

pytestmark = pytest.mark.slow

TARGETS = {"Paris": "Paris", "London": ["London", " London"], "the": [" the"]}


def _hf_parts(model):
    hf = model._model
    return hf, hf.model.layers, hf.model.norm, hf.lm_head


def _reference(model, data, reference):
    hf, layers, norm, head = _hf_parts(model)
    rows = list(data["layers"])
    final = model.num_layers - 1
    ref_lp, _ = reference(hf, layers, norm, head, data["input_ids"], [*rows, final])
    return ref_lp[:-1], ref_lp[-1]


def _check_metrics(data, lens_lp, final_lp):
    # KL(final ‖ layer) = Σ p_final (log p_final − log p_layer), all in float64.
    kl = (final_lp.exp() * (final_lp - lens_lp)).sum(-1)
    assert (data["kl"].double() - kl).abs().max().item() <= 5e-5
    for t, target in enumerate(data["targets"]):
        members = lens_lp[..., list(target["ids"])]
        want = torch.logsumexp(members, -1)
        got = data["target_logprobs"][t].double()
        assert (got.exp() - want.exp()).abs().max().item() <= 5e-5, target["name"]
        assert (got - want).abs().max().item() <= 5e-5, target["name"]
        best = members.max(-1).values
        rank = (lens_lp > best[..., None]).sum(-1) + 1
        # A float32 near-tie may order two tokens differently from float64: only cells
        # whose competitors are all further than 1e-4 nats are held to the exact rank.
        gap = (lens_lp - best[..., None]).abs()
        gap[lens_lp == best[..., None]] = float("inf")
        clear = gap.min(-1).values > 1e-4
        assert torch.equal(data["target_ranks"][t][clear].long(), rank[clear]), target["name"]


def test_metrics_match_float64_smollm2(smollm2, reference):
    data = collect_logit_lens(
        "The capital of France is Paris, not London.", smollm2, targets=TARGETS, metrics=True
    )
    lens_lp, final_lp = _reference(smollm2, data, reference)
    _check_metrics(data, lens_lp, final_lp)
    assert data["kl"][-1].abs().max().item() <= 1e-6  # the final layer is the reference
    assert [t["name"] for t in data["targets"]] == list(TARGETS)
    # Targets are tracked at every position, so their members' trajectories are there too.
    paris = set(data["targets"][0]["ids"])
    assert all(paris <= set(ids.tolist()) for ids in data["tracked"])


def test_metrics_with_a_layer_subset_use_the_final_layer_as_reference(smollm2, reference):
    data = collect_logit_lens(
        "The capital of France is", smollm2, layers=[0, 7, -5], targets=["Paris"], metrics=True
    )
    assert data["layers"] == [0, 7, 25]
    lens_lp, final_lp = _reference(smollm2, data, reference)
    _check_metrics(data, lens_lp, final_lp)
    assert data["kl"].min().item() > 0.1  # no row is the final layer


def test_metrics_match_float64_gemma3_big_vocabulary(gemma3, reference):
    data = collect_logit_lens(
        "The capital of France is",
        gemma3,
        layers=[0, 6, 12, -1],
        targets={"Paris": "Paris", "Rome": "Rome"},
        metrics=True,
    )
    lens_lp, final_lp = _reference(gemma3, data, reference)
    _check_metrics(data, lens_lp, final_lp)
    assert data["kl"][-1].abs().max().item() <= 1e-6


def test_live_run_and_collection_agree(smollm2):
    prompt = "One, two, three, four"
    data = collect_logit_lens(prompt, smollm2, targets={"five": " five"}, metrics=True)
    run = start_run(smollm2, prompt, targets={"five": " five"}, metrics=True)
    result = run.result
    assert result["targets"] == data["targets"]
    assert (torch.as_tensor(result["kl"]) - data["kl"]).abs().max().item() <= 1e-6
    got = torch.as_tensor(result["target_logprobs"])
    assert (got - data["target_logprobs"]).abs().max().item() <= 1e-6
    assert torch.equal(torch.as_tensor(result["target_ranks"]), data["target_ranks"])


def test_ndif_simulation_returns_the_same_metrics(smollm2, strict_ndif):
    kwargs = {"targets": {"Paris": "Paris"}, "metrics": True, "layers": [3, 15, 29]}
    local = collect_logit_lens("The capital of France is", smollm2, **kwargs)
    remote = collect_logit_lens("The capital of France is", smollm2, remote="local", **kwargs)
    for key in ("kl", "target_logprobs", "target_ranks"):
        assert torch.equal(remote[key], local[key]), key


def test_per_position_targets_and_both_reference_forms():
    """Plain tensors: a study gives each position its own target set."""
    torch.manual_seed(0)
    n_layers, n_pos, d, vocab = 4, 5, 16, 40
    weight = torch.randn(vocab, d)
    hidden = torch.randn(n_layers, n_pos, d) * 3
    final = torch.randn(n_pos, d) * 3
    sets = [[[p], [p + 1, p + 2]][p % 2] for p in range(n_pos)]
    index = target_index([sets])
    assert index.shape == (1, n_pos, 2)

    def head(x):
        return x @ weight.t()

    lp = torch.log_softmax(hidden.double() @ weight.double().t(), -1)
    for ref, ref_lp in (
        (n_layers - 1, lp[-1]),
        (final, torch.log_softmax(final.double() @ weight.double().t(), -1)),
    ):
        packed = lens_reduce(
            list(hidden), None, head, 2, vocab, targets=index, kl_reference=ref, head_weight=weight
        )
        out = decode_lens(packed, n_layers, n_pos, 2, vocab, n_targets=1, kl=True)
        kl = (ref_lp.exp() * (ref_lp - lp)).sum(-1)
        assert (out["kl"].double() - kl).abs().max().item() <= 5e-5
        want = torch.stack([torch.logsumexp(lp[:, p, sets[p]], -1) for p in range(n_pos)], 1)
        assert (out["target_logprobs"][0].double() - want).abs().max().item() <= 5e-5
    assert out["kl"].min().item() > 0  # the tensor reference is no lens row


def test_softcapped_logits_in_the_reference_and_the_rows():
    """Gemma 2's final softcapping (cap·tanh(z/cap)) applies to the KL reference too."""
    torch.manual_seed(1)
    n_layers, n_pos, d, vocab, cap = 3, 4, 8, 30, 5.0
    weight = torch.randn(vocab, d) * 2
    hidden = torch.randn(n_layers, n_pos, d) * 3
    packed = lens_reduce(
        list(hidden),
        None,
        lambda x: x @ weight.t(),
        2,
        vocab,
        softcap=cap,
        targets=target_index([[1, 2]]),
        kl_reference=hidden[-1],
        head_weight=weight,
    )
    out = decode_lens(packed, n_layers, n_pos, 2, vocab, n_targets=1, kl=True)
    z = hidden.double() @ weight.double().t()
    lp = torch.log_softmax(cap * torch.tanh(z / cap), -1)
    kl = (lp[-1].exp() * (lp[-1] - lp)).sum(-1)
    assert (out["kl"].double() - kl).abs().max().item() <= 5e-5
    assert out["kl"][-1].abs().max().item() <= 1e-6
    want = torch.logsumexp(lp[..., [1, 2]], -1)
    assert (out["target_logprobs"][0].double() - want).abs().max().item() <= 5e-5


def test_a_non_finite_cell_has_nan_metrics():
    n_layers, n_pos, d, vocab = 3, 4, 8, 20
    hidden = torch.randn(n_layers, n_pos, d)
    hidden[1, 2, 0] = float("nan")
    weight = torch.randn(vocab, d)
    packed = lens_reduce(
        list(hidden),
        None,
        lambda x: x @ weight.t(),
        2,
        vocab,
        targets=target_index([[3, 4]]),
        kl_reference=n_layers - 1,
    )
    out = decode_lens(packed, n_layers, n_pos, 2, vocab, n_targets=1, kl=True)
    assert out["invalid"][1, 2]
    assert torch.isnan(out["kl"][1, 2]) and torch.isnan(out["target_logprobs"][0, 1, 2])
    assert out["target_ranks"][0, 1, 2] == 0
    finite = ~out["invalid"]
    assert torch.isfinite(out["kl"][finite]).all()
