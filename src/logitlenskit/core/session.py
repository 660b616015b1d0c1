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
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import torch

from .architectures import hf_config
from .capture import capture_cell, capture_normed
from .engine import cell_log_probs, decode_lens, lens_reduce, target_index, token_log_probs
from .lens import run_lens
from .locks import model_lock
from .options import LensOptions
from .request import (
    LensRequest,
    Remote,
    check_track_ids,
    layer_count,
    logit_softcap,
    model_name,
    prepare_request,
    token_strings,
    warn_non_finite,
)

__all__ = [
    "CACHE_BYTES",
    "DEEP_K",
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

#: Largest hidden-state cache a local run keeps for instant follow-ups (float32 bytes).
CACHE_BYTES = 1 << 30
#: Each cell's top list a local run keeps, as deep as the popup's first deeper list, so a
#: click needs a few dot products instead of a pass over the whole unembedding.
DEEP_K = 20
#: Positions reduced first (the grid's first screen) and per later block, for long prompts.
FIRST_BLOCK = 64
BLOCK = 256
#: Most cells reduced between two stop checks, so Stop or ``close()`` takes effect within a
#: fraction of a second even in a block of all layers (a block is still shown at once).
CHECK_CELLS = 512
#: Cell status codes, as in docs/live-loop.md.
OK, INVALID, PENDING = 0, 1, 2

_run_ids = itertools.count(1)


class Cancelled(Exception):  # noqa: N818 (a signal, not an error: nothing failed)
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
        request: what was asked (model, prompt, input ids, layers, k, remote), checked;
            ``model``, ``prompt``, ``input_ids``, ``layers``, ``k`` and ``remote`` read it.
        result: the collection dict of docs/data-format.md §1 (``tracked``/``probs`` as
            numpy arrays per position).
        status: ``[L, P]`` uint8 cell status (0 ok, 1 invalid, 2 pending).
        lse: ``[L, P]`` log-sum-exp of each cell's logits (NaN where pending).
        normed: final-normed hidden states ``[L, P, d]`` (local runs within
            :data:`CACHE_BYTES`), else None.
        extra: ids tracked at every position.
        deep_ids: ``[L, P, DEEP_K]`` int32 top ids of each cell, best first (-1 where not
            computed: pending cells, NDIF runs).
    """

    run_id: int
    request: LensRequest
    result: dict[str, Any]
    status: np.ndarray
    lse: np.ndarray
    normed: torch.Tensor | None
    extra: list[int]
    deep_ids: np.ndarray

    @property
    def model(self) -> Any:
        """The model it ran on."""
        return self.request.model

    @property
    def prompt(self) -> str:
        """The text."""
        return self.request.prompt

    @property
    def input_ids(self) -> list[int]:
        """Its token ids, one per position."""
        return self.request.input_ids

    @property
    def layers(self) -> list[int]:
        """The model layer number of each lens row."""
        return self.request.layers

    @property
    def k(self) -> int:
        """Top-k width."""
        return self.request.k

    @property
    def remote(self) -> bool | str:
        """Where it ran (False, True or "local")."""
        return self.request.remote

    @property
    def complete(self) -> bool:
        """Every cell is computed (none pending)."""
        return not (self.status == PENDING).any()

    def payload_source(self) -> dict[str, Any]:
        """The collection dict with its cell status, ready for ``to_widget_payload``."""
        return {**self.result, "cell_status": self.status}


# ---------------------------------------------------------------- model access


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


def _capture_normed(request: LensRequest) -> tuple[torch.Tensor, int | torch.Tensor | None]:
    """One local forward pass keeping every lens row's normed state, and the KL reference.

    Returns:
        (normed rows ``[R, P, d]``, the engine's ``kl_reference``: the final layer's lens
        row, its normed state ``[P, d]`` when it is not a row, or None without KL).
    """
    rows = request.row_specs()
    final = request.final_row()
    reference = request.final_layer if request.kl and final is None else None
    normed = capture_normed(
        request.adapter,
        request.input_ids,
        rows,
        reference=reference,
        readout=request.readout,
        edits=request.edits,
    )
    if reference is not None:
        return normed[:-1], normed[-1]
    return normed, final if request.kl else None


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
) -> LensRun:
    """:func:`start_run` for options checked already (the widget's sides carry them).

    ``extra`` (pins) joins ``options.track``: ids tracked at every position.
    """
    request = prepare_request(prompt, model, options)
    tracked = check_track_ids([*options.track, *extra], request.vocab_size)
    run = _run(request, tracked, control or Control(), on_partial)
    warn_non_finite(run.status == INVALID, request.layers, stacklevel=4)
    return run


def _run(
    request: LensRequest,
    extra: list[int],
    control: Control,
    on_partial: Callable[[LensRun], None] | None = None,
) -> LensRun:
    """Collect the lens of a checked request (``extra``: checked ids to track everywhere)."""
    if request.remote:
        return _remote_run(request, extra, control)
    with model_lock(request.model):  # held by a widget's runner already (re-entrant)
        return _local_run(request, extra, control, on_partial)


def _local_run(
    request: LensRequest,
    extra: list[int],
    control: Control,
    on_partial: Callable[[LensRun], None] | None,
) -> LensRun:
    control.check()
    n_rows, n_pos, k = request.n_rows, request.n_positions, request.k
    cache_bytes = n_rows * n_pos * _hidden_size(request.model) * 4
    adapter = request.adapter
    with _forward_progress(adapter.layer_modules(), control, 0.5 if n_pos > 1 else 0.9):
        normed, reference = _capture_normed(request)
    run = _empty_run(request, extra)
    head, softcap = adapter.head_module(), adapter.softcap()
    targets = target_index(request.target_sets()) if request.targets else None
    weight = head.weight if request.kl and head.bias is None else None
    tracked = sorted({*extra, *request.target_ids()})
    deep_k = min(DEEP_K, request.vocab_size)
    bounds = _blocks(n_pos)
    step = max(1, CHECK_CELLS // n_rows)
    for n, (a, b) in enumerate(bounds):
        control.progress(0.5 + 0.5 * n / len(bounds), f"lens, positions {a}–{b - 1}")
        for c in range(a, b, step):
            control.check()
            d = min(b, c + step)
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
                request.kl,
                deep_k,
            )
            _fill(run, c, lens)
        if on_partial is not None and len(bounds) > 1 and b < n_pos:
            on_partial(run)
    run.normed = normed if cache_bytes <= CACHE_BYTES else None
    return run


def _hidden_size(model: Any) -> int:
    config = hf_config(model)
    return int(getattr(config, "hidden_size", None) or getattr(config, "n_embd", 0) or 0)


def _blocks(n_pos: int) -> list[tuple[int, int]]:
    """Position blocks: the whole prompt, or the first screen and then fixed blocks."""
    if n_pos <= BLOCK:
        return [(0, n_pos)]
    edges = [0, FIRST_BLOCK, *range(FIRST_BLOCK + BLOCK, n_pos, BLOCK), n_pos]
    return list(itertools.pairwise(edges))


def _empty_run(request: LensRequest, extra: list[int]) -> LensRun:
    """A run whose cells are all pending, with placeholders that keep the format valid."""
    n_rows, n_pos, k = request.n_rows, request.n_positions, request.k
    tokenizer = request.tokenizer
    result = {
        "model": model_name(request.model),
        "input": token_strings(tokenizer, request.input_ids),
        "input_ids": list(request.input_ids),
        "layers": list(request.layers),
        "topk": np.zeros((n_rows, n_pos, k), np.int32),
        "topk_probs": np.zeros((n_rows, n_pos, k), np.float32),
        "tracked": [np.zeros(1, np.int32) for _ in range(n_pos)],
        "probs": [np.zeros((n_rows, 1), np.float32) for _ in range(n_pos)],
        "entropy": np.zeros((n_rows, n_pos), np.float32),
        "vocab": {0: token_strings(tokenizer, [0])[0]},
        "num_layers": layer_count(request.model, request.architecture),
    }
    n_t = len(request.targets)
    if n_t:
        result["targets"] = [t.as_dict() for t in request.targets]
        result["target_logprobs"] = np.full((n_t, n_rows, n_pos), np.nan, np.float32)
        result["target_ranks"] = np.zeros((n_t, n_rows, n_pos), np.int32)
    if request.kl:
        result["kl"] = np.full((n_rows, n_pos), np.nan, np.float32)
        result["kl_undefined"] = np.zeros(n_pos, bool)
    if request.position_kinds is not None:
        result["position_kinds"] = np.asarray(request.position_kinds, np.uint8)
    if request.row_kinds is not None:
        result["row_kinds"] = list(request.row_kinds)
    return LensRun(
        run_id=next(_run_ids),
        request=request,
        result=result,
        status=np.full((n_rows, n_pos), PENDING, np.uint8),
        lse=np.full((n_rows, n_pos), np.nan, np.float32),
        normed=None,
        extra=list(extra),
        deep_ids=np.full((n_rows, n_pos, DEEP_K), -1, np.int32),
    )


def _fill(run: LensRun, a: int, lens: dict[str, Any]) -> None:
    """Write a decoded block of positions ``a..`` into the run."""
    r = run.result
    b = a + lens["topk"].shape[1]
    r["topk"][:, a:b] = lens["topk"].numpy()
    r["topk_probs"][:, a:b] = lens["topk_probs"].numpy()
    r["entropy"][:, a:b] = lens["entropy"].numpy()
    r["tracked"][a:b] = [t.numpy() for t in lens["tracked"]]
    r["probs"][a:b] = [p.numpy() for p in lens["probs"]]
    for name in ("target_logprobs", "target_ranks"):
        if name in lens:
            r[name][:, :, a:b] = lens[name].numpy()
    if "kl" in lens:
        r["kl"][:, a:b] = lens["kl"].numpy()
        r["kl_undefined"][a:b] = lens["kl_undefined"].numpy()
    run.lse[:, a:b] = lens["lse"].numpy()
    if "deep_ids" in lens:
        deep = lens["deep_ids"].numpy()
        run.deep_ids[:, a:b, : deep.shape[2]] = deep
    run.status[:, a:b] = np.where(lens["invalid"].numpy(), INVALID, OK)
    _add_vocab(r, run.request.tokenizer, np.concatenate([t.numpy() for t in lens["tracked"]]))
    r["invalid"] = torch.from_numpy(run.status == INVALID)


def append_position(run: LensRun, lens: dict[str, Any], token: int, normed: torch.Tensor) -> None:
    """Add one position (a generated token) with its decoded lens to the end of ``run``.

    Args:
        run: the run; its request's input ids grow by ``token``.
        lens: :func:`~logitlenskit.engine.decode_lens` of that one position.
        token: the position's token id.
        normed: its final-normed hidden states ``[L, d]``, for the follow-up cache.
    """
    r = run.result
    for name in ("topk", "topk_probs", "entropy", "kl", "kl_undefined"):
        if name in r:
            axis = 0 if name == "kl_undefined" else 1  # [P] flags, the rest [L, P, ...]
            r[name] = np.concatenate([np.asarray(r[name]), lens[name].numpy()], axis=axis)
    for name in ("target_logprobs", "target_ranks"):
        if name in r:
            r[name] = np.concatenate([r[name], lens[name].numpy()], axis=2)
    r["tracked"].append(lens["tracked"][0].numpy())
    r["probs"].append(lens["probs"][0].numpy())
    r["input"].append(token_strings(run.request.tokenizer, [token])[0])
    r["input_ids"].append(int(token))
    status = np.where(lens["invalid"].numpy(), INVALID, OK).astype(np.uint8)
    run.status = np.concatenate([run.status, status], axis=1)
    run.lse = np.concatenate([run.lse, lens["lse"].numpy()], axis=1)
    deep = np.full((run.deep_ids.shape[0], 1, DEEP_K), -1, np.int32)
    if "deep_ids" in lens:
        deep[:, :, : lens["deep_ids"].shape[2]] = lens["deep_ids"].numpy()
    run.deep_ids = np.concatenate([run.deep_ids, deep], axis=1)
    r["invalid"] = torch.from_numpy(run.status == INVALID)
    _add_vocab(r, run.request.tokenizer, [token, *lens["tracked"][0].tolist()])
    run.request = dataclasses.replace(run.request, input_ids=[*run.request.input_ids, token])
    if run.normed is not None:
        run.normed = torch.cat([run.normed, normed.to(run.normed.dtype)[:, None, :]], dim=1)
        if run.normed.numel() * 4 > CACHE_BYTES:
            run.normed = None


def _add_vocab(result: dict[str, Any], tokenizer: Any, ids: Any) -> None:
    vocab = result["vocab"]
    missing = sorted({int(i) for i in np.asarray(ids).ravel()} - vocab.keys())
    vocab.update(zip(missing, token_strings(tokenizer, missing), strict=True))


def _remote_run(request: LensRequest, extra: list[int], control: Control) -> LensRun:
    """NDIF (or its simulation): one request, reduction on the server, no cache here."""
    control.progress(-1, "sending to NDIF" if request.remote is True else "NDIF simulation")
    with _ndif_status(control):
        lens = run_lens(request, extra)
    control.check()  # an NDIF request cannot be interrupted; Stop drops its answer here
    run = _empty_run(request, extra)
    _fill(run, 0, lens)
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
    _add_vocab(run.result, request.tokenizer, new)
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
