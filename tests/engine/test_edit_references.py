"""Patch, steer and ablate on the real SmolLM2, against plain PyTorch hooks in float64.

Each edit runs through the public path (``collect_logit_lens(..., edits=[...])``) and the
reference makes the same change with a forward hook on the Hugging Face model, then decodes
every layer with the float64 lens. Cells an edit cannot reach are compared bit for bit
with the unedited run.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import torch

from logitlenskit import (
    Ablate,
    Patch,
    Steer,
    ablate,
    collect_logit_lens,
    mean_activation,
    patch_from,
    residual,
    steer,
    token_direction,
)
from logitlenskit.analyses.generation import generate
from logitlenskit.core.options import LensOptions
from logitlenskit.core.session import run_options

CLEAN = "The Eiffel Tower is in the city of"
CORRUPT = "The Colosseum is in the city of"
LAYER, POSITION = 12, 3
ALL_LAYERS = list(range(30))

Hook = Callable[[Any, Any, Any], Any]


@pytest.fixture(scope="module")
def hf(smollm2: Any) -> dict[str, Any]:
    model = smollm2._model
    return {
        "model": model,
        "layers": list(model.model.layers),
        "norm": model.model.norm,
        "head": model.get_output_embeddings(),
    }


def _ids(smollm2: Any, prompt: str) -> list[int]:
    return smollm2.tokenizer(prompt)["input_ids"]


def _hooked(
    hf: dict[str, Any], ids: list[int], hooks: list[tuple[torch.nn.Module, Hook, bool]]
) -> list[torch.Tensor]:
    """Every layer's output [P, d] with ``hooks`` (module, hook, pre?) in place."""
    captured: list[torch.Tensor] = []

    def keep(_module: Any, _inputs: Any, output: Any) -> None:
        captured.append((output[0] if isinstance(output, tuple) else output)[0].detach())

    handles = []
    for module, hook, pre in hooks:
        register = module.register_forward_pre_hook if pre else module.register_forward_hook
        handles.append(register(hook))
    handles += [layer.register_forward_hook(keep) for layer in hf["layers"]]
    try:
        with torch.no_grad():
            hf["model"](torch.tensor([ids]))
    finally:
        for handle in handles:
            handle.remove()
    return captured


def _on_output(change: Callable[[torch.Tensor], torch.Tensor]) -> Hook:
    def hook(_module: Any, _inputs: Any, output: Any) -> Any:
        if isinstance(output, tuple):
            return (change(output[0]), *output[1:])
        return change(output)

    return hook


def _reference(hf: dict[str, Any], hidden: list[torch.Tensor], float64_lens: Any) -> torch.Tensor:
    return float64_lens(hidden, hf["norm"], hf["head"], None)


def _same_cells(a: dict, b: dict, layers: slice | list, positions: slice) -> bool:
    return torch.equal(a["topk"][layers, positions], b["topk"][layers, positions]) and torch.equal(
        a["topk_probs"][layers, positions], b["topk_probs"][layers, positions]
    )


def test_a_patch_of_a_runs_own_state_is_bit_identical(smollm2):
    plain = collect_logit_lens(CORRUPT, smollm2, k=5)
    patch = patch_from(smollm2, CORRUPT, LAYER, POSITION)
    patched = collect_logit_lens(CORRUPT, smollm2, k=5, edits=[patch])
    assert torch.equal(plain["topk"], patched["topk"])
    assert torch.equal(plain["topk_probs"], patched["topk_probs"])
    assert torch.equal(plain["entropy"], patched["entropy"])
    assert patched["edits"][0]["kind"] == "patch" and "edits" not in plain


