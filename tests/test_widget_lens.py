"""The widget's lens on the real SmolLM2: switch it, two lenses in a diff, refusals.

The Patchscope needs no fit, so it carries the switching tests; a fitted lens's
reliability travels as data (tests/test_lens_fields.py) and its numbers are checked in
tests/engine/test_lenses.py.
"""

from __future__ import annotations

import pytest
import torch
import traitlets

from logitlenskit import LogitLensWidget, collect_logit_lens

PROMPT = "The Eiffel Tower is in the city of"
LAYERS = [3, 12, 29]


def test_switching_the_lens_reruns_and_names_it(smollm2):
    w = LogitLensWidget(model=smollm2, prompt=PROMPT, layers=LAYERS)
    assert "lens" not in w.data and [c["key"] for c in w.lens_choices] == [
        "logit",
        "tuned",
        "linear",
        "patchscope",
    ]
    w.lens = "patchscope"
    assert w.data["lens"] == "patchscope" and w.result["lens"] == "patchscope"
    want = collect_logit_lens(PROMPT, smollm2, layers=LAYERS, lens="patchscope")
    assert torch.equal(w.result["topk"], want["topk"])
    w.lens = "logit"
    assert "lens" not in w.data
    w.close()


def test_two_lenses_of_one_prompt_in_a_diff(smollm2):
    w = LogitLensWidget.compare(
        PROMPT,
        PROMPT,
        model=smollm2,
        layers=LAYERS,
        lens="patchscope",
        lens_b="logit",
        labels=["patchscope", "logit lens"],
    )
    assert w.data["lens"] == "patchscope" and "lens" not in w.compare_data
    assert torch.equal(w.result["topk"][-1], w.compare_result["topk"][-1])  # the output row
    assert not torch.equal(w.result["topk"][0], w.compare_result["topk"][0])
    w.close()


def test_an_unknown_lens_is_refused_and_rolled_back(smollm2):
    w = LogitLensWidget(model=smollm2, prompt=PROMPT, layers=LAYERS)
    with pytest.raises(traitlets.TraitError, match="lens must be one of"):
        w.lens = "jacobian"
    assert w.lens == "logit"
    w.close()
