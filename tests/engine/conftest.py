"""Fixtures for the engine tests: a strict NDIF simulation, tiny models, float64 references."""

from __future__ import annotations

import importlib.abc
import sys
from collections.abc import Callable
from typing import Any

import pytest
import torch


class _BlockPackage(importlib.abc.MetaPathFinder):
    """Refuses to import logitlenskit, as an NDIF server (which lacks it) would."""

    def find_spec(self, name: str, path: Any, target: Any = None) -> None:
        if name.split(".")[0] == "logitlenskit":
            raise ImportError(f"{name} is not installed on the server (strict NDIF simulation)")


@pytest.fixture
def strict_ndif(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make remote='local' refuse logitlenskit while the request is deserialized.

    nnsight's simulation keeps paths ending in /src importable, where an editable install
    of this package lives, so without this a by-reference pickle of our functions would
    pass the simulation and fail on NDIF.
    """
    from nnsight.intervention.backends.local_simulation import LocalSimulationBackend

    block, restore = (
        LocalSimulationBackend._block_user_modules,
        LocalSimulationBackend._restore_modules,
    )

    def strict_block(self: Any) -> Any:
        sys.meta_path.insert(0, _BlockPackage())
        return block(self)

    def strict_restore(self: Any, blocked: Any) -> None:
        sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, _BlockPackage)]
        restore(self, blocked)

    monkeypatch.setattr(LocalSimulationBackend, "_block_user_modules", strict_block)
    monkeypatch.setattr(LocalSimulationBackend, "_restore_modules", strict_restore)


@pytest.fixture(scope="session")
def smol_tokenizer(smollm2: Any) -> Any:
    """The SmolLM2 tokenizer, reused by the tiny random models."""
    return smollm2.tokenizer


@pytest.fixture(scope="module")
def tiny_llama(smol_tokenizer: Any) -> Any:
    """A random three-layer Llama of width 64 with SmolLM2's tokenizer (seeded)."""
    import transformers as tf
    from nnsight import LanguageModel

    config = tf.LlamaConfig(
        vocab_size=49152,
        hidden_size=64,
        intermediate_size=96,
        num_hidden_layers=3,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=256,
    )
    torch.manual_seed(0)
    hf = tf.AutoModelForCausalLM.from_config(config, dtype=torch.float32).eval()
    return LanguageModel(hf, tokenizer=smol_tokenizer)


def layer_outputs(
    hf_model: torch.nn.Module, layers: Any, ids: list[int]
) -> tuple[list, torch.Tensor]:
    """Each decoder layer's output [P, d] and the model's own logits [P, V], via hooks."""
    captured: list[torch.Tensor] = []

    def hook(_module: Any, _inputs: Any, output: Any) -> None:
        captured.append((output[0] if isinstance(output, tuple) else output)[0].detach())

    handles = [layer.register_forward_hook(hook) for layer in layers]
    try:
        with torch.no_grad():
            logits = hf_model(torch.tensor([ids])).logits[0]
    finally:
        for handle in handles:
            handle.remove()
    return captured, logits


def reference_log_probs(
    hidden: list[torch.Tensor],
    norm: torch.nn.Module,
    head: torch.nn.Module,
    softcap: float | None,
) -> torch.Tensor:
    """Full log-softmax of the lens at every layer, [L, P, V], in float64.

    The final norm runs as the model runs it (HF norms compute in float32 internally
    whatever the input dtype); the unembedding, softcap and softmax run in float64.
    """
    with torch.no_grad():
        normed = norm(torch.stack(hidden)).double()
        bias = None if head.bias is None else head.bias.double()
        z = torch.nn.functional.linear(normed, head.weight.double(), bias)
        if softcap:
            z = softcap * torch.tanh(z / softcap)
        return torch.log_softmax(z, dim=-1)


@pytest.fixture
def float64_lens() -> Callable[..., torch.Tensor]:
    """:func:`reference_log_probs`, for tests that capture their own hidden states."""
    return reference_log_probs


@pytest.fixture
def reference() -> Callable[..., tuple[torch.Tensor, torch.Tensor]]:
    """``reference(hf_model, layers_modules, norm, head, ids, rows)`` → (log-probs, logits)."""

    def compute(hf_model, layer_modules, norm, head, ids, rows):
        hidden, logits = layer_outputs(hf_model, layer_modules, ids)
        softcap = getattr(hf_model.config, "final_logit_softcapping", None)
        return reference_log_probs([hidden[r] for r in rows], norm, head, softcap), logits

    return compute


def check_against_reference(data: dict, ref_lp: torch.Tensor, atol: float = 5e-5) -> None:
    """Every top-k entry and trajectory value of a collection dict vs a float64 reference.

    Ties closer than the tolerance may legitimately swap, so top-k is checked as: each
    returned probability matches the reference's at that id, and the returned k-th value
    matches the reference's k-th largest.
    """
    ref_p = ref_lp.exp()
    topk = data["topk"].long()
    _, P, k = topk.shape
    got = data["topk_probs"].double()
    want = ref_p.gather(-1, topk)
    assert (got - want).abs().max().item() <= atol
    kth = ref_p.topk(k, dim=-1).values
    assert (got - kth).abs().max().item() <= atol
    for p in range(P):
        ids = data["tracked"][p].long()
        assert torch.equal(ids, torch.unique(topk[:, p, :])), "tracked = union of top-k, sorted"
        traj = data["probs"][p].double()
        ref = ref_p[:, p, ids]
        assert (traj - ref).abs().max().item() <= atol
        # Relative accuracy for small probabilities (codec: ≤1% down to 1e-6).
        small = (ref >= 1e-6) & (ref < 1e-2)
        if small.any():
            rel = ((traj - ref).abs() / ref)[small]
            assert rel.max().item() <= 0.01


@pytest.fixture
def check_reference() -> Callable[..., None]:
    """The :func:`check_against_reference` assertion."""
    return check_against_reference
