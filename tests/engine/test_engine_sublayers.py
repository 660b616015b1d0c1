"""Sub-layer rows on a real model: the nnterp path, the live run and the KL reference."""

from __future__ import annotations

import pytest
import torch

from logitlenskit.analyses.collect import collect_logit_lens
from logitlenskit.core.session import start_run

pytestmark = pytest.mark.slow


def test_smollm2_sublayers_on_the_nnterp_path_and_the_live_run(smollm2):
    kwargs = {"layers": [5, 29], "sublayers": True, "metrics": True, "targets": ["Paris"]}
    data = collect_logit_lens("The capital of France is", smollm2, **kwargs)
    assert data["row_kinds"] == [1, 0, 1, 0]
    assert data["kl"][3].abs().max().item() == 0.0  # the final layer's output row
    assert data["kl"][2].min().item() > 0  # after the last attention, before its MLP
    run = start_run(smollm2, "The capital of France is", **kwargs)
    assert run.result["row_kinds"] == [1, 0, 1, 0]
    assert torch.allclose(torch.as_tensor(run.result["topk_probs"]), data["topk_probs"], atol=1e-5)
    assert torch.allclose(torch.as_tensor(run.result["kl"]), data["kl"], atol=1e-4)


def test_the_browser_names_a_sub_layer_row_by_its_lens_row(smollm2):
    from logitlenskit import LogitLensWidget

    w = LogitLensWidget(
        model=smollm2, prompt="The capital of France is", layers=[28], sublayers=True
    )
    run = w.data["run"]
    after_attention, _ = w.detail({"run": run, "layer": 28, "row": 0, "position": 4, "k": 5}, [])
    after_layer, _ = w.detail({"run": run, "layer": 28, "row": 1, "position": 4, "k": 5}, [])
    topk = w.result["topk"]
    assert after_attention["ids"][0] == int(topk[0, 4, 0])
    assert after_layer["ids"][0] == int(topk[1, 4, 0])
    assert after_attention["ids"] != after_layer["ids"]
    bad, _ = w.detail({"run": run, "layer": 27, "row": 1, "position": 4, "k": 5}, [])
    assert "not a row of layer 27" in bad["error"]
