"""Benchmark: fitted lenses (issue 21) on the embedded models, and what switching lens costs.

    .venv/bin/python bench/bench_lenses.py [--models smollm2-135m gemma3-270m]
        [--tokens 16384] [--tuned-budget 600] [--runs 5] [--out DIR]

For each model:

* fits the linear shortcut (model-written text, least squares) and the tuned lens (the
  same, then ``--tuned-budget`` seconds of KL refinement) and prints each fit's time;
* prints the held-out mean ``KL(final ‖ lens)`` over layers 8–22 (all layers for models with
  fewer) for the logit lens, the linear shortcut and the tuned lens, the ratio to the logit
  lens, and the top-1 agreement per layer;
* times ``run_lens`` on a 100-token prompt with the tuned lens vs the logit lens (median of
  ``--runs``, alternated so drift hits both alike).

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


def bench(name: str, args: argparse.Namespace, out: Path) -> None:
    model = load_model(name)
    common = dict(tokens=args.tokens, seed=0, heldout_tokens=args.heldout)
    linear = fit_lens(model, "linear", **common)
    tuned = fit_lens(model, "tuned", budget_s=args.tuned_budget, **common)
    linear.save(out / f"{name}-linear")
    tuned.save(out / f"{name}-tuned")
    rel = {**linear.reliability, "tuned lens": tuned.reliability["tuned lens"]}
    n_layers = len(rel["logit lens"]["kl"])
    span = _span(n_layers)
    print(f"\n## {name} ({n_layers} layers)")
    print(
        f"text: {linear.info['tokens']} fitting tokens written by the model, "
        f"{linear.info['heldout_tokens']} held out"
    )
    print(
        f"fit time: linear {linear.info['seconds']:.0f} s (text {linear.info['text_seconds']:.0f}"
        f" s, least squares {linear.info['linear_seconds'] - linear.info['text_seconds']:.0f} s,"
        f" rest: reliability); tuned {tuned.info['seconds']:.0f} s "
        f"({tuned.info['steps']} steps, kept least squares at {tuned.info['kept_least_squares']})"
    )
    logit_kl = statistics.mean(rel["logit lens"]["kl"][i] for i in span)
    print(f"\nheld-out mean KL(final ‖ lens), layers {span.start}–{span.stop - 1}:")
    print("| lens | KL (nats) | × logit lens |")
    print("|---|---|---|")
    for lens in ("logit lens", "linear shortcut", "tuned lens"):
        kl = statistics.mean(rel[lens]["kl"][i] for i in span)
        print(f"| {lens} | {kl:.2f} | {kl / logit_kl:.3f} |")
    print("\ntop-1 agreement with the model's output, per layer:")
    print("| layer | " + " | ".join(str(i) for i in range(n_layers)) + " |")
    print("|---|" + "---|" * n_layers)
    for lens in ("logit lens", "linear shortcut", "tuned lens"):
        print(f"| {lens} | " + " | ".join(f"{v:.2f}" for v in rel[lens]["top1"]) + " |")
    logit_s, lens_s = _switch(model, tuned.readout, args.runs)
    print(
        f"\nswitching lens, 100-token prompt (median of {args.runs}, alternated): logit lens "
        f"{logit_s * 1000:.0f} ms, tuned lens {lens_s * 1000:.0f} ms, {lens_s / logit_s:.2f}×"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["smollm2-135m", "gemma3-270m"])
    parser.add_argument("--tokens", type=int, default=16384)
    parser.add_argument("--heldout", type=int, default=1024)
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
