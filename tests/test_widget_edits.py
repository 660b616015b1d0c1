"""Interventions from the live widget on the real SmolLM2: patch, steer, ablate, undo.

The edited side is checked against ``collect_logit_lens`` with the same edit (itself
checked against plain PyTorch hooks in tests/engine/test_edit_references.py), the
baseline against the unedited collection, and every refusal leaves the widget as it was.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from logitlenskit import LogitLensWidget, collect_logit_lens, patch_from, steer

CLEAN = "The Eiffel Tower is in the city of"
CORRUPT = "The Colosseum is in the city of"
LAYERS = [4, 12, 20, 29]


def _same(a: dict, b: dict) -> bool:
    return torch.equal(a["topk"], b["topk"]) and torch.equal(a["topk_probs"], b["topk_probs"])


def test_a_patch_shows_patched_b_against_b_and_clear_edits_goes_back(smollm2):
    w = LogitLensWidget.compare(
        CLEAN, CORRUPT, model=smollm2, layers=LAYERS, labels=["tower", "col"]
    )
    w.patch(12, 3)
    assert (w.prompt, w.compare_prompt) == (CORRUPT, CORRUPT)
    assert w.data["edits"][0]["kind"] == "patch" and "edits" not in w.compare_data
    assert w.compare_labels[1] == "baseline" and "L12 P3" in w.compare_labels[0]
    want = collect_logit_lens(
        CORRUPT, smollm2, layers=LAYERS, edits=[patch_from(smollm2, CLEAN, 12, 3)]
    )
    assert _same(w.result, want)
    assert _same(w.compare_result, collect_logit_lens(CORRUPT, smollm2, layers=LAYERS))
    # Rows before layer 12 (4) and positions before 3 are B's own, bit for bit.
    assert torch.equal(w.result["topk_probs"][0], w.compare_result["topk_probs"][0])
    assert torch.equal(w.result["topk_probs"][:, :3], w.compare_result["topk_probs"][:, :3])
    w.clear_edits()
    assert (w.prompt, w.compare_prompt, w.compare_labels) == (CLEAN, CORRUPT, ["tower", "col"])
    assert "edits" not in w.data and w.edits == ()
    w.close()


def test_steering_from_a_single_prompt_alpha_from_the_browser_and_back(smollm2):
    w = LogitLensWidget(model=smollm2, prompt=CLEAN, layers=LAYERS)
    plain = w.result
    w.steer(12, " Rome", 8.0)
    assert w.compare_prompt == CLEAN and w.compare_labels[1] == "baseline"
    assert _same(w.compare_result, plain)
    want = collect_logit_lens(
        CLEAN, smollm2, layers=LAYERS, edits=[steer(smollm2, 12, " Rome", 8.0)]
    )
    assert _same(w.result, want)
    answer, _ = w.edit({"action": "alpha", "index": 0, "alpha": 0}, [])
    assert answer == {"ok": True}
    assert w.wait(60)
    assert w.data["edits"][0]["alpha"] == 0.0
    assert _same(w.result, plain), "alpha 0 is the baseline, bit for bit"
    w.clear_edits()
    assert w.compare_data == {} and w.compare_prompt == "" and "edits" not in w.data
    w.close()


def test_an_edited_widget_follows_one_prompt_on_both_sides(smollm2):
    w = LogitLensWidget(model=smollm2, prompt=CLEAN, layers=LAYERS)
    w.ablate(12, "mlp")
    w.prompt = CORRUPT
    assert w.compare_prompt == CORRUPT
    assert w.result["input"] == w.compare_result["input"]
    assert w.data["edits"][0]["label"] == "zero-ablate L12 mlp"
    w.close()


def test_bad_edits_are_refused_and_change_nothing(smollm2):
    w = LogitLensWidget(model=smollm2, prompt=CLEAN, layers=LAYERS)
    before = dict(w.data)
    with pytest.raises(ValueError, match="patching needs a live diff"):
        w.patch(3, 1)
    with pytest.raises(ValueError, match="layer 30 is out of range"):
        w.steer(30, " Rome", 1.0)
    with pytest.raises(ValueError, match="alpha must be finite"):
        w.steer(3, " Rome", float("nan"))
    assert w.compare_data == {} and w.edits == () and w.data.keys() == before.keys()
    assert np.array_equal(
        np.frombuffer(w.data["topk_probs"], "<f4"), np.frombuffer(before["topk_probs"], "<f4")
    )
    answer, _ = w.edit({"action": "remove", "index": 4}, [])
    assert "no edit number 4" in answer["error"]
    answer, _ = w.patch_cell({"layer": 3, "position": 1}, [])
    assert "patching needs a live diff" in answer["error"]
    w.close()
