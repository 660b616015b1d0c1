"""A study's parts below :class:`~logitlenskit.live.study.Study`: prompts, batch, statistics.

Its prompts read as items (:func:`read_items`), one padded batch traced with the lens reduced
inside the trace (:func:`trace_batch`), what a study measures (:class:`Quantity`) and the t
quantile of its confidence intervals (:func:`t_quantile`). They need only ``core/`` (no
widget, no thread), so they could move down to ``analyses/``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..core.adapter import ModelAdapter
from ..core.architectures import get_model_config
from ..core.capture import BLOCK_OUTPUT, capture_lens, capture_prefix
from ..core.engine import target_index
from ..core.prefix import keep, new_cache, shared_length
from ..core.readout import LOGIT_LENS, Readout
from ..core.request import encode_prompt, is_nnterp, model_tokenizer, vocab_size
from ..core.targets import resolve_targets
from ..core.wire import decode_lens

__all__ = [
    "MIN_SAVED_POSITIONS",
    "Quantity",
    "StudyItem",
    "read_items",
    "shared_prefix",
    "t_quantile",
    "trace_batch",
]


@dataclasses.dataclass(frozen=True)
class Quantity:
    """One number a study measures per prompt and layer.

    Attributes:
        name: its column name in tables, e.g. ``"p(French)"``.
        kind: ``"probability"``, ``"rank"``, ``"logprob_diff"`` (nats), ``"kl"`` (nats) or
            ``"entropy"`` (nats).
        label: what the widget's legend shows.
    """

    name: str
    kind: str
    label: str

    def as_dict(self) -> dict[str, str]:
        """The JSON form the study widget takes."""
        return dataclasses.asdict(self)


@dataclasses.dataclass
class StudyItem:
    """One prompt of a study: its text, its targets' ids, and its other fields (columns)."""

    prompt: str
    targets: dict[str, tuple[int, ...]]
    fields: dict[str, Any]


