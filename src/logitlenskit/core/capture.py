"""The capture core: the only code in logitlenskit that opens an nnsight trace.

Every question a user asks of a model is one forward pass that reads some residual-stream
states and reduces them inside the trace, so that only the reduction leaves it (and the
NDIF server): a full lens run, a local run's normed cache, a cell's follow-up, a study batch,
a generation step, the seed API's full-logits reference. Each is one public function here,
and all of them run :func:`_trace`, which

1. walks the decoder layers in forward order (nnsight interleaves the trace body with the
   forward pass, so sites must be visited in the order the model reaches them),
2. applies the ``edits`` due at each site (interventions: patch, steer, ablate),
3. reads each lens row's state at ``at`` (a batch and position index),
4. passes the rows through the ``readout`` (how a state becomes the decoder's input; the logit
   lens leaves it as it is) and hands them, with the model's own final-layer state when KL
   needs it, to the reduction.

NDIF ships the trace body's source with the values of the names it reads; the reductions
and this module's helpers travel by value (:func:`ship_by_value`), and they import only
torch and the engine. The outer ``torch.no_grad()`` covers the model's forward pass (else
autograd keeps every layer's activations); it does not reach the trace body, which is why
the engine sets ``no_grad`` itself.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import nnsight
import torch

from .adapter import ModelAdapter
from .architectures import get_value
from .engine import cell_log_probs, lens_reduce
from .locks import model_lock
from .readout import LOGIT_LENS, Readout
from .sites import AFTER_ATTENTION, BLOCK_OUTPUT, HEADS, Site, forward_order

__all__ = [
    "AFTER_ATTENTION",
    "BLOCK_OUTPUT",
    "Edit",
    "Site",
    "capture_cell",
    "capture_lens",
    "capture_logits",
    "capture_normed",
    "capture_outcome",
    "capture_prefix",
    "capture_states",
    "capture_step",
    "ship_by_value",
]


class Edit(Protocol):
    """An intervention applied inside the trace, at one site, before it is read.

    ``apply`` receives the site's state (``[batch, positions, d]``, or ``[batch, positions,
    heads · head_dim]`` for the heads) and changes it in place, so what the model computes
    from that point on sees the change. ``start`` is the absolute position of the state's
    first position: a generation step's pass holds only its new token. :mod:`.edits` has
    patch, steer and ablate.
    """

    site: Site

    def apply(self, state: torch.Tensor, start: int) -> None:
        """Change ``state`` in place."""


def _state(block: Any, kind: int, path: str | None) -> Any:
    """A site's state inside a trace (``path``: its submodule, from the adapter)."""
    if kind == BLOCK_OUTPUT:
        envoy, port = block, "output"
    else:
        envoy = block
        for name in path.split("."):
            envoy = getattr(envoy, name)
        port = "input" if kind in (AFTER_ATTENTION, HEADS) else "output"
    value = getattr(envoy, port)
    # transformers < 5 returns a tuple per layer (and per attention), >= 5 the tensor itself.
    return value[0] if port == "output" and isinstance(value, tuple) else value


