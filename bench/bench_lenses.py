"""Benchmark: fitted lenses (issue 21) on the embedded models, and what switching lens costs.

    .venv/bin/python bench/bench_lenses.py [--models smollm2-135m gemma3-270m]
        [--tokens 16384] [--docs-tokens 32768] [--tuned-budget 600] [--runs 5] [--out DIR]

For each model:

* fits the linear shortcut on model-written text (the default) and on the first
  ``--docs-tokens`` tokens of this repository's docs (text a user gives; 0 skips it), and
  the tuned lens on model-written text (least squares, then ``--tuned-budget`` seconds of KL
  refinement), and prints each fit's time;
* prints the held-out mean ``KL(final ‖ lens)`` over layers 8–22 (all layers for models with
  fewer) for the logit lens, the linear shortcut and the tuned lens, the ratio to the logit
  lens on the same held-out text, and the top-1 agreement per layer;
* times ``run_lens`` on a 100-token prompt with the tuned lens vs the logit lens (median of
  ``--runs``, alternated so drift hits both alike);
* times the Patchscope: one column (a one-token prompt: every layer's cell) and a 20-token
  prompt's whole grid (median of 3).

The fitted lenses are saved under ``--out`` (default: a temp folder) so a rerun can load
them with ``load_lens``. Run it on a quiet machine (``uptime`` load < 1.5).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from logitlenskit.analyses.lens_fit import fit_lens
from logitlenskit.core.lens import run_lens
from logitlenskit.core.models import load_model
from logitlenskit.core.options import LensOptions
from logitlenskit.core.patchscope import Patchscope
from logitlenskit.core.readout import LOGIT_LENS
from logitlenskit.core.request import prepare_request

TEXT = (
    "The history of the city goes back two thousand years, to a small settlement on the "
    "river where traders met to exchange salt, grain and wool. Over the centuries it grew "
    "into a market town, then a regional capital, and finally one of the great ports of the "
    "continent, famous for its bridges, its libraries and its stubborn, talkative people. "
)


def _prompt(model: Any, n: int) -> str:
    ids = model.tokenizer(TEXT * 8)["input_ids"]
    return model.tokenizer.decode(ids[:n])


def _docs_text(model: Any, n_tokens: int) -> str:
    """The first ``n_tokens`` tokens of this repository's docs, as one string."""
    docs = Path(__file__).resolve().parents[1] / "docs"
    text = "\n\n".join(f.read_text(encoding="utf-8") for f in sorted(docs.glob("*.md")))
    ids = model.tokenizer(text)["input_ids"][:n_tokens]
    return model.tokenizer.decode(ids, skip_special_tokens=True)


def _patchscope(model: Any) -> tuple[float, float, int, int]:
    """Median seconds of a Patchscope column and a 20-token grid, and their cells."""
    column = prepare_request(_prompt(model, 1), model, LensOptions(readout=Patchscope()))
    grid = prepare_request(_prompt(model, 20), model, LensOptions(readout=Patchscope()))
    times: dict[str, list[float]] = {"column": [], "grid": []}
    for _ in range(3):
        for name, request in (("column", column), ("grid", grid)):
            started = time.perf_counter()
            run_lens(request)
            times[name].append(time.perf_counter() - started)
    cells = [request.n_positions * len(request.row_specs()) for request in (column, grid)]
    return statistics.median(times["column"]), statistics.median(times["grid"]), *cells


def _switch(model: Any, readout: Any, runs: int) -> tuple[float, float]:
    """Median seconds of a 100-token lens run: logit lens, then ``readout``, alternated."""
    prompt = _prompt(model, 100)
    requests = {
        "logit": prepare_request(prompt, model, LensOptions(readout=LOGIT_LENS, remote=False)),
        "lens": prepare_request(prompt, model, LensOptions(readout=readout, remote=False)),
    }
    for request in requests.values():
        run_lens(request)  # warm-up
    times: dict[str, list[float]] = {"logit": [], "lens": []}
    for i in range(runs):
        order = ["logit", "lens"] if i % 2 == 0 else ["lens", "logit"]
        for name in order:
            started = time.perf_counter()
            run_lens(requests[name])
            times[name].append(time.perf_counter() - started)
    return statistics.median(times["logit"]), statistics.median(times["lens"])


