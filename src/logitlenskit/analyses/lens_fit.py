"""Fitting a lens for any model: the linear shortcut in closed form, then the tuned lens.

1. **Text**: the model's own samples (seeded; every layer's states are read in the
   sampling pass itself, so no second pass runs) or the user's strings, split into
   fitting, validation and held-out rows (:meth:`.lens_text.LensData.split`).
2. **Linear shortcut** (Din et al. 2023): for every layer ``l``, the least-squares affine
   map from its block output to the last layer's block output, from float64 sums
   ``XᵀX`` and ``XᵀY`` (with a constant column for the bias) and a small ridge.
3. **Tuned lens** (Belrose et al. 2023): starts from that map and refines ``A_l, b_l`` of
   ``h + A_l h + b_l`` with Adam on ``KL(final ‖ lens)`` through the model's final norm and
   unembedding, for a stated budget (seconds or steps). Each layer keeps the step with the
   lowest validation KL; a layer whose refined map is no better on held-out text than the
   least-squares map keeps the latter, and ``info["kept_least_squares"]`` names it.
4. **Reliability**: per-layer KL and top-1 agreement on the held-out rows, for the lens
   and the logit lens (and, for a tuned lens, the linear shortcut it started from).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import Any, Literal

import torch

from ..core.lenses import LinearShortcut, TunedLens
from ..core.locks import model_lock
from ..core.readout import LOGIT_LENS
from ..core.request import model_name
from ..core.run import Cancelled, Control
from .lens_reliability import Decoder, Meter
from .lens_store import FittedLens, model_shape
from .lens_text import LensData, encode_text, sample_text, states_over, weights_hash

__all__ = ["LeastSquares", "fit_lens"]


class LeastSquares:
    """Float64 sums for every layer's affine least-squares map to the last layer's state.

    Args:
        n_layers: decoder layers.
        d_model: residual width.
        ridge: added to the diagonal, relative to the mean of ``XᵀX``'s diagonal (so it
            means the same at every layer, whatever its scale); the bias is not penalised.
    """

    def __init__(self, n_layers: int, d_model: int, ridge: float = 1e-4) -> None:
        self.ridge = float(ridge)
        self.gram = torch.zeros(n_layers, d_model + 1, d_model + 1, dtype=torch.float64)
        self.cross = torch.zeros(n_layers, d_model + 1, d_model, dtype=torch.float64)
        self.count = 0

    def add(self, states: torch.Tensor) -> None:
        """Add ``states [L, N, d]`` (every layer's block output over the same N tokens)."""
        target = states[-1].double()
        ones = torch.ones(states.shape[1], 1, dtype=torch.float64)
        for layer in range(states.shape[0]):
            x = torch.cat([states[layer].double(), ones], dim=1)
            self.gram[layer] += x.T @ x
            self.cross[layer] += x.T @ target
        self.count += states.shape[1]

    def penalty(self, layer: int) -> float:
        """The absolute ridge added to layer ``layer``'s diagonal (the bias excluded)."""
        d = self.gram.shape[1] - 1
        return self.ridge * float(self.gram[layer, :d, :d].diagonal().mean())

    def solve(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``weight [L, d, d]``, ``bias [L, d]`` of the maps (the last layer's: identity)."""
        n, d = self.gram.shape[0], self.gram.shape[1] - 1
        weight = torch.zeros(n, d, d, dtype=torch.float64)
        bias = torch.zeros(n, d, dtype=torch.float64)
        for layer in range(n - 1):
            gram = self.gram[layer].clone()
            gram.diagonal()[:d] += self.penalty(layer)
            # Jacobi scaling first: residual features differ in scale by orders of
            # magnitude, and the solve's accuracy depends on the scaled conditioning.
            scale = gram.diagonal().clamp_min(1e-300).rsqrt()
            solution = torch.linalg.solve(
                gram * scale[:, None] * scale[None, :], self.cross[layer] * scale[:, None]
            )
            solution = solution * scale[:, None]
            weight[layer], bias[layer] = solution[:d].T, solution[d]
        weight[n - 1] = torch.eye(d, dtype=torch.float64)
        return weight.float(), bias.float()


class _Report:
    """Progress to a control and, when asked, a tqdm bar; Stop through the control."""

    def __init__(self, control: Control | None, progress: bool | Callable[[float, str], None]):
        self.control = control or Control()
        self.callback = progress if callable(progress) else None
        self.bar = None
        if progress is True:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=1000, desc="fitting lens", bar_format="{l_bar}{bar}| {desc}")

    def check(self) -> None:
        self.control.check()

    def progress(self, fraction: float, status: str) -> None:
        self.control.progress(fraction, status)
        if self.callback is not None:
            self.callback(fraction, status)
        if self.bar is not None:
            self.bar.n = int(max(0.0, min(1.0, fraction)) * 1000)
            self.bar.set_description(status, refresh=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _stage(report: _Report, low: float, high: float) -> Any:
    """The report seen by one stage, its fraction mapped into ``[low, high]``."""

    class Stage:
        def check(self) -> None:
            report.check()

        def progress(self, fraction: float, status: str) -> None:
            report.progress(low + (high - low) * fraction, status)

    return Stage()


def fit_lens(
    model: Any,
    kind: Literal["tuned", "linear"] = "tuned",
    text: Sequence[str] | str | None = None,
    *,
    tokens: int = 16384,
    seq_len: int = 128,
    budget_s: float | None = 600.0,
    steps: int | None = None,
    ridge: float = 1e-4,
    lr: float = 1e-4,
    batch_tokens: int | None = None,
    train_tokens: int = 8192,
    heldout_tokens: int = 1024,
    progress: bool | Callable[[float, str], None] = False,
    control: Control | None = None,
    seed: int = 0,
) -> FittedLens:
    """Fit a linear shortcut or a tuned lens for ``model``.

    Args:
        model: the model (loaded here: its weights key the lens).
        kind: ``"linear"`` (least squares, closed form) or ``"tuned"`` (least squares, then
            the KL loss).
        text: strings to fit on; None: ``tokens`` tokens the model samples itself from
            neutral starts (seeded by ``seed``).
        tokens: how many tokens to sample when ``text`` is None.
        seq_len: row length (model-written rows are sampled 128 at a time: on 2 cores a
            step costs 3.2 ms a token at a batch of 128 against 4.5 ms at 64).
        budget_s: the tuned lens's refinement budget in seconds (None: ``steps`` only).
        steps: the tuned lens's refinement steps (None: as many as ``budget_s`` allows).
        ridge: the least-squares ridge, relative to the mean diagonal of ``XᵀX``.
        lr: Adam's learning rate for the tuned lens (decays linearly to 0 over the budget).
        batch_tokens: tokens per refinement step (default: what keeps the decoder's output
            of every layer under about 100M floats).
        train_tokens: at most this many fitting tokens are kept for the refinement.
        heldout_tokens: about this many tokens are held out to measure the reliability on.
        progress: True for a progress bar, or a callable ``(fraction, status)``.
        control: ``check()`` (Stop raises ``Cancelled``) and ``progress()``. A Stop during
            the tuned refinement ends it early and keeps the best maps so far.
        seed: seeds the text, the split and the refinement's batches.

    Returns:
        The lens with its reliability and ``info``.

    Raises:
        ValueError: an unknown ``kind``, a bad budget, or text too short to fit on.
        Cancelled: Stop before the least-squares maps were solved.
    """
    if kind not in ("tuned", "linear"):
        raise ValueError(f"kind must be 'tuned' or 'linear', got {kind!r}")
    if kind == "tuned" and budget_s is None and steps is None:
        raise ValueError("a tuned lens needs a budget: budget_s (seconds) or steps")
    report = _Report(control, progress)
    try:
        return _fit(model, kind, text, report, locals())
    finally:
        report.close()


class _Collected:
    """Where the states of each kind of row go, as they are read.

    Fitting rows feed the least-squares sums (and, for a tuned lens, up to
    ``train_tokens`` of them are kept for its refinement); up to 256 validation tokens and
    all held-out tokens are kept.
    """

    def __init__(self, ls: LeastSquares, train_tokens: int) -> None:
        self.ls = ls
        self.train_room = train_tokens
        self.train: list[torch.Tensor] = []
        self.valid: list[torch.Tensor] = []
        self.heldout: list[torch.Tensor] = []

    def fit(self, states: torch.Tensor) -> None:
        """Add ``states [L, N, d]`` of fitting rows."""
        self.ls.add(states)
        if self.train_room > 0:
            take = states[:, : self.train_room].clone()
            self.train.append(take)
            self.train_room -= take.shape[1]

    def validate(self, states: torch.Tensor) -> None:
        """Keep ``states [L, N, d]`` of validation rows, 256 tokens in all."""
        room = 256 - sum(part.shape[1] for part in self.valid)
        if room > 0:
            self.valid.append(states[:, :room].clone())

    def hold_out(self, states: torch.Tensor) -> None:
        """Keep ``states [L, N, d]`` of held-out rows."""
        self.heldout.append(states.clone())


def _sampled(model: Any, collected: _Collected, stage: Any, a: dict[str, Any]) -> None:
    """Let the model write the text, routing each row's states as they are computed."""
    if a["tokens"] < 6:
        raise ValueError(f"tokens must be at least 6 (three rows of two), got {a['tokens']}")
    seq_len = max(2, min(a["seq_len"], a["tokens"] // 3))
    n_rows = -(-a["tokens"] // seq_len)
    held, valid, _ = LensData.split(n_rows, seq_len, a["seed"], a["heldout_tokens"])
    roles = {**{i: collected.hold_out for i in held}, **{i: collected.validate for i in valid}}

    def route(first_row: int, first_position: int, states: torch.Tensor) -> None:
        if first_position == 0:  # the attention sink (see lens_text.states_over)
            states = states[:, :, 1:]
        groups: dict[Any, list[int]] = {}
        for b in range(states.shape[1]):
            groups.setdefault(roles.get(first_row + b, collected.fit), []).append(b)
        for take, rows in groups.items():
            part = states[:, rows]
            take(part.reshape(part.shape[0], -1, part.shape[-1]))

    sample_text(model, a["tokens"], seq_len=seq_len, seed=a["seed"], control=stage, on_states=route)


def _given(model: Any, text: Any, collected: _Collected, stage: Any, a: dict[str, Any]) -> None:
    """The user's text: split into rows, then one pass over each kind of row."""
    rows = encode_text(model, [text] if isinstance(text, str) else list(text), a["seq_len"])
    data = LensData(rows, generated=False, seed=a["seed"], heldout=a["heldout_tokens"])
    n_fit = LensData.tokens(data.fit)

    def fit(states: torch.Tensor) -> None:
        stage.check()
        collected.fit(states)
        done = collected.ls.count
        stage.progress(done / max(1, n_fit), f"least squares: {done}/{n_fit} tokens")

    states_over(model, data.fit, fit)
    states_over(model, data.valid, collected.validate)
    states_over(model, data.heldout, collected.hold_out)


def _fit(model: Any, kind: str, text: Any, report: _Report, a: dict[str, Any]) -> FittedLens:
    started = time.perf_counter()
    n_layers, d_model = model_shape(model)
    key = weights_hash(model)
    ls = LeastSquares(n_layers, d_model, a["ridge"])
    collected = _Collected(ls, a["train_tokens"] if kind == "tuned" else 0)
    stage = _stage(report, 0.0, 0.5 if kind == "tuned" else 0.7)
    with model_lock(model):
        if text is None:
            _sampled(model, collected, stage, a)
        else:
            _given(model, text, collected, stage, a)
    text_s = time.perf_counter() - started
    weight, bias = ls.solve()
    linear = LinearShortcut(weight, bias)
    heldout = torch.cat(collected.heldout, dim=1)
    info: dict[str, Any] = {
        "tokens": ls.count,
        "heldout_tokens": heldout.shape[1],
        "generated_text": text is None,
        "seed": a["seed"],
        "ridge": a["ridge"],
        "text_seconds": round(text_s, 2),
        "linear_seconds": round(time.perf_counter() - started, 2),
    }
    readout: TunedLens | LinearShortcut = linear
    if kind == "tuned":
        train, valid = torch.cat(collected.train, dim=1), torch.cat(collected.valid, dim=1)
        collected.train.clear()
        readout, tuned_info = _refine(model, linear, train, valid, report, a)
        info.update(tuned_info)
        info["tuned_seconds"] = round(time.perf_counter() - started, 2)
    report.progress(0.9 if kind == "tuned" else 0.7, "measuring reliability on held-out text")
    lenses = {"logit lens": LOGIT_LENS, linear.name: linear}
    if kind == "tuned":
        lenses[readout.name] = readout
    reliability = _measure(model, lenses, heldout)
    if kind == "tuned":
        readout = _keep_better(readout, linear, reliability, info)
        if info["kept_least_squares"]:
            reliability[readout.name] = _measure(model, {"x": readout}, heldout)["x"]
    info["seconds"] = round(time.perf_counter() - started, 2)
    report.progress(1.0, "done")
    return FittedLens(
        readout,
        kind,
        weights_hash=key,
        model_name=model_name(model),
        reliability=reliability,
        info=info,
    )


def _measure(
    model: Any, lenses: dict[str, Any], heldout: torch.Tensor
) -> dict[str, dict[str, list[float]]]:
    meter = Meter(model, lenses)
    with model_lock(model):
        meter.add(heldout)
    return meter.result()


def _as_tuned(linear: LinearShortcut) -> tuple[torch.Tensor, torch.Tensor]:
    eye = torch.eye(linear.d_model)
    return linear.weight - eye, linear.bias.clone()


def _refine(
    model: Any,
    linear: LinearShortcut,
    train: torch.Tensor,
    valid: torch.Tensor,
    report: _Report,
    a: dict[str, Any],
) -> tuple[TunedLens, dict[str, Any]]:
    """Adam on the KL loss from the least-squares start; each layer keeps its best step."""
    decoder = Decoder(model)
    n = train.shape[0] - 1  # the last layer's map stays the identity
    start_w, start_b = _as_tuned(linear)
    weight = start_w[:n].clone().requires_grad_(True)
    bias = start_b[:n].clone().requires_grad_(True)
    optimizer = torch.optim.Adam([weight, bias], lr=a["lr"])
    best = _valid_kl(decoder, weight, bias, valid)
    best_w, best_b = weight.detach().clone(), bias.detach().clone()
    batch = a["batch_tokens"] or max(8, min(256, int(1e8 // (n * decoder.vocab))))
    generator = torch.Generator().manual_seed(a["seed"] + 2)
    budget_s, max_steps = a["budget_s"], a["steps"]
    evals = 4 if max_steps is None else max(1, min(4, max_steps))
    started, step, stopped = time.perf_counter(), 0, False
    next_eval = 1
    with model_lock(model), decoder.frozen():
        while True:
            spent = time.perf_counter() - started
            done = max(
                0.0 if budget_s is None else spent / budget_s,
                0.0 if max_steps is None else step / max_steps,
            )
            if done >= 1.0:
                break
            if done * evals >= next_eval:
                next_eval += 1
                best = _keep_best(decoder, weight, bias, valid, best, best_w, best_b)
            try:
                report.check()
            except Cancelled:
                stopped = True
                break
            report.progress(0.5 + 0.4 * done, f"tuned lens: step {step}, {spent:.0f} s")
            for group in optimizer.param_groups:
                group["lr"] = a["lr"] * (1.0 - done)
            pick = torch.randint(train.shape[1], (batch,), generator=generator)
            x = train[:, pick]
            target = decoder.log_probs(x[-1]).detach()
            mapped = x[:n] + torch.baddbmm(bias[:, None, :], x[:n], weight.transpose(1, 2))
            lens = decoder.log_probs(mapped)
            loss = (target.exp() * (target - lens)).sum(-1).mean(-1).sum()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            step += 1
        best = _keep_best(decoder, weight, bias, valid, best, best_w, best_b)
    full_w, full_b = start_w.clone(), start_b.clone()
    full_w[:n], full_b[:n] = best_w, best_b
    full_w[-1], full_b[-1] = 0.0, 0.0
    info = {"steps": step, "batch_tokens": batch, "lr": a["lr"], "stopped": stopped}
    info["valid_kl"] = [round(v, 4) for v in best.tolist()]
    return TunedLens(full_w, full_b), info


def _valid_kl(
    decoder: Decoder, weight: torch.Tensor, bias: torch.Tensor, valid: torch.Tensor
) -> torch.Tensor:
    """Per-layer mean KL on the validation states (layers with maps only)."""
    n = weight.shape[0]
    with torch.no_grad():
        target = decoder.log_probs(valid[-1])
        out = torch.zeros(n, dtype=torch.float64)
        for layer in range(n):
            x = valid[layer]
            lens = decoder.log_probs(x + x @ weight[layer].T + bias[layer])
            out[layer] = (target.exp() * (target - lens)).sum(-1).mean().double()
    return out


def _keep_best(
    decoder: Decoder,
    weight: torch.Tensor,
    bias: torch.Tensor,
    valid: torch.Tensor,
    best: torch.Tensor,
    best_w: torch.Tensor,
    best_b: torch.Tensor,
) -> torch.Tensor:
    now = _valid_kl(decoder, weight, bias, valid)
    better = now < best
    with torch.no_grad():
        best_w[better] = weight[better]
        best_b[better] = bias[better]
    return torch.where(better, now, best)


def _keep_better(
    tuned: TunedLens,
    linear: LinearShortcut,
    reliability: dict[str, dict[str, list[float]]],
    info: dict[str, Any],
) -> TunedLens:
    """The least-squares map back at every layer where the tuned one is not better held out."""
    tuned_kl = reliability[tuned.name]["kl"]
    linear_kl = reliability[linear.name]["kl"]
    worse = [
        layer
        for layer in range(tuned.n_layers - 1)
        if not tuned_kl[layer] < linear_kl[layer] or not math.isfinite(tuned_kl[layer])
    ]
    info["kept_least_squares"] = worse
    if not worse:
        return tuned
    weight, bias = tuned.weight.clone(), tuned.bias.clone()
    start_w, start_b = _as_tuned(linear)
    weight[worse], bias[worse] = start_w[worse], start_b[worse]
    return TunedLens(weight, bias)