def _trace(
    adapter: ModelAdapter,
    inputs: Any,
    rows: Sequence[Site],
    reduce: Callable[[list[Any], Any], Any],
    *,
    at: tuple[Any, ...] = (0,),
    reference: int | None = None,
    remote: bool | str = False,
    readout: Readout = LOGIT_LENS,
    edits: Sequence[Edit] = (),
    keep_output: bool = False,
    through: bool = False,
    start: int = 0,
    **kw: Any,
) -> Any:
    """One forward pass: read ``rows`` at ``at``, reduce them in the trace, return the result.

    Args:
        adapter: the model.
        inputs: what ``model.trace`` takes (token ids, or a dict with an attention mask).
        rows: the lens rows' sites, in the order ``reduce`` expects them.
        reduce: ``reduce(row_states, reference_state)`` run inside the trace; its result
            (a tensor or a list of tensors) is what leaves it.
        at: index applied to every state read (``(0,)``: the first sequence, every position).
        reference: a layer whose own block output ``reduce`` gets as ``reference_state``
            (the model's final output for KL), without the readout; None for none.
        remote: ``False`` here, ``True`` NDIF, ``"local"`` nnsight's NDIF simulation.
        readout: turns each row's state into the decoder's input.
        edits: interventions, each applied at its site before anything reads it.
        keep_output: run the whole forward pass and return ``(result, model output)`` (a
            generation step needs the logits and the KV cache); otherwise the pass stops
            once the reduction is done.
        through: run every decoder layer before stopping, also past the last row read (a
            KV cache in ``kw`` is then filled by all of them).
        start: the absolute position of the inputs' first token (a KV-cached step's), so
            edits at a position find it.
        kw: more ``model.trace`` arguments (``position_ids``, a KV cache).
    """
    model, blocks = adapter.model, adapter.blocks
    wanted = [*rows, *([] if reference is None else [(reference, BLOCK_OUTPUT)])]
    last = [(adapter.n_layers - 1, BLOCK_OUTPUT)] if through else []
    sites = forward_order([*wanted, *last, *(edit.site for edit in edits)])
    edits_at = {site: [e for e in edits if e.site == site] for site in sites}
    paths = {kind: adapter.site_path(kind) for kind in {site[1] for site in sites}}
    ship_by_value(remote, readout, edits)
    with model_lock(model), torch.no_grad(), model.trace(inputs, remote=remote, **kw) as tracer:
        hidden = {}
        for site in sites:
            state = _state(blocks[site[0]], site[1], paths[site[1]])
            for edit in edits_at[site]:
                edit.apply(state, start)
            hidden[site] = state[at]
        states = readout.prepare([hidden[site] for site in rows], list(rows))
        ref = None if reference is None else hidden[(reference, BLOCK_OUTPUT)]
        saved = nnsight.save(reduce(states, ref))
        if keep_output:
            output = nnsight.save(model.output)
        else:
            tracer.stop()
    if keep_output:
        return get_value(saved), get_value(output)
    return get_value(saved)


def ship_by_value(
    remote: bool | str, readout: Readout = LOGIT_LENS, edits: Sequence[Edit] = ()
) -> None:
    """Make the code a trace body calls travel with an NDIF request.

    NDIF servers cannot import logitlenskit; registered modules are pickled by value (their
    source), and they import only torch, numpy and the standard library. The readout's and
    the edits' own modules travel too, so a lens or an edit defined in a user's module runs
    remotely as well (it must import only what the server has).
    """
    if not remote:
        return
    from nnsight import ndif

    from . import architectures, engine, sites
    from . import edits as edit_classes
    from . import readout as readouts

    own = (engine, architectures, readouts, sites, edit_classes, sys.modules[__name__])
    theirs = {type(item).__module__ for item in (readout, *edits)} - {"builtins", "__main__"}
    for module in (*own, *(sys.modules[name] for name in sorted(theirs))):
        ndif.register(module)


# ---------------------------------------------------------------- the captures


def _lens(states: list[Any], ref: Any, norm: Any, head: Any, **engine: Any) -> torch.Tensor:
    row = engine.pop("reference_row")
    return lens_reduce(states, norm, head, kl_reference=ref if ref is not None else row, **engine)


def capture_lens(
    adapter: ModelAdapter,
    inputs: Any,
    rows: Sequence[Site],
    *,
    k: int,
    vocab_size: int,
    extra_ids: Sequence[int] | None = None,
    targets: torch.Tensor | None = None,
    kl: bool = False,
    at: tuple[Any, ...] = (0,),
    remote: bool | str = False,
    readout: Readout = LOGIT_LENS,
    edits: Sequence[Edit] = (),
    **trace_kwargs: Any,
) -> torch.Tensor:
    """The whole lens reduced inside the trace: the engine's packed result.

    Args:
        adapter: the model.
        inputs: what ``model.trace`` takes.
        rows: the lens rows' sites.
        k: top-k width.
        vocab_size: the unembedding's width.
        extra_ids: ids tracked at every position.
        targets: ``target_index`` of the target sets.
        kl: also each cell's KL from the model's final output (its own last layer, read
            as a lens row when it is one, else as the reference state).
        at: index applied to every state read (a batch's last positions: ``(slice(None), -1)``).
        remote: where the trace runs.
        readout: turns each row's state into the decoder's input.
        edits: interventions applied inside the trace.
        **trace_kwargs: more ``model.trace`` arguments (``position_ids``).
    """
    final = (adapter.n_layers - 1, BLOCK_OUTPUT)
    row = list(rows).index(final) if kl and final in rows and readout.is_identity else None
    reduce = functools.partial(
        _lens,
        norm=adapter.norm(),
        head=adapter.head(),
        k=k,
        vocab_size=vocab_size,
        softcap=adapter.softcap(),
        extra_ids=list(extra_ids) if extra_ids else None,
        targets=targets,
        head_weight=adapter.exact_head_weight() if kl else None,
        reference_row=row,
    )
    reference = final[0] if kl and row is None else None
    return _trace(
        adapter,
        inputs,
        rows,
        reduce,
        at=at,
        reference=reference,
        remote=remote,
        readout=readout,
        edits=edits,
        **trace_kwargs,
    )