def t_quantile(df: int | np.ndarray) -> np.ndarray:
    """Student's t 97.5% quantile (a 95% two-sided interval), ``df`` degrees of freedom.

    The Cornish–Fisher expansion, within 2e-3 of the exact value from 5 degrees of freedom
    on; the exact values below 5. It keeps small-sample intervals honest (a batch or two
    into a run) without making scipy a dependency. ``df`` < 1 gives NaN.
    """
    z = math.sqrt(2) * _erfinv(0.95)
    v = np.asarray(df, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = (
            z
            + (z**3 + z) / (4 * v)
            + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * v**2)
            + (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / (384 * v**3)
            + (79 * z**9 + 776 * z**7 + 1482 * z**5 - 1920 * z**3 - 945 * z) / (92160 * v**4)
        )
    for small, exact in _T_SMALL.items():
        t = np.where(v == small, exact, t)
    return np.where(v >= 1, t, np.nan)


_T_SMALL = {1: 12.706204736, 2: 4.302652730, 3: 3.182446305, 4: 2.776445105}


def _erfinv(y: float) -> float:
    x = 0.0
    for _ in range(60):  # Newton on erf(x) = y; erf is smooth and monotone
        x -= (math.erf(x) - y) / (2 / math.sqrt(math.pi) * math.exp(-x * x))
    return x


#: Fewest token positions a batch's shared prefix must save, ``(B - 1) · p``, to be run once.
#: The prefix's own pass is a second trace with a fixed cost: on SmolLM2 on one CPU thread
#: about 0.2 s, what some 40 token positions of a 16-prompt batch cost, and more on a busy
#: machine. Three times that keeps the split a clear win: a 16-prompt batch needs a prefix
#: of 9 tokens (translation prompts drawing their own shots share 5, and run whole).
MIN_SAVED_POSITIONS = 128


def trace_batch(
    model: Any,
    prompts: list[str],
    layers: list[int],
    target_sets: list[list[list[int]]],
    remote: bool | str,
    readout: Readout = LOGIT_LENS,
    *,
    reuse_prefix: bool = True,
) -> dict[str, np.ndarray]:
    """One padded forward pass over a batch; the lens of each prompt's last position.

    When the prompts' tokens share a prefix worth it (a few-shot block, see
    :data:`MIN_SAVED_POSITIONS`) and the run is local, the prefix runs once and every
    prompt's own tokens continue from its KV cache: the same numbers within float32 noise.
    NDIF keeps the full batch (no client-side cache there).

    Args:
        model: the model.
        prompts: the batch's prompts.
        layers: the lens rows (block outputs).
        target_sets: per target, per prompt, the token ids whose rank and log-probability
            are measured.
        remote: ``False`` here, ``True`` NDIF, ``"local"`` nnsight's NDIF simulation.
        readout: the lens (a fitted lens's readout; KL is then from the model's own output).
        reuse_prefix: run a shared prefix once (``False``: always the full padded batch).

    Returns:
        numpy ``target_logprobs``/``target_ranks`` ``[T, L, B]``, ``kl``, ``entropy`` and
        ``invalid`` (non-finite output, flagged by the engine) ``[L, B]``.
    """
    tokenizer = model_tokenizer(model)
    encoded = [encode_prompt(p, tokenizer, model) for p in prompts]
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    adapter = ModelAdapter(model, None if is_nnterp(model) else get_model_config(model))
    prefix = shared_prefix(encoded) if reuse_prefix and not remote else 0
    if prefix:
        inputs, trace_kwargs = _continue_prefix(adapter, encoded, prefix, pad)
    else:
        inputs, trace_kwargs = _padded(encoded, pad)
    size = vocab_size(model)
    packed = capture_lens(
        adapter,
        inputs,
        [(layer, BLOCK_OUTPUT) for layer in layers],
        k=1,
        vocab_size=size,
        targets=target_index(target_sets) if target_sets else None,
        kl=True,
        at=(slice(None), -1),
        remote=remote,
        readout=readout,
        **trace_kwargs,
    )
    lens = decode_lens(packed, len(layers), len(prompts), 1, size, len(target_sets), kl=True)
    out = {name: lens[name].numpy() for name in ("kl", "entropy", "invalid")}
    out["invalid"] |= lens["kl_undefined"].numpy()[None, :]  # a study's KL is always needed
    if target_sets:
        out["target_logprobs"] = lens["target_logprobs"].numpy()
        out["target_ranks"] = lens["target_ranks"].numpy()
    return out


def shared_prefix(encoded: list[list[int]]) -> int:
    """How many leading tokens of ``encoded`` to run once for the whole batch; 0 for none.

    Their common token prefix (the prompts are tokenized whole, so the cut is where the
    tokenizer puts a boundary), leaving every prompt at least its last token to run, and
    0 when it saves fewer than :data:`MIN_SAVED_POSITIONS` positions.
    """
    first = encoded[0]
    length = min(min(shared_length(first, ids) for ids in encoded), min(map(len, encoded)) - 1)
    return length if (len(encoded) - 1) * length >= MIN_SAVED_POSITIONS else 0


def _padded(encoded: list[list[int]], pad: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """The full left-padded batch: :func:`capture_lens`'s inputs and ``position_ids``."""
    width = max(len(ids) for ids in encoded)
    input_ids = torch.tensor([[pad] * (width - len(e)) + e for e in encoded])
    mask = torch.tensor([[0] * (width - len(e)) + [1] * len(e) for e in encoded])
    # Each prompt's positions count from its first real token, as they would alone.
    pos = (mask.cumsum(-1) - 1).clamp(min=0)
    return {"input_ids": input_ids, "attention_mask": mask}, {"position_ids": pos}


def _continue_prefix(
    adapter: ModelAdapter, encoded: list[list[int]], prefix: int, pad: int
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Run the shared ``prefix`` once; the suffixes' batch continuing from its KV cache.

    The suffixes are left-padded after the prefix, so the mask is the prefix's ones, then
    each suffix's padding zeros and its ones; a suffix's positions go on from ``prefix``.
    """
    cache = new_cache()
    capture_prefix(adapter, encoded[0][:prefix], cache)
    kept = keep(encoded[0][:prefix], cache)
    if kept is None:  # too large to keep (see KV_BYTES): the full batch instead
        return _padded(encoded, pad)
    inputs, _ = _padded([ids[prefix:] for ids in encoded], pad)
    ones = torch.ones(len(encoded), prefix, dtype=inputs["attention_mask"].dtype)
    mask = torch.cat([ones, inputs["attention_mask"]], -1)
    inputs["attention_mask"] = mask
    return inputs, {
        "position_ids": (mask.cumsum(-1) - 1)[:, prefix:],
        adapter.cache_argument(): kept.cache(prefix, batch=len(encoded)),
        "use_cache": True,
    }


def read_items(prompts: Any, model: Any, targets: Any, case_variants: bool) -> list[StudyItem]:
    """The prompts of ``collect_study`` as items, every one checked (see its Args).

    Raises:
        TypeError, ValueError: a bad prompt or target, naming its index; no prompts.
    """
    tokenizer = model_tokenizer(model)
    size = vocab_size(model)
    shared = _resolved(targets, tokenizer, size, case_variants)
    items = [
        _item(raw, i, shared, tokenizer, size, case_variants)
        for i, raw in enumerate(_raw_items(prompts))
    ]
    if not items:
        raise ValueError("no prompts: give a list of strings, a text file, or dicts with 'prompt'")
    for i, item in enumerate(items):  # all now, not when prompt i's batch comes
        _check_prompt(item.prompt, i, tokenizer, model)
    return items


def _raw_items(prompts: Any) -> list[Any]:
    if isinstance(prompts, Path):
        lines = prompts.read_text(encoding="utf-8").splitlines()
        return [line for line in lines if line.strip()]
    if isinstance(prompts, str):
        raise TypeError(
            "prompts is one string: give a list of prompts, or pathlib.Path('file.txt') "
            "for a file with one prompt per line"
        )
    if not isinstance(prompts, Iterable):
        raise TypeError(f"prompts must be an iterable of prompts, got {type(prompts).__name__}")
    return list(prompts)


def _check_prompt(prompt: str, index: int, tokenizer: Any, model: Any) -> None:
    try:
        encode_prompt(prompt, tokenizer, model)
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"prompts[{index}]: {exc}") from None


def _resolved(
    spec: Any, tokenizer: Any, size: int, case_variants: bool
) -> dict[str, tuple[int, ...]]:
    return {t.name: t.ids for t in resolve_targets(spec, tokenizer, size, case_variants)}


def _item(
    raw: Any,
    index: int,
    shared: dict[str, tuple[int, ...]],
    tokenizer: Any,
    size: int,
    case_variants: bool,
) -> StudyItem:
    if isinstance(raw, str):
        return StudyItem(raw, dict(shared), {})
    if not isinstance(raw, Mapping) or not isinstance(raw.get("prompt"), str):
        raise TypeError(
            f"prompts[{index}] must be a str or a dict with a 'prompt' str, got {raw!r:.80}"
        )
    own = raw.get("targets") or {}
    if not isinstance(own, Mapping):
        raise TypeError(f"prompts[{index}]['targets'] must be a dict {{name: word or ids}}")
    targets = {**shared, **_resolved(own, tokenizer, size, case_variants)}
    fields = {k: v for k, v in raw.items() if k not in ("prompt", "targets")}
    return StudyItem(raw["prompt"], targets, fields)
