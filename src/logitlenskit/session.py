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
import dataclasses
import itertools
from typing import Any, Callable, Iterator, Optional, Sequence

import numpy as np
import torch

from . import collect
from .architectures import apply_module_or_callable, get_value, resolve_accessor
from .engine import cell_log_probs, decode_lens, lens_reduce, token_log_probs

__all__ = ["Cancelled", "Control", "LensRun", "start_run", "track", "detail", "CACHE_BYTES"]

#: Largest hidden-state cache a local run keeps for instant follow-ups (float32 bytes).
CACHE_BYTES = 1 << 30
#: Positions reduced first (the grid's first screen) and per later block, for long prompts.
FIRST_BLOCK = 64
BLOCK = 256
#: Cell status codes, as in docs/live-loop.md.
OK, INVALID, PENDING = 0, 1, 2

_run_ids = itertools.count(1)


class Cancelled(Exception):
    """The run was abandoned (Stop, or a newer request); its result must not be shown."""


class Control:
    """What a run reports to, and how it is stopped; the default does nothing."""

    def check(self) -> None:
        """Raise :class:`Cancelled` if the run was abandoned."""

    def progress(self, fraction: float, status: str) -> None:
        """Report ``fraction`` (0..1, or -1 when unknown) done and what is happening."""


@dataclasses.dataclass
class LensRun:
    """One collection and its follow-up cache.

    Attributes:
        run_id: identifies the run; extending it (track) keeps the id.
        model: the model it ran on.
        prompt: the text.
        input_ids: its token ids.
        rows: model layer number of each lens row.
        k: top-k width.
        remote: where it ran (False, True or "local").
        result: the collection dict of docs/data-format.md §1 (``tracked``/``probs`` as
            numpy arrays per position).
        status: ``[L, P]`` uint8 cell status (0 ok, 1 invalid, 2 pending).
        lse: ``[L, P]`` log-sum-exp of each cell's logits (NaN where pending).
        normed: final-normed hidden states ``[L, P, d]`` (local runs within
            :data:`CACHE_BYTES`), else None.
        extra: ids tracked at every position.
    """

    run_id: int
    model: Any
    prompt: str
    input_ids: list[int]
    rows: list[int]
    k: int
    remote: Any
    result: dict[str, Any]
    status: np.ndarray
    lse: np.ndarray
    normed: Optional[torch.Tensor]
    extra: list[int]

    @property
    def complete(self) -> bool:
        """Every cell is computed (none pending)."""
        return not (self.status == PENDING).any()

    def payload_source(self) -> dict[str, Any]:
        """The collection dict with its cell status, ready for ``to_widget_payload``."""
        return {**self.result, "cell_status": self.status}


# ---------------------------------------------------------------- model access


def _head(model: Any) -> torch.nn.Module:
    inner = getattr(model, "_model", model)
    return inner.get_output_embeddings()


def _layer_modules(model: Any, cfg: Optional[dict]) -> list[torch.nn.Module]:
    envoys = model.layers if cfg is None else resolve_accessor(model, cfg["layers"])
    return [getattr(e, "_module", e) for e in envoys]


@contextlib.contextmanager
def _forward_progress(modules: Sequence[torch.nn.Module], control: Control,
                      span: float) -> Iterator[None]:
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


def _capture_normed(model: Any, cfg: Optional[dict], ids: list[int],
                    rows: list[int]) -> torch.Tensor:
    """One local forward pass keeping the final-normed hidden state of every lens row."""
    wanted = sorted(set(rows))
    if cfg is None:
        with torch.no_grad(), model.trace(ids) as tracer:
            hidden = {}
            for i in wanted:
                hidden[i] = model.layers_output[i][0]
            normed = model.ln_final(torch.stack([hidden[i] for i in rows])).save()
            tracer.stop()
        return get_value(normed).detach()
    blocks = resolve_accessor(model, cfg["layers"])
    with torch.no_grad(), model.trace(ids) as tracer:
        hidden = {}
        for i in wanted:
            out = blocks[i].output
            hidden[i] = (out[0] if isinstance(out, tuple) else out)[0]
        stacked = torch.stack([hidden[i] for i in rows])
        normed = apply_module_or_callable(model, cfg["norm"], stacked).save()
        tracer.stop()
    return get_value(normed).detach()


# ---------------------------------------------------------------- runs


