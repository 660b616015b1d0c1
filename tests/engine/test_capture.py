"""The capture core's two extension points, readout and edits, on the real SmolLM2.

Each is checked through the public paths that use the core (a collection's trace, a local
run's cache and its follow-ups, a run through nnsight's NDIF simulation) against a float64
reference that makes the same change with plain torch forward hooks.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch

from logitlenskit.core.capture import BLOCK_OUTPUT, Site
from logitlenskit.core.lens import run_lens
from logitlenskit.core.options import LensOptions, check_k
from logitlenskit.core.request import prepare_request
from logitlenskit.core.session import detail, run_options

PROMPT = "The capital of France is Paris, and the capital of Germany is"
LAYERS = [2, 10, 20, 29]


# Plain classes, not dataclasses: NDIF (and its simulation) rebuild them by value, where a
# dataclass's string annotations cannot be resolved.
class Shift:
    """A test readout: every row moved by one vector before the model's norm."""

    name = "shift"
    is_identity = False

    def __init__(self, vector: torch.Tensor) -> None:
        self.vector = vector

    def prepare(self, states: list[Any], sites: Any) -> list[Any]:
        return [s + self.vector.to(s.dtype) for s in states]


class Add:
    """A test edit: a vector added to every position's state at one site."""

    def __init__(self, site: Site, vector: torch.Tensor) -> None:
        self.site, self.vector = site, vector

    def apply(self, state: torch.Tensor, start: int = 0) -> None:
        state += self.vector.to(state.dtype)


@pytest.fixture(scope="module")
def parts(smollm2: Any) -> dict[str, Any]:
    hf = smollm2._model
    ids = smollm2.tokenizer(PROMPT)["input_ids"]
    d = hf.config.hidden_size
    # A direction the model reads strongly: the unembedding row of " Berlin", scaled.
    berlin = smollm2.tokenizer(" Berlin", add_special_tokens=False)["input_ids"][0]
    vector = hf.get_output_embeddings().weight[berlin].detach().clone() * 4.0
    assert vector.shape == (d,)
    return {
        "hf": hf,
        "ids": ids,
        "vector": vector,
        "layers": list(hf.model.layers),
        "norm": hf.model.norm,
        "head": hf.get_output_embeddings(),
    }


def _hidden(parts: dict[str, Any], edit_layer: int | None = None) -> list[torch.Tensor]:
    """Every layer's output ``[P, d]`` from plain torch hooks, with the edit made by a hook."""
    captured: list[torch.Tensor] = []

    def add(_module: Any, _inputs: Any, output: Any) -> Any:
        if isinstance(output, tuple):
            return (output[0] + parts["vector"], *output[1:])
        return output + parts["vector"]

    def keep(_module: Any, _inputs: Any, output: Any) -> None:
        captured.append((output[0] if isinstance(output, tuple) else output)[0].detach())

    handles = [] if edit_layer is None else [parts["layers"][edit_layer].register_forward_hook(add)]
    handles += [layer.register_forward_hook(keep) for layer in parts["layers"]]
    try:
        with torch.no_grad():
            parts["hf"](torch.tensor([parts["ids"]]))
    finally:
        for handle in handles:
            handle.remove()
    return captured


def _lens(parts: dict[str, Any], rows: list[torch.Tensor], float64_lens: Any) -> torch.Tensor:
    return float64_lens(rows, parts["norm"], parts["head"], None)


def _shifted_reference(parts: dict[str, Any], float64_lens: Any) -> torch.Tensor:
    hidden = _hidden(parts)
    return _lens(parts, [hidden[layer] + parts["vector"] for layer in LAYERS], float64_lens)


def test_a_readout_reaches_the_collection_trace(smollm2, parts, float64_lens, check_reference):
    request = prepare_request(
        PROMPT, smollm2, LensOptions(k=5, layers=LAYERS, readout=Shift(parts["vector"]))
    )
    check_reference(run_lens(request), _shifted_reference(parts, float64_lens))


def test_a_readout_reaches_a_local_run_and_its_follow_ups(
    smollm2, parts, float64_lens, check_reference
):
    run = run_options(
        smollm2, PROMPT, LensOptions(k=5, layers=LAYERS, readout=Shift(parts["vector"]))
    )
    ref = _shifted_reference(parts, float64_lens)
    check_reference(_tensors(run.result), ref)
    ids, probs = detail(run, 1, 4, 30)  # deeper than the kept list: the cached normed rows
    assert ids == ref[1, 4].topk(30).indices.tolist()
    torch.testing.assert_close(
        torch.from_numpy(probs).double(), ref[:, 4, ids].exp().T, atol=5e-5, rtol=0
    )


def test_a_readout_reaches_an_ndif_run_and_its_follow_ups(
    smollm2, parts, float64_lens, check_reference
):
    run = run_options(
        smollm2,
        PROMPT,
        LensOptions(k=5, layers=LAYERS, remote="local", readout=Shift(parts["vector"])),
    )
    ref = _shifted_reference(parts, float64_lens)
    check_reference(_tensors(run.result), ref)
    ids, probs = detail(run, 2, 6, 12)  # no cache: capture_cell reruns the trace
    assert ids == ref[2, 6].topk(12).indices.tolist()
    torch.testing.assert_close(
        torch.from_numpy(probs).double(), ref[:, 6, ids].exp().T, atol=5e-5, rtol=0
    )


