"""Non-finite model output on the real model: flagged, never shown or counted as a number.

A float16 overflow (an Inf in one position's last hidden state) or a broken intervention
(NaN logits) is written into SmolLM2 with a forward hook, and every public path that runs the
model must flag what it cannot compute instead of raising or inventing numbers.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from logitlenskit import (
    InvalidDataError,
    LogitLensWidget,
    NonFiniteWarning,
    collect_logit_lens,
    collect_study,
)
from logitlenskit.analyses.generation import NonFiniteOutputError, generate
from logitlenskit.base.formats import to_widget_payload
from logitlenskit.base.validate import validate_payload
from logitlenskit.core.session import start_run
from overflow import POISONED, overflow_hook, overflowed_collection

pytestmark = pytest.mark.slow

PROMPT = "The capital of France is"


@pytest.fixture
def inf_at_final_block(smollm2):
    """The last block overflows at POISONED: only the model's own output there is not finite."""
    handle = smollm2._model.model.layers[-1].register_forward_hook(overflow_hook)
    yield
    handle.remove()


def _status(payload):
    shape = (len(payload["layers"]), len(payload["input"]))
    if payload.get("cell_status") is None:
        return np.zeros(shape, np.uint8)
    return np.frombuffer(payload["cell_status"], np.uint8).reshape(shape)


def _check_flagged_position(result, payload):
    """Only the final row of the poisoned position is invalid; its KL alone is undefined."""
    invalid = np.asarray(result["invalid"])
    assert invalid[-1, POISONED], "the model's own output there is not finite"
    assert invalid.sum() == 1, "every other cell keeps its numbers"
    kl = np.asarray(result["kl"])
    assert np.isnan(kl[:, POISONED]).all() and np.isfinite(np.delete(kl, POISONED, 1)).all()
    probs = np.asarray(result["topk_probs"])[:-1, POISONED]
    assert np.isfinite(probs).all() and (probs > 0).all()
    if "kl_undefined" in result:
        assert np.flatnonzero(np.asarray(result["kl_undefined"])).tolist() == [POISONED]
    status = _status(payload)
    assert status[-1, POISONED] == 1 and status.sum() == 1
    assert np.frombuffer(payload["kl_undefined"], np.uint8).nonzero()[0].tolist() == [POISONED]
    validate_payload(payload)


def test_kl_against_a_non_finite_reference_is_flagged(smollm2, inf_at_final_block):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        data = collect_logit_lens(PROMPT, smollm2, k=3, metrics=True)
    assert any(issubclass(w.category, NonFiniteWarning) for w in caught)
    _check_flagged_position(data, to_widget_payload(data))


def test_earlier_layers_keep_the_numbers_of_a_clean_run(smollm2):
    clean = collect_logit_lens(PROMPT, smollm2, k=3, metrics=True)
    handle = smollm2._model.model.layers[-1].register_forward_hook(overflow_hook)
    try:
        with pytest.warns(NonFiniteWarning):
            broken = collect_logit_lens(PROMPT, smollm2, k=3, metrics=True)
    finally:
        handle.remove()
    # Only the last block's output is written: every earlier lens row is unchanged.
    for name in ("topk_probs", "entropy"):
        a, b = np.asarray(clean[name])[:-1], np.asarray(broken[name])[:-1]
        np.testing.assert_allclose(b, a, atol=5e-5, err_msg=name)
    assert np.array_equal(np.asarray(clean["topk"])[:-1], np.asarray(broken["topk"])[:-1])
    assert np.isnan(np.asarray(broken["kl"])[:, POISONED]).all()
    assert np.asarray(broken["invalid"])[-1, POISONED]


def _poisoned(smollm2):
    return overflowed_collection(smollm2, PROMPT)


def test_a_nan_kl_where_the_output_is_finite_is_refused(smollm2):
    data = _poisoned(smollm2)
    kl = np.asarray(data["kl"]).copy()
    kl[3, 1] = np.nan  # position 1's output is finite: its KL is defined
    with pytest.raises(InvalidDataError, match=r"kl\[3\]\[1\] is NaN"):
        to_widget_payload({**data, "kl": kl})
    payload = to_widget_payload(data)
    wire = np.frombuffer(payload["kl"], "<f4").reshape(kl.shape).copy()
    wire[3, 1] = np.nan
    with pytest.raises(InvalidDataError, match=r"kl\[3\]\[1\] is NaN"):
        validate_payload({**payload, "kl": wire.tobytes()})
    # The flag must agree with the model's output row: position 1's is finite.
    flag = np.zeros(len(data["input"]), np.uint8)
    flag[[1, POISONED]] = 1
    with pytest.raises(InvalidDataError, match=r"kl_undefined\[1\] is 1"):
        validate_payload({**payload, "kl_undefined": flag.tobytes()})
    with pytest.raises(InvalidDataError, match=r"kl_undefined\[1\] is 1"):
        to_widget_payload({**data, "kl_undefined": flag.astype(bool)})
    # Without the flag a collection that holds the last layer names it by its final row.
    derived = to_widget_payload({k: v for k, v in data.items() if k != "kl_undefined"})
    assert derived["kl_undefined"] == payload["kl_undefined"]


