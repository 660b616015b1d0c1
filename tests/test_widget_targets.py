"""Targets and metrics on the live widget: traits, pins, payload and result."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import traitlets

from logitlenskit import LogitLensWidget, collect_logit_lens
from logitlenskit.base.validate import binary_field

pytestmark = pytest.mark.slow

PROMPT = "The capital of France is"


def test_targets_are_resolved_pinned_by_name_and_measured(smollm2):
    w = LogitLensWidget(model=smollm2, prompt=PROMPT, targets={"answer": "Paris", "foil": 4528})
    assert [t["name"] for t in w.targets] == ["answer", "foil"]
    assert w.targets[1]["ids"] == [4528]
    assert [(p["name"], p["ids"]) for p in w.pins] == [(t["name"], t["ids"]) for t in w.targets]
    alone = collect_logit_lens(
        PROMPT, smollm2, targets={"answer": "Paris", "foil": 4528}, metrics=True
    )
    result = w.result
    for key in ("target_logprobs", "target_ranks", "kl"):
        assert isinstance(result[key], torch.Tensor), key
        assert torch.allclose(result[key].double(), alone[key].double(), atol=1e-5), key
    # The payload carries them to the browser, flattened as little-endian bytes.
    n_rows, n_pos = len(w.data["layers"]), len(w.data["input"])
    kl = binary_field(w.data, "kl", "<f4", n_rows * n_pos, "kl").reshape(n_rows, n_pos)
    np.testing.assert_allclose(kl, alone["kl"].numpy(), atol=1e-5)
    assert w.data["targets"] == w.targets


def test_setting_targets_reruns_and_keeps_existing_pins(smollm2):
    w = LogitLensWidget(model=smollm2, prompt=PROMPT)
    w.pins = [{"ids": [11]}]
    run = w.data["run"]
    w.targets = ["Rome", {"name": "mine", "ids": [5, 3]}]
    assert w.data["run"] != run and w.error == ""
    assert w.targets[1] == {"name": "mine", "ids": [3, 5]}
    assert [p.get("name") for p in w.pins] == [None, "Rome", "mine"]
    w.set_targets(None)
    assert w.targets == [] and "targets" not in w.data


def test_metrics_off_sends_no_kl(smollm2):
    w = LogitLensWidget(model=smollm2, prompt=PROMPT, metrics=False)
    assert "kl" not in w.data and "kl" not in w.result


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ([{"name": "x", "ids": [10**9]}], "outside the vocabulary"),
        ([{"name": "x", "ids": []}], "no token ids"),
        (["Paris", "Paris"], "must be unique"),
        ([{"name": "x", "ids": "12"}], "must be a list"),
    ],
)
def test_bad_targets_are_refused_and_nothing_changes(smollm2, value, message):
    w = LogitLensWidget(model=smollm2, prompt=PROMPT, targets=["Paris"])
    before, run = list(w.targets), w.data["run"]
    with pytest.raises(traitlets.TraitError, match=message):
        w.targets = value
    assert w.targets == before and w.data["run"] == run


def test_without_a_model_targets_must_be_ids(make_collection):
    w = LogitLensWidget(data=make_collection())
    w.targets = [{"name": "a", "ids": [2]}]
    with pytest.raises(traitlets.TraitError, match="words need the model"):
        w.targets = ["Paris"]
    with pytest.raises(ValueError, match="needs the widget's model"):
        w.set_targets({"a": "Paris"})