def start_run(
    model: Any,
    prompt: str,
    k: int = 5,
    layers: Optional[Sequence[int]] = None,
    remote: collect.Remote = None,
    extra: Sequence[int] = (),
    control: Optional[Control] = None,
    on_partial: Optional[Callable[[LensRun], None]] = None,
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

    Raises:
        Cancelled: the control abandoned the run.
        ValueError, TypeError: bad arguments (see ``collect_logit_lens``).
    """
    control = control or Control()
    tokenizer, cfg, ids, rows, k, vocab_size, remote = collect._prepare(
        prompt, model, k, layers, remote, None)
    extra = collect._check_track(extra, vocab_size)
    if remote:
        return _remote_run(model, cfg, prompt, ids, rows, k, vocab_size, remote, extra, control)
    control.check()
    cache_bytes = len(rows) * len(ids) * _hidden_size(model) * 4
    with _forward_progress(_layer_modules(model, cfg), control, 0.5 if len(ids) > 1 else 0.9):
        normed = _capture_normed(model, cfg, ids, rows)
    run = _empty_run(model, prompt, ids, rows, k, remote, extra, tokenizer, cfg)
    head, softcap = _head(model), collect._softcap(model)
    bounds = _blocks(len(ids))
    for n, (a, b) in enumerate(bounds):
        control.check()
        control.progress(0.5 + 0.5 * n / len(bounds), f"lens, positions {a}–{b - 1}")
        packed = lens_reduce(normed[:, a:b], None, head, k, vocab_size, softcap,
                             extra_ids=extra)
        _fill(run, a, decode_lens(packed, len(rows), b - a, k, vocab_size), tokenizer)
        if on_partial is not None and len(bounds) > 1 and b < len(ids):
            on_partial(run)
    run.normed = normed if cache_bytes <= CACHE_BYTES else None
    collect._warn_invalid({"invalid": torch.from_numpy(run.status == INVALID)}, rows)
    return run


def _hidden_size(model: Any) -> int:
    config = collect.hf_config(model)
    return int(getattr(config, "hidden_size", None) or getattr(config, "n_embd", 0) or 0)


def _blocks(n_pos: int) -> list[tuple[int, int]]:
    """Position blocks: the whole prompt, or the first screen and then fixed blocks."""
    if n_pos <= BLOCK:
        return [(0, n_pos)]
    edges = [0, FIRST_BLOCK, *range(FIRST_BLOCK + BLOCK, n_pos, BLOCK), n_pos]
    return list(zip(edges[:-1], edges[1:]))


def _empty_run(model, prompt, ids, rows, k, remote, extra, tokenizer, cfg) -> LensRun:
    """A run whose cells are all pending, with placeholders that keep the format valid."""
    n_layers, n_pos = len(rows), len(ids)
    result = {
        "model": collect._model_name(model),
        "input": collect._decode_strings(tokenizer, ids),
        "input_ids": list(ids),
        "layers": list(rows),
        "topk": np.zeros((n_layers, n_pos, k), np.int32),
        "topk_probs": np.zeros((n_layers, n_pos, k), np.float32),
        "tracked": [np.zeros(1, np.int32) for _ in range(n_pos)],
        "probs": [np.zeros((n_layers, 1), np.float32) for _ in range(n_pos)],
        "entropy": np.zeros((n_layers, n_pos), np.float32),
        "vocab": {0: collect._decode_strings(tokenizer, [0])[0]},
        "num_layers": collect._n_layers(model, cfg),
    }
    return LensRun(
        run_id=next(_run_ids), model=model, prompt=prompt, input_ids=list(ids),
        rows=list(rows), k=k, remote=remote, result=result,
        status=np.full((n_layers, n_pos), PENDING, np.uint8),
        lse=np.full((n_layers, n_pos), np.nan, np.float32), normed=None, extra=list(extra),
    )


def _fill(run: LensRun, a: int, lens: dict[str, Any], tokenizer: Any) -> None:
    """Write a decoded block of positions ``a..`` into the run."""
    r = run.result
    b = a + lens["topk"].shape[1]
    r["topk"][:, a:b] = lens["topk"].numpy()
    r["topk_probs"][:, a:b] = lens["topk_probs"].numpy()
    r["entropy"][:, a:b] = lens["entropy"].numpy()
    r["tracked"][a:b] = [t.numpy() for t in lens["tracked"]]
    r["probs"][a:b] = [p.numpy() for p in lens["probs"]]
    run.lse[:, a:b] = lens["lse"].numpy()
    run.status[:, a:b] = np.where(lens["invalid"].numpy(), INVALID, OK)
    _add_vocab(r, tokenizer, np.concatenate([t.numpy() for t in lens["tracked"]]))
    r["invalid"] = torch.from_numpy(run.status == INVALID)


def _add_vocab(result: dict[str, Any], tokenizer: Any, ids: Any) -> None:
    vocab = result["vocab"]
    missing = sorted({int(i) for i in np.asarray(ids).ravel()} - vocab.keys())
    vocab.update(zip(missing, collect._decode_strings(tokenizer, missing)))


def _remote_run(model, cfg, prompt, ids, rows, k, vocab_size, remote, extra,
                control) -> LensRun:
    """NDIF (or its simulation): one request, reduction on the server, no cache here."""
    control.progress(-1, "sending to NDIF" if remote is True else "NDIF simulation")
    with _ndif_status(control):
        lens = collect._run_engine(model, cfg, ids, rows, k, vocab_size, remote, extra)
    control.check()  # an NDIF request cannot be interrupted; Stop drops its answer here
    tokenizer = model.tokenizer
    run = _empty_run(model, prompt, ids, rows, k, remote, extra, tokenizer, cfg)
    _fill(run, 0, lens, tokenizer)
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

    def update(self: Any, job_id: str = "", status_name: str = "",
               description: str = "") -> Any:
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


def track(run: LensRun, token_ids: Sequence[int], control: Optional[Control] = None) -> LensRun:
    """Add exact trajectories of ``token_ids`` at every computed cell of ``run``.

    Locally this is a product with ``len(token_ids)`` rows of the unembedding; without a
    cache (NDIF, or a prompt too long to keep) the run is collected again with the ids
    tracked. The run keeps its id: the view treats it as the same run, extended.
    """
    tokenizer = run.model.tokenizer
    new = [int(i) for i in collect._check_track(token_ids, collect._vocab_size(run.model))
           if int(i) not in run.extra]
    if not new:
        return run
    if run.normed is None:
        again = start_run(run.model, run.prompt, run.k, run.rows, run.remote,
                          [*run.extra, *new], control)
        again.run_id = run.run_id
        return again
    head = _head(run.model)
    done = np.nonzero((run.status != PENDING).all(axis=0))[0]
    log_p = token_log_probs(run.normed[:, done], head.weight, head.bias, new,
                            torch.from_numpy(run.lse[:, done]), collect._softcap(run.model))
    probs = log_p.exp().numpy()  # [L, len(done), n]
    probs[run.status[:, done] == INVALID] = np.nan
    for j, pos in enumerate(done):
        _merge_tracked(run.result, int(pos), np.asarray(new), probs[:, j, :])
    _add_vocab(run.result, tokenizer, new)
    run.extra = sorted({*run.extra, *new})
    return run


def _merge_tracked(result: dict[str, Any], pos: int, ids: np.ndarray,
                   probs: np.ndarray) -> None:
    """Join ids (with their [L, n] trajectories) into position ``pos``'s tracked set."""
    old_ids = np.asarray(result["tracked"][pos])
    keep = ~np.isin(ids, old_ids)
    all_ids = np.concatenate([old_ids, ids[keep]])
    all_probs = np.concatenate([np.asarray(result["probs"][pos]), probs[:, keep]], axis=1)
    order = np.argsort(all_ids, kind="stable")
    result["tracked"][pos] = all_ids[order].astype(np.int32)
    result["probs"][pos] = np.ascontiguousarray(all_probs[:, order], dtype=np.float32)


def detail(run: LensRun, row: int, position: int, k: int) -> tuple[list[int], np.ndarray]:
    """A cell's top-``k`` at lens row ``row`` with each token's probability at every row.

    Returns:
        (ids sorted by probability at ``row``, float32 ``[n, L]`` probabilities).
    """
    if not 0 <= row < len(run.rows) or not 0 <= position < len(run.input_ids):
        raise ValueError(f"no cell at lens row {row}, position {position} in this run "
                         f"({len(run.rows)} rows × {len(run.input_ids)} positions)")
    k = min(int(k), collect._vocab_size(run.model))
    softcap = collect._softcap(run.model)
    if run.normed is not None:
        log_p = cell_log_probs(run.normed[:, position], _head(run.model), softcap)
        top = log_p[row].topk(k).indices
        return top.tolist(), log_p[:, top].exp().t().contiguous().numpy()
    top, probs = _trace_cell(run, row, position, k, softcap)
    return top, probs


def _trace_cell(run: LensRun, row: int, position: int, k: int,
                softcap: Optional[float]) -> tuple[list[int], np.ndarray]:
    """One position's lens through a trace (NDIF, or no cache): only ``k·L`` values return."""
    model, rows = run.model, run.rows
    if not collect._is_nnterp(model):
        raise ValueError("a deeper top-k without a local cache needs an nnterp model")
    wanted = sorted(set(rows))
    with torch.no_grad(), model.trace(run.input_ids, remote=run.remote) as tracer:
        hidden = {}
        for i in wanted:
            hidden[i] = model.layers_output[i][0][position]
        log_p = cell_log_probs(model.ln_final(torch.stack([hidden[i] for i in rows])),
                               model.lm_head, softcap)
        top = log_p[row].topk(k).indices
        saved_top = top.save()
        saved_probs = log_p[:, top].exp().t().save()
        tracer.stop()
    return get_value(saved_top).tolist(), get_value(saved_probs).contiguous().numpy()
