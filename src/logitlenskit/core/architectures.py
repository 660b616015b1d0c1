"""Where each architecture keeps its layers, final norm and unembedding.

The registry maps a transformers ``config.model_type`` to accessors for an nnsight
``LanguageModel`` (whose module tree mirrors the Hugging Face one). An accessor is a dotted
attribute path or a callable; see :func:`apply_module_or_callable` for the callable forms.

``apply_module_or_callable`` and ``resolve_accessor`` also run inside nnsight traces (on
NDIF too), so this module imports nothing but the standard library and torch.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import torch

__all__ = [
    "MODEL_ALIASES",
    "MODEL_CONFIGS",
    "Accessor",
    "apply_module_or_callable",
    "detect_model_type",
    "get_model_config",
    "get_value",
    "hf_config",
    "resolve_accessor",
]

Accessor = str | Callable[..., Any]


def _decoder(
    norm: str = "model.norm", lm_head: str = "lm_head", mid: str | None = "post_attention_layernorm"
) -> dict[str, Accessor]:
    config: dict[str, Accessor] = {
        "layers": "model.layers",
        "norm": norm,
        "lm_head": lm_head,
        "n_layers": "config.num_hidden_layers",
    }
    if mid:
        config["mid"] = mid
    return config


def _gpt(n_layers: str, mid: str | None) -> dict[str, Accessor]:
    config: dict[str, Accessor] = {
        "layers": "transformer.h",
        "norm": "transformer.ln_f",
        "lm_head": "lm_head",
        "n_layers": n_layers,
    }
    if mid:
        config["mid"] = mid
    return config


# "mid" (optional): the submodule of a decoder layer whose *input* is the residual stream
# after attention and before the MLP, for sub-layer rows. Parallel-attention blocks (phi,
# GPT-J, GPT-NeoX) have no such point: attention and MLP read the same input.
MODEL_CONFIGS: dict[str, dict[str, Accessor]] = {
    "llama": _decoder(),
    "mistral": _decoder(),
    "mixtral": _decoder(),
    "qwen2": _decoder(),
    "qwen3": _decoder(),
    "olmo": _decoder(),
    "olmo2": _decoder(mid="mlp"),  # post-norm blocks: the MLP reads the residual itself
    "phi": _decoder(norm="model.final_layernorm", mid=None),
    "phi3": _decoder(),
    "gemma": _decoder(),
    "gemma2": _decoder(mid="pre_feedforward_layernorm"),
    "gemma3_text": _decoder(mid="pre_feedforward_layernorm"),
    "gpt2": _gpt("config.n_layer", mid="ln_2"),
    "gptj": _gpt("config.n_layer", mid=None),
    "gpt_neox": {
        "layers": "gpt_neox.layers",
        "norm": "gpt_neox.final_layer_norm",
        # transformers 5 renamed embed_out to lm_head; accept models from either side.
        "lm_head": lambda m: m.embed_out if hasattr(m, "embed_out") else m.lm_head,
        "n_layers": "config.num_hidden_layers",
    },
}

MODEL_ALIASES: dict[str, str] = {
    "llama2": "llama",
    "llama3": "llama",
    "codellama": "llama",
    "smollm": "llama",
    "smollm2": "llama",
    "pythia": "gpt_neox",
    "neox": "gpt_neox",
    "gpt-j": "gptj",
    "gpt-neox": "gpt_neox",
    "qwen": "qwen2",
    "phi-3": "phi3",
    "gemma3": "gemma3_text",
    "gemma-3": "gemma3_text",
}

_REGISTER_HINT = (
    "Register it with: MODEL_CONFIGS['my_type'] = {'layers': 'model.layers', "
    "'norm': 'model.norm', 'lm_head': 'lm_head', 'n_layers': 'config.num_hidden_layers'} "
    "(paths into the model; callables work too), or pass model_type= one of the known types."
)


def hf_config(model: Any) -> Any:
    """The transformers config of a model, nnsight-wrapped or not.

    nnsight's ``LanguageModel`` built from an already-loaded model has ``config == None``;
    the real config then sits on the wrapped module.
    """
    config = getattr(model, "config", None)
    if config is None and getattr(model, "_model", None) is not None:
        config = getattr(model._model, "config", None)
    return config


def _canonical(name: str) -> str | None:
    key = name.lower()
    if key in MODEL_CONFIGS:
        return key
    return MODEL_ALIASES.get(key)


def detect_model_type(model: Any) -> str:
    """Detect a model's architecture from its config.

    Args:
        model: an nnsight ``LanguageModel`` (or any object with a transformers config).

    Returns:
        A key of :data:`MODEL_CONFIGS`, e.g. ``"llama"``, ``"gpt2"``, ``"gpt_neox"``.

    Raises:
        ValueError: the model has no config or its type is not registered; the message lists
            the known types and shows how to register one.
    """
    config = hf_config(model)
    raw = getattr(config, "model_type", None)
    if not raw:
        raise ValueError(
            f"cannot detect the model type: the model has no config.model_type. "
            f"Known types: {', '.join(sorted(MODEL_CONFIGS))}. {_REGISTER_HINT}"
        )
    found = _canonical(str(raw))
    if found is None:
        raise ValueError(
            f"unknown model type {raw!r}. Known types: "
            f"{', '.join(sorted(MODEL_CONFIGS))}. {_REGISTER_HINT}"
        )
    return found


def get_model_config(model: Any, model_type: str | None = None) -> dict[str, Any]:
    """The accessor dict (``layers``, ``norm``, ``lm_head``, ``n_layers``) for a model.

    Args:
        model: an nnsight ``LanguageModel``.
        model_type: an explicit type or alias; ``None`` detects it from the config.

    Raises:
        ValueError: unknown type (the message lists the known ones and how to register one).
    """
    if model_type is None:
        return MODEL_CONFIGS[detect_model_type(model)]
    found = _canonical(model_type)
    if found is None:
        raise ValueError(
            f"unknown model type {model_type!r}. Known types: "
            f"{', '.join(sorted(MODEL_CONFIGS))}. {_REGISTER_HINT}"
        )
    return MODEL_CONFIGS[found]


def resolve_accessor(model: Any, accessor: Accessor) -> Any:
    """Resolve a dotted attribute path (``"model.layers"``) or a callable ``fn(model)``.

    A ``config.*`` path falls back to the wrapped model's config, which nnsight leaves
    unset on models wrapped after loading.
    """
    if callable(accessor):
        return accessor(model)
    parts = accessor.split(".")
    if parts[0] == "config":
        value: Any = hf_config(model)
        parts = parts[1:]
    else:
        value = model
    for part in parts:
        value = getattr(value, part)
    return value


def _n_positional(fn: Callable[..., Any]) -> int:
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):  # builtins without a signature: treat as fn(model)
        return 1
    return sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in params)


def apply_module_or_callable(model: Any, accessor: Accessor, hidden: torch.Tensor) -> Any:
    """Apply a norm or unembedding accessor to hidden states.

    The four accessor forms:

    1. a dotted path to a module → ``module(hidden)``;
    2. ``fn(model, hidden)`` (two parameters) → its result;
    3. ``fn(model)`` returning a module → ``module(hidden)``;
    4. ``fn(model)`` returning a weight tensor ``[d, vocab]`` → ``hidden @ weights``.
    """
    if isinstance(accessor, str):
        return resolve_accessor(model, accessor)(hidden)
    if _n_positional(accessor) >= 2:
        return accessor(model, hidden)
    target = accessor(model)
    if isinstance(target, torch.Tensor):
        return hidden @ target
    return target(hidden)


def get_value(saved: Any) -> Any:
    """The value of an nnsight saved object; plain values pass through."""
    try:
        return saved.value
    except AttributeError:
        return saved
