"""Follow-up questions to a run (any token's trajectory, a cell's deeper top-k) and
non-finite model output, against float64 references on the real models.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from logitlenskit.analyses.collect import NonFiniteWarning, collect_logit_lens
from logitlenskit.base.formats import to_js_format, to_widget_payload
from logitlenskit.core import session

pytestmark = pytest.mark.slow

PROMPT = "The capital of France is"


def _hf_parts(model):
    hf = model._model
    return hf, hf.model.layers, hf.model.norm, hf.lm_head


def _reference(model, reference, ids, rows):
    hf, layers, norm, head = _hf_parts(model)
    ref_lp, _ = reference(hf, layers, norm, head, ids, rows)
    return ref_lp.exp()


def _untracked(run: session.LensRun, count: int) -> list[int]:
    """Ids in no position's tracked set (so nothing was collected for them)."""
    seen = set().union(*(set(np.asarray(t).tolist()) for t in run.result["tracked"]))
    return [i for i in range(1000, 49152, 997) if i not in seen][:count]


@pytest.mark.parametrize("model_name", ["smollm2", "gemma3"])
def test_tracking_any_token_is_exact_at_every_cell(model_name, request, reference):
    model = request.getfixturevalue(model_name)
    run = session.start_run(model, PROMPT, k=3, layers=[0, 5, -1])
    ids = _untracked(run, 3)
    session.track(run, ids)
    ref = _reference(model, reference, run.input_ids, run.layers)
    for p in range(len(run.input_ids)):
        tracked = np.asarray(run.result["tracked"][p])
        assert (np.diff(tracked) > 0).all(), "tracked ids stay sorted"
        for token in ids:
            got = np.asarray(run.result["probs"][p])[:, list(tracked).index(token)]
            want = ref[:, p, token].numpy()
            assert np.abs(got - want).max() <= 5e-5
            assert np.all(np.abs(got - want) <= 0.01 * want + 1e-9)  # relative, small p too
    assert all(run.result["vocab"].get(i) for i in ids), "tracked ids get their strings"


def test_collect_track_argument_matches_the_follow_up(smollm2):
    run = session.start_run(smollm2, PROMPT, k=2)
    ids = _untracked(run, 2)
    data = collect_logit_lens(PROMPT, smollm2, k=2, track=ids)
    session.track(run, ids)
    for p in range(len(data["input"])):
        assert set(ids) <= set(data["tracked"][p].tolist())
        col = [data["tracked"][p].tolist().index(i) for i in ids]
        mine = [list(run.result["tracked"][p]).index(i) for i in ids]
        # the codec (≤ 7.9e-6 absolute) against the direct computation
        assert (
            np.abs(
                data["probs"][p][:, col].numpy() - np.asarray(run.result["probs"][p])[:, mine]
            ).max()
            <= 1e-5
        )


@pytest.mark.parametrize("k", [20, 100])
def test_cell_detail_is_the_exact_top_k_with_trajectories(smollm2, reference, k):
    run = session.start_run(smollm2, PROMPT, k=5)
    ref = _reference(smollm2, reference, run.input_ids, run.layers)
    row, pos = 20, 4
    ids, probs = session.detail(run, row, pos, k)
    assert len(ids) == k and probs.shape == (k, len(run.layers))
    want = ref[:, pos, ids].t().numpy()
    assert np.abs(probs - want).max() <= 5e-5
    kth = ref[row, pos].topk(k).values.numpy()
    assert np.abs(probs[:, row] - kth).max() <= 5e-5, "the k most likely, in order"


def test_a_click_reads_the_kept_top_list_not_the_whole_unembedding(smollm2, reference, monkeypatch):
    run = session.start_run(smollm2, PROMPT, k=5, layers=[0, 10, 20, -1])
    ref = _reference(smollm2, reference, run.input_ids, run.layers)
    assert run.deep_ids.shape == (4, len(run.input_ids), session.DEEP_K)
    for row in range(4):
        for pos in range(len(run.input_ids)):
            kept = ref[row, pos, run.deep_ids[row, pos]].numpy()
            bar = ref[row, pos].topk(session.DEEP_K).values[-1].item()
            assert kept.min() >= bar - 1e-6, "the most likely tokens (near-ties aside)"
            assert (np.diff(kept) <= 1e-6).all(), "best first"
    full_pass = []
    real = session.cell_log_probs
    monkeypatch.setattr(
        session, "cell_log_probs", lambda *a, **kw: full_pass.append(1) or real(*a, **kw)
    )
    ids, _ = session.detail(run, 2, 3, session.DEEP_K)
    assert ids == run.deep_ids[2, 3].tolist() and not full_pass
    assert session.detail(run, 2, 3, session.DEEP_K + 1)[0][: session.DEEP_K] == ids
    assert full_pass, "deeper than the kept list: one pass over the unembedding"