def test_kl_of_another_readout_is_measured_from_the_models_own_output(
    smollm2, parts, float64_lens, check_reference
):
    """With the logit lens the final row is the model's output (KL 0); a shifted one is not."""
    plain = run_lens(prepare_request(PROMPT, smollm2, LensOptions(layers=LAYERS, metrics=True)))
    assert plain["kl"][-1].abs().max().item() == 0.0
    shifted = run_lens(
        prepare_request(
            PROMPT,
            smollm2,
            LensOptions(layers=LAYERS, metrics=True, readout=Shift(parts["vector"])),
        )
    )
    model_lp = _lens(parts, [_hidden(parts)[29]], float64_lens)[0]
    lens_lp = _shifted_reference(parts, float64_lens)
    want = (model_lp.exp()[None] * (model_lp[None] - lens_lp)).sum(-1)  # KL(model ‖ row)
    torch.testing.assert_close(shifted["kl"].double(), want, atol=2e-4, rtol=1e-3)
    assert want[-1].max().item() > 0.05, "the shift must move the final row for this to test"


def _tensors(result: dict[str, Any]) -> dict[str, Any]:
    """A run's result (numpy arrays) as the collection dict's tensors."""
    return {
        "topk": torch.as_tensor(result["topk"]),
        "topk_probs": torch.as_tensor(result["topk_probs"]),
        "tracked": [torch.as_tensor(t) for t in result["tracked"]],
        "probs": [torch.as_tensor(p) for p in result["probs"]],
    }


def _edited_reference(parts: dict[str, Any], layer: int, float64_lens: Any) -> torch.Tensor:
    hidden = _hidden(parts, edit_layer=layer)
    return _lens(parts, [hidden[n] for n in LAYERS], float64_lens)


@pytest.mark.parametrize("remote", [False, "local"])
def test_an_edit_changes_the_site_and_everything_after_it(
    smollm2, parts, remote, float64_lens, check_reference
):
    edit = Add((10, BLOCK_OUTPUT), parts["vector"])
    options = LensOptions(k=5, layers=LAYERS, remote=remote, edits=(edit,))
    edited = run_lens(prepare_request(PROMPT, smollm2, options))
    ref = _edited_reference(parts, 10, float64_lens)
    check_reference(edited, ref)
    plain = run_lens(prepare_request(PROMPT, smollm2, options.replace(edits=())))
    assert torch.equal(plain["topk"][0], edited["topk"][0]), "layer 2 comes before the edit"
    assert not torch.equal(plain["topk"][1:], edited["topk"][1:]), "the edit must show"


def test_an_edit_reaches_a_local_runs_cache(smollm2, parts, float64_lens, check_reference):
    edit = Add((10, BLOCK_OUTPUT), parts["vector"])
    run = run_options(smollm2, PROMPT, LensOptions(k=5, layers=LAYERS, edits=(edit,)))
    check_reference(_tensors(run.result), _edited_reference(parts, 10, float64_lens))


def test_options_refuse_what_the_widget_refuses():
    """One limits table: the same k is refused by every entry point, with one message."""
    with pytest.raises(ValueError, match=r"k=1025 is out of range: use 1\.\.1024"):
        check_k(1025)  # a view's rule: the widget's and the command line's
    with pytest.raises(ValueError, match="k=0 is out of range"):
        LensOptions(k=0)
    with pytest.raises(TypeError, match="k must be an int"):
        LensOptions(k=2.5)
    with pytest.raises(ValueError, match="layers is empty"):
        LensOptions(layers=[])
    with pytest.raises(ValueError, match="remote must be True"):
        LensOptions(remote="ndif")


def test_edits_apply_to_every_generated_token(smollm2, parts):
    """A run's edits shape its generation: the prompt's KV cache and each new token's pass."""
    from logitlenskit.analyses.generation import generate

    # " London"'s unembedding row, strong enough to change the answer (" Berlin" without it).
    london = smollm2.tokenizer(" London", add_special_tokens=False)["input_ids"][0]
    vector = parts["head"].weight[london].detach() * 60
    edit = Add((20, BLOCK_OUTPUT), vector)
    run = run_options(smollm2, PROMPT, LensOptions(k=3, layers=[-1], edits=(edit,)))
    generate(run, 4, stop_at_eos=False)

    def add(_module: Any, _inputs: Any, output: Any) -> Any:
        if isinstance(output, tuple):
            return (output[0] + vector, *output[1:])
        return output + vector

    handle = parts["layers"][20].register_forward_hook(add)
    try:
        with torch.no_grad():
            hooked = (
                parts["hf"]
                .generate(torch.tensor([parts["ids"]]), max_new_tokens=4, do_sample=False)[
                    0, len(parts["ids"]) :
                ]
                .tolist()
            )
    finally:
        handle.remove()
    assert run.result["input_ids"][len(parts["ids"]) :] == hooked
    plain = run_options(smollm2, PROMPT, LensOptions(k=3, layers=[-1]))
    generate(plain, 4, stop_at_eos=False)
    assert plain.result["input_ids"] != run.result["input_ids"], "the edit must change the text"
