"""The diff's Python side: two runs, their alignment rules, and the top-k divergence."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch
import transformers as tf
from nnsight import LanguageModel

from logitlenskit import LogitLensWidget, collect_logit_lens
from logitlenskit.live.compare import check_same_tokenizer, jsd_topk

pytestmark = pytest.mark.slow

A, B = "The capital of France is", "The capital of Italy is the city of"


def test_each_side_is_the_lens_of_its_own_prompt(smollm2):
    w = LogitLensWidget.compare(A, B, model=smollm2, targets=["Paris"], metrics=False)
    assert w.wait(120)
    for side, prompt in ((w.result, A), (w.compare_result, B)):
        alone = collect_logit_lens(prompt, smollm2, targets=["Paris"])
        assert side["input_ids"] == alone["input_ids"]
        assert torch.allclose(side["topk_probs"], alone["topk_probs"], atol=1e-5)
        assert torch.allclose(side["target_logprobs"], alone["target_logprobs"], atol=1e-5)
    # Unequal lengths are kept as they are: aligned by index, the longer side has more.
    assert len(w.data["input"]) == 5 and len(w.compare_data["input"]) == 8


def test_a_prompt_reruns_its_side_and_shared_traits_rerun_both(smollm2):
    w = LogitLensWidget.compare(A, B, model=smollm2, metrics=False)
    assert w.wait(120)
    run_a, run_b = w.data["run"], w.compare_data["run"]
    w.compare_prompt = "The capital of Spain is"
    assert w.wait(120)
    assert w.data["run"] == run_a and w.compare_data["run"] != run_b
    run_b = w.compare_data["run"]
    w.k = 3
    assert w.wait(120)
    assert w.data["run"] != run_a and w.compare_data["run"] != run_b
    assert w.data["k"] == w.compare_data["k"] == 3
    w.pins = [{"ids": [11]}]  # tracked exactly on both sides
    assert w.wait(120)
    for side in (w.result, w.compare_result):
        assert all(11 in t.tolist() for t in side["tracked"])


def test_different_tokenizers_and_layers_are_refused(smollm2, smol_tokenizer_copy):
    other = smol_tokenizer_copy
    with pytest.raises(ValueError, match="different tokenizers"):
        check_same_tokenizer(smollm2, other)
    a = collect_logit_lens(A, smollm2, layers=[0, 29])
    b = collect_logit_lens(B, smollm2, layers=[0, 28])
    with pytest.raises(Exception, match="same layers"):
        LogitLensWidget.compare(a, b)
    with pytest.raises(ValueError, match="need a model"):
        LogitLensWidget.compare(A, B)


@pytest.fixture
def smol_tokenizer_copy(smollm2):
    """A tiny model whose tokenizer has one token more than SmolLM2's."""
    tokenizer = copy.deepcopy(smollm2.tokenizer)
    tokenizer.add_tokens(["<extra-token>"])
    config = tf.LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2,
    )  # fmt: skip
    return LanguageModel(tf.AutoModelForCausalLM.from_config(config), tokenizer=tokenizer)


def test_top_k_jensen_shannon_against_a_direct_computation():
    rng = np.random.default_rng(0)
    for _ in range(50):
        ids_a, ids_b = rng.choice(20, 5, replace=False), rng.choice(20, 5, replace=False)
        pa, pb = rng.dirichlet(np.ones(6))[:5], rng.dirichlet(np.ones(6))[:5]
        # The full distributions over 20 ids + "other", written out, in float64.
        p, q = np.zeros(21), np.zeros(21)
        p[ids_a], q[ids_b] = pa, pb
        p[20], q[20] = 1 - pa.sum(), 1 - pb.sum()
        m = (p + q) / 2
        want = sum(
            0.5 * x * math.log(x / y) for d in (p, q) for x, y in zip(d, m, strict=True) if x > 0
        )
        assert jsd_topk(ids_a, pa, ids_b, pb) == pytest.approx(want, abs=1e-12)
    same = jsd_topk(np.array([1, 2]), np.array([0.6, 0.4]), np.array([1, 2]), np.array([0.6, 0.4]))
    apart = jsd_topk(np.array([1]), np.array([1.0]), np.array([2]), np.array([1.0]))
    assert same == 0.0 and apart == pytest.approx(math.log(2))


def test_an_edited_prompt_renames_its_side(smollm2):
    # Issue 23 item 19: the labels named the old prompts after an edit ("Italy" for Spain).
    w = LogitLensWidget.compare(
        A, "The capital of Italy is", model=smollm2, labels=["France", "Italy"], metrics=False
    )
    assert w.wait(120)
    assert w.compare_labels == ["France", "Italy"], "given labels stay until a prompt changes"
    w.compare_prompt = "The capital of Spain is"
    assert w.wait(120)
    assert w.compare_labels == ["France", "Spain"]  # the words that differ from side A
    w.prompt = "The capital of Germany is"
    assert w.wait(120)
    assert w.compare_labels == ["Germany", "Spain"]
    long = "Once upon a time in a land far away, the capital was"
    w.compare_prompt = long
    assert w.wait(120)
    label = w.compare_labels[1]
    assert label.endswith("\u2026") and long.startswith(label[:-1]) and len(label) <= 24
    # A side B that is the same text as side A is named by its whole (shortened) prompt.
    w.compare_prompt = w.prompt
    assert w.wait(120)
    assert w.compare_labels[1] == "The capital of Germany\u2026"


def test_detail_answers_side_bs_deeper_list(smollm2):
    # Issue 23 item 19: the popup's side B grows from Python as side A does.
    from logitlenskit.core.session import DEEP_K

    w = LogitLensWidget.compare(A, B, model=smollm2, metrics=False, layers=[0, 29])
    assert w.wait(120)
    msg = {"run": w.compare_data["run"], "layer": 29, "row": 1, "position": 6, "k": DEEP_K}
    answer, buffers = w.detail({**msg, "side": "b"}, [])
    assert answer["run"] == w.compare_data["run"] and len(answer["ids"]) == DEEP_K
    side_b = w.compare_result
    assert answer["ids"][:5] == side_b["topk"][1, 6].tolist()
    probs = np.frombuffer(buffers[0], "<f4").reshape(DEEP_K, 2)
    np.testing.assert_allclose(probs[:5, 1], side_b["topk_probs"][1, 6].numpy(), atol=5e-5)
    # Side A's run id on side B (or the reverse) is stale, not another side's numbers.
    assert w.detail(msg, [])[0].get("stale") is True
    stale = {**msg, "run": w.data["run"], "side": "b"}
    assert w.detail(stale, [])[0].get("stale") is True
