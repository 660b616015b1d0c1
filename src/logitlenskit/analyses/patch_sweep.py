"""The activation-patching sweep: causal tracing over every (layer, position) of a prompt.

For each cell (layer ``l``, position ``p``) the clean prompt's residual stream there is
written into the corrupt prompt's run at the same place, and the corrupt run's output at
its last position is measured: a target's probability (``"prob"``), the log-probability
difference of a target and a foil (``"logit_diff"``), or KL(clean output ‖ patched output)
(``"kl"``). Causal tracing's figure (Meng et al., 2022) is this grid, normalized: 0 the
corrupt run's metric, 1 the clean run's (:meth:`SweepResult.normalized`).

How it runs (all through the capture core, so on NDIF too):

1. one :func:`~logitlenskit.core.capture.capture_states` pass of the clean prompt reads
   every swept layer's state (``L·P·d`` floats);
2. one :func:`~logitlenskit.core.capture.capture_outcome` pass measures both prompts'
   own metric (the baselines); for KL, the clean output's distribution is read first;
3. the cells go in batches of ``batch_size`` copies of the corrupt prompt, each copy with
   one patch (a :class:`~logitlenskit.core.edits.PatchBatch` per layer in the batch); only
   the metric leaves the trace (``B × (T + 1)`` floats); memory depends on ``batch_size``.

Cells whose patched run is provably the corrupt run are not run (``skipped``); their value
is the corrupt run's: a position before the prompts' first different token (the model is
causal, so the clean state there is the corrupt one, and writing it changes nothing), and
at the last layer any position but the last (nothing after it mixes positions).

``on_batch`` gets a snapshot after every batch; a ``control`` (:class:`~.core.run.Control`)
reports progress and stops the sweep with :class:`~.core.run.Cancelled`, as every run
does (its ``result``: the sweep so far, unswept cells NaN).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from ..core.capture import capture_logits, capture_outcome, capture_states
from ..core.edits import PatchBatch
from ..core.options import LensOptions, Remote
from ..core.request import (
    AFTER_ATTENTION,
    BLOCK_OUTPUT,
    LensRequest,
    model_name,
    prepare_request,
    token_strings,
)
from ..core.run import Cancelled, Control
from ..core.targets import Target, resolve_targets

__all__ = ["METRICS", "SweepResult", "patch_sweep"]

#: The metrics a sweep measures at the corrupt run's last position.
METRICS = ("logit_diff", "prob", "kl")
_AT = {"output": BLOCK_OUTPUT, "after_attention": AFTER_ATTENTION}
#: Copies of the corrupt prompt per pass: amortizes each pass's fixed cost (nnsight's
#: trace, small matrix products); bench/bench_interventions.py scans it.
DEFAULT_BATCH = 32
#: Larger sweeps are refused (days on CPU, and too large a widget trait).
MAX_CELLS = 200_000


@dataclasses.dataclass
class SweepResult:
    """A patching sweep's values, and what they were measured on.

    Attributes:
        metric: ``"logit_diff"``, ``"prob"`` or ``"kl"``.
        clean: the clean prompt (the states come from it).
        corrupt: the corrupt prompt (the patched runs are its).
        layers: the swept layer numbers (rows of ``values``).
        positions: the swept positions (columns of ``values``).
        clean_tokens: every position's token of the clean prompt.
        corrupt_tokens: the same of the corrupt prompt.
        values: ``[L, P]`` float64: the metric of each patched run; NaN not computed.
        clean_value: the clean run's own metric.
        corrupt_value: the corrupt run's own metric.
        target: the target's name (``prob``, ``logit_diff``), else None.
        foil: the foil's name (``logit_diff``), else None.
        at: ``"output"`` or ``"after_attention"``: which residual state was patched.
        model: the model's name.
        done: cells computed so far (skipped ones included).
        skipped: cells whose value is the corrupt run's without a pass (module docstring).
        running: the sweep is still going (a snapshot handed to ``on_batch``).
        error: why the sweep ended early ("" if it did not).
    """

    metric: str
    clean: str
    corrupt: str
    layers: list[int]
    positions: list[int]
    clean_tokens: list[str]
    corrupt_tokens: list[str]
    values: np.ndarray
    clean_value: float
    corrupt_value: float
    target: str | None = None
    foil: str | None = None
    at: str = "output"
    model: str = ""
    done: int = 0
    skipped: int = 0
    running: bool = False
    error: str = ""

    @property
    def total(self) -> int:
        """How many cells the sweep has."""
        return len(self.layers) * len(self.positions)

    @property
    def metric_label(self) -> str:
        """The metric in words, e.g. ``"log p(' Paris') − log p(' Rome')"``."""
        if self.metric == "prob":
            return f"p({self.target})"
        if self.metric == "logit_diff":
            return f"log p({self.target}) − log p({self.foil})"
        return "KL(clean ‖ patched)"

    @property
    def clean_label(self) -> str:
        """The clean prompt as the views name it."""
        return _short(self.clean)

    @property
    def corrupt_label(self) -> str:
        """The corrupt prompt as the views name it."""
        return _short(self.corrupt)

    @property
    def tokens(self) -> list[str]:
        """Each swept position's clean token, with ``*`` where the corrupt prompt differs."""
        clean, corrupt = self.clean_tokens, self.corrupt_tokens
        return [clean[p] + ("" if clean[p] == corrupt[p] else "*") for p in self.positions]

    def normalized(self) -> np.ndarray:
        """``(value − corrupt) / (clean − corrupt)``: 0 the corrupt run, 1 fully restored.

        All NaN when the two runs' metrics are equal (nothing to restore).
        """
        span = self.clean_value - self.corrupt_value
        if span == 0 or not math.isfinite(span):
            return np.full_like(self.values, np.nan)
        return (self.values - self.corrupt_value) / span

    def table(self) -> Any:
        """The tidy table: one row per swept cell, computed or not.

        Returns:
            A pandas DataFrame with ``layer``, ``position``, ``token`` (clean; ``*`` where
            the corrupt prompt differs), ``value`` and ``normalized`` (NaN not computed).
        """
        import pandas as pd

        n_l, n_p = len(self.layers), len(self.positions)
        return pd.DataFrame(
            {
                "layer": np.repeat(np.asarray(self.layers, dtype=np.int64), n_p),
                "position": np.tile(np.asarray(self.positions, dtype=np.int64), n_l),
                "token": self.tokens * n_l,
                "value": self.values.reshape(-1),
                "normalized": self.normalized().reshape(-1),
            }
        )

    def best(self, n: int = 5) -> Any:
        """The ``n`` computed cells that restore the clean behaviour most (normalized, high first).

        For KL that is the lowest divergence, for the others the highest value.
        """
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"n must be a whole number >= 1, got {n!r}")
        table = self.table().dropna(subset=["value"])
        key = "normalized" if table["normalized"].notna().any() else "value"
        ascending = key == "value" and self.metric == "kl"
        table = table.sort_values(key, ascending=ascending, kind="stable")
        return table.head(n).reset_index(drop=True)

    def snapshot(self) -> SweepResult:
        """A copy whose values no later batch changes (what ``on_batch`` receives)."""
        return dataclasses.replace(self, values=self.values.copy())

    def to_trait(self) -> dict[str, Any]:
        """The widget's ``sweep`` trait: JSON-able, ``None`` where a cell is not computed yet."""
        rows = [[None if math.isnan(v) else float(v) for v in row] for row in self.values]
        return {
            "metric": self.metric_label,
            "clean_label": self.clean_label,
            "corrupt_label": self.corrupt_label,
            "layers": [int(x) for x in self.layers],
            "positions": [int(x) for x in self.positions],
            "tokens": self.tokens,
            "values": rows,
            "clean_value": float(self.clean_value),
            "corrupt_value": float(self.corrupt_value),
            "done": int(self.done),
            "total": int(self.total),
            "running": bool(self.running),
            "error": self.error,
        }

    def __repr__(self) -> str:
        return f"<SweepResult {self.metric_label}: {self.done}/{self.total} cells>"


