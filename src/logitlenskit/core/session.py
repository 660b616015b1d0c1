"""A live lens run: one collection plus what makes follow-up questions cheap.

The widget asks three things of a model: the lens of a prompt (:func:`start_run`), the exact
trajectory of any token at every cell (:func:`track`), and a cell's deeper top-k with each
token's probability at every layer (:func:`detail`). Locally, a run keeps its final-normed
hidden states ``[L, P, d]`` and the log-sum-exp of every cell, so a follow-up is a small
product with a few rows of the unembedding instead of another forward pass. Runs on NDIF
(or its local simulation) keep nothing server-side: a follow-up reruns the trace with a
small targeted reduction.

A long prompt streams: after the forward pass the lens is reduced in blocks of positions,
first the ones in view, and each block is handed to ``on_partial`` as soon as it is done.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import torch

from .architectures import hf_config
from .capture import capture_cell
from .engine import cell_log_probs, lens_reduce, target_index, token_log_probs
from .lens import run_lens
from .local_pass import capture_local
from .locks import model_lock
from .options import LensOptions
from .request import (
    LensRequest,
    Remote,
    check_track_ids,
    logit_softcap,
    prepare_request,
    warn_non_finite,
)
from .run import (
    CACHE_BYTES,
    DEEP_K,
    INVALID,
    OK,
    PENDING,
    Cancelled,
    Control,
    LensRun,
    add_vocab,
    append_position,
    continued_length,
    copy_prefix,
    empty_run,
    fill,
)
from .wire import decode_lens

# The run types live in .run; they are named here too because callers get them from here.
__all__ = [
    "CACHE_BYTES",
    "DEEP_K",
    "INVALID",
    "OK",
    "PENDING",
    "Cancelled",
    "Control",
    "LensRun",
    "append_position",
    "detail",
    "run_options",
    "start_run",
    "track",
    "trajectories",
]

#: Positions reduced first (the grid's first screen) and per later block, for long prompts.
FIRST_BLOCK = 64
BLOCK = 256
#: Most cells reduced between two stop checks, so Stop or ``close()`` takes effect within a
#: fraction of a second even in a block of all layers (a block is still shown at once).
CHECK_CELLS = 512


@contextlib.contextmanager
def _forward_progress(
    modules: Sequence[torch.nn.Module], control: Control, span: float
) -> Iterator[None]:
    """Report layer-by-layer progress of a forward pass and stop it between layers."""
    n = len(modules)

    def before(index: int) -> Callable[..., None]:
        def hook(*_: Any) -> None:
            control.check()
            control.progress(span * index / n, f"forward pass, layer {index + 1}/{n}")

        return hook

    handles = [m.register_forward_pre_hook(before(i)) for i, m in enumerate(modules)]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


# ---------------------------------------------------------------- runs


def start_run(
    model: Any,
    prompt: str,
    k: int = 5,
    layers: Sequence[int] | None = None,
    remote: Remote = None,
    extra: Sequence[int] = (),
    control: Control | None = None,
    on_partial: Callable[[LensRun], None] | None = None,
    targets: Any = None,
    metrics: bool = False,
    chat: bool = False,
    sublayers: bool = False,
) -> LensRun:
    """Collect the lens of ``prompt``, keeping what follow-ups need.

    Args:
        model: an nnterp StandardizedTransformer or nnsight LanguageModel.
        prompt: the text.
        k: top-k width.
        layers: layer numbers (None for all).
        remote: as in :func:`~logitlenskit.collect_logit_lens`.
        extra: token ids to track at every position (pins).
        control: progress reports and cancellation.
        on_partial: called with the run each time more positions are filled in (long
            prompts); the last call's run is the returned one only when streaming.
        targets: named tokens measured at every cell (as in ``collect_logit_lens``).
        metrics: also compute every cell's KL divergence from the final output.
        chat: wrap the prompt in the model's chat template as a user message.
        sublayers: two lens rows per layer, after its attention and after the layer.

    Raises:
        Cancelled: the control abandoned the run.
        ValueError, TypeError: bad arguments (see ``collect_logit_lens``).
    """
    options = LensOptions(
        k=k,
        layers=layers,
        remote=remote,
        targets=targets,
        metrics=metrics,
        chat=chat,
        sublayers=sublayers,
    )
    return run_options(model, prompt, options, extra, control, on_partial)


def run_options(
    model: Any,
    prompt: str,
    options: LensOptions,
    extra: Sequence[int] = (),
    control: Control | None = None,
    on_partial: Callable[[LensRun], None] | None = None,
    previous: LensRun | None = None,
) -> LensRun:
    """:func:`start_run` for options checked already (the widget's sides carry them).

    ``extra``: ids tracked at every position (pins). ``previous``: a run shown before; when
    the prompt starts with its tokens and asks the same (:func:`continued_length`), the
    shared positions' cells are taken from it and only the rest runs.
    """
    request = prepare_request(prompt, model, options)
    tracked = check_track_ids(extra, request.vocab_size)
    run = _run(request, tracked, control or Control(), on_partial, previous)
    warn_non_finite(run.status == INVALID, request.layers, stacklevel=4)
    return run


def _run(
    request: LensRequest,
    extra: list[int],
    control: Control,
    on_partial: Callable[[LensRun], None] | None = None,
    previous: LensRun | None = None,
) -> LensRun:
    """Collect the lens of a checked request (``extra``: checked ids to track everywhere)."""
    if request.remote:
        return _remote_run(request, extra, control)
    with model_lock(request.model):  # held by a widget's runner already (re-entrant)
        return _local_run(request, extra, control, on_partial, previous)


def _local_run(
    request: LensRequest,
    extra: list[int],
    control: Control,
    on_partial: Callable[[LensRun], None] | None,
    previous: LensRun | None,
) -> LensRun:
    control.check()
    start = continued_length(previous, request, extra)
    source = previous if start else None
    if source and source.kept is not None and source.kept.ids == tuple(request.input_ids):
        return _same_prompt(request, source)
    n_new = request.n_positions - start
    with _forward_progress(request.adapter.layer_modules(), control, 0.5 if n_new > 1 else 0.9):
        normed, reference, kept = capture_local(request, source.kept if source else None, start)
    run = empty_run(request, source.extra if source else extra)
    if source:
        copy_prefix(run, source, start)
    _reduce_positions(run, normed, reference, start, control, on_partial)
    if source and source.normed is not None:
        normed = torch.cat([source.normed[:, :start], normed], dim=1)
    cache_bytes = request.n_rows * request.n_positions * _hidden_size(request.model) * 4
    if cache_bytes <= CACHE_BYTES and (source is None or source.normed is not None):
        run.normed = normed
    run.kept = kept
    return run


def _same_prompt(request: LensRequest, source: LensRun) -> LensRun:
    """The run of the prompt ``source`` ran, asked the same: its cells, no pass at all."""
    n = request.n_positions
    run = empty_run(request, source.extra)
    copy_prefix(run, source, n)  # a generation may have made the source longer
    run.normed = None if source.normed is None else source.normed[:, :n]
    run.kept = source.kept
    return run


def _reduce_positions(
    run: LensRun,
    normed: torch.Tensor,
    reference: int | torch.Tensor | None,
    start: int,
    control: Control,
    on_partial: Callable[[LensRun], None] | None,
) -> None:
    """Reduce the lens of positions ``start..`` (``normed``'s) into ``run``, in blocks."""
    request = run.request
    n_rows, k = request.n_rows, request.k
    head, softcap = request.adapter.head_module(), request.adapter.softcap()
    targets = target_index(request.target_sets()) if request.targets else None
    weight = head.weight if request.metrics and head.bias is None else None
    tracked = sorted({*run.extra, *request.target_ids()})
    deep_k = min(DEEP_K, request.vocab_size)
    n_pos = request.n_positions
    bounds = _blocks(start, n_pos)
    step = max(1, CHECK_CELLS // n_rows)
    for n, (a, b) in enumerate(bounds):
        control.progress(0.5 + 0.5 * n / len(bounds), f"lens, positions {a}–{b - 1}")
        for c in range(a - start, b - start, step):
            control.check()
            d = min(b - start, c + step)
            packed = lens_reduce(
                normed[:, c:d],
                None,
                head,
                k,
                request.vocab_size,
                softcap,
                extra_ids=tracked,
                targets=targets,
                kl_reference=reference[c:d] if isinstance(reference, torch.Tensor) else reference,
                head_weight=weight,
                deep_k=deep_k,
            )
            lens = decode_lens(
                packed,
                n_rows,
                d - c,
                k,
                request.vocab_size,
                len(request.targets),
                request.metrics,
                deep_k,
            )
            fill(run, start + c, lens)
        if on_partial is not None and len(bounds) > 1 and b < n_pos:
            on_partial(run)


def _hidden_size(model: Any) -> int:
    config = hf_config(model)
    return int(getattr(config, "hidden_size", None) or getattr(config, "n_embd", 0) or 0)


def _blocks(start: int, n_pos: int) -> list[tuple[int, int]]:
    """Blocks of the positions ``start..n_pos`` to reduce one after the other.

    The whole prompt, or the first screen and then fixed blocks; the edges do not depend on
    ``start``, so a continued run still shows the first screen first.
    """
    if n_pos <= BLOCK:
        return [(start, n_pos)]
    edges = [0, FIRST_BLOCK, *range(FIRST_BLOCK + BLOCK, n_pos, BLOCK), n_pos]
    return [(max(a, start), b) for a, b in itertools.pairwise(edges) if b > start]


def _remote_run(request: LensRequest, extra: list[int], control: Control) -> LensRun:
    """NDIF (or its simulation): one request, reduction on the server, no cache here."""
    control.progress(-1, "sending to NDIF" if request.remote is True else "NDIF simulation")
    with _ndif_status(control):
        lens = run_lens(request, extra)
    control.check()  # an NDIF request cannot be interrupted; Stop drops its answer here
    run = empty_run(request, extra)
    fill(run, 0, lens)
    return run


@contextlib.contextmanager
def _ndif_status(control: Control) -> Iterator[None]:
    """Forward NDIF's job status (queued, running, ...) to the run's progress.

    nnsight shows it only on its own status line (JobStatusDisplay.update) and has no
    callback, so the method is wrapped for the duration of the request.
    """
    try:
        from nnsight.intervention.backends.remote import JobStatusDisplay
    except ImportError:  # another nnsight layout: no status, the run still works
        yield
        return
    original = JobStatusDisplay.update

    def update(self: Any, job_id: str = "", status_name: str = "", description: str = "") -> Any:
        if status_name and status_name != "LOG":
            detail = f": {description}" if description else ""
            control.progress(-1, f"NDIF job {status_name.lower()}{detail}")
        return original(self, job_id, status_name, description)

    JobStatusDisplay.update = update
    try:
        yield
    finally:
        JobStatusDisplay.update = original


# ---------------------------------------------------------------- follow-ups


def track(run: LensRun, token_ids: Sequence[int], control: Control | None = None) -> LensRun:
    """Add exact trajectories of ``token_ids`` at every computed cell of ``run``.

    Locally this is a product with ``len(token_ids)`` rows of the unembedding; without a
    cache (NDIF, or a prompt too long to keep) the run is collected again with the ids
    tracked. The run keeps its id: the view treats it as the same run, extended.
    """
    request = run.request
    checked = check_track_ids(token_ids, request.vocab_size)
    new = [i for i in checked if i not in run.extra]
    if not new:
        return run
    if run.normed is None:
        again = _run(request, sorted({*run.extra, *new}), control or Control())
        warn_non_finite(again.status == INVALID, request.layers, stacklevel=3)
        again.run_id = run.run_id
        return again
    done = np.nonzero((run.status != PENDING).all(axis=0))[0]
    probs = _cached_probs(run, done, new)  # [L, len(done), n]
    probs[run.status[:, done] == INVALID] = np.nan
    for j, pos in enumerate(done):
        _merge_tracked(run.result, int(pos), np.asarray(new), probs[:, j, :])
    add_vocab(run.result, request.tokenizer, new)
    run.extra = sorted({*run.extra, *new})
    return run


def trajectories(run: LensRun, token_ids: Sequence[int]) -> np.ndarray:
    """``[P, n, L]`` probabilities of ``token_ids`` at every position, as the run tracks them.

    NaN where a position does not track an id (yet: a pending position, an id never
    tracked). This is what a pin pushes to the browser ahead of the whole payload.
    """
    ids = np.asarray(token_ids, dtype=np.int64)
    n_rows, n_pos = run.status.shape
    out = np.full((n_pos, len(ids), n_rows), np.nan, dtype=np.float32)
    for pos, (tracked, probs) in enumerate(
        zip(run.result["tracked"], run.result["probs"], strict=True)
    ):
        tracked = np.asarray(tracked)
        if not len(tracked):
            continue
        at = np.minimum(np.searchsorted(tracked, ids), len(tracked) - 1)
        found = tracked[at] == ids
        out[pos, found] = np.asarray(probs)[:, at[found]].T
    return out


def _cached_probs(run: LensRun, positions: Any, token_ids: Sequence[int]) -> np.ndarray:
    """Exact probabilities ``[L, len(positions), n]`` of tokens, from the run's cache."""
    head = run.request.adapter.head_module()
    log_p = token_log_probs(
        run.normed[:, positions],
        head.weight,
        head.bias,
        token_ids,
        torch.from_numpy(run.lse[:, positions]),
        logit_softcap(run.model),
    )
    return log_p.exp().numpy()


def _merge_tracked(result: dict[str, Any], pos: int, ids: np.ndarray, probs: np.ndarray) -> None:
    """Join ids (with their [L, n] trajectories) into position ``pos``'s tracked set."""
    old_ids = np.asarray(result["tracked"][pos])
    keep = ~np.isin(ids, old_ids)
    all_ids = np.concatenate([old_ids, ids[keep]])
    all_probs = np.concatenate([np.asarray(result["probs"][pos]), probs[:, keep]], axis=1)
    order = np.argsort(all_ids, kind="stable")
    result["tracked"][pos] = all_ids[order].astype(np.int32)
    result["probs"][pos] = np.ascontiguousarray(all_probs[:, order], dtype=np.float32)


def detail(run: LensRun, layer_index: int, position: int, k: int) -> tuple[list[int], np.ndarray]:
    """A cell's top-``k`` with each token's probability at every lens row of its position.

    Args:
        run: the run the cell belongs to.
        layer_index: the cell's lens row, an index into ``run.layers`` (not a layer number).
        position: the cell's input position.
        k: how many tokens (at most the vocabulary).

    Returns:
        (ids sorted by probability at ``layer_index``, float32 ``[n, L]`` probabilities).
    """
    n_rows, n_pos = run.request.n_rows, run.request.n_positions
    if not 0 <= layer_index < n_rows or not 0 <= position < n_pos:
        raise ValueError(
            f"no cell at lens row {layer_index}, position {position} in this run "
            f"({n_rows} lens rows × {n_pos} positions)"
        )
    k = min(int(k), run.request.vocab_size)
    softcap = logit_softcap(run.model)
    if run.normed is not None:
        kept = run.deep_ids[layer_index, position, :k]
        if k <= DEEP_K and kept.min() >= 0:
            top = kept.tolist()
            return top, np.ascontiguousarray(_cached_probs(run, [position], top)[:, 0].T)
        # The full distribution is needed at the clicked cell only (to rank); at the other
        # lens rows, the k tokens' logits and the kept log-sum-exp give the same numbers.
        cell = cell_log_probs(
            run.normed[layer_index, position][None], run.request.adapter.head_module(), softcap
        )
        top = cell[0].topk(k).indices.tolist()
        return top, np.ascontiguousarray(_cached_probs(run, [position], top)[:, 0].T)
    request = run.request
    return capture_cell(
        request.adapter,
        request.input_ids,
        request.row_specs(),
        position,
        layer_index,
        k,
        remote=request.remote,
        readout=request.readout,
        edits=request.edits,
    )
