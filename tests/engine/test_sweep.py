"""The activation-patching sweep on the real SmolLM2, against single patched collections.

Each checked cell of a sweep must equal what ``collect_logit_lens`` measures with that one
:class:`~logitlenskit.Patch` at the last layer and position (the sweep's batched passes
measure the same thing more cheaply), and KL against a float64 reference computed with a
plain forward hook on the Hugging Face model. Sweeps here are a few cells each: the whole
file stays under a minute on two cores.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import torch

from logitlenskit import Patch, collect_logit_lens, residual
from logitlenskit.analyses import patch_sweep as sweep_module
from logitlenskit.analyses.patch_sweep import SweepResult, patch_sweep
from logitlenskit.core.run import Cancelled, Control
from logitlenskit.output.figure_sweep import plot_sweep

CLEAN = "The Eiffel Tower is in the city of"
CORRUPT = "The Colosseum is in the city of"  # both 9 tokens
LAST = 8
CELLS = {"layers": [3, 12, 29], "positions": [2, 3, LAST]}
TRAIT_KEYS = {
    "metric",
    "clean_label",
    "corrupt_label",
    "layers",
    "positions",
    "tokens",
    "values",
    "clean_value",
    "corrupt_value",
    "done",
    "total",
    "running",
    "error",
}


@pytest.fixture(scope="module")
def diff_sweep(smollm2: Any) -> SweepResult:
    return patch_sweep(smollm2, CLEAN, CORRUPT, target="Paris", foil="Rome", batch_size=4, **CELLS)


def _patched_logprobs(smollm2: Any, layer: int, position: int) -> torch.Tensor:
    """log p of the targets Paris and Rome at the corrupt run's output, one Patch."""
    patch = Patch(layer, position, residual(smollm2, CLEAN, layer, position))
    data = collect_logit_lens(
        CORRUPT,
        smollm2,
        k=1,
        layers=[-1],
        targets=["Paris", "Rome"],
        edits=[patch],
    )
    return data["target_logprobs"][:, -1, -1].double()


def test_cells_equal_single_patched_collections(smollm2, diff_sweep):
    for layer, position in [(3, 2), (12, 3), (29, LAST)]:
        lp = _patched_logprobs(smollm2, layer, position)
        i, j = CELLS["layers"].index(layer), CELLS["positions"].index(position)
        assert abs(diff_sweep.values[i, j] - float(lp[0] - lp[1])) <= 1e-4, (layer, position)
    plain = collect_logit_lens(CORRUPT, smollm2, k=1, layers=[-1], targets=["Paris", "Rome"])
    lp = plain["target_logprobs"][:, -1, -1].double()
    assert abs(diff_sweep.corrupt_value - float(lp[0] - lp[1])) <= 1e-4
    # The classic shape: the subject's token restores the answer in early layers.
    assert diff_sweep.normalized()[0, 0] > 0.5
    assert diff_sweep.done == diff_sweep.total == 9 and not diff_sweep.running
    assert abs(diff_sweep.values[2, 2] - diff_sweep.clean_value) <= 1e-5  # the output itself


def test_prob_and_kl_cells_equal_the_references(smollm2):
    layer, position = 12, 2
    prob = patch_sweep(
        smollm2, CLEAN, CORRUPT, metric="prob", target="Paris", layers=[layer], positions=[2]
    )
    lp = _patched_logprobs(smollm2, layer, position)
    assert abs(prob.values[0, 0] - math.exp(float(lp[0]))) <= 1e-4

    kl = patch_sweep(smollm2, CLEAN, CORRUPT, metric="kl", layers=[layer], positions=[2])
    hf = smollm2._model
    state = residual(smollm2, CLEAN, layer, position)

    def write(_module: Any, _inputs: Any, output: Any) -> Any:
        hidden = (output[0] if isinstance(output, tuple) else output).clone()
        hidden[0, position] = state
        return (hidden, *output[1:]) if isinstance(output, tuple) else hidden

    ids = {p: torch.tensor([smollm2.tokenizer(p)["input_ids"]]) for p in (CLEAN, CORRUPT)}
    with torch.no_grad():
        clean = torch.log_softmax(hf(ids[CLEAN]).logits[0, -1].double(), -1)
        handle = hf.model.layers[layer].register_forward_hook(write)
        try:
            patched = torch.log_softmax(hf(ids[CORRUPT]).logits[0, -1].double(), -1)
        finally:
            handle.remove()
    want = float((clean.exp() * (clean - patched)).sum())
    assert abs(kl.values[0, 0] - want) <= 1e-4
    assert kl.clean_value == 0.0 and kl.corrupt_value > 0


