"""Benchmark: interventions on SmolLM2 (issue 20's performance goals), one process run.

    .venv/bin/python bench/bench_interventions.py [--runs 3] [--batch-sizes 8 16 32 64]

* sweep — ``patch_sweep`` of a clean/corrupt pair of ~20 tokens over all 30 layers and every
  position, metric ``logit_diff`` at the last position (goal ≤ 60 s). First a scan of batch
  sizes on a 6-layer sweep (time per patched run, peak RSS growth), then the full sweep at
  the best one, and the peak RSS growth of sweeps with 5× more batches at the same batch
  size (memory must not grow with the number of patches). ``floor`` is the same number of
  sequences through the Hugging Face model's decoder alone, in the same batches: the cost of
  the forward passes without nnsight, the patches and the metric.
* patch — ``collect_logit_lens`` of side B with one ``Patch`` vs without (goal ≤ 1.2×).
* steer — ``collect_logit_lens`` with a ``Steer`` vs without (goal ≤ 1.2×).

Every timing is the median of ``--runs`` runs, the variants alternated within each round so
that a load change hits all of them. Peak RSS growth: sampled every 2 ms in a thread, minus
the RSS before the call. Run it on an otherwise idle machine (``uptime`` load < 1.5).
"""

from __future__ import annotations

import argparse
import ctypes
import datetime
import gc
import os
import platform
import statistics
import threading
import time
from collections.abc import Callable
from typing import Any

import psutil
import torch

from logitlenskit.analyses.collect import collect_logit_lens
from logitlenskit.analyses.patch_sweep import patch_sweep
from logitlenskit.core.edits import Patch, Steer
from logitlenskit.core.interventions import residual, token_direction
from logitlenskit.core.models import load_model

# Causal-tracing pairs of equal length (20 SmolLM2 tokens each; checked at start). The first
# shares its first 13 tokens (a sweep skips those cells: their patch is a no-op); the second
# differs from its first token on, the sweep's worst case.
CLEAN = "In the middle of the old town square, the tourists admire the Eiffel Tower, which is in"
CORRUPT = "In the middle of the old town square, the tourists admire the Colosseum, which is in"
CLEAN_0 = "Eiffel Tower: in the middle of the old town square, tourists admire it, which is in"
CORRUPT_0 = "Colosseum: in the middle of the old town square, tourists admire it, which is in"
TARGET, FOIL = "Paris", "Rome"
_LIBC = ctypes.CDLL("libc.so.6")


def _peak_rss(fn: Callable[[], Any]) -> tuple[float, float, Any]:
    """(seconds, peak RSS growth in MB, result) of one call."""
    process = psutil.Process(os.getpid())
    gc.collect()
    _LIBC.malloc_trim(0)  # hand freed heap back first, so "before" is not an old high-water
    before = process.memory_info().rss
    peak = [before]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], process.memory_info().rss)
            time.sleep(0.002)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    start = time.perf_counter()
    try:
        result = fn()
    finally:
        elapsed = time.perf_counter() - start
        done.set()
        thread.join()
    return elapsed, (peak[0] - before) / 2**20, result


def _alternated(variants: dict[str, Callable[[], Any]], runs: int) -> dict[str, list]:
    """Each variant ``runs`` times, alternated; (seconds, MB) per run."""
    out: dict[str, list] = {name: [] for name in variants}
    for _ in range(runs):
        for name, fn in variants.items():
            seconds, megabytes, _ = _peak_rss(fn)
            out[name].append((seconds, megabytes))
    return out


def _median(rows: list[tuple[float, float]], i: int = 0) -> float:
    return statistics.median(r[i] for r in rows)


def _sweep(
    model: Any, layers: list[int] | None, batch_size: int, pair: tuple[str, str] = (CLEAN, CORRUPT)
) -> Callable[[], Any]:
    return lambda: patch_sweep(
        model,
        *pair,
        target=TARGET,
        foil=FOIL,
        layers=layers,
        batch_size=batch_size,
    )


def _cells_run(model: Any, pair: tuple[str, str], layers: int, n_layers: int) -> int:
    """How many cells of a sweep over the first ``layers`` layers get a pass (patch_sweep)."""
    clean, corrupt = (model.tokenizer(p)["input_ids"] for p in pair)
    shared = next(
        (i for i, (x, y) in enumerate(zip(clean, corrupt, strict=True)) if x != y), len(clean)
    )
    last_layer = len(clean) - 1 - shared if layers == n_layers else 0
    return layers * (len(clean) - shared) - last_layer


