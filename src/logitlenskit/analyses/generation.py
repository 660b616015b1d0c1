"""Generate and watch: the lens over a model's own tokens, one position per new token.

:func:`generate` continues a live run (:mod:`.session`): it feeds the prompt once, then
each chosen token once, reusing the model's KV cache (the prompt is never rerun per token),
and after every token appends that token's position to the run: its lens rows computed by
the same engine from the hidden states of that one forward step. The view extends in place
(same run id), so the grid grows row by row while the model writes.

For each generated token the run also records its **commitment**: the first lens row from
which it is the top-1 of the position that predicted it, through the last row, and the
first row from which it stays in that position's top-k (-1 when it is not top-1, or not in
the top-k, at the last row: a sampled token can be neither).

Chat models: :func:`chat_prompt_ids` applies the tokenizer's chat template to a user
message, and :func:`position_kinds` tells the template's tokens (role markers, the default
system prompt) from the user's text, so the view can show them apart.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from ..core.capture import capture_step
from ..core.chat import PROMPT, TEMPLATE, chat_prompt_ids, has_chat_template
from ..core.engine import lens_reduce, target_index
from ..core.locks import model_lock
from ..core.prefix import keep
from ..core.request import LensRequest
from ..core.session import (
    DEEP_K,
    Control,
    LensRun,
    append_position,
)
from ..core.wire import decode_lens

__all__ = [
    "GENERATED",
    "MAX_NEW_TOKENS",
    "PROMPT",
    "TEMPLATE",
    "NonFiniteOutputError",
    "chat_prompt_ids",
    "check_arguments",
    "commitment",
    "generate",
    "has_chat_template",
    "position_kinds",
]

#: Position kinds (payload ``position_kinds``): the user's text, a chat-template token, a
#: token the model generated.
GENERATED = 2  # after chat.PROMPT and chat.TEMPLATE
#: Most tokens one call generates.
MAX_NEW_TOKENS = 512


class NonFiniteOutputError(FloatingPointError):
    """The model's output was NaN or Inf where the next token had to be chosen from it.

    Generation stops there: the tokens chosen before stay in the run.
    """


def position_kinds(n_prompt: int, n_generated: int, prompt_kinds: list[int] | None) -> np.ndarray:
    """uint8 ``[P]`` kinds of a run's positions: its prompt's, then ``GENERATED``."""
    head = np.asarray(prompt_kinds if prompt_kinds is not None else [PROMPT] * n_prompt)
    return np.concatenate([head, np.full(n_generated, GENERATED)]).astype(np.uint8)


def commitment(topk: np.ndarray, tokens: list[int], first: int) -> tuple[np.ndarray, np.ndarray]:
    """Where each generated token committed, from the lens of the positions before it.

    Args:
        topk: ``[L, P, k]`` top-k ids of the run.
        tokens: the run's token ids, one per position.
        first: the first generated position.

    Returns:
        int32 ``[P]`` (commit row, entered-top-k row), -1 for positions not generated and
        for tokens not top-1 (not in the top-k) at the last lens row.
    """
    n_pos = topk.shape[1]
    commit = np.full(n_pos, -1, np.int32)
    entered = np.full(n_pos, -1, np.int32)
    for p in range(max(first, 1), n_pos):
        token = tokens[p]
        top1 = topk[:, p - 1, 0] == token
        inside = (topk[:, p - 1, :] == token).any(axis=1)
        commit[p] = _stays_from(top1)
        entered[p] = _stays_from(inside)
    return commit, entered


def _stays_from(flags: np.ndarray) -> int:
    """First index from which every flag to the end is true; -1 if the last is false."""
    if not flags[-1]:
        return -1
    misses = np.flatnonzero(~flags)
    return int(misses[-1]) + 1 if len(misses) else 0


def generate(
    run: Any,
    n: int,
    *,
    sample: bool = False,
    seed: int | None = None,
    temperature: float = 1.0,
    stop_at_eos: bool = True,
    control: Control | None = None,
    on_token: Callable[[LensRun], None] | None = None,
) -> LensRun:
    """Generate ``n`` tokens after ``run``'s positions, appending each one's lens to it.

    Args:
        run: a local :class:`~logitlenskit.session.LensRun` (the prompt's lens).
        n: how many tokens, 1..``MAX_NEW_TOKENS``.
        sample: sample from the model's distribution (with ``temperature``) instead of
            taking the most likely token.
        seed: the sampling seed (a run with the same seed writes the same tokens).
        temperature: > 0; divides the logits before sampling.
        stop_at_eos: stop after an end-of-sequence token (a chat model's end of turn).
        control: progress reports and Stop (``check`` raises ``Cancelled`` between tokens;
            the tokens written so far stay in the run).
        on_token: called with the run after every token.

    Returns:
        The run, extended by the generated tokens.

    Raises:
        ValueError: ``n`` out of range, a remote run (generation runs here), or a bad
            temperature.
        Cancelled: Stop, after the tokens so far were appended and reported.
        NonFiniteOutputError: the model's output was NaN or Inf where a token had to be
            chosen ("output not finite at token N"); the tokens before it stay.
    """
    _check(run, n, temperature)
    control = control or Control()
    request = run.request
    hf = getattr(request.model, "_model", request.model)
    adapter = request.adapter
    unembed = adapter.head_module()
    first = len(request.input_ids)
    result = run.result
    result["position_kinds"] = position_kinds(
        first, 0, None if "position_kinds" not in result else list(result["position_kinds"])
    )
    softcap = adapter.softcap()
    specs = request.row_specs()
    ref_row = request.final_row() if request.metrics else None
    # KL needs the model's own output; when it is not a lens row it comes as one more row.
    reference = request.final_layer if request.metrics and ref_row is None else None
    stops = _stop_ids(hf, request.tokenizer) if stop_at_eos else set()
    generator = torch.Generator().manual_seed(int(seed)) if seed is not None else None
    cache = adapter.cache_argument()
    # Every pass goes through the capture core, so the run's readout and edits apply to the
    # prompt's KV cache and to every new token as they applied to the lens run itself.
    step = functools.partial(
        capture_step, adapter, readout=request.readout, edits=request.edits, use_cache=True
    )
    # The model's one lock: a direct call must not run beside a widget's run or a collection.
    with model_lock(request.model):
        out = _prompt_pass(run, step, cache)
        past, logits = out[cache], out.logits[0, -1]
        for n_done in range(n):
            control.check()
            control.progress(n_done / n, f"generating, token {n_done + 1}/{n}")
            if not torch.isfinite(logits).all():
                # argmax of NaN logits is id 0: a token the model never chose.
                raise NonFiniteOutputError(
                    f"output not finite at token {n_done + 1}: the model's logits hold NaN or "
                    f"Inf, so no token can be chosen; the {n_done} token(s) before it stay. "
                    "Common causes: float16 overflow or an intervention that wrote NaN."
                )
            token = _choose(logits, sample, temperature, generator)
            # start: positional edits (a patch, steering from a position) find their position.
            normed, out = step(
                torch.tensor([[token]]),
                specs,
                reference=reference,
                start=first + n_done,
                **{cache: past},
            )
            past, logits = out[cache], out.logits[0, -1]
            rows = normed[: len(specs)]
            packed = lens_reduce(
                rows[:, None, :],
                None,
                unembed,
                request.k,
                request.vocab_size,
                softcap,
                extra_ids=sorted({*run.extra, *request.target_ids()}) or None,
                targets=_targets(request),
                kl_reference=normed[len(specs) :] if reference is not None else ref_row,
                # A float64 reference converts the whole unembedding per call, which would
                # triple a token's cost; one position's float32 reference is within 5e-4.
                head_weight=None,
                deep_k=min(DEEP_K, request.vocab_size),
            )
            lens = decode_lens(
                packed,
                len(specs),
                1,
                request.k,
                request.vocab_size,
                len(request.targets),
                request.metrics,
                min(DEEP_K, request.vocab_size),
            )
            append_position(run, lens, token, rows)
            result["position_kinds"] = np.append(result["position_kinds"], GENERATED)
            result["commitment"], result["entered_topk"] = commitment(
                result["topk"], result["input_ids"], first
            )
            if on_token is not None:
                on_token(run)
            if token in stops:
                break
    # The cache now holds every position: a prompt that extends the text continues from it.
    run.kept = keep(run.input_ids, past) or run.kept
    return run


def _prompt_pass(run: LensRun, step: Callable[..., Any], cache: str) -> Any:
    """The prompt's pass before the first token: the model's output and its KV cache.

    A run that kept its prompt's keys and values runs only its last token again (for the
    logits the first choice needs); otherwise the whole prompt runs.
    """
    ids = list(run.request.input_ids)
    kept = run.kept
    if kept is None or kept.ids != tuple(ids) or len(ids) < 2:
        return step(torch.tensor([ids]), [])[1]
    n = len(ids) - 1
    return step(torch.tensor([ids[n:]]), [], start=n, **{cache: kept.cache(n)})[1]


def _stop_ids(hf: Any, tokenizer: Any) -> set[int]:
    """End-of-sequence ids: the generation config's (e.g. a chat model's end of turn)."""
    config = getattr(hf, "generation_config", None)
    eos = getattr(config, "eos_token_id", None)
    ids = set(eos if isinstance(eos, (list, tuple)) else [] if eos is None else [eos])
    if tokenizer.eos_token_id is not None:
        ids.add(int(tokenizer.eos_token_id))
    return ids


def _check(run: LensRun, n: Any, temperature: Any) -> None:
    if run.remote:
        raise ValueError(
            "generation runs on this machine only: set w.remote = False (NDIF runs keep no "
            "KV cache here to continue from)"
        )
    check_arguments(n, temperature)


def check_arguments(n: Any, temperature: Any) -> None:
    """ValueError unless ``n`` is an int in 1..MAX_NEW_TOKENS and ``temperature`` > 0."""
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_NEW_TOKENS:
        raise ValueError(f"n must be an int from 1 to {MAX_NEW_TOKENS}, got {n!r}")
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)):
        raise ValueError(f"temperature must be a number > 0, got {temperature!r}")
    if not temperature > 0:
        raise ValueError(f"temperature must be a number > 0, got {temperature!r}")


def _targets(request: LensRequest) -> torch.Tensor | None:
    return target_index(request.target_sets()) if request.targets else None


def _choose(
    logits: torch.Tensor, sample: bool, temperature: float, generator: torch.Generator | None
) -> int:
    if not sample:
        return int(logits.argmax())
    probs = torch.softmax(logits.float() / temperature, dim=-1)
    return int(torch.multinomial(probs, 1, generator=generator))