def _span(n_layers: int) -> range:
    return range(8, 23) if n_layers >= 23 else range(n_layers - 1)


def _kl_table(rel: dict[str, Any], span: range, lenses: list[str], text: str) -> None:
    logit_kl = statistics.mean(rel["logit lens"]["kl"][i] for i in span)
    print(f"\nheld-out mean KL(final ‖ lens), layers {span.start}–{span.stop - 1}, {text}:")
    print("| lens | KL (nats) | × logit lens |")
    print("|---|---|---|")
    for lens in lenses:
        kl = statistics.mean(rel[lens]["kl"][i] for i in span)
        print(f"| {lens} | {kl:.2f} | {kl / logit_kl:.3f} |")


def _fit_line(label: str, lens: Any) -> str:
    info = lens.info
    return (
        f"{label}: {info['seconds']:.0f} s (text {info['text_seconds']:.0f} s with the states"
        f" read, least squares {info['linear_seconds'] - info['text_seconds']:.0f} s, the rest"
        f" reliability); {info['tokens']} fitting tokens, {info['heldout_tokens']} held out"
    )


def bench(name: str, args: argparse.Namespace, out: Path) -> None:
    model = load_model(name)
    common = dict(tokens=args.tokens, seed=0, heldout_tokens=args.heldout)
    print(f"\n## {name}")
    linear = fit_lens(model, "linear", **common)
    print(_fit_line("linear shortcut, model-written text", linear), flush=True)
    docs = None
    if args.docs_tokens:
        text = _docs_text(model, args.docs_tokens)
        docs = fit_lens(model, "linear", text, seed=0, heldout_tokens=args.heldout)
        print(_fit_line("linear shortcut, the docs", docs), flush=True)
    tuned = fit_lens(model, "tuned", budget_s=args.tuned_budget, **common)
    print(
        f"tuned lens, model-written text: {tuned.info['seconds']:.0f} s ({tuned.info['steps']}"
        f" steps, kept least squares at {tuned.info['kept_least_squares']})",
        flush=True,
    )
    linear.save(out / f"{name}-linear")
    tuned.save(out / f"{name}-tuned")
    rel = {**linear.reliability, "tuned lens": tuned.reliability["tuned lens"]}
    n_layers = len(rel["logit lens"]["kl"])
    span = _span(n_layers)
    lenses = ["logit lens", "linear shortcut", "tuned lens"]
    _kl_table(rel, span, lenses, "model-written text")
    if docs is not None:
        _kl_table(docs.reliability, span, lenses[:2], "the docs")
    print("\ntop-1 agreement with the model's output, per layer (model-written text):")
    print("| layer | " + " | ".join(str(i) for i in range(n_layers)) + " |")
    print("|---|" + "---|" * n_layers)
    for lens in lenses:
        print(f"| {lens} | " + " | ".join(f"{v:.2f}" for v in rel[lens]["top1"]) + " |")
    logit_s, lens_s = _switch(model, tuned.readout, args.runs)
    print(
        f"\nswitching lens, 100-token prompt (median of {args.runs}, alternated): logit lens "
        f"{logit_s * 1000:.0f} ms, tuned lens {lens_s * 1000:.0f} ms, {lens_s / logit_s:.2f}×"
    )
    column_s, grid_s, column_cells, cells = _patchscope(model)
    print(
        f"Patchscope (median of 3): a column ({column_cells} cells) {column_s:.2f} s, a "
        f"20-token grid ({cells} cells) {grid_s:.1f} s",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["smollm2-135m", "gemma3-270m"])
    parser.add_argument("--tokens", type=int, default=16384)
    parser.add_argument("--heldout", type=int, default=1024)
    parser.add_argument("--docs-tokens", type=int, default=32768)
    parser.add_argument("--tuned-budget", type=float, default=600.0)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="lenses-"))
    print(
        f"# bench_lenses: {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPUs, torch {torch.__version__}, {torch.get_num_threads()} threads, "
        f"load {os.getloadavg()[0]:.2f}"
    )
    for name in args.models:
        bench(name, args, out)
    print(f"\nlenses saved under {out}")


if __name__ == "__main__":
    main()