@pytest.mark.parametrize("remote", [False, "local"])
def test_a_patch_equals_the_hook_reference_and_leaves_the_rest_alone(
    smollm2, hf, remote, float64_lens, check_reference
):
    source = residual(smollm2, CLEAN, LAYER, POSITION)
    patch = Patch(LAYER, POSITION, source, label="clean into corrupt")
    patched = collect_logit_lens(CORRUPT, smollm2, k=5, edits=[patch], remote=remote)

    def write(state: torch.Tensor) -> torch.Tensor:
        state = state.clone()
        state[0, POSITION] = source
        return state

    hidden = _hooked(hf, _ids(smollm2, CORRUPT), [(hf["layers"][LAYER], _on_output(write), False)])
    check_reference(patched, _reference(hf, hidden, float64_lens))
    plain = collect_logit_lens(CORRUPT, smollm2, k=5, remote=remote)
    # Outside the region (layers >= 12, positions >= 3) every cell is the unpatched run's.
    assert _same_cells(plain, patched, slice(0, LAYER), slice(None))
    assert _same_cells(plain, patched, slice(None), slice(0, POSITION))
    assert not _same_cells(plain, patched, slice(LAYER, None), slice(POSITION, None))
    record = patched["edits"][0]
    assert (record["layer"], record["row_kind"], record["from_position"]) == (LAYER, 0, POSITION)


@pytest.mark.parametrize("remote", [False, "local"])
def test_steering_equals_the_hook_reference(smollm2, hf, remote, float64_lens, check_reference):
    direction = token_direction(smollm2, " Rome")
    alpha, start = 8.0, 2
    edit = Steer(LAYER, direction, alpha, start=start)
    steered = collect_logit_lens(CLEAN, smollm2, k=5, edits=[edit], remote=remote)

    def add(state: torch.Tensor) -> torch.Tensor:
        state = state.clone()
        state[0, start:] += alpha * direction
        return state

    hidden = _hooked(hf, _ids(smollm2, CLEAN), [(hf["layers"][LAYER], _on_output(add), False)])
    check_reference(steered, _reference(hf, hidden, float64_lens))
    assert steered["edits"][0]["alpha"] == alpha


def test_alpha_zero_is_bit_identical(smollm2):
    plain = collect_logit_lens(CLEAN, smollm2, k=5, metrics=True)
    edit = steer(smollm2, LAYER, " Rome", alpha=0.0)
    zero = collect_logit_lens(CLEAN, smollm2, k=5, metrics=True, edits=[edit])
    for key in ("topk", "topk_probs", "entropy", "kl"):
        assert torch.equal(plain[key], zero[key]), key


def test_mlp_ablation_keeps_the_after_attention_row_and_changes_the_output_row(
    smollm2, hf, float64_lens, check_reference
):
    layers = [LAYER, LAYER + 1]
    plain = collect_logit_lens(CLEAN, smollm2, k=5, layers=layers, sublayers=True)
    edited = collect_logit_lens(
        CLEAN, smollm2, k=5, layers=layers, sublayers=True, edits=[Ablate(LAYER, "mlp")]
    )
    assert edited["row_kinds"] == [1, 0, 1, 0]
    assert _same_cells(plain, edited, [0], slice(None)), "after-attention row of the layer"
    assert not _same_cells(plain, edited, [1], slice(None)), "the layer's output row changes"
    outputs = collect_logit_lens(CLEAN, smollm2, k=5, layers=layers, edits=[Ablate(LAYER, "mlp")])
    assert torch.equal(outputs["topk"], edited["topk"][[1, 3]]), "one edit, whatever rows"
    mlp = hf["layers"][LAYER].mlp
    hidden = _hooked(hf, _ids(smollm2, CLEAN), [(mlp, _on_output(torch.zeros_like), False)])
    check_reference(outputs, _reference(hf, [hidden[n] for n in layers], float64_lens))


