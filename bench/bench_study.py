"""Benchmark: a study over many prompts vs collect_logit_lens on each in turn, and its memory.

    .venv/bin/python bench/bench_study.py [--runs 3] [--prompts 200] [--memory 200 2000]
        [--sections metrics throughput prefix memory]

* throughput — the same prompts and targets (translation prompts, one example shot, the
  target and English words), timed as ``collect_study(..., batch_size=16)`` and as a loop
  of ``collect_logit_lens(prompt, model, targets=..., metrics=True)``, in one process,
  alternating, median of ``--runs``.
* prefix reuse — studies whose batches share a token prefix (translation prompts with
  ``shared_shots=True``: one few-shot block for every prompt) and the throughput prompts
  above (each concept draws its own shot, so a batch shares only ``Français: "``), each
  timed with the shared prefix run once per batch and with the full padded batch
  (``trace_batch(..., reuse_prefix=False)``), alternating in one process, median of
  ``--runs``.
* metric cost — a live run (the widget's) of a 115-token prompt without metrics, with KL,
  and with KL and two targets, median of ``max(--runs, 5)``.
* memory — for each N in ``--memory``, a fresh process loads the model, records its RSS,
  runs a study of N prompts (the first 200 repeated, so prompt lengths are alike) and
  reports the peak RSS above that (sampled every 2 ms): the per-prompt reductions are Q·L
  floats, so the peak should not grow with N.
"""

from __future__ import annotations

import argparse
import datetime
import functools
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from typing import Any

import torch

import logitlenskit.live.study as study_module
from bench_engine import measure
from logitlenskit import collect_logit_lens, collect_study, load_model, translation_prompts
from logitlenskit.analyses.study_batch import shared_prefix, trace_batch

PAIRS = [("fr", "de"), ("de", "fr"), ("fr", "es"), ("es", "fr"), ("it", "de"), ("de", "es")]


def items(model: Any, n: int) -> list[dict[str, Any]]:
    """N translation prompts over several language pairs and shot draws."""
    out: list[dict[str, Any]] = []
    seed = 0
    while len(out) < n:
        for src, tgt in PAIRS:
            out += translation_prompts(src, tgt, shots=1, seed=seed, tokenizer=model.tokenizer)
        seed += 1
    return out[:n]


def throughput(model: Any, n: int, runs: int) -> None:
    data = items(model, n)
    study_s, loop_s = [], []
    for _ in range(runs):
        start = time.perf_counter()
        collect_study(data, model, batch_size=16, progress=False)
        study_s.append(time.perf_counter() - start)
        start = time.perf_counter()
        for item in data:
            collect_logit_lens(item["prompt"], model, targets=item["targets"], metrics=True)
        loop_s.append(time.perf_counter() - start)
    s, loop = statistics.median(study_s), statistics.median(loop_s)
    tokens = sum(len(model.tokenizer.encode(i["prompt"])) for i in data) / len(data)
    print(f"\n{n} prompts, {tokens:.1f} tokens on average, median of {runs} runs\n")
    print("| route | s | prompts/s | ratio |")
    print("|---|---|---|---|")
    print(f"| collect_logit_lens on each in turn | {loop:.1f} | {n / loop:.1f} | 1.00× |")
    print(f"| collect_study, batch_size=16 | {s:.1f} | {n / s:.1f} | {loop / s:.2f}× |")


def _study_seconds(model: Any, data: list[dict[str, Any]], reuse: bool) -> float:
    # The study calls trace_batch through its module: swap in the path to time.
    study_module.trace_batch = functools.partial(trace_batch, reuse_prefix=reuse)
    try:
        start = time.perf_counter()
        collect_study(data, model, batch_size=16, progress=False)
        return time.perf_counter() - start
    finally:
        study_module.trace_batch = trace_batch


