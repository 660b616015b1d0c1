"""Benchmark: generate-and-watch and sub-layer rows against their baselines, one process.

    .venv/bin/python bench/bench_views.py [--runs 3] [--tokens 50]

* generate — ``LogitLensWidget(model=..., prompt=...)`` then ``w.generate(n)``: the prompt's
  lens, then n tokens each fed once through the KV cache with its lens computed and the
  grown payload pushed to the (here unconnected) view; against plain greedy generation of
  the same n tokens (``model.generate``) plus one ``collect_logit_lens`` over the whole
  sequence. Goal: ≤ 1.2×.
* sub-layer rows — ``collect_logit_lens`` of a 100-token prompt with ``sublayers=True`` (two
  rows per layer) against without. Goal: ≤ 2.2×.
* diff — ``LogitLensWidget.compare(a, b, model=...)`` of two ~100-token prompts, until both
  sides are shown, against one ``collect_logit_lens``. Goal: ≤ 2.1×.

Medians of ``--runs``, alternating the two sides of each comparison.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import time
from collections.abc import Callable
from typing import Any

import torch

from logitlenskit import LogitLensWidget, collect_logit_lens, load_model

STORY = "Once upon a time, in a village by the sea, there lived an old fisherman who"
LONG = (
    "The history of the city goes back two thousand years. Merchants came by river and by "
    "road, and the markets grew into a town with walls, churches and a university. "
) * 4


def median_pair(runs: int, a: Callable[[], Any], b: Callable[[], Any]) -> tuple[float, float]:
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(runs):
        for side, fn in enumerate((a, b)):
            start = time.perf_counter()
            fn()
            times[side].append(time.perf_counter() - start)
    return statistics.median(times[0]), statistics.median(times[1])


def generation(model: Any, n: int, runs: int) -> None:
    ids = torch.tensor([model.tokenizer.encode(STORY)])
    written: list[int] = []

    def plain() -> None:
        with torch.no_grad():
            out = model._model.generate(ids, max_new_tokens=n, min_new_tokens=n, do_sample=False)
        collect_logit_lens(model.tokenizer.decode(out[0]), model)

    def ours() -> None:
        w = LogitLensWidget(model=model, prompt=STORY, metrics=False)  # as the baseline
        w.generate(n)
        written.append(len(w.data["input"]) - ids.shape[1])
        w.close()

    base, streamed = median_pair(runs, plain, ours)
    print(f"\nGenerate {n} tokens after a {ids.shape[1]}-token prompt (greedy), median of {runs}\n")
    print("| route | s | ratio |")
    print("|---|---|---|")
    print(f"| plain generation + one collection over the sequence | {base:.2f} | 1.00× |")
    print(f"| w.generate({n}), lens streamed per token | {streamed:.2f} | {streamed / base:.2f}× |")
    if min(written) < n:
        print(f"\n(the model ended its text after {min(written)} tokens in some runs)")


def sublayers(model: Any, runs: int) -> None:
    n_tokens = len(model.tokenizer.encode(LONG))
    plain, doubled = median_pair(
        runs,
        lambda: collect_logit_lens(LONG, model),
        lambda: collect_logit_lens(LONG, model, sublayers=True),
    )
    print(f"\nSub-layer rows, {n_tokens}-token prompt, median of {runs}\n")
    print("| collection | s | ratio |")
    print("|---|---|---|")
    print(f"| 30 rows (block outputs) | {plain:.2f} | 1.00× |")
    print(
        f"| 60 rows (after attention + after each layer) | {doubled:.2f} | {doubled / plain:.2f}× |"
    )


def diff(model: Any, runs: int) -> None:
    other = LONG.replace("river", "sea").replace("university", "harbour")

    def both() -> None:
        w = LogitLensWidget.compare(LONG, other, model=model, metrics=False)  # as collect
        w.wait()
        assert w.compare_data and w.data
        w.close()

    one, pair = median_pair(runs, lambda: collect_logit_lens(LONG, model), both)
    n_tokens = len(model.tokenizer.encode(LONG))
    print(f"\nDiff of two {n_tokens}-token prompts, median of {runs}\n")
    print("| run | s | ratio |")
    print("|---|---|---|")
    print(f"| one collect_logit_lens | {one:.2f} | 1.00× |")
    print(f"| LogitLensWidget.compare(a, b), both sides shown | {pair:.2f} | {pair / one:.2f}× |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--tokens", type=int, default=50)
    args = parser.parse_args()
    cpu = platform.processor() or platform.machine()
    print(
        f"{datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC · {os.cpu_count()} cores "
        f"({cpu}) · SmolLM2-135M, float32, CPU"
    )
    model = load_model()
    generation(model, args.tokens, args.runs)
    sublayers(model, args.runs)
    diff(model, args.runs)


if __name__ == "__main__":
    main()