def _short(text: str, limit: int = 40) -> str:
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")


# ---------------------------------------------------------------- checks


def _check_metric(metric: Any, target: Any, foil: Any) -> None:
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {list(METRICS)}, got {metric!r}")
    if metric in ("prob", "logit_diff") and target is None:
        raise ValueError(f"metric={metric!r} needs target= (a word, a token id or a list)")
    if metric == "logit_diff" and foil is None:
        raise ValueError(
            "metric='logit_diff' needs foil= (the competing answer, e.g. the corrupt "
            "prompt's answer): it measures log p(target) − log p(foil)"
        )
    if metric == "prob" and foil is not None:
        raise ValueError("metric='prob' takes no foil=: use metric='logit_diff' to compare two")
    if metric == "kl" and (target is not None or foil is not None):
        raise ValueError(
            "metric='kl' takes no target= or foil=: it compares the whole output distribution"
        )


def _one_target(spec: Any, name: str, request: LensRequest) -> Target:
    if isinstance(spec, float):  # NaN or 3.0 would otherwise read as a confusing TypeError
        raise ValueError(f"{name} must be a word, a token id or a list of them, got {spec!r}")
    try:
        (resolved,) = resolve_targets([spec], request.tokenizer, request.vocab_size)
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"{name}: {exc}") from None
    return resolved


