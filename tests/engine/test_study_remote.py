"""A study on NDIF's path: one request per batch, the same numbers as a local run."""

from __future__ import annotations

import numpy as np
import pytest

from logitlenskit import collect_study

pytestmark = pytest.mark.slow


def test_a_study_through_the_ndif_simulation_matches_local(smollm2, strict_ndif):
    prompts = ["The capital of France is", "The capital of Italy is", "Berlin is in"]
    targets = {"Paris": "Paris", "Rome": "Rome"}
    kwargs = {"contrasts": [("Paris", "Rome")], "layers": [0, 10, 20, 29], "batch_size": 2}
    local = collect_study(prompts, smollm2, targets, progress=False, **kwargs)
    remote = collect_study(prompts, smollm2, targets, remote="local", progress=False, **kwargs)
    assert remote.remote == "local" and remote.done
    np.testing.assert_array_equal(remote.values, local.values)
