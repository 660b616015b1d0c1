"""Generate and watch: the model's own tokens, their lens, and where each committed."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

from logitlenskit import LogitLensWidget, collect_logit_lens
from logitlenskit.analyses.generation import (
    GENERATED,
    PROMPT,
    TEMPLATE,
    chat_prompt_ids,
    commitment,
    generate,
)
from logitlenskit.core.locks import model_lock
from logitlenskit.core.session import Cancelled, Control, start_run

pytestmark = pytest.mark.slow

PROMPT_TEXT = "Once upon a time, in a small village,"


def _forward_lengths(model):
    """Record the number of new tokens each forward pass of the model is given."""
    lengths = []
    handle = model._model.model.register_forward_pre_hook(
        lambda _m, args, kwargs: lengths.append(kwargs["input_ids"].shape[1]),
        with_kwargs=True,
    )
    return lengths, handle


@pytest.mark.parametrize("kept", [True, False])
def test_greedy_tokens_match_transformers_and_reuse_the_cache(smollm2, kept):
    run = start_run(smollm2, PROMPT_TEXT, metrics=True)
    first = len(run.input_ids)
    if not kept:
        run.kept = None  # as a run too long to keep its KV cache
    lengths, handle = _forward_lengths(smollm2)
    try:
        generate(run, 8, stop_at_eos=False)
    finally:
        handle.remove()
    # The prompt once (only its last token when the run kept its KV cache), then one token
    # per step.
    assert lengths == [1 if kept else first] + [1] * 8
    with torch.no_grad():
        want = smollm2._model.generate(
            torch.tensor([run.input_ids[:first]]), max_new_tokens=8, do_sample=False
        )[0, first:]
    assert run.input_ids[first:] == want.tolist()
    assert len(run.result["input"]) == first + 8 and run.status.shape[1] == first + 8


def test_generated_positions_have_the_lens_of_a_full_collection(smollm2):
    run = start_run(smollm2, PROMPT_TEXT, metrics=True, targets={"the": " the"})
    first = len(run.input_ids)
    generate(run, 6, stop_at_eos=False)
    text = smollm2.tokenizer.decode(run.input_ids)
    full = collect_logit_lens(text, smollm2, targets={"the": " the"}, metrics=True)
    assert full["input_ids"] == run.input_ids  # the text re-encodes to the same tokens
    r = run.result
    np.testing.assert_allclose(r["topk_probs"], full["topk_probs"].numpy(), atol=2e-5)
    assert np.mean(r["topk"][:, first:, 0] == full["topk"][:, first:, 0].numpy()) > 0.99
    lp = np.asarray(r["target_logprobs"])
    np.testing.assert_allclose(np.exp(lp), np.exp(full["target_logprobs"].numpy()), atol=2e-5)
    # Generated rows use a float32 KL reference (docs/studies.md): 5e-4.
    np.testing.assert_allclose(r["kl"][:, first:], full["kl"][:, first:].numpy(), atol=5e-4)
    # Prompt rows: each side is within 5e-5 of float64 (test_engine_metrics.py), so 1e-4.
    np.testing.assert_allclose(r["kl"][:, :first], full["kl"][:, :first].numpy(), atol=1e-4)
    # A click on a generated cell reads its kept top list, as on a prompt cell.
    assert run.deep_ids.shape[1] == len(run.input_ids)
    assert (run.deep_ids[:, first:, 0] == r["topk"][:, first:, 0]).all()


def test_commitment_is_the_first_row_from_which_the_token_stays_on_top():
    # Lens rows × positions × k, ids chosen by hand; the token at p is predicted at p - 1.
    topk = np.array(
        [
            [[7, 1], [9, 2], [0, 0]],
            [[3, 7], [4, 9], [0, 0]],
            [[7, 3], [9, 4], [0, 0]],
            [[7, 2], [4, 9], [0, 0]],
        ]
    )
    tokens = [0, 7, 9]
    commit, entered = commitment(topk, tokens, first=1)
    assert commit.tolist() == [-1, 2, -1]  # 9 is not top-1 at the last row
    assert entered.tolist() == [-1, 0, 0]  # 7 is in every row's top-2; 9 too (rows 0-3)


def test_commitment_of_a_real_generation_matches_its_definition(smollm2):
    run = start_run(smollm2, PROMPT_TEXT, k=5)
    first = len(run.input_ids)
    generate(run, 6, stop_at_eos=False)
    topk = run.result["topk"]
    for p in range(first, first + 6):
        token, rows = run.input_ids[p], topk[:, p - 1]
        c = int(run.result["commitment"][p])
        assert rows[-1, 0] == token  # greedy: the last row's top-1 is the token
        assert (rows[c:, 0] == token).all() and (c == 0 or rows[c - 1, 0] != token)
        e = int(run.result["entered_topk"][p])
        assert e <= c and (rows[e:] == token).any(axis=1).all()


def test_sampling_is_reproducible_with_a_seed(smollm2):
    tokens = []
    for seed in (3, 3, 4):
        run = start_run(smollm2, PROMPT_TEXT)
        generate(run, 6, sample=True, seed=seed, temperature=1.5, stop_at_eos=False)
        tokens.append(run.input_ids[-6:])
    assert tokens[0] == tokens[1] and tokens[0] != tokens[2]


def test_chat_template_tokens_are_told_apart(smollm2):
    ids, kinds = chat_prompt_ids(smollm2.tokenizer, "What is the capital of France?")
    tokens = smollm2.tokenizer.convert_ids_to_tokens(ids)
    content = [t for t, k in zip(tokens, kinds, strict=True) if k == PROMPT]
    assert smollm2.tokenizer.convert_tokens_to_string(content).strip() == (
        "What is the capital of France?"
    )
    assert kinds[tokens.index("<|im_start|>")] == TEMPLATE and tokens[-1] == "Ċ"
    w = LogitLensWidget(model=smollm2, prompt="What is the capital of France?", chat=True)
    assert w.has_chat_template and w.result["input_ids"] == ids
    w.generate(4)
    kinds_now = np.frombuffer(w.data["position_kinds"], np.uint8)
    assert kinds_now.tolist() == [*kinds, *[GENERATED] * (len(kinds_now) - len(kinds))]


def test_stop_keeps_the_tokens_written_so_far(smollm2):
    class StopAfter(Control):
        def __init__(self, n):
            self.calls, self.n = 0, n

        def check(self):
            self.calls += 1
            if self.calls > self.n:
                raise Cancelled

    run = start_run(smollm2, PROMPT_TEXT)
    first = len(run.input_ids)
    shown = []
    with pytest.raises(Cancelled):
        generate(run, 10, control=StopAfter(3), on_token=lambda r: shown.append(len(r.input_ids)))
    assert len(run.input_ids) == first + 3 and shown == [first + 1, first + 2, first + 3]


def test_the_widget_streams_one_run_and_refuses_bad_requests(smollm2):
    w = LogitLensWidget(model=smollm2, prompt=PROMPT_TEXT)
    run, sizes = w.data["run"], []
    w.observe(lambda change: sizes.append(len(change["new"]["input"])), "data")
    before = len(w.data["input"])
    w.generate(3)
    # One run, growing: pushes at most STREAM_INTERVAL apart, the last one always.
    assert w.data["run"] == run and sizes[-1] == before + 3
    assert sizes == sorted(sizes) and len(sizes) >= 1
    assert w.generate_tokens({"n": 0}, []) == (
        {"error": "ValueError: n must be an int from 1 to 512, got 0"},
        [],
    )
    w.remote = "local"
    with pytest.raises(ValueError, match="this machine only"):
        w.generate(2)


def test_a_direct_generate_holds_the_models_lock(smollm2):
    # Every path that runs a model takes its lock (issue 23 item 10): a direct generate() beside
    # a widget's background run would otherwise fail inside nnsight or abort the interpreter.
    lock = model_lock(smollm2)
    seen = []

    def free_elsewhere() -> bool:
        got = []
        t = threading.Thread(target=lambda: got.append(lock.acquire(blocking=False)))
        t.start()
        t.join()
        if got[0]:
            lock.release()
        return got[0]

    run = start_run(smollm2, PROMPT_TEXT)
    generate(run, 2, on_token=lambda _run: seen.append(free_elsewhere()))
    assert seen == [False, False], "another thread could take the model while it generated"
