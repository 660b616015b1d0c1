"""Collecting logit-lens data: the public API over the one engine (:mod:`.engine`).

Two families of callers, one reduction underneath:

* :func:`collect_logit_lens` (nnterp ``StandardizedTransformer``, or any nnsight
  ``LanguageModel`` of a registered architecture) returns the collection dict of
  docs/data-format.md §1.
* :func:`collect_logit_lens_topk_efficient` / :func:`collect_logit_lens_topk` keep the
  seed LanguageModel API (``tokens``, ``top_indices``, ``top_probs``, ``tracked_*``).

The reduction runs inside the nnsight trace, so with ``remote=True`` only the compact
result leaves the NDIF server. ``remote='local'`` runs nnsight's NDIF simulation.
"""

from __future__ import annotations

import warnings
from typing import Any, Optional, Sequence, Union

import numpy as np
import torch

from . import architectures, engine
from .architectures import (
    apply_module_or_callable,
    get_model_config,
    get_value,
    hf_config,
    resolve_accessor,
)
from .engine import decode_lens, lens_reduce
from .validate import as_int, check_text

__all__ = [
    "collect_logit_lens",
    "collect_logit_lens_topk_efficient",
    "collect_logit_lens_topk",
    "decode_tracked_tokens",
    "NonFiniteWarning",
]

Remote = Union[bool, str, None]


class NonFiniteWarning(RuntimeWarning):
    """Some cells' model output was NaN or Inf; the result flags them instead of guessing."""


# ---------------------------------------------------------------- validation


def _check_model(model: Any) -> Any:
    if not hasattr(model, "trace"):
        raise TypeError(
            f"expected an nnsight model, got {type(model).__name__}: wrap it with "
            "nnterp.StandardizedTransformer(hf_model, tokenizer=tok) or "
            "nnsight.LanguageModel(hf_model, tokenizer=tok)"
        )
    tokenizer = getattr(model, "tokenizer", None)
    if tokenizer is None:
        raise TypeError(
            "the model has no tokenizer: pass one when wrapping it, e.g. "
            "StandardizedTransformer(hf_model, tokenizer=AutoTokenizer.from_pretrained(...))"
        )
    return tokenizer


def _encode_prompt(prompt: Any, tokenizer: Any, model: Any) -> list[int]:
    if not isinstance(prompt, str):
        raise TypeError(f"prompt must be a str, got {type(prompt).__name__}")
    check_text(prompt, "prompt")  # a lone surrogate would fail deep in the tokenizer
    if not prompt.strip():
        raise ValueError("prompt is empty or whitespace only: give some text to analyse")
    ids = [int(i) for i in tokenizer.encode(prompt)]
    limit = _context_length(model)
    if limit is not None and len(ids) > limit:
        raise ValueError(
            f"prompt is {len(ids)} tokens, longer than the model's context of {limit}: "
            "shorten it"
        )
    return ids


def _context_length(model: Any) -> Optional[int]:
    config = hf_config(model)
    for name in ("max_position_embeddings", "n_positions", "n_ctx"):
        value = getattr(config, name, None)
        if isinstance(value, int) and value > 0:
            return value
    return None


def _normalize_layers(layers: Optional[Sequence[int]], n_layers: int) -> list[int]:
    if layers is None:
        return list(range(n_layers))
    if isinstance(layers, (str, bytes)) or not hasattr(layers, "__iter__"):
        raise TypeError(f"layers must be a list of ints, got {type(layers).__name__}")
    rows = list(layers)
    if not rows:
        raise ValueError("layers is empty: pass None for all layers or some layer indices")
    out = []
    for layer in rows:
        index = as_int(layer)
        if index is None:
            raise TypeError(f"layer indices must be ints, got {layer!r}")
        if not -n_layers <= index < n_layers:
            raise ValueError(
                f"layer {index} is out of range: the model has {n_layers} layers, so "
                f"valid indices are 0..{n_layers - 1} (or -{n_layers}..-1 from the end)"
            )
        out.append(index % n_layers)
    return out


def _check_k(k: Any, vocab_size: int) -> int:
    if as_int(k) is None:
        raise TypeError(f"k must be an int, got {type(k).__name__}")
    k = as_int(k)
    if not 1 <= k <= vocab_size:
        raise ValueError(f"k={k} is out of range: it must be between 1 and the vocabulary "
                         f"size {vocab_size}")
    return k


def _resolve_remote(remote: Remote, model: Any) -> Union[bool, str]:
    if remote is None:
        # A model whose weights were never loaded here (nnsight's meta model, e.g.
        # StandardizedTransformer(name, remote=True)) was made for NDIF.
        return not getattr(model, "dispatched", True)
    if remote is True or remote is False or remote == "local":
        return remote
    raise ValueError(f"remote must be True (NDIF), 'local' (NDIF simulation), False or None, "
                     f"got {remote!r}")


