"""The token-identity Patchscope on the real SmolLM2, against plain PyTorch hooks in float64."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from logitlenskit.core.lens import run_lens
from logitlenskit.core.options import LensOptions
from logitlenskit.core.patchscope import IDENTITY_PROMPT, Patchscope
from logitlenskit.core.request import prepare_request
from logitlenskit.core.session import detail, run_options

PROMPT = "The Eiffel Tower is in the city of"
LAYERS = [3, 12, 29]


def _lens(smollm2: Any, **options: Any) -> dict[str, Any]:
    return run_lens(prepare_request(PROMPT, smollm2, LensOptions(layers=LAYERS, **options)))


def test_the_last_layer_is_the_models_own_prediction(smollm2):
    scope = _lens(smollm2, readout=Patchscope(), metrics=True)
    plain = _lens(smollm2, metrics=True)
    assert torch.equal(scope["topk"][-1], plain["topk"][-1])
    torch.testing.assert_close(scope["topk_probs"][-1], plain["topk_probs"][-1], atol=1e-5, rtol=0)
    assert scope["kl"][-1].abs().max().item() < 1e-5
    assert not torch.equal(scope["topk"][0], plain["topk"][0]), "a real Patchscope differs early"


def test_a_cell_equals_the_hook_reference(smollm2, float64_lens):
    hf = smollm2._model
    layers, tok = list(hf.model.layers), smollm2.tokenizer
    source_ids, identity = tok(PROMPT)["input_ids"], tok(IDENTITY_PROMPT)["input_ids"]
    layer, position = 12, 3
    kept: list[torch.Tensor] = []

    def first(output: Any) -> torch.Tensor:  # transformers < 5 returns a tuple per layer
        return (output[0] if isinstance(output, tuple) else output)[0].detach()

    handle = layers[layer].register_forward_hook(lambda m, i, o: kept.append(first(o)))
    with torch.no_grad():
        hf(torch.tensor([source_ids]))
    handle.remove()
    state = kept[0][position]

    def write(_module: Any, _inputs: Any, output: Any) -> Any:
        out = (output[0] if isinstance(output, tuple) else output).clone()
        out[0, -1] = state
        return (out, *output[1:]) if isinstance(output, tuple) else out

    final: list[torch.Tensor] = []
    handles = [
        layers[layer].register_forward_hook(write),
        layers[-1].register_forward_hook(lambda m, i, o: final.append(first(o))),
    ]
    with torch.no_grad():
        hf(torch.tensor([identity]))
    for h in handles:
        h.remove()
    ref = float64_lens([final[0][-1:]], hf.model.norm, hf.get_output_embeddings(), None)[0, 0]
    scope = _lens(smollm2, readout=Patchscope(), k=5)
    ids = scope["topk"][1, position].long()
    assert ids.tolist() == ref.topk(5).indices.tolist()
    torch.testing.assert_close(
        scope["topk_probs"][1, position].double(), ref[ids].exp(), atol=5e-5, rtol=0
    )


@pytest.mark.parametrize("batch_size", [1, 7])
def test_the_cached_prefix_and_the_whole_prompt_agree(smollm2, batch_size):
    """Locally the identity prefix is cached; NDIF (simulated) runs the whole prompt."""
    cached = _lens(smollm2, readout=Patchscope(batch_size=batch_size))
    whole = _lens(smollm2, readout=Patchscope(batch_size=batch_size), remote="local")
    assert torch.equal(cached["topk"], whole["topk"])
    torch.testing.assert_close(cached["topk_probs"], whole["topk_probs"], atol=2e-5, rtol=0)


def test_a_widget_run_keeps_its_states_for_follow_ups(smollm2):
    run = run_options(smollm2, PROMPT, LensOptions(layers=LAYERS, readout=Patchscope()))
    lens = _lens(smollm2, readout=Patchscope())
    assert (run.result["topk"] == lens["topk"].numpy()).all()
    ids, probs = detail(run, 1, 4, 20)
    assert ids[:5] == lens["topk"][1, 4].tolist()
    assert probs.shape == (20, len(LAYERS))


def test_kl_of_a_non_identity_lens_in_a_widget_run_is_from_the_models_output(smollm2):
    run = run_options(
        smollm2, PROMPT, LensOptions(layers=[3, 29], metrics=True, readout=Patchscope())
    )
    plain = run_options(smollm2, PROMPT, LensOptions(layers=[3, 29], metrics=True))
    assert abs(run.result["kl"][-1]).max() < 1e-5  # its last row is the model's output
    assert (run.result["kl"][0] != plain.result["kl"][0]).any()


def test_bad_patchscope_arguments_are_refused():
    with pytest.raises(ValueError, match="batch_size must be a positive int"):
        Patchscope(batch_size=0)
    with pytest.raises(ValueError, match="prompt must be some text"):
        Patchscope(prompt="  ")
    with pytest.raises(ValueError, match="cannot run inside one lens trace"):
        Patchscope().prepare([], [])
