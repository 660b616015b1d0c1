"""Building edits from a model: a patch's source state, steering directions, ablation means.

The edit classes (:mod:`.edits`) take vectors; these functions read them from the model
through the capture core (one short pass each, stopped after the layer they need), so the
values are the model's own states, read exactly as a lens run reads them, on NDIF too.

Example:
    >>> patch = patch_from(model, "The Eiffel Tower is in", layer=12, position=4)
    >>> collect_logit_lens("The Colosseum is in", model, edits=[patch])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from .capture import capture_states
from .edits import Ablate, Patch, Steer
from .options import LensOptions
from .request import LensRequest, model_shape, model_tokenizer, prepare_request, token_strings
from .sites import AFTER_ATTENTION, ATTENTION_OUTPUT, BLOCK_OUTPUT, HEADS, MLP_OUTPUT

__all__ = [
    "ablate",
    "mean_activation",
    "mean_direction",
    "patch_from",
    "prompt_direction",
    "residual",
    "steer",
    "token_direction",
]

_AT = {"output": BLOCK_OUTPUT, "after_attention": AFTER_ATTENTION}
_PARTS = {"attention": ATTENTION_OUTPUT, "mlp": MLP_OUTPUT, "heads": HEADS}


def _request(model: Any, prompt: str, remote: Any, kind: int) -> LensRequest:
    # after-attention sites need the request's `mid`, which sub-layer rows bring.
    options = LensOptions(k=1, remote=remote, sublayers=kind == AFTER_ATTENTION)
    return prepare_request(prompt, model, options)


def _read(model: Any, prompt: str, layer: int, kind: int, remote: Any) -> torch.Tensor:
    """``prompt``'s state at ``(layer, kind)``, every position: ``[P, width]``."""
    request = _request(model, prompt, remote, kind)
    n_layers = request.final_layer + 1
    if isinstance(layer, bool) or not isinstance(layer, int) or not 0 <= layer < n_layers:
        raise ValueError(f"layer must be 0..{n_layers - 1} for this model, got {layer!r}")
    ids = torch.tensor([request.input_ids])
    return capture_states(request.adapter, ids, [(layer, kind)], remote=request.remote)[0]


def _position(states: torch.Tensor, position: int, prompt: str) -> int:
    n = states.shape[0]
    if isinstance(position, bool) or not isinstance(position, int) or not -n <= position < n:
        raise ValueError(
            f"position {position!r} is not in the prompt {prompt!r} ({n} tokens: 0..{n - 1}, "
            "or negative from the end)"
        )
    return position % n


def residual(
    model: Any,
    prompt: str,
    layer: int,
    position: int = -1,
    *,
    at: str = "output",
    remote: Any = None,
) -> torch.Tensor:
    """The residual stream of ``prompt`` at one layer and position, ``[d]``.

    Args:
        model: the model.
        prompt: the text.
        layer: the layer (0 … num_layers − 1).
        position: the token (negative counts from the end).
        at: ``"output"`` (after the layer) or ``"after_attention"``.
        remote: where the pass runs (as in ``collect_logit_lens``).
    """
    states = _read(model, prompt, layer, _kind(at), remote)
    return states[_position(states, position, prompt)].clone()


def _kind(at: str) -> int:
    if at not in _AT:
        raise ValueError(f"at must be 'output' or 'after_attention', got {at!r}")
    return _AT[at]


def patch_from(
    model: Any,
    source: str,
    layer: int,
    position: int,
    *,
    into: int | None = None,
    at: str = "output",
    remote: Any = None,
) -> Patch:
    """A patch that writes ``source``'s state at ``(layer, position)`` into another run.

    Args:
        model: the model (the patched run must use the same one).
        source: the prompt the state comes from (the "clean" run).
        layer: the layer.
        position: the source position (negative from the end).
        into: the position of the patched run that receives it; default the same index.
        at: ``"output"`` or ``"after_attention"``.
        remote: where the source's pass runs.
    """
    states = _read(model, source, layer, _kind(at), remote)
    index = _position(states, position, source)
    token = token_strings(model_tokenizer(model), [int(_ids(model, source)[index])])[0]
    target = index if into is None else into
    label = f"patch L{layer} P{target} ← {token!r} of {_short(source)}"
    return Patch(layer, target, states[index].clone(), at=at, label=label)


def _ids(model: Any, prompt: str) -> list[int]:
    return prepare_request(prompt, model, LensOptions(k=1)).input_ids


def _short(text: str, limit: int = 24) -> str:
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")