def _check_positions(positions: Any, n: int) -> list[int]:
    if positions is None:
        return list(range(n))
    if isinstance(positions, (str, bytes)) or not hasattr(positions, "__iter__"):
        raise TypeError(f"positions must be a list of ints or None, got {type(positions).__name__}")
    out: set[int] = set()
    for p in positions:
        if isinstance(p, bool) or not isinstance(p, (int, np.integer)):
            raise TypeError(f"positions must be ints, got {p!r}")
        if not -n <= int(p) < n:
            raise ValueError(
                f"position {int(p)} is past the prompts ({n} tokens: positions 0..{n - 1}, "
                "or negative from the end)"
            )
        out.add(int(p) % n)
    if not out:
        raise ValueError("positions is empty: pass None for every position or some positions")
    return sorted(out)


def _requests(
    model: Any, clean: Any, corrupt: Any, layers: Any, remote: Remote, at: str
) -> tuple[LensRequest, LensRequest]:
    # After-attention sites need the request's `mid` (the sub-layer rows bring it).
    options = LensOptions(k=1, layers=layers, remote=remote, sublayers=at == "after_attention")
    out = []
    for name, prompt in (("clean", clean), ("corrupt", corrupt)):
        try:
            out.append(prepare_request(prompt, model, options))
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"{name}: {exc}") from None
    a, b = out
    if a.n_positions != b.n_positions:
        raise ValueError(
            f"the clean prompt is {a.n_positions} tokens and the corrupt prompt "
            f"{b.n_positions}: patching needs prompts of equal length (position p of one "
            "into position p of the other); change a word so both have the same number "
            f"of tokens (clean: {token_strings(a.tokenizer, a.input_ids)}, corrupt: "
            f"{token_strings(b.tokenizer, b.input_ids)})"
        )
    return a, b


def _finite(value: float, what: str) -> float:
    if not math.isfinite(value):
        raise ValueError(
            f"the {what} run's metric is {value} (non-finite model output, e.g. a float16 "
            "overflow): a sweep needs finite baselines"
        )
    return value


# ---------------------------------------------------------------- the sweep


def _metric(metric: str, columns: torch.Tensor) -> np.ndarray:
    """The metric of each row of a ``capture_outcome`` result ``[B, T(+1)]``."""
    c = columns.double()
    if metric == "prob":
        return c[:, 0].exp().numpy()
    return (c[:, 0] - c[:, 1] if metric == "logit_diff" else c[:, -1]).numpy()