def _normed(states: list[Any], ref: Any, norm: Any) -> torch.Tensor:
    rows = [*states, *([] if ref is None else [ref])]
    return norm(torch.stack(rows)) if rows else torch.empty(0)


def capture_normed(
    adapter: ModelAdapter,
    inputs: Any,
    rows: Sequence[Site],
    *,
    reference: int | None = None,
    readout: Readout = LOGIT_LENS,
    edits: Sequence[Edit] = (),
    cache: Any = None,
    start: int = 0,
) -> torch.Tensor:
    """Every lens row's decoder input after the final norm, ``[R, P, d]`` (a local run's cache).

    With ``reference``, that layer's own normed block output comes last as one more row.
    With ``cache`` (a transformers KV cache of the ``start`` positions before ``inputs``),
    the pass continues from it and every layer adds the inputs' keys and values to it.
    """
    reduce = functools.partial(_normed, norm=adapter.norm())
    kv = {} if cache is None else {adapter.cache_argument(): cache, "use_cache": True}
    normed = _trace(
        adapter,
        inputs,
        rows,
        reduce,
        reference=reference,
        readout=readout,
        edits=edits,
        through=cache is not None,
        start=start,
        **kv,
    )
    return normed.detach()


def capture_prefix(
    adapter: ModelAdapter,
    input_ids: Sequence[int],
    cache: Any,
    *,
    readout: Readout = LOGIT_LENS,
    edits: Sequence[Edit] = (),
) -> None:
    """Run the tokens ``input_ids`` through every layer, filling the KV ``cache``; no lens.

    The shared start of a batch's prompts goes through once this way, and each prompt's
    own tokens then continue from the cache (a study's few-shot prefix).
    """
    kv = {adapter.cache_argument(): cache, "use_cache": True}
    _trace(
        adapter,
        torch.tensor([list(input_ids)]),
        [],
        lambda states, ref: torch.empty(0),
        readout=readout,
        edits=edits,
        through=True,
        **kv,
    )


def capture_step(
    adapter: ModelAdapter,
    inputs: Any,
    rows: Sequence[Site],
    *,
    reference: int | None = None,
    readout: Readout = LOGIT_LENS,
    edits: Sequence[Edit] = (),
    start: int = 0,
    **model_kwargs: Any,
) -> tuple[torch.Tensor, Any]:
    """A generation step: the last position's normed rows and the model's whole output.

    Args:
        adapter: the model.
        inputs: token ids ``[1, n]`` (the prompt, or the new token with a KV cache).
        rows: the lens rows' sites (none for the prompt's pass, which only fills the cache).
        reference: a layer whose own normed block output comes last, as one more row.
        readout: turns each row's state into the decoder's input.
        edits: interventions applied inside the trace, as in every capture.
        start: the absolute position of ``inputs``' first token (the cache's length).
        **model_kwargs: the model's forward arguments (``use_cache``, the KV cache).

    Returns:
        (normed rows ``[R, d]``, empty without rows; the model's output: logits, cache).
    """
    reduce = functools.partial(_normed, norm=adapter.norm())
    normed, output = _trace(
        adapter,
        inputs,
        rows,
        reduce,
        at=(0, -1),
        reference=reference,
        readout=readout,
        edits=edits,
        keep_output=True,
        start=start,
        **model_kwargs,
    )
    return normed.detach(), output


def _cell(
    states: list[Any], ref: Any, norm: Any, head: Any, softcap: float | None, row: int, k: int
) -> list[torch.Tensor]:
    log_p = cell_log_probs(norm(torch.stack(states)), head, softcap)
    top = log_p[row].topk(k).indices
    return [top, log_p[:, top].exp().t()]


