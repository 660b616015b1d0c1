"""The live widget continues its shown run when a new prompt starts with its tokens (issue 22)."""

from __future__ import annotations

import pytest
import torch

from logitlenskit import LogitLensWidget, collect_logit_lens

pytestmark = pytest.mark.slow

START = "The Eiffel Tower is a wrought-iron tower in Paris. It was built for the world fair"


def test_typing_at_the_end_runs_only_the_new_tokens(smollm2, fed):
    w = LogitLensWidget(model=smollm2, prompt=START, targets=["Paris"], metrics=True)
    assert w.wait(120) and w.error == ""
    old_run, n_old = w.data["run"], len(w.result["input_ids"])
    fed.clear()
    w.prompt += " of 1889"
    assert w.wait(120) and w.error == ""
    assert fed == [len(w.result["input_ids"]) - n_old], "the shown positions did not run again"
    assert w.data["run"] != old_run
    full = collect_logit_lens(w.prompt, smollm2, targets=["Paris"], metrics=True)
    assert w.result["input_ids"] == full["input_ids"]
    for name in ("topk_probs", "entropy", "kl", "target_logprobs"):
        assert torch.allclose(w.result[name], full[name], atol=5e-5), name
    w.close()


def test_a_diff_of_a_minimal_pair_runs_the_shared_start_once(smollm2, fed):
    a = START + ". Its architect was Gustave"
    b = START + ". Its height is about"
    w = LogitLensWidget.compare(a, b, model=smollm2, metrics=False)
    assert w.wait(120) and w.error == ""
    ids_a, ids_b = w.result["input_ids"], w.compare_result["input_ids"]
    shared = next(i for i, (x, y) in enumerate(zip(ids_a, ids_b, strict=False)) if x != y)
    # Whichever side ran first ran whole; the second only from where the two differ.
    assert sorted(fed) == sorted([len(ids_a), len(ids_b) - shared]) or sorted(fed) == sorted(
        [len(ids_b), len(ids_a) - shared]
    )
    full = collect_logit_lens(b, smollm2)
    assert torch.allclose(w.compare_result["topk_probs"], full["topk_probs"], atol=5e-5)
    w.close()


def test_running_the_same_prompt_again_is_a_fresh_run(smollm2, fed):
    # w.run() / Enter on an unchanged prompt: the weights may have changed in place since.
    w = LogitLensWidget(model=smollm2, prompt=START)
    assert w.wait(120)
    fed.clear()
    w.run()
    assert w.wait(120) and fed == [len(w.result["input_ids"])]
    fed.clear()
    w.rerun({}, [])
    assert w.wait(120) and fed == [len(w.result["input_ids"])]
    w.close()