def test_without_the_last_layer_the_flag_marks_the_undefined_kl(smollm2):
    handle = smollm2._model.model.layers[-1].register_forward_hook(overflow_hook)
    try:
        data = collect_logit_lens(PROMPT, smollm2, k=3, layers=[0, 10, 20], metrics=True)
    finally:
        handle.remove()
    assert not np.asarray(data["invalid"]).any(), "no lens row is the model's output"
    assert np.flatnonzero(np.asarray(data["kl_undefined"])).tolist() == [POISONED]
    payload = to_widget_payload(data)
    assert np.frombuffer(payload["kl_undefined"], np.uint8).nonzero()[0].tolist() == [POISONED]
    with pytest.raises(InvalidDataError, match=r"kl\[0\]\[2\] is NaN"):
        validate_payload({k: v for k, v in payload.items() if k != "kl_undefined"})


def test_the_live_widget_and_a_diff_show_such_a_run(smollm2, inf_at_final_block):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NonFiniteWarning)
        w = LogitLensWidget(model=smollm2, prompt=PROMPT)
        assert w.wait(120) and w.error == ""
        _check_flagged_position(w.result, w.data)
        diff = LogitLensWidget.compare(PROMPT, "The capital of Italy is", model=smollm2)
        assert diff.wait(120) and diff.error == ""
    _check_flagged_position(diff.result, diff.data)
    _check_flagged_position(diff.compare_result, diff.compare_data)


def test_a_live_run_without_the_last_layer_carries_the_flag(smollm2, inf_at_final_block):
    w = LogitLensWidget(model=smollm2, prompt=PROMPT, layers=[0, 10, 20])
    assert w.wait(120) and w.error == "", w.error
    assert np.flatnonzero(np.asarray(w.result["kl_undefined"])).tolist() == [POISONED]
    assert np.isnan(np.asarray(w.result["kl"])[:, POISONED]).all()
    assert not np.asarray(w.result["invalid"]).any()
    assert np.frombuffer(w.data["kl_undefined"], np.uint8).nonzero()[0].tolist() == [POISONED]


def test_a_study_gives_nan_ranks_and_warns_for_non_finite_prompts(smollm2):
    prompts = ["The capital of France is", "The capital of Italy is", "Berlin is in"]

    def poison(_module, _inputs, output):
        hidden = output[0] if isinstance(output, tuple) else output
        hidden[1, -1] = float("nan")  # the second prompt of the batch, at its last position

    handle = smollm2._model.model.layers[-1].register_forward_hook(poison)
    try:
        with pytest.warns(NonFiniteWarning, match="prompt 1 .*The capital of Italy is"):
            study = collect_study(prompts, smollm2, {"Paris": "Paris"}, progress=False)
    finally:
        handle.remove()
    rank = [q.name for q in study.quantities].index("rank(Paris)")
    assert np.isnan(study.values[:, 1]).all(), "nothing of the broken prompt is a number"
    assert (study.values[rank, [0, 2]] >= 1).all()
    summary = study.summary()
    assert (summary["n"] == 2).all(), "the broken prompt is not counted"


def test_generation_stops_at_non_finite_output(smollm2):
    run = start_run(smollm2, PROMPT)
    first = len(run.input_ids)
    calls = []

    def nan_logits(_module, _inputs, output):
        if output.dim() != 3:  # the lens's own unembedding of the new position
            return
        calls.append(output.shape[1])
        if len(calls) >= 3:  # the prompt, token 1, then NaN for token 3's choice
            output[:] = float("nan")

    handle = smollm2._model.lm_head.register_forward_hook(nan_logits)
    try:
        with pytest.raises(NonFiniteOutputError, match="output not finite at token 3"):
            generate(run, 4, stop_at_eos=False)
    finally:
        handle.remove()
    assert len(run.input_ids) == first + 2, "the tokens chosen from finite output stay"
    assert 0 not in run.input_ids[first:]


def test_the_widget_reports_non_finite_generation(smollm2):
    w = LogitLensWidget(model=smollm2, prompt=PROMPT)
    assert w.wait(120)
    before = len(w.data["input"])

    def nan_logits(_module, _inputs, output):
        if output.dim() == 3:  # the model's forward, not the lens's unembedding
            output[:] = float("nan")

    handle = smollm2._model.lm_head.register_forward_hook(nan_logits)
    try:
        w.generate(4)
    finally:
        handle.remove()
    assert "output not finite at token 1" in w.error
    assert len(w.data["input"]) == before and not torch.tensor(w.result["input_ids"]).eq(0).any()