def token_direction(model: Any, token: int | str) -> torch.Tensor:
    """A token's unembedding row, unit length: the direction that raises its logit most.

    Args:
        model: the model.
        token: a token id, or text that is one token (with its leading space: ``" Paris"``).

    Raises:
        ValueError: an id out of the vocabulary, or text of several tokens (they are named).
    """
    request = prepare_request("x", model, LensOptions(k=1))
    if isinstance(token, str):
        ids = request.tokenizer(token, add_special_tokens=False)["input_ids"]
        if len(ids) != 1:
            pieces = token_strings(request.tokenizer, ids)
            raise ValueError(
                f"{token!r} is {len(ids)} tokens {pieces}: give one token (e.g. {pieces[0]!r}) "
                "or its id"
            )
        token = ids[0]
    if isinstance(token, bool) or not isinstance(token, int):
        raise TypeError(f"token must be an id or a string, got {type(token).__name__}")
    if not 0 <= token < request.vocab_size:
        raise ValueError(f"token id {token} is not in the vocabulary (0..{request.vocab_size - 1})")
    row = request.adapter.head_module().weight[token].detach().float()
    return row / row.norm()


def prompt_direction(
    model: Any, a: str, b: str, layer: int, position: int = -1, *, remote: Any = None
) -> torch.Tensor:
    """``a``'s residual minus ``b``'s at one layer and position: steering from a contrast pair."""
    return residual(model, a, layer, position, remote=remote) - residual(
        model, b, layer, position, remote=remote
    )


def mean_direction(
    model: Any,
    group_a: Sequence[str],
    group_b: Sequence[str],
    layer: int,
    position: int = -1,
    *,
    remote: Any = None,
) -> torch.Tensor:
    """Mean residual of ``group_a``'s prompts minus ``group_b``'s, at one layer and position.

    A study's prompts split in two (``study.prompts`` by a label) give the groups.
    """
    means = []
    for name, group in (("group_a", group_a), ("group_b", group_b)):
        if isinstance(group, str) or not group:
            raise ValueError(f"{name} must be a non-empty list of prompts")
        rows = [residual(model, p, layer, position, remote=remote).double() for p in group]
        means.append(torch.stack(rows).mean(0))
    return (means[0] - means[1]).float()


def mean_activation(
    model: Any, prompts: Sequence[str], layer: int, part: str, *, remote: Any = None
) -> torch.Tensor:
    """A part's output averaged over every position of ``prompts``: a mean ablation's value.

    Args:
        model: the model.
        prompts: the texts (e.g. a study's prompts).
        layer: the layer.
        part: ``"attention"``, ``"mlp"`` or ``"heads"`` (the heads' concatenated outputs).
        remote: where the passes run.
    """
    if part not in _PARTS:
        raise ValueError(f"part must be one of {sorted(_PARTS)}, got {part!r}")
    if isinstance(prompts, str) or not prompts:
        raise ValueError("prompts must be a non-empty list of texts")
    total, count = None, 0
    for prompt in prompts:
        states = _read(model, prompt, layer, _PARTS[part], remote).double()
        total = states.sum(0) if total is None else total + states.sum(0)
        count += states.shape[0]
    return (total / count).float()


def steer(model: Any, layer: int, direction: Any, alpha: float = 1.0, **kwargs: Any) -> Steer:
    """A :class:`~.edits.Steer` whose direction may be a token (see :func:`token_direction`).

    Args:
        model: the model.
        layer: the layer steered.
        direction: a vector ``[d]``, a token id, or one token's text.
        alpha: the scale.
        **kwargs: ``start``, ``at``, ``label`` of :class:`~.edits.Steer`.
    """
    label = kwargs.pop("label", "")
    if isinstance(direction, (int, str)) and not isinstance(direction, bool):
        name = (
            direction
            if isinstance(direction, str)
            else token_strings(model_tokenizer(model), [direction])[0]
        )
        label = label or f"steer L{layer} toward {name!r}"
        direction = token_direction(model, direction)
    return Steer(layer, direction, alpha, label=label, **kwargs)


def ablate(
    model: Any,
    layer: int,
    part: str,
    *,
    heads: Sequence[int] | None = None,
    mean_over: Sequence[str] | None = None,
    remote: Any = None,
) -> Ablate:
    """An :class:`~.edits.Ablate`: zero by default, the mean over ``mean_over``'s prompts if given.

    Args:
        model: the model.
        layer: the layer.
        part: ``"attention"``, ``"mlp"`` or ``"heads"``.
        heads: the heads, for ``part="heads"``.
        mean_over: prompts whose mean output replaces the part (mean ablation).
        remote: where the mean's passes run.
    """
    request = prepare_request("x", model, LensOptions(k=1))
    shape = model_shape(model, request.architecture, 1)
    mean = None
    if mean_over is not None:
        mean = mean_activation(model, mean_over, layer, part, remote=remote)
    head_dim = shape.head_dim if part == "heads" else None
    return Ablate(layer, part, heads=heads, mean=mean, head_dim=head_dim)