def _floor(model: Any, n_sequences: int, batch_size: int) -> Callable[[], None]:
    """The same sequences through the decoder alone (no nnsight, no patch, no metric)."""
    ids = model.tokenizer(CORRUPT)["input_ids"]
    decoder = model._model.model

    def run() -> None:
        with torch.no_grad():
            for first in range(0, n_sequences, batch_size):
                n = min(batch_size, n_sequences - first)
                decoder(torch.tensor([ids] * n))

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[8, 16, 32, 64])
    parser.add_argument("--scan-layers", type=int, default=6)
    args = parser.parse_args()

    model = load_model()
    n_layers = model.num_layers
    lengths = {len(model.tokenizer(p)["input_ids"]) for p in (CLEAN, CORRUPT, CLEAN_0, CORRUPT_0)}
    if len(lengths) != 1:
        raise SystemExit(f"the pairs must have one length, got {sorted(lengths)} tokens")
    n_pos = lengths.pop()
    print(
        f"# {datetime.date.today()} · {platform.processor() or platform.machine()} · "
        f"torch {torch.__version__} · {torch.get_num_threads()} threads · "
        f"load {os.getloadavg()[0]:.2f} · SmolLM2-135M, {n_pos} tokens, {n_layers} layers"
    )
    _sweep(model, [0], 8)()  # warm up (first trace, allocator)

    scan = list(range(args.scan_layers))
    cells = len(scan) * n_pos
    pair = (CLEAN_0, CORRUPT_0)  # no cell skipped but the last layer's
    result = _alternated({b: _sweep(model, scan, b, pair) for b in args.batch_sizes}, args.runs)
    print(f"\n## batch-size scan: {len(scan)} layers × {n_pos} positions = {cells} patched runs")
    print("| batch size | median s | ms per patched run | peak RSS growth MB |")
    print("|---|---|---|---|")
    for b, rows in result.items():
        t = _median(rows)
        print(f"| {b} | {t:.2f} | {1000 * t / cells:.1f} | {_median(rows, 1):.0f} |")
    best = min(result, key=lambda b: _median(result[b]))

    total = n_layers * n_pos
    runs = {
        "sweep": _cells_run(model, (CLEAN, CORRUPT), n_layers, n_layers),
        "sweep, no shared prefix": _cells_run(model, (CLEAN_0, CORRUPT_0), n_layers, n_layers),
        f"sweep of {len(scan)} layers": _cells_run(
            model, (CLEAN_0, CORRUPT_0), len(scan), n_layers
        ),
    }
    runs["floor"] = runs["sweep, no shared prefix"]
    variants = {
        "sweep": _sweep(model, None, best),
        "sweep, no shared prefix": _sweep(model, None, best, (CLEAN_0, CORRUPT_0)),
        "floor": _floor(model, runs["floor"], best),
        f"sweep of {len(scan)} layers": _sweep(model, scan, best, (CLEAN_0, CORRUPT_0)),
    }
    full = _alternated(variants, args.runs)
    print(f"\n## full sweep: {n_layers} layers × {n_pos} positions = {total} cells")
    print(f"batch size {best}, goal ≤ 60 s; floor: the worst case's sequences, decoder only")
    print("| what | cells run | batches | median s | ms per run | peak RSS growth MB |")
    print("|---|---|---|---|---|---|")
    for name, rows in full.items():
        n, t = runs[name], _median(rows)
        batches = -(-n // best)
        print(
            f"| {name} | {n} | {batches} | {t:.2f} | {1000 * t / n:.1f} | {_median(rows, 1):.0f} |"
        )

    layer, position = 12, 3
    patch = Patch(layer, position, residual(model, CLEAN, layer, position))
    steer = Steer(layer, token_direction(model, " Paris"), 8.0)
    edits = _alternated(
        {
            "plain": lambda: collect_logit_lens(CORRUPT, model),
            "patch": lambda: collect_logit_lens(CORRUPT, model, edits=[patch]),
            "steer": lambda: collect_logit_lens(CORRUPT, model, edits=[steer]),
        },
        max(args.runs, 5),
    )
    plain = _median(edits["plain"])
    print(f"\n## one collection of side B ({n_pos} tokens, k=5, all layers), goal ≤ 1.2×")
    print("| what | median ms | × plain |")
    print("|---|---|---|")
    for name, rows in edits.items():
        t = _median(rows)
        print(f"| {name} | {1000 * t:.0f} | {t / plain:.2f} |")
    print(f"\n# load at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