@pytest.mark.parametrize("remote", [False, "local"])
def test_head_and_mean_ablation_equal_the_hook_reference(
    smollm2, hf, remote, float64_lens, check_reference
):
    heads, prompts = [0, 5], [CLEAN, CORRUPT, "Water boils at one hundred degrees"]
    edit = ablate(smollm2, LAYER, "heads", heads=heads, mean_over=prompts)
    mean = mean_activation(smollm2, prompts, LAYER, "heads")
    head_dim = edit.head_dim
    edited = collect_logit_lens(CLEAN, smollm2, k=5, edits=[edit], remote=remote)

    def fill(_module: Any, args: tuple) -> tuple:
        state = args[0].clone()
        for head in heads:
            part = slice(head * head_dim, (head + 1) * head_dim)
            state[..., part] = mean[part]
        return (state, *args[1:])

    o_proj = hf["layers"][LAYER].self_attn.o_proj
    hidden = _hooked(hf, _ids(smollm2, CLEAN), [(o_proj, fill, True)])
    check_reference(edited, _reference(hf, hidden, float64_lens))
    assert edited["edits"][0]["mode"] == "mean" and edited["edits"][0]["row_kind"] == 1


def test_attention_ablation_touches_the_after_attention_row(smollm2):
    layers = [LAYER]
    plain = collect_logit_lens(CLEAN, smollm2, k=5, layers=layers, sublayers=True)
    edited = collect_logit_lens(
        CLEAN, smollm2, k=5, layers=layers, sublayers=True, edits=[Ablate(LAYER, "attention")]
    )
    assert not _same_cells(plain, edited, [0], slice(1, None))


def test_a_positional_edit_finds_its_position_in_every_generation_step(smollm2, hf):
    """Steering from position P (past the prompt) reaches only the generated tokens."""
    ids = _ids(smollm2, CLEAN)
    start = len(ids) + 1  # the second generated token on
    direction = token_direction(smollm2, " Paris") * 40
    edit = Steer(20, direction, 1.0, start=len(ids) - 1)
    run = run_options(smollm2, CLEAN, LensOptions(k=3, layers=[-1], edits=(edit,)))
    generate(run, 3, stop_at_eos=False)

    def add(state: torch.Tensor) -> torch.Tensor:
        # The generate reference sees the whole prompt first, then one token per pass.
        state = state.clone()
        if state.shape[1] > 1:
            state[0, len(ids) - 1 :] += direction
        else:
            state += direction
        return state

    handle = hf["layers"][20].register_forward_hook(_on_output(add))
    try:
        with torch.no_grad():
            want = hf["model"].generate(torch.tensor([ids]), max_new_tokens=3, do_sample=False)
    finally:
        handle.remove()
    assert run.result["input_ids"][len(ids) :] == want[0, len(ids) :].tolist()
    assert start > len(ids)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: Patch(30, 0, torch.zeros(d)), r"layer 30 is out of range .*0\.\.29"),
        (lambda d: Patch(3, 99, torch.zeros(d)), r"position 99 is past the prompt"),
        (lambda d: Steer(3, torch.zeros(d + 1)), r"width 577, but the model's is 576"),
        (lambda d: Ablate(3, "heads", heads=[99], head_dim=64), r"head 99 is out of range"),
    ],
)
def test_edits_that_do_not_fit_the_model_are_refused_before_any_run(smollm2, make, message):
    with pytest.raises(ValueError, match=message):
        collect_logit_lens(CLEAN, smollm2, edits=[make(576)])


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (lambda: Steer(3, torch.zeros(576), float("nan")), ValueError, "alpha must be finite"),
        (lambda: Steer(3, torch.full((576,), float("nan"))), ValueError, "holds NaN"),
        (lambda: Steer(3, torch.zeros(2, 576)), ValueError, "1-D float vector"),
        (lambda: Patch(-1, 0, torch.zeros(576)), ValueError, "layer must be a layer number"),
        (lambda: Ablate(3, "neurons"), ValueError, "part must be one of"),
        (lambda: Steer(3, torch.zeros(576), "big"), TypeError, "alpha must be a number"),
    ],
)
def test_bad_edit_arguments_are_refused_when_made(make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_a_multi_token_direction_is_refused_naming_its_tokens(smollm2):
    with pytest.raises(ValueError, match=r"is \d tokens"):
        token_direction(smollm2, " antidisestablishmentarianism")