def _clean_log_probs(request: LensRequest) -> torch.Tensor:
    """The clean run's output distribution at its last position, ``[V]`` log-probabilities.

    Computed as ``capture_outcome`` computes each patched run's (the final state through the
    norm and unembedding, softcap, log-softmax in float32), so KL of the clean run is 0.
    """
    adapter = request.adapter
    final = (adapter.n_layers - 1, BLOCK_OUTPUT)
    ids = torch.tensor([request.input_ids])
    logits = capture_logits(adapter, ids, [final], remote=request.remote)[0][-1].float()
    cap = adapter.softcap()
    if cap:
        logits = torch.tanh(logits / cap) * cap
    return torch.log_softmax(logits, dim=-1).detach()


def patch_sweep(
    model: Any,
    clean: str,
    corrupt: str,
    *,
    metric: str = "logit_diff",
    target: Any = None,
    foil: Any = None,
    layers: Sequence[int] | None = None,
    positions: Sequence[int] | None = None,
    at: str = "output",
    batch_size: int = DEFAULT_BATCH,
    remote: Remote = None,
    control: Control | None = None,
    on_batch: Callable[[SweepResult], None] | None = None,
) -> SweepResult:
    """Patch the clean run's state at every (layer, position) into the corrupt run.

    Args:
        model: an nnterp ``StandardizedTransformer`` (or an nnsight ``LanguageModel`` of a
            registered architecture), with its tokenizer.
        clean: the prompt whose states are patched in.
        corrupt: the prompt whose runs are patched; the same number of tokens as ``clean``.
        metric: measured at the corrupt run's last position: ``"prob"`` p(target),
            ``"logit_diff"`` log p(target) − log p(foil), ``"kl"`` KL(clean ‖ patched).
        target: the answer, as the targets API takes it (a word counts every first token
            of its spellings, summed; a token id; a list of those).
        foil: the competing answer, for ``"logit_diff"``.
        layers: the layers swept (negative from the end); None for all.
        positions: the positions swept (negative from the end); None for all.
        at: ``"output"`` (the residual after the layer) or ``"after_attention"``.
        batch_size: patched copies of the corrupt prompt per forward pass (memory grows
            with it, not with the number of cells).
        remote: as in ``collect_logit_lens``; on NDIF each batch is one request and only
            its ``batch_size × (targets + 1)`` numbers come back.
        control: progress reports and Stop (:class:`~logitlenskit.core.run.Control`).
        on_batch: called with a snapshot of the result after every batch (streaming).

    Returns:
        The :class:`SweepResult` (values ``[layers, positions]``).

    Raises:
        ValueError, TypeError: bad arguments, named, before any run.
        Cancelled: the control stopped the sweep; ``exc.result`` is the sweep so far (None
            if it stopped before the baselines were read).
    """
    _check_metric(metric, target, foil)
    if at not in _AT:
        raise ValueError(f"at must be 'output' or 'after_attention', got {at!r}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a whole number >= 1, got {batch_size!r}")
    a, b = _requests(model, clean, corrupt, layers, remote, at)
    sweep_positions = _check_positions(positions, a.n_positions)
    sets, names = [], []
    for spec, name in ((target, "target"), (foil, "foil")):
        if spec is not None:
            resolved = _one_target(spec, name, a)
            sets.append(list(resolved.ids))
            names.append(resolved.name)
    if len(a.layers) * len(sweep_positions) > MAX_CELLS:
        raise ValueError(f"more than {MAX_CELLS:,} cells: sweep fewer layers= or positions=")
    control, result = control or Control(), None
    try:
        result, plan = _sweep_cells(a, b, metric, sets, names, sweep_positions, at, control)
        _run_cells(result, *plan, batch_size, control, on_batch)
    except Cancelled as exc:
        if result is not None:
            result.running, result.error = False, "stopped"
        exc.result = result  # type: ignore[attr-defined]  # the sweep so far (None: no baselines)
        raise
    result.running = False
    return result


