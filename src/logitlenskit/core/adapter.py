"""One view of a model, whatever its kind: nnterp's standard names or a registry model's.

Every part of logitlenskit that touches a model's modules asks a :class:`ModelAdapter`:
which envoys are the decoder layers, which submodule's input is the residual stream after
attention, what the final norm and the unembedding are, and the same modules as plain torch
modules for hooks outside a trace. Nothing else branches on "nnterp or ``MODEL_CONFIGS``".
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable
from typing import Any

import torch

from .architectures import Accessor, apply_module_or_callable, hf_config, resolve_accessor
from .sites import AFTER_ATTENTION, ATTENTION_OUTPUT, BLOCK_OUTPUT, HEADS, MLP_OUTPUT

# What transformers' decoder layers call their parts, across architectures.
_ATTENTION_NAMES = ("self_attn", "attn", "attention", "self_attention")
_MLP_NAMES = ("mlp", "feed_forward", "ffn")
_PROJECTION_NAMES = ("o_proj", "out_proj", "c_proj", "dense", "o")

__all__ = ["ModelAdapter"]


@dataclasses.dataclass(frozen=True)
class ModelAdapter:
    """A model's lens-relevant parts.

    Attributes:
        model: the nnsight model.
        architecture: its ``MODEL_CONFIGS`` accessors, or None for an nnterp model.
        mid: the decoder-layer submodule whose input is the after-attention residual, or
            None when sub-layer rows are not asked for.
    """

    model: Any
    architecture: dict[str, Accessor] | None
    mid: str | None = None

    @property
    def blocks(self) -> Any:
        """The decoder layers as envoys (index them inside a trace)."""
        if self.architecture is None:
            return self.model.layers
        return resolve_accessor(self.model, self.architecture["layers"])

    @property
    def n_layers(self) -> int:
        """How many decoder layers."""
        if self.architecture is None:
            return int(self.model.num_layers)
        return int(resolve_accessor(self.model, self.architecture["n_layers"]))

    def norm(self) -> Callable[[torch.Tensor], Any]:
        """The final norm, callable inside a trace."""
        if self.architecture is None:
            return self.model.ln_final
        model, accessor = self.model, self.architecture["norm"]
        return lambda x: apply_module_or_callable(model, accessor, x)

    def head(self) -> Callable[[torch.Tensor], Any]:
        """The unembedding, callable inside a trace."""
        if self.architecture is None:
            return self.model.lm_head
        model, accessor = self.model, self.architecture["lm_head"]
        return lambda x: apply_module_or_callable(model, accessor, x)

    def exact_head_weight(self) -> torch.Tensor | None:
        """The unembedding's weight when it alone gives the logits (a bias-free Linear).

        The engine then computes KL from the weight directly (see ``lens_reduce``).
        """
        if self.architecture is None:
            envoy = self.model.lm_head
        else:
            envoy = resolve_accessor(self.model, self.architecture["lm_head"])
        module = getattr(envoy, "_module", envoy)
        if isinstance(module, torch.nn.Linear) and module.bias is None:
            return envoy.weight
        return None

    def softcap(self) -> float | None:
        """The model's ``final_logit_softcapping`` (Gemma 2), or None."""
        cap = getattr(hf_config(self.model), "final_logit_softcapping", None)
        return float(cap) if cap else None

    def site_path(self, kind: int) -> str | None:
        """The decoder-layer submodule a site of ``kind`` is read at (None: the layer's output).

        Raises:
            ValueError: the model has no such point (no ``mid`` for after-attention sites;
                no recognisable attention, MLP or output projection).
        """
        if kind == BLOCK_OUTPUT:
            return None
        if kind == AFTER_ATTENTION:
            if self.mid is None:
                raise ValueError(
                    "this model has no after-attention point known to logitlenskit (its "
                    "blocks may run attention and the MLP in parallel): use at='output'"
                )
            return self.mid
        block = self.layer_modules()[0]
        attention = _child(block, _ATTENTION_NAMES, "attention")
        if kind == ATTENTION_OUTPUT:
            return attention
        if kind == MLP_OUTPUT:
            return _child(block, _MLP_NAMES, "MLP")
        if kind == HEADS:
            projection = _child(getattr(block, attention), _PROJECTION_NAMES, "output projection")
            return f"{attention}.{projection}"
        raise ValueError(f"unknown site kind {kind}")

    def cache_argument(self) -> str:
        """The forward argument (and output field) that carries the KV cache.

        transformers 5.x renamed ``past_key_values`` to ``cache`` (and warns on the old
        name); the package supports both sides of the rename.
        """
        forward = getattr(self.model, "_model", self.model).forward
        return "cache" if "cache" in inspect.signature(forward).parameters else "past_key_values"

    # Torch modules, for hooks and products outside a trace (local runs, generation).

    def layer_modules(self) -> list[torch.nn.Module]:
        """The decoder layers as torch modules."""
        return [getattr(e, "_module", e) for e in self.blocks]

    def norm_module(self) -> Callable[[torch.Tensor], torch.Tensor]:
        """The final norm as a torch module."""
        if self.architecture is None:
            envoy = self.model.ln_final
        else:
            envoy = resolve_accessor(self.model, self.architecture["norm"])
        return getattr(envoy, "_module", envoy)

    def head_module(self) -> torch.nn.Module:
        """The unembedding as a torch module."""
        inner = getattr(self.model, "_model", self.model)
        return inner.get_output_embeddings()


def _child(module: torch.nn.Module, names: tuple[str, ...], what: str) -> str:
    """The first of ``names`` that ``module`` has as a submodule."""
    for name in names:
        if isinstance(getattr(module, name, None), torch.nn.Module):
            return name
    raise ValueError(
        f"cannot find the {what} of {type(module).__name__} (looked for {', '.join(names)}): "
        "this architecture's layers are named differently; ablate it through an edit of your "
        "own (see docs/interventions.md)"
    )