def prefix_reuse(model: Any, n: int, runs: int) -> None:
    """A study with each batch's shared prefix run once vs the full padded batch."""
    tok = model.tokenizer
    cases = {
        "shared_shots=True, shots=4": translation_prompts(
            "fr", "de", shots=4, shared_shots=True, tokenizer=tok
        )[:n],
        "own shots (the throughput prompts), shots=1": items(model, n),
    }
    load = os.getloadavg()
    times: dict[tuple[str, bool], list[float]] = {}
    for _ in range(runs):
        for name, data in cases.items():
            for reuse in (False, True):
                times.setdefault((name, reuse), []).append(_study_seconds(model, data, reuse))
                print(
                    f"{name}, prefix once={reuse}: {times[name, reuse][-1]:.1f} s", file=sys.stderr
                )
    print(
        f"\nA study's shared prefix run once per batch (batch_size=16), median of {runs} runs "
        f"alternated; load average {load[0]:.1f} before, {os.getloadavg()[0]:.1f} after\n"
    )
    print("| prompts | tokens/prompt | shared prefix | full batch | prefix once | speed-up |")
    print("|---|---|---|---|---|---|")
    for name, data in cases.items():
        encoded = [tok.encode(item["prompt"]) for item in data]
        batches = [encoded[a : a + 16] for a in range(0, len(encoded), 16)]
        shared = statistics.median(shared_prefix(batch) for batch in batches)
        tokens = sum(map(len, encoded)) / len(encoded)
        full, once = (statistics.median(times[name, reuse]) for reuse in (False, True))
        print(
            f"| {len(data)} {name} | {tokens:.1f} | {shared:.0f} | {full:.1f} s | {once:.1f} s "
            f"| {full / once:.2f}× |"
        )


def metric_cost(model: Any, runs: int) -> None:
    """What KL and targets add to a live run of a 115-token prompt (the widget's path)."""
    from logitlenskit.core.session import start_run

    prompt = ("The quick brown fox jumps over the lazy dog. " * 12)[:520]
    cases = {
        "lens only": {"metrics": False},
        "+ KL (the widget's default)": {"metrics": True},
        "+ KL + 2 targets": {"metrics": True, "targets": {"fox": "fox", "dog": "dog"}},
    }
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(runs):
        for name, kwargs in cases.items():
            start = time.perf_counter()
            start_run(model, prompt, **kwargs)
            times[name].append(time.perf_counter() - start)
    base = statistics.median(times["lens only"])
    n_tokens = len(model.tokenizer.encode(prompt))
    print(f"\nLive run (start_run) of a {n_tokens}-token prompt, median of {runs} runs\n")
    print("| run | s | vs lens only |")
    print("|---|---|---|")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"| {name} | {median:.2f} | {median / base:.2f}× |")


def memory_child(n: int) -> None:
    model = load_model()
    # The same 200 prompts repeated: only N changes, not the longest padded batch, so the
    # peak says whether memory follows N.
    base_items = items(model, min(n, 200))
    data = (base_items * (n // len(base_items) + 1))[:n]
    box: list[Any] = []
    elapsed, extra = measure(
        lambda: box.append(collect_study(data, model, batch_size=16, progress=False))
    )
    study = box[0]
    result = {"n": n, "extra_mb": extra / 2**20, "s": elapsed}
    result["values_mb"] = study.values.nbytes / 2**20
    print(json.dumps(result))


def memory(sizes: list[int]) -> None:
    print("\n| prompts | peak RSS above the loaded model | reductions kept | time |")
    print("|---|---|---|---|")
    for n in sizes:
        out = subprocess.run(
            [sys.executable, __file__, "--child", str(n)],
            capture_output=True,
            text=True,
            check=True,
        )
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"| {r['n']:,} | {r['extra_mb']:.0f} MB | {r['values_mb']:.2f} MB | {r['s']:.0f} s |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--prompts", type=int, default=200)
    parser.add_argument("--memory", type=int, nargs="*", default=[200, 2000])
    parser.add_argument(
        "--sections",
        nargs="*",
        choices=["metrics", "throughput", "prefix", "memory"],
        default=["metrics", "throughput", "prefix", "memory"],
    )
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        memory_child(args.child)
        return
    cpu = platform.processor() or platform.machine()
    threads = torch.get_num_threads()
    print(
        f"{datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC · {os.cpu_count()} cores "
        f"({cpu}), torch on {threads} threads · SmolLM2-135M, float32, CPU"
    )
    model = load_model()
    if "metrics" in args.sections:
        metric_cost(model, max(args.runs, 5))
    if args.prompts and "throughput" in args.sections:
        throughput(model, args.prompts, args.runs)
    if args.prompts and "prefix" in args.sections:
        prefix_reuse(model, args.prompts, args.runs)
    if args.memory and "memory" in args.sections:
        memory(args.memory)


if __name__ == "__main__":
    main()