def _ship_engine_by_value(remote: Union[bool, str]) -> None:
    """Make the engine's functions travel with the request.

    NDIF servers cannot import logitlenskit; registered modules are pickled by value
    (their source), and they import only torch/numpy/stdlib, which servers have.
    """
    if remote:
        from nnsight import ndif

        ndif.register(engine)
        ndif.register(architectures)


# ---------------------------------------------------------------- model facts


def _is_nnterp(model: Any) -> bool:
    return hasattr(model, "layers_output") and hasattr(model, "ln_final")


def _vocab_size(model: Any) -> int:
    inner = getattr(model, "_model", None)
    get_out = getattr(inner, "get_output_embeddings", None)
    head = get_out() if callable(get_out) else None
    weight = getattr(head, "weight", None)
    if weight is not None:
        return int(weight.shape[0])
    return int(hf_config(model).vocab_size)


def _softcap(model: Any) -> Optional[float]:
    cap = getattr(hf_config(model), "final_logit_softcapping", None)
    return float(cap) if cap else None


def _model_name(model: Any) -> str:
    config = hf_config(model)
    name = getattr(config, "_name_or_path", None) or getattr(model, "repo_id", None)
    return str(name or type(getattr(model, "_model", model)).__name__)


def _n_layers(model: Any, cfg: Optional[dict]) -> int:
    if cfg is None:
        return int(model.num_layers)
    return int(resolve_accessor(model, cfg["n_layers"]))


# ---------------------------------------------------------------- traces
# nnsight reads the source of each ``with model.trace`` block and, for NDIF, ships it with
# the engine's functions; keep the blocks free of calls into this module. The outer
# torch.no_grad() covers the model's forward pass (else autograd keeps every layer's
# activations: twice the peak memory at 400 tokens); it does not reach the trace body,
# which is why lens_reduce sets no_grad itself.


def _trace_nnterp(model, ids, rows, k, vocab_size, softcap, remote, extra):
    wanted = sorted(set(rows))
    with torch.no_grad(), model.trace(ids, remote=remote) as tracer:
        hidden = {}
        for i in wanted:
            hidden[i] = model.layers_output[i][0]
        saved = lens_reduce([hidden[i] for i in rows], model.ln_final, model.lm_head,
                            k, vocab_size, softcap, extra_ids=extra).save()
        tracer.stop()
    return get_value(saved)


def _trace_registry(model, ids, rows, k, vocab_size, softcap, remote, cfg, extra):
    wanted = sorted(set(rows))
    blocks = resolve_accessor(model, cfg["layers"])
    with torch.no_grad(), model.trace(ids, remote=remote) as tracer:
        hidden = {}
        for i in wanted:
            out = blocks[i].output
            # transformers < 5 returns a tuple per layer, >= 5 the tensor itself.
            hidden[i] = (out[0] if isinstance(out, tuple) else out)[0]
        saved = lens_reduce(
            [hidden[i] for i in rows],
            lambda x: apply_module_or_callable(model, cfg["norm"], x),
            lambda x: apply_module_or_callable(model, cfg["lm_head"], x),
            k, vocab_size, softcap, extra_ids=extra,
        ).save()
        tracer.stop()
    return get_value(saved)


def _trace_full_logits(model, ids, rows, remote, cfg):
    wanted = sorted(set(rows))
    blocks = resolve_accessor(model, cfg["layers"])
    with torch.no_grad(), model.trace(ids, remote=remote) as tracer:
        with torch.no_grad():  # the outer no_grad does not reach the trace body
            logits = {}
            for i in wanted:
                out = blocks[i].output
                h = (out[0] if isinstance(out, tuple) else out)[0]
                normed = apply_module_or_callable(model, cfg["norm"], h)
                logits[i] = apply_module_or_callable(model, cfg["lm_head"], normed)
            saved = [logits[i] for i in rows].save()
        tracer.stop()
    return get_value(saved)


# ---------------------------------------------------------------- shared driver


def _prepare(prompt, model, k, layers, remote, model_type, nnterp_ok=True):
    tokenizer = _check_model(model)
    cfg = None if nnterp_ok and model_type is None and _is_nnterp(model) else (
        get_model_config(model, model_type))
    n_layers = _n_layers(model, cfg)
    vocab_size = _vocab_size(model)
    ids = _encode_prompt(prompt, tokenizer, model)
    rows = _normalize_layers(layers, n_layers)
    k = _check_k(k, vocab_size)
    remote = _resolve_remote(remote, model)
    _ship_engine_by_value(remote)
    return tokenizer, cfg, ids, rows, k, vocab_size, remote