def test_detail_without_cache_runs_a_targeted_trace(smollm2, strict_ndif):
    """The NDIF path (remote='local', strict): no hidden states kept, same numbers."""
    local = session.start_run(smollm2, PROMPT, k=3)
    remote = session.start_run(smollm2, PROMPT, k=3, remote="local")
    assert remote.normed is None
    ids_l, probs_l = session.detail(local, 29, 4, 20)
    ids_r, probs_r = session.detail(remote, 29, 4, 20)
    assert ids_l == ids_r
    assert np.abs(probs_l - probs_r).max() <= 5e-5  # both within 5e-5 of float64
    token = _untracked(remote, 1)
    again = session.track(remote, token)
    assert again.run_id == remote.run_id, "tracking extends the run, it is not a new one"
    assert all(token[0] in np.asarray(t) for t in again.result["tracked"])


@pytest.fixture
def nan_at_layer_10(smollm2):
    """Write NaN into one position of layer 10's output, as a broken hook or fp16 would."""

    def poison(_module, _inputs, output):
        hidden = output[0] if isinstance(output, tuple) else output
        hidden[0, 2] = float("nan")

    handle = smollm2._model.model.layers[10].register_forward_hook(poison)
    yield
    handle.remove()


def test_non_finite_cells_are_flagged_not_invented(smollm2, nan_at_layer_10):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        data = collect_logit_lens(PROMPT, smollm2, k=3)
    invalid = data["invalid"].numpy()
    assert invalid[:10].sum() == 0, "layers before the NaN are fine"
    assert invalid[10, 2] and invalid[10].sum() == 1, "at layer 10 only the poisoned position"
    assert invalid[11:].all(), "attention spreads it to every later cell"
    assert torch.isnan(data["topk_probs"][10, 2]).all()
    assert torch.isnan(data["entropy"][10, 2])
    assert not torch.isnan(data["topk_probs"][9]).any()
    (message,) = [str(w.message) for w in caught if issubclass(w.category, NonFiniteWarning)]
    assert "layers 10, 11" in message and "positions 0, 1, 2" in message

    payload = to_widget_payload(data)
    status = np.frombuffer(payload["cell_status"], np.uint8).reshape(invalid.shape)
    assert np.array_equal(status, invalid.astype(np.uint8))
    assert np.isfinite(np.frombuffer(payload["topk_probs"], "<f4")).all()
    with pytest.raises(ValueError, match="V2 JSON has no way to mark them"):
        to_js_format(data)


def test_non_finite_cells_in_a_live_run(smollm2, nan_at_layer_10):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NonFiniteWarning)
        run = session.start_run(smollm2, PROMPT, k=3)
    assert run.status[10, 2] == session.INVALID and run.status[9].max() == session.OK
    session.track(run, [1234])
    col = list(run.result["tracked"][0]).index(1234)
    assert np.isnan(np.asarray(run.result["probs"][0])[11:, col]).all()
    assert np.isfinite(np.asarray(run.result["probs"][0])[:10, col]).all()


def test_long_prompt_streams_first_screen_first(smollm2, monkeypatch):
    monkeypatch.setattr(session, "BLOCK", 40)
    monkeypatch.setattr(session, "FIRST_BLOCK", 16)
    prompt = " ".join(["The quick brown fox jumps over the lazy dog."] * 10)
    partial: list[np.ndarray] = []
    run = session.start_run(
        smollm2, prompt, k=2, on_partial=lambda r: partial.append(r.status.copy())
    )
    n = len(run.input_ids)
    assert n > 80 and len(partial) == len(session._blocks(0, n)) - 1
    first = partial[0]
    assert (first[:, :16] == session.OK).all() and (first[:, 16:] == session.PENDING).all()
    assert run.complete
    whole = collect_logit_lens(prompt, smollm2, k=2)
    assert torch.equal(torch.as_tensor(run.result["topk"]), whole["topk"])


def test_ndif_job_status_reaches_the_run_progress():
    from nnsight.intervention.backends.remote import JobStatusDisplay

    reports = []

    class Recorder(session.Control):
        def progress(self, fraction, status):
            reports.append((fraction, status))

    original = JobStatusDisplay.update
    with session._ndif_status(Recorder()):
        display = JobStatusDisplay(enabled=False)
        display.update("job-1", "QUEUED", "3 ahead")
        display.update("job-1", "LOG", "a log line is not a status")
        display.update("job-1", "RUNNING", "")
    assert reports == [(-1, "NDIF job queued: 3 ahead"), (-1, "NDIF job running")]
    assert JobStatusDisplay.update is original, "nnsight is left as it was"