def test_batching_gives_the_values_of_one_patch_per_pass(smollm2, diff_sweep):
    one = patch_sweep(smollm2, CLEAN, CORRUPT, target="Paris", foil="Rome", batch_size=1, **CELLS)
    np.testing.assert_allclose(one.values, diff_sweep.values, rtol=0, atol=1e-5)


@pytest.mark.parametrize(
    ("metric", "at"), [("prob", "output"), ("kl", "output"), ("logit_diff", "after_attention")]
)
def test_the_last_position_at_the_last_layer_restores_the_clean_value(smollm2, metric, at):
    """(logit_diff at the output: test_cells_equal_single_patched_collections's cell (29, 8).)"""
    answers = {"prob": {"target": "Paris"}, "logit_diff": {"target": "Paris", "foil": "Rome"}}
    result = patch_sweep(
        smollm2,
        CLEAN,
        CORRUPT,
        metric=metric,
        at=at,
        layers=[-1],
        positions=[0, -1],
        **answers.get(metric, {}),
    )
    assert abs(result.values[0, 1] - result.clean_value) <= 1e-5
    # At the last layer no other position can reach the last one's output.
    assert result.values[0, 0] == result.corrupt_value and result.skipped == 1
    assert result.normalized()[0, 1] == pytest.approx(1.0, abs=1e-4)


def test_remote_local_gives_the_local_numbers(smollm2, strict_ndif):
    cells = {"layers": [5], "positions": [2, LAST]}
    local = patch_sweep(smollm2, CLEAN, CORRUPT, target="Paris", foil="Rome", **cells)
    simulated = patch_sweep(
        smollm2, CLEAN, CORRUPT, target="Paris", foil="Rome", remote="local", batch_size=3, **cells
    )
    np.testing.assert_allclose(simulated.values, local.values, rtol=0, atol=1e-5)
    assert simulated.corrupt_value == pytest.approx(local.corrupt_value, abs=1e-5)


class _StopAfter(Control):
    """Stops the sweep once ``n`` batches are in (as the widget's Stop does)."""

    def __init__(self, n: int) -> None:
        self.n, self.batches, self.reports = n, 0, []

    def check(self) -> None:
        if self.batches >= self.n:
            raise Cancelled()

    def progress(self, fraction: float, status: str) -> None:
        self.reports.append((fraction, status))


def test_stop_mid_sweep_leaves_the_rest_nan_and_raises_cancelled(smollm2):
    control, seen = _StopAfter(2), []

    def on_batch(partial: SweepResult) -> None:
        control.batches += 1
        seen.append(partial)
        assert partial.to_trait()["running"] is True

    with pytest.raises(Cancelled) as stopped:
        patch_sweep(
            smollm2,
            CLEAN,
            CORRUPT,
            metric="prob",
            target="Paris",
            layers=[0, 1, 2],
            positions=range(1, 9),  # no cell skipped: 24 patched runs
            batch_size=5,
            control=control,
            on_batch=on_batch,
        )
    partial = stopped.value.result
    assert partial.done == 10 and len(seen) == 2 and not partial.running
    flat = partial.values.reshape(-1)
    assert np.isfinite(flat[:10]).all() and np.isnan(flat[10:]).all()
    assert seen[0].done == 5 and np.isnan(seen[0].values.reshape(-1)[5:]).all()
    trait = partial.to_trait()
    assert set(trait) == TRAIT_KEYS and trait["total"] == 24 and trait["error"] == "stopped"
    assert trait["values"][1][1] is not None and trait["values"][1][2] is None
    fractions = [round(f, 3) for f, _ in control.reports if f > 0]
    assert fractions == [round(5 / 24, 3), round(10 / 24, 3)]
    with pytest.raises(Cancelled) as early:  # stopped before anything ran
        patch_sweep(smollm2, CLEAN, CORRUPT, metric="kl", control=_StopAfter(0))
    assert early.value.result is None