def _run_engine(model, cfg, ids, rows, k, vocab_size, remote, extra=None) -> dict[str, Any]:
    softcap = _softcap(model)
    extra = list(extra) if extra else None
    if cfg is None:
        saved = _trace_nnterp(model, ids, rows, k, vocab_size, softcap, remote, extra)
    else:
        saved = _trace_registry(model, ids, rows, k, vocab_size, softcap, remote, cfg, extra)
    return decode_lens(saved, len(rows), len(ids), k, vocab_size)


def _check_track(track: Any, vocab_size: int) -> list[int]:
    """Token ids to track at every position: ints in [0, vocab_size), no repeats kept."""
    if track is None:
        return []
    if isinstance(track, (str, bytes)) or not hasattr(track, "__iter__"):
        raise TypeError(f"track must be a list of token ids, got {type(track).__name__}")
    out = []
    for token_id in track:
        index = as_int(token_id)
        if index is None:
            raise TypeError(f"track holds {token_id!r}: token ids must be ints (e.g. from "
                            "model.tokenizer.encode(' Paris', add_special_tokens=False))")
        if not 0 <= index < vocab_size:
            raise ValueError(f"track holds token id {index}, outside the vocabulary "
                             f"0..{vocab_size - 1}")
        out.append(index)
    return sorted(set(out))


def _warn_invalid(lens: dict[str, Any], rows: Sequence[int]) -> None:
    """Say which cells had non-finite model output (their values are NaN in the result)."""
    invalid = lens["invalid"].numpy()
    if not invalid.any():
        return
    layers = sorted({int(rows[r]) for r in np.nonzero(invalid)[0]})
    positions = sorted({int(p) for p in np.nonzero(invalid)[1]})
    warnings.warn(
        f"the model's output is not finite (NaN/Inf) at {int(invalid.sum())} cells (layers "
        f"{_short(layers)}, positions {_short(positions)}): their probabilities and entropy "
        "are NaN and result['invalid'] marks them. Common causes: float16 overflow (load "
        "the model in float32 or bfloat16) or an intervention that wrote NaN.",
        NonFiniteWarning,
        stacklevel=3,
    )


def _short(values: Sequence[int], limit: int = 8) -> str:
    shown = ", ".join(str(v) for v in values[:limit])
    return shown + (f", … ({len(values)} in all)" if len(values) > limit else "")


def _decode_strings(tokenizer: Any, ids: Sequence[int]) -> list[str]:
    """Decode single ids, all in one batch call."""
    return list(tokenizer.batch_decode([[int(i)] for i in ids]))


def _vocab(tokenizer: Any, lens: dict[str, Any]) -> dict[int, str]:
    all_ids = sorted({int(i) for t in lens["tracked"] for i in t.tolist()})
    return dict(zip(all_ids, _decode_strings(tokenizer, all_ids)))


# ---------------------------------------------------------------- public API


def collect_logit_lens(
    prompt: str,
    model: Any,
    k: int = 5,
    layers: Optional[Sequence[int]] = None,
    remote: Remote = None,
    track: Optional[Sequence[int]] = None,
) -> dict[str, Any]:
    """Collect logit-lens data: top-k and exact trajectories at every layer and position.

    Args:
        prompt: the text to analyse.
        model: an nnterp ``StandardizedTransformer`` (or an nnsight ``LanguageModel`` of an
            architecture in ``MODEL_CONFIGS``), with its tokenizer.
        k: how many top predictions per cell, ``1 <= k <= vocabulary size``.
        layers: layer indices to show (any subset, negative counts from the end); ``None``
            for all.
        remote: ``True`` runs on NDIF, ``'local'`` runs nnsight's NDIF simulation,
            ``False`` runs here; ``None`` runs here unless the model's weights were never
            loaded locally (a model made for NDIF).
        track: token ids whose exact probability is wanted at every layer and position,
            whether or not they reach a top-k (they join every position's ``tracked``).

    Returns:
        The collection dict of docs/data-format.md §1: ``model``, ``input``,
        ``input_ids``, ``layers``, ``topk`` [L, P, k] int32, ``topk_probs`` [L, P, k],
        ``tracked`` (per position sorted int32 ids), ``probs`` (per position [L, n]),
        ``entropy`` [L, P], ``vocab`` {id: str}, ``num_layers`` (the model's layer count,
        so a view knows whether the last collected layer is the model's final one) and
        ``invalid`` [L, P] bool.

    Non-finite model output (a NaN or Inf hidden state or logit, e.g. a float16 overflow) is
    flagged, not raised: those cells' probabilities and entropy are NaN, ``invalid`` marks
    them, and a :class:`NonFiniteWarning` names the layers and positions. The other cells
    are still exact.

    Raises:
        TypeError: not an nnsight model, no tokenizer, or arguments of the wrong type.
        ValueError: empty prompt, prompt longer than the context, layer out of range,
            k out of range, unknown architecture.
    """
    tokenizer, cfg, ids, rows, k, vocab_size, remote = _prepare(
        prompt, model, k, layers, remote, None)
    extra = _check_track(track, vocab_size)
    lens = _run_engine(model, cfg, ids, rows, k, vocab_size, remote, extra)
    _warn_invalid(lens, rows)
    return {
        "model": _model_name(model),
        "input": _decode_strings(tokenizer, ids),
        "input_ids": ids,
        "layers": rows,
        "topk": lens["topk"],
        "topk_probs": lens["topk_probs"],
        "tracked": lens["tracked"],
        "probs": lens["probs"],
        "entropy": lens["entropy"],
        "vocab": _vocab(tokenizer, lens),
        "num_layers": _n_layers(model, cfg),
        "invalid": lens["invalid"],
    }