def _sweep_cells(
    a: LensRequest,
    b: LensRequest,
    metric: str,
    sets: list[list[int]],
    names: list[str],
    sweep_positions: list[int],
    at: str,
    control: Control,
) -> tuple[SweepResult, tuple]:
    """Read the clean states and both baselines, fill the no-op cells; the others' plan."""
    control.check()
    layer_list = sorted(set(a.layers))  # in model order; a layer asked twice is swept once
    kind = _AT[at]
    adapter, where = a.adapter, a.remote

    control.progress(0.0, "patch sweep: reading the clean run's states")
    states = capture_states(
        adapter, torch.tensor([a.input_ids]), [(layer, kind) for layer in layer_list], remote=where
    )
    for layer, state in zip(layer_list, states, strict=True):
        if not torch.isfinite(state).all():
            raise ValueError(
                f"the clean run's state at layer {layer} holds NaN or Inf (non-finite model "
                "output): it cannot be patched in"
            )
    against = _clean_log_probs(a) if metric == "kl" else None
    control.check()
    both = torch.tensor([a.input_ids, b.input_ids])
    outcome = capture_outcome(adapter, both, token_sets=sets, against=against, remote=where)
    base = _metric(metric, outcome)
    result = SweepResult(
        metric=metric,
        clean=a.prompt,
        corrupt=b.prompt,
        layers=layer_list,
        positions=sweep_positions,
        clean_tokens=token_strings(a.tokenizer, a.input_ids),
        corrupt_tokens=token_strings(b.tokenizer, b.input_ids),
        values=np.full((len(layer_list), len(sweep_positions)), np.nan),
        clean_value=0.0 if metric == "kl" else _finite(float(base[0]), "clean"),
        corrupt_value=_finite(float(base[1]), "corrupt"),
        target=names[0] if names else None,
        foil=names[1] if len(names) > 1 else None,
        at=at,
        model=model_name(a.model),
        running=True,
    )
    cells = _cells_to_run(result, a.input_ids, b.input_ids, adapter.n_layers - 1)
    passes = functools.partial(
        capture_outcome, adapter, token_sets=sets, against=against, remote=where
    )
    return result, (cells, states, b.input_ids, passes)


def _cells_to_run(result: SweepResult, clean: list[int], corrupt: list[int], last: int) -> list:
    """Fill the cells whose patch is a no-op (module docstring); the others, layer-major."""
    shared = next(
        (i for i, (x, y) in enumerate(zip(clean, corrupt, strict=True)) if x != y), len(clean)
    )
    final = len(clean) - 1
    cells = []
    for li, layer in enumerate(result.layers):
        for j, position in enumerate(result.positions):
            if position < shared or (layer == last and position != final):
                result.values[li, j] = result.corrupt_value
                result.skipped += 1
            else:
                cells.append((li, j))
    result.done = result.skipped
    return cells


def _run_cells(
    result: SweepResult,
    cells: list[tuple[int, int]],
    states: list[torch.Tensor],
    corrupt: list[int],
    passes: Callable[..., torch.Tensor],
    batch_size: int,
    control: Control,
    on_batch: Callable[[SweepResult], None] | None,
) -> None:
    """Fill ``result.values`` at ``cells`` ((layer index, position index)), batch by batch."""
    total, at = result.total, result.at
    for first in range(0, len(cells), batch_size):
        control.check()
        batch = cells[first : first + batch_size]
        edits = []
        # One PatchBatch per layer present: the rows of the batch that patch that layer.
        for li in sorted({li for li, _ in batch}):
            rows = [r for r, (lj, _) in enumerate(batch) if lj == li]
            where = [result.positions[batch[r][1]] for r in rows]
            edits.append(PatchBatch(result.layers[li], rows, where, states[li][where], at=at))
        columns = passes(torch.tensor([corrupt] * len(batch)), edits=edits)
        for (li, j), value in zip(batch, _metric(result.metric, columns), strict=True):
            result.values[li, j] = value
        result.done += len(batch)
        control.progress(result.done / total, f"patch sweep: {result.done}/{total} patched runs")
        if on_batch is not None:
            on_batch(result.snapshot())
