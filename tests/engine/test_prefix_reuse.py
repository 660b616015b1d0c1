"""Prefix reuse: a run continues a kept run after their shared tokens (issue 22).

The shared positions' cells must be the previous run's, bit for bit; the new positions
must be the lens of the whole new prompt (float64 reference within 5e-5); the model must
see only the new tokens; and anything that changes what a cell means reruns in full.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from logitlenskit.core import session
from logitlenskit.core.edits import Steer
from logitlenskit.core.options import LensOptions
from logitlenskit.core.session import run_options
from logitlenskit.live.side import as_collection

pytestmark = pytest.mark.slow

START = "The Eiffel Tower is a wrought-iron tower in Paris. It was built for the world fair"
CELLS = ("topk", "topk_probs", "entropy", "kl", "target_logprobs", "target_ranks")


def _hf_parts(model):
    hf = model._model
    return hf, hf.model.layers, hf.model.norm, hf.lm_head


def _cells(run, name, stop=None):
    value = np.asarray(run.result[name])
    return value[..., :stop] if name.startswith("target_") else value[:, :stop]


def _assert_prefix_taken(new, old, n):
    """The first ``n`` positions of ``new`` are ``old``'s cells, bit for bit."""
    for name in CELLS:
        if name in old.result:
            assert np.array_equal(_cells(new, name, n), _cells(old, name, n), equal_nan=True), name
    assert np.array_equal(new.status[:, :n], old.status[:, :n])
    assert np.array_equal(new.lse[:, :n], old.lse[:, :n], equal_nan=True)
    for p in range(n):
        assert np.array_equal(new.result["tracked"][p], old.result["tracked"][p])
        assert np.array_equal(new.result["probs"][p], old.result["probs"][p])


def _check_float64(model, run, reference, atol=5e-5):
    """Every top-k, tracked and target probability of ``run`` vs the float64 lens."""
    data = as_collection(run.result)
    hf, layers, norm, head = _hf_parts(model)
    ref_lp, _ = reference(hf, layers, norm, head, data["input_ids"], data["layers"])
    ref_p = ref_lp.exp()
    got = data["topk_probs"].double()
    assert (got - ref_p.gather(-1, data["topk"].long())).abs().max().item() <= atol
    for p, ids in enumerate(data["tracked"]):
        assert (data["probs"][p].double() - ref_p[:, p, ids.long()]).abs().max() <= atol
    for t, target in enumerate(run.request.targets):
        want = ref_p[..., list(target.ids)].sum(-1)
        assert (data["target_logprobs"][t].double().exp() - want).abs().max() <= atol
    return ref_lp


def test_appending_runs_only_the_new_tokens(smollm2, fed, reference):
    options = LensOptions(k=5, metrics=True, targets=(" Paris",))
    old = run_options(smollm2, START, options, extra=[11])
    assert old.kept is not None and old.kept.ids == tuple(old.input_ids)
    fed.clear()
    new = run_options(smollm2, START + " of 1889, and", options, extra=[11], previous=old)
    n = len(old.input_ids)
    assert new.input_ids[:n] == old.input_ids  # this text appends whole tokens
    assert fed == [len(new.input_ids) - n], "only the new positions went through the model"
    _assert_prefix_taken(new, old, n)
    assert new.complete and new.kept.ids == tuple(new.input_ids)
    ref_lp = _check_float64(smollm2, new, reference)
    # KL of the new positions against the float64 lens of the whole new prompt.
    ref_kl = (ref_lp[-1].exp() * (ref_lp[-1] - ref_lp)).sum(-1).numpy()
    assert np.abs(np.asarray(new.result["kl"])[:, n:] - ref_kl[:, n:]).max() <= 5e-5
    # The follow-up cache covers every position, as a full run's does.
    assert new.normed.shape[1] == len(new.input_ids)
    assert torch.allclose(new.normed[:, :n], old.normed)


def test_an_edit_in_the_middle_reruns_from_the_edit(smollm2, fed, reference):
    options = LensOptions(k=3)
    old = run_options(smollm2, START, options)
    edited = START.replace("Paris", "France")  # the 12th token of 20
    fed.clear()
    new = run_options(smollm2, edited, options, previous=old)
    pairs = zip(old.input_ids, new.input_ids, strict=False)
    shared = next(i for i, (a, b) in enumerate(pairs) if a != b)
    assert fed == [len(new.input_ids) - shared]
    _assert_prefix_taken(new, old, shared)
    _check_float64(smollm2, new, reference)


def test_the_same_prompt_asked_the_same_runs_no_pass(smollm2, fed):
    options = LensOptions(k=3)
    old = run_options(smollm2, START, options)
    fed.clear()
    new = run_options(smollm2, START, options, previous=old)
    assert fed == [], "the cells of the same tokens are the shown run's"
    _assert_prefix_taken(new, old, len(old.input_ids))
    assert new.run_id != old.run_id and new.complete and new.kept is old.kept


@pytest.mark.parametrize(
    "change",
    [
        {"k": 4},
        {"layers": [0, 10, 29]},
        {"metrics": True},
        {"targets": (" Paris",)},
        {"sublayers": True},
        {"edits": (Steer(10, torch.zeros(576), 1.0),)},
    ],
    ids=lambda c: next(iter(c)),
)
def test_a_change_of_what_cells_mean_reruns_everything(smollm2, fed, change):
    old = run_options(smollm2, START, LensOptions(k=3))
    fed.clear()
    new = run_options(smollm2, START + " of 1889", LensOptions(k=3).replace(**change), previous=old)
    assert fed == [len(new.input_ids)], f"{change} must rerun the whole prompt"