def capture_cell(
    adapter: ModelAdapter,
    inputs: Any,
    rows: Sequence[Site],
    position: int,
    row: int,
    k: int,
    *,
    remote: bool | str = False,
    readout: Readout = LOGIT_LENS,
    edits: Sequence[Edit] = (),
) -> tuple[list[int], Any]:
    """One position's top-``k`` at lens row ``row`` and those tokens' probability at every row.

    Only ``k·R`` values leave the trace (for NDIF runs, which keep no cache here).

    Returns:
        (ids sorted by probability at ``row``, float32 ``[k, R]`` numpy probabilities).
    """
    reduce = functools.partial(
        _cell, norm=adapter.norm(), head=adapter.head(), softcap=adapter.softcap(), row=row, k=k
    )
    top, probs = _trace(
        adapter,
        inputs,
        rows,
        reduce,
        at=(0, position),
        remote=remote,
        readout=readout,
        edits=edits,
    )
    return top.tolist(), probs.contiguous().numpy()


def _logits(states: list[Any], ref: Any, norm: Any, head: Any) -> list[Any]:
    with torch.no_grad():  # the outer no_grad does not reach the trace body
        return [head(norm(state)) for state in states]


def capture_logits(
    adapter: ModelAdapter, inputs: Any, rows: Sequence[Site], *, remote: bool | str = False
) -> list[torch.Tensor]:
    """Every lens row's full logits ``[P, V]`` (the slow reference path: L·P·V floats leave)."""
    reduce = functools.partial(_logits, norm=adapter.norm(), head=adapter.head())
    return list(_trace(adapter, inputs, rows, reduce, remote=remote))


def _clones(states: list[Any], ref: Any) -> list[Any]:
    return [state.clone() for state in states]


def capture_states(
    adapter: ModelAdapter,
    inputs: Any,
    sites: Sequence[Site],
    *,
    at: tuple[Any, ...] = (0,),
    remote: bool | str = False,
    edits: Sequence[Edit] = (),
    start: int = 0,
    **trace_kwargs: Any,
) -> list[torch.Tensor]:
    """The raw states at ``sites`` (in that order), indexed by ``at``: a patch's source, a mean.

    The pass stops after the last site, so reading layer ``l`` costs ``l + 1`` layers.
    ``start`` and ``trace_kwargs`` (a KV cache) are as for :func:`capture_step`.
    """
    states = _trace(
        adapter,
        inputs,
        sites,
        _clones,
        at=at,
        remote=remote,
        edits=edits,
        start=start,
        **trace_kwargs,
    )
    return [state.detach() for state in states]


def _outcome(
    states: list[Any],
    ref: Any,
    norm: Any,
    head: Any,
    softcap: float | None,
    token_sets: list[list[int]],
    against: Any,
) -> torch.Tensor:
    log_p = cell_log_probs(norm(states[0]), head, softcap)  # [B, V]
    columns = [torch.logsumexp(log_p[:, ids], dim=-1) for ids in token_sets]
    if against is not None:  # KL(against ‖ each row), against a log-distribution [V]
        columns.append((against.exp() * (against - log_p)).sum(-1))
    return torch.stack(columns, dim=-1) if columns else log_p[:, :0]


def capture_outcome(
    adapter: ModelAdapter,
    inputs: Any,
    *,
    token_sets: Sequence[Sequence[int]] = (),
    against: torch.Tensor | None = None,
    at: tuple[Any, ...] = (slice(None), -1),
    remote: bool | str = False,
    edits: Sequence[Edit] = (),
) -> torch.Tensor:
    """The model's own output at ``at`` measured in the trace: a sweep's or a metric's pass.

    Args:
        adapter: the model.
        inputs: a batch of token ids ``[B, P]`` (or what ``model.trace`` takes).
        token_sets: token-id sets whose summed probability is measured (log, per set).
        against: a log-distribution ``[V]``; adds KL(against ‖ output) as the last column.
        at: which position of each sequence (default the last).
        remote: where the trace runs.
        edits: the interventions (a sweep's batch of patches).

    Returns:
        ``[B, len(token_sets) (+1 with against)]`` float32: only these leave the trace.
    """
    final = (adapter.n_layers - 1, BLOCK_OUTPUT)
    reduce = functools.partial(
        _outcome,
        norm=adapter.norm(),
        head=adapter.head(),
        softcap=adapter.softcap(),
        token_sets=[list(map(int, ids)) for ids in token_sets],
        against=against,
    )
    return _trace(adapter, inputs, [final], reduce, at=at, remote=remote, edits=edits).detach()
