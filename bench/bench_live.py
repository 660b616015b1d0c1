"""Benchmark: the live loop's Python side, in one process.

    .venv/bin/python bench/bench_live.py [--runs 5] [--long 5000] [--no-remote]

For a 100-token prompt on SmolLM2, local:
* run       — ``w.prompt = ...`` until the new data is in place (collection + payload + sync),
              against ``collect_logit_lens`` of the same data (KL too) alone (same process);
* detail    — the ``detail`` command a click sends (k=20 and k=100): Python's share of
              "click to grown popup";
* pin       — ``w.pins = [...]`` with a token outside every top-k, until the data holds
              its exact trajectory at every position;
and the same actions on the NDIF path (``remote='local'``: nnsight's NDIF simulation, which
reruns the trace for every follow-up). Then a long prompt: the time to the first screen
(the first pushed data) against one plain forward pass, the time to the whole lens, and the
peak extra RSS. Medians of ``--runs``; the browser's share is in bench/bench_widget.py.
"""

from __future__ import annotations

import argparse
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

from logitlenskit import collect_logit_lens, load_model
from logitlenskit.live.widget import LogitLensWidget

TEXT = (
    "The history of the city goes back two thousand years, to a small settlement on the "
    "river where traders met to exchange salt, grain and wool. Over the centuries it grew "
    "into a market town, then a regional capital, and finally one of the great ports of the "
    "continent, famous for its bridges, its libraries and its stubborn, talkative people. "
)


def prompt_of(model: Any, n_tokens: int) -> str:
    ids = model.tokenizer.encode(TEXT * (n_tokens // 60 + 1))[:n_tokens]
    return model.tokenizer.decode(ids)


def median_ms(fn: Callable[[int], None], runs: int) -> float:
    times = []
    for i in range(runs):
        start = time.perf_counter()
        fn(i)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def untracked(w: LogitLensWidget, i: int) -> int:
    seen = set().union(*(set(t.tolist()) for t in w.result["tracked"]))
    return next(t for t in range(20000 + 37 * i, 49152) if t not in seen)


def loop_row(model: Any, prompt: str, runs: int, remote: Any) -> dict[str, float]:
    w = LogitLensWidget(model=model, prompt=prompt, remote=remote)
    variants = [prompt + s for s in (" and", " or", " but", " so", " yet", " then", " now")]

    def rerun(i: int) -> None:
        w.prompt = variants[i % len(variants)]

    def detail(k: int) -> Callable[[int], None]:
        return lambda i: w.detail({"run": w.data["run"], "layer": 20, "position": 50, "k": k}, [])

    def pin(i: int) -> None:
        w.pins = [{"ids": [untracked(w, i)], "color": "#e6194b"}]

    row = {
        "run": median_ms(rerun, runs),
        "detail20": median_ms(detail(20), runs),
        "detail100": median_ms(detail(100), runs),
        "pin": median_ms(pin, runs),
    }
    w.pins = []
    # The same data the widget collects: with its KL metric (on by default).
    row["collect"] = median_ms(
        lambda i: collect_logit_lens(variants[i % 7], model, remote=remote, metrics=w.metrics),
        runs,
    )
    return row


class PeakRss:
    """Peak resident memory above the level at entry, sampled every 5 ms."""

    def __enter__(self) -> PeakRss:
        self.proc, self.stop = psutil.Process(), threading.Event()
        self.base = self.peak = self.proc.memory_info().rss
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()
        return self

    def _sample(self) -> None:
        while not self.stop.is_set():
            self.peak = max(self.peak, self.proc.memory_info().rss)
            time.sleep(0.005)

    def __exit__(self, *_: Any) -> None:
        self.stop.set()
        self.thread.join()

    @property
    def extra_gb(self) -> float:
        return (self.peak - self.base) / 1e9


def long_prompt_row(model: Any, n_tokens: int) -> dict[str, float]:
    prompt = prompt_of(model, n_tokens)
    ids = model.tokenizer.encode(prompt)
    start = time.perf_counter()
    with torch.no_grad():
        model._model(torch.tensor([ids]))
    forward = time.perf_counter() - start
    gc.collect()
    w = LogitLensWidget(model=model)
    first: list[float] = []
    w.observe(lambda _c: first.append(time.perf_counter()) if not first else None, names="data")
    with PeakRss() as rss:
        start = time.perf_counter()
        with_warnings_off(lambda: setattr(w, "prompt", prompt))
        whole = time.perf_counter() - start
    return {
        "tokens": len(ids),
        "forward": forward,
        "first": first[0] - start,
        "whole": whole,
        "rss": rss.extra_gb,
    }


def with_warnings_off(fn: Callable[[], None]) -> None:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)  # the large-run warning
        fn()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--tokens", type=int, default=100)
    parser.add_argument("--long", type=int, default=5000)
    parser.add_argument("--no-remote", action="store_true")
    args = parser.parse_args()
    print(
        f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"torch {torch.__version__}, load {os.getloadavg()[0]:.2f}"
    )
    model = load_model()
    prompt = prompt_of(model, args.tokens)
    collect_logit_lens(prompt, model)  # warm-up: the first call pays allocator growth
    print(f"\n{args.tokens} tokens, median of {args.runs} (ms)")
    print("| path | collect_logit_lens | w.prompt = … | ratio | detail k=20 | k=100 | pin |")
    print("|---|---|---|---|---|---|---|")
    for remote in [False] if args.no_remote else [False, "local"]:
        r = loop_row(model, prompt, args.runs, remote)
        print(
            f"| {'local' if remote is False else 'NDIF simulation'} | {r['collect']:.0f} | "
            f"{r['run']:.0f} | {r['run'] / r['collect']:.2f}× | {r['detail20']:.1f} | "
            f"{r['detail100']:.1f} | {r['pin']:.1f} |"
        )
    if args.long:
        r = long_prompt_row(model, args.long)
        print(
            f"\nlong prompt: {r['tokens']} tokens: forward pass {r['forward']:.1f} s, first "
            f"screen {r['first']:.1f} s (+{r['first'] - r['forward']:.1f} s), whole lens "
            f"{r['whole']:.1f} s, peak extra RSS {r['rss']:.2f} GB"
        )
    print(f"\nload after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