def test_cells_that_cannot_change_the_output_are_the_corrupt_value(smollm2):
    """Before the first different token, and at the last layer off the last position."""
    result = patch_sweep(
        smollm2, CLEAN, CORRUPT, target="Paris", foil="Rome", layers=[5, 29], positions=[0, 2]
    )
    assert result.skipped == 3 and result.done == 4
    assert result.values[0, 0] == result.values[1, 0] == result.values[1, 1]
    assert result.values[0, 0] == result.corrupt_value
    for layer, position in [(5, 0), (29, 2)]:  # what running them gives
        lp = _patched_logprobs(smollm2, layer, position)
        assert abs(result.corrupt_value - float(lp[0] - lp[1])) <= 1e-4


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"metric": "loss"}, ValueError, r"metric must be one of"),
        ({"metric": "prob", "target": None, "foil": None}, ValueError, r"'prob' needs target="),
        ({"foil": None}, ValueError, r"needs foil="),
        ({"metric": "kl", "foil": None}, ValueError, r"'kl' takes no target"),
        ({"corrupt": "The Colosseum in Rome is in the city of"}, ValueError, r"9 tokens .* 11"),
        ({"corrupt": "   "}, ValueError, r"corrupt: prompt is empty"),
        ({"clean": ""}, ValueError, r"clean: prompt is empty"),
        ({"layers": [30]}, ValueError, r"layer 30 is out of range"),
        ({"positions": [9]}, ValueError, r"position 9 is past the prompts \(9 tokens"),
        ({"target": 60000, "foil": "Rome"}, ValueError, r"target: .*outside the vocabulary"),
        ({"target": float("nan"), "foil": "Rome"}, ValueError, r"target must be a word"),
        ({"target": "Paris", "foil": [1.5]}, TypeError, r"foil: .*not a token id"),
        ({"batch_size": float("nan")}, ValueError, r"batch_size must be a whole number"),
        ({"at": "input"}, ValueError, r"at must be 'output' or 'after_attention'"),
    ],
)
def test_bad_input_is_refused_before_any_run(smollm2, monkeypatch, kwargs, error, message):
    def no_run(*_args: Any, **_kwargs: Any) -> None:
        raise AssertionError("a pass ran before the arguments were checked")

    for name in ("capture_states", "capture_outcome", "capture_logits"):
        monkeypatch.setattr(sweep_module, name, no_run)
    args = {"clean": CLEAN, "corrupt": CORRUPT, "target": "Paris", "foil": "Rome", **kwargs}
    with pytest.raises(error, match=message):
        patch_sweep(smollm2, **args)


def test_plot_sweep_draws_positions_by_layers(diff_sweep):
    fig = plot_sweep(diff_sweep)
    ax = fig.axes[0]
    image = ax.images[0].get_array()
    assert image.shape == (3, 3)  # positions × layers
    np.testing.assert_allclose(np.asarray(image), diff_sweep.normalized().T)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["iffel*", " Tower*", " of"]
    title = ax.get_title()
    assert "Paris" in title and "Colosseum" in title and "patched runs" in title
    # Its trait dict draws the same figure (a saved widget's sweep).
    again = plot_sweep(diff_sweep.to_trait()).axes[0].images[0].get_array()
    np.testing.assert_allclose(np.asarray(again), np.asarray(image))


def test_table_best_and_trait(diff_sweep):
    table = diff_sweep.table()
    assert list(table.columns) == ["layer", "position", "token", "value", "normalized"]
    assert len(table) == 9 and table["layer"].tolist()[:3] == [3, 3, 3]
    best = diff_sweep.best(2)
    assert best["normalized"].is_monotonic_decreasing and len(best) == 2
    trait = diff_sweep.to_trait()
    assert set(trait) == TRAIT_KEYS and trait["done"] == trait["total"] == 9
    assert trait["tokens"] == ["iffel*", " Tower*", " of"] and trait["running"] is False