def _seed_result(tokenizer, model, ids, rows, lens, track) -> dict[str, Any]:
    data = {
        "model": _model_name(model),
        "tokens": _decode_strings(tokenizer, ids),
        "input_ids": ids,
        "layers": rows,
        "top_indices": lens["topk"],
        "top_probs": lens["topk_probs"],
        "entropy": lens["entropy"],
    }
    if track:
        data["tracked_indices"] = lens["tracked"]
        data["tracked_probs"] = lens["probs"]
    return data


def collect_logit_lens_topk_efficient(
    prompt: str,
    model: Any,
    top_k: int = 5,
    track_across_layers: bool = False,
    remote: Remote = True,
    layers: Optional[Sequence[int]] = None,
    model_type: Optional[str] = None,
) -> dict[str, Any]:
    """Collect top-k (and trajectories) with the reduction on the server.

    Args:
        prompt: input text.
        model: an nnsight ``LanguageModel`` with a tokenizer.
        top_k: top predictions per layer and position.
        track_across_layers: also return each position's tracked ids and trajectories.
        remote: ``True`` NDIF, ``'local'`` NDIF simulation, ``False`` local, ``None`` local
            unless the model was made for NDIF.
        layers: layer indices (default all; negative allowed).
        model_type: a ``MODEL_CONFIGS`` key or alias; ``None`` auto-detects.

    Returns:
        ``tokens``, ``layers``, ``top_indices`` [L, P, k], ``top_probs`` [L, P, k] (and
        ``input_ids``, ``model``, ``entropy``); with ``track_across_layers`` also
        ``tracked_indices`` (per position) and ``tracked_probs`` (per position [L, n]).
    """
    tokenizer, cfg, ids, rows, k, vocab_size, remote = _prepare(
        prompt, model, top_k, layers, remote, model_type, nnterp_ok=False)
    lens = _run_engine(model, cfg, ids, rows, k, vocab_size, remote)
    return _seed_result(tokenizer, model, ids, rows, lens, track_across_layers)


def collect_logit_lens_topk(
    prompt: str,
    model: Any,
    top_k: int = 5,
    track_across_layers: bool = False,
    remote: Remote = True,
    layers: Optional[Sequence[int]] = None,
    model_type: Optional[str] = None,
) -> dict[str, Any]:
    """The slow reference version: download every layer's full logits, reduce here.

    Same parameters and return keys as :func:`collect_logit_lens_topk_efficient`. It moves
    L·P·V floats out of the trace (hundreds of MB for big models); use it to cross-check,
    not for NDIF work. The reduction is the same engine, run on the client.
    """
    tokenizer, cfg, ids, rows, k, vocab_size, remote = _prepare(
        prompt, model, top_k, layers, remote, model_type, nnterp_ok=False)
    logits = [t[0] if t.dim() == 3 else t for t in _trace_full_logits(model, ids, rows, remote, cfg)]
    saved = lens_reduce(logits, None, None, k, vocab_size, _softcap(model))
    lens = decode_lens(saved, len(rows), len(ids), k, vocab_size)
    return _seed_result(tokenizer, model, ids, rows, lens, track_across_layers)


def decode_tracked_tokens(data: dict[str, Any], tokenizer: Any) -> dict[int, list[str]]:
    """Decode each position's tracked ids to strings (one batch call).

    Args:
        data: a result with ``tracked_indices`` (seed API) or ``tracked`` (collection dict).
        tokenizer: the model's tokenizer.

    Returns:
        ``{position: [string, ...]}`` in the order of the tracked ids.
    """
    tracked = data.get("tracked_indices")
    if tracked is None:
        tracked = data.get("tracked")
    if tracked is None:
        raise ValueError("no tracked tokens: collect with track_across_layers=True")
    per_pos = [[int(i) for i in torch.as_tensor(t).tolist()] for t in tracked]
    unique = sorted({i for ids in per_pos for i in ids})
    strings = dict(zip(unique, _decode_strings(tokenizer, unique)))
    return {pos: [strings[i] for i in ids] for pos, ids in enumerate(per_pos)}