def test_pins_the_old_run_lacks_rerun_and_fewer_pins_reuse(smollm2, fed):
    old = run_options(smollm2, START, LensOptions(k=3), extra=[11, 12])
    fed.clear()
    fewer = run_options(smollm2, START + " of", LensOptions(k=3), extra=[11], previous=old)
    assert fed == [1] and fewer.extra == [11, 12]  # a superset tracked, as the old run did
    fed.clear()
    run_options(smollm2, START + " of", LensOptions(k=3), extra=[11, 13], previous=old)
    assert fed == [len(fewer.input_ids)]


def test_sublayer_rows_kl_and_targets_continue(smollm2, fed):
    options = LensOptions(k=3, sublayers=True, metrics=True, targets=(" Paris",))
    old = run_options(smollm2, START, options)
    fed.clear()
    new = run_options(smollm2, START + " of 1889", options, previous=old)
    full = run_options(smollm2, START + " of 1889", options)
    n = len(old.input_ids)
    assert fed[0] == len(new.input_ids) - n
    _assert_prefix_taken(new, old, n)
    for name in ("topk_probs", "entropy", "kl", "target_logprobs"):
        assert np.allclose(new.result[name], full.result[name], atol=5e-5), name
    # A rank counts the ids with a larger logit; deep in the tail logits lie closer than
    # float32 noise, so ranks are compared where they mean something (the top 100).
    ranks, want = new.result["target_ranks"], full.result["target_ranks"]
    head = want < 100
    assert head.any() and np.array_equal(ranks[head], want[head])
    assert np.abs(ranks - want.astype(np.int64)).max() <= 0.01 * want.max()


def test_a_long_continuation_streams_its_new_blocks(smollm2, monkeypatch):
    monkeypatch.setattr(session, "BLOCK", 40)
    monkeypatch.setattr(session, "FIRST_BLOCK", 16)
    old = run_options(smollm2, START, LensOptions(k=3))
    longer = START + " " + " ".join(["The quick brown fox jumps over the lazy dog."] * 8)
    shown = []
    new = run_options(
        smollm2,
        longer,
        LensOptions(k=3),
        previous=old,
        on_partial=lambda run: shown.append(run.status.copy()),
    )
    n = len(old.input_ids)
    assert shown, "a long continuation streams"
    first = shown[0]
    assert (first[:, :56] == session.OK).all() and (first[:, 56:] == session.PENDING).all()
    assert new.complete and (new.status[:, :n] == old.status[:, :n]).all()


def test_a_stopped_run_is_not_continued(smollm2, fed):
    old = run_options(smollm2, START, LensOptions(k=3))
    old.status[:, -1] = session.PENDING  # as a run stopped while it streamed
    fed.clear()
    run_options(smollm2, START + " of", LensOptions(k=3), previous=old)
    assert fed == [len(old.input_ids) + 1]


def test_greedy_generation_after_a_continued_run_equals_transformers(smollm2):
    from logitlenskit.analyses.generation import generate

    old = run_options(smollm2, START, LensOptions(k=3))
    new = run_options(smollm2, START + " of 1889", LensOptions(k=3), previous=old)
    first = len(new.input_ids)
    generate(new, 6, stop_at_eos=False)
    with torch.no_grad():
        want = smollm2._model.generate(
            torch.tensor([new.input_ids[:first]]), max_new_tokens=6, do_sample=False
        )[0, first:]
    assert new.input_ids[first:] == want.tolist()
    # After generation the run keeps every position: typing after it continues from there.
    assert new.kept.ids == tuple(new.input_ids)


def test_gemma_sliding_window_layers_continue_past_their_window(gemma3):
    # Gemma 3's local layers see 512 positions; a kept cache holds every position, and the
    # mask (not the cache) limits them, so a continuation past the window stays exact.
    text = " ".join(["The quick brown fox jumps over the lazy dog."] * 60)
    options = LensOptions(k=3, layers=[5, 17])
    old = run_options(gemma3, text, options)
    assert len(old.input_ids) > 512
    new = run_options(gemma3, text + " And then", options, previous=old)
    full = run_options(gemma3, text + " And then", options)
    n = len(old.input_ids)
    assert new.kept is not None and new.input_ids[:n] == old.input_ids
    assert np.allclose(new.result["topk_probs"][:, n:], full.result["topk_probs"][:, n:], atol=5e-5)
    assert np.array_equal(new.result["topk"][:, n:, 0], full.result["topk"][:, n:, 0])


def test_a_run_of_low_layers_keeps_no_cache_and_stops_early(smollm2):
    last = smollm2._model.model.layers[-1]
    calls = []
    handle = last.register_forward_pre_hook(lambda *_: calls.append(1))
    try:
        run = run_options(smollm2, START, LensOptions(k=3, layers=[0, 3]))
    finally:
        handle.remove()
    assert run.kept is None and calls == [], "the layers after 3 did not run for a cache"


def test_a_short_shared_start_runs_whole_and_equals_a_fresh_run(smollm2, fed):
    old = run_options(smollm2, "The capital of France is", LensOptions(k=3))
    fed.clear()
    new = run_options(smollm2, "The capital of Italy is", LensOptions(k=3), previous=old)
    assert fed == [len(new.input_ids)]  # 3 shared tokens < prefix.MIN_SHARED
    fresh = run_options(smollm2, "The capital of Italy is", LensOptions(k=3))
    assert np.array_equal(new.result["topk_probs"], fresh.result["topk_probs"])
