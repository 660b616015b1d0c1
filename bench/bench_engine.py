"""Benchmark: our engine vs the floor vs the seed algorithm, in one process run.

    .venv/bin/python bench/bench_engine.py [--runs 3] [--lengths 5 20 100 400] [--no-gemma]

* ours  — ``collect_logit_lens(prompt, model, remote=False)``, the public API end to end.
* floor — one plain forward with ``output_hidden_states`` plus one batched
  norm → lm_head → log-softmax → top-k in torch (no trajectories, no decoding).
* seed  — logit-lens-tutorial.md Part 3, as written there.

Prints the median time, the ratio to the floor, the peak extra RSS (sampled every 2 ms in a
thread, minus the RSS before the call) and the payload (``torch.save`` size of what the
trace saves), plus the GEMM-bound estimate 2·L·P·d·V / measured float32 GEMM rate.
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
from logitlenskit.core.capture import capture_lens
from logitlenskit.core.models import load_model
from logitlenskit.core.options import LensOptions
from logitlenskit.core.request import prepare_request
from logitlenskit.core.wire import payload_bytes

TEXT = (
    "The history of the city goes back two thousand years, to a small settlement on the "
    "river where traders met to exchange salt, grain and wool. Over the centuries it grew "
    "into a market town, then a regional capital, and finally one of the great ports of the "
    "continent, famous for its bridges, its libraries and its stubborn, talkative people. "
)


def seed_collect_logit_lens(prompt, model, k=5, layers=None, remote=True):
    """logit-lens-tutorial.md Part 3, verbatim."""
    # Tokenize once, client-side
    token_ids = model.tokenizer.encode(prompt)
    n_pos = len(token_ids)

    # Default: all layers
    if layers is None:
        layers = list(range(model.num_layers))
    n_layers = len(layers)

    # Run model, compute logit lens
    # When remote=True, computation happens on NDIF server
    with model.trace(token_ids, remote=remote):
        all_probs = []
        all_topk = []

        for li in layers:
            # Project hidden state to vocabulary: hidden -> norm -> lm_head
            logits = model.lm_head(model.ln_final(model.layers_output[li]))
            probs = torch.softmax(logits[0], dim=-1)
            all_probs.append(probs)
            all_topk.append(probs.topk(k, dim=-1).indices)

        # Stack top-k indices: [n_layers, n_pos, k]
        topk = torch.stack(all_topk).to(torch.int32)

        # For each position: find unique tokens, extract trajectories
        tracked = []
        probs_out = []
        for pos in range(n_pos):
            # Union of all tokens appearing in top-k at any layer
            unique = torch.unique(topk[:, pos, :].flatten()).to(torch.int32)
            # Extract probability trajectory for each unique token
            traj = torch.stack([all_probs[li][pos, unique] for li in range(n_layers)])
            tracked.append(unique)
            probs_out.append(traj)

        # Save results to transmit from server
        result = {"topk": topk, "tracked": tracked, "probs": probs_out}.save()

    # Build vocabulary map (client-side)
    all_ids = set(result["topk"].flatten().tolist())
    for t in result["tracked"]:
        all_ids.update(t.tolist())
    vocab = {i: model.tokenizer.decode([i]) for i in all_ids}

    return {
        "model": model.config._name_or_path,
        "input": [model.tokenizer.decode([t]) for t in token_ids],
        "layers": layers,
        "topk": result["topk"],
        "tracked": result["tracked"],
        "probs": result["probs"],
        "vocab": vocab,
    }


def floor(model: Any, prompt: str, k: int = 5) -> Any:
    hf = model._model
    ids = torch.tensor([model.tokenizer.encode(prompt)])
    with torch.no_grad():
        hidden = torch.stack(hf(ids, output_hidden_states=True).hidden_states[1:])[:, 0]
        log_probs = torch.log_softmax(hf.lm_head(hf.model.norm(hidden)), dim=-1)
        return log_probs.topk(k, dim=-1)


def release_freed_memory_to_os() -> None:
    """Make freed blocks leave the RSS, so one method's leftovers don't hide the next's.

    glibc keeps freed heap memory and raises its mmap threshold after large frees; fixing
    the threshold at 128 KiB makes every large tensor its own mapping, unmapped on free.
    """
    libc = ctypes.CDLL("libc.so.6")
    m_mmap_threshold = -3
    libc.mallopt(m_mmap_threshold, 128 * 1024)
    libc.malloc_trim(0)


def measure(fn: Callable[[], Any]) -> tuple[float, int]:
    """Wall time and peak RSS above the starting RSS, sampled in a thread."""
    gc.collect()
    release_freed_memory_to_os()
    proc = psutil.Process()
    start = proc.memory_info().rss
    peak = [start]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], proc.memory_info().rss)
            time.sleep(0.002)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    t0 = time.perf_counter()
    fn()
    elapsed = time.perf_counter() - t0
    done.set()
    thread.join()
    peak[0] = max(peak[0], proc.memory_info().rss)
    return elapsed, peak[0] - start


def prompt_of(model: Any, n_tokens: int) -> str:
    """A prompt of about n_tokens tokens (decode/re-encode may shift it by one)."""
    ids = model.tokenizer.encode(TEXT * (n_tokens // 40 + 2))[:n_tokens]
    return model.tokenizer.decode(ids)


def gemm_rate() -> float:
    a, b = torch.randn(2048, 576), torch.randn(576, 49152)
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - t0)
    return 2 * 2048 * 576 * 49152 / min(times) / 1e9


def our_payload(model: Any, prompt: str) -> int:
    request = prepare_request(prompt, model, LensOptions(k=5, remote=False))
    packed = capture_lens(
        request.adapter, request.input_ids, request.row_specs(), k=5, vocab_size=request.vocab_size
    )
    return payload_bytes(packed)


def seed_payload(result: dict) -> int:
    return payload_bytes({k: result[k] for k in ("topk", "tracked", "probs")})


def fmt_gb(n: int) -> str:
    return f"{n / 2**30:.2f} GB"


def bench_smollm2(lengths: list[int], runs: int, rate: float) -> None:
    model = load_model()
    # The seed code reads model.config, which nnsight leaves unset on wrapped models.
    model.config = model._model.config
    d, vocab, n_layers = 576, 49152, model.num_layers
    print(
        "\n| tokens | method | median s | × floor | GEMM-bound s | peak extra RSS | payload bytes |"
    )
    print("|---|---|---|---|---|---|---|")
    for n in lengths:
        prompt = prompt_of(model, n)
        p = len(model.tokenizer.encode(prompt))
        methods = {
            "floor": lambda prompt=prompt: floor(model, prompt),
            "ours": lambda prompt=prompt: collect_logit_lens(prompt, model, remote=False),
            "seed": lambda prompt=prompt: seed_collect_logit_lens(prompt, model, remote=False),
        }
        stats: dict[str, list[tuple[float, int]]] = {name: [] for name in methods}
        for fn in methods.values():
            fn()  # warm-up
        for _ in range(runs):
            for name, fn in methods.items():
                stats[name].append(measure(fn))
        payloads = {"ours": our_payload(model, prompt), "seed": seed_payload(methods["seed"]())}
        bound = 2 * n_layers * p * d * vocab / rate / 1e9
        t_floor = statistics.median(t for t, _ in stats["floor"])
        for name in methods:
            t = statistics.median(t for t, _ in stats[name])
            mem = max(m for _, m in stats[name])
            pay = payloads.get(name)
            ratio = f" ({pay / payloads['seed']:.2f}× seed)" if name == "ours" else ""
            print(
                f"| {p} | {name} | {t:.3f} | {t / t_floor:.2f} | {bound:.3f} | {fmt_gb(mem)} |"
                f" {'-' if pay is None else f'{pay:,}{ratio}'} |"
            )


def bench_gemma(n: int) -> None:
    model = load_model("gemma3-270m")
    prompt = prompt_of(model, n)
    p = len(model.tokenizer.encode(prompt))
    collect_logit_lens("warm up", model, remote=False)
    t, mem = measure(lambda: collect_logit_lens(prompt, model, remote=False))
    print(f"\nGemma 3 270M, {p} tokens, all 18 layers: {t:.1f} s, peak extra RSS {fmt_gb(mem)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--lengths", type=int, nargs="+", default=[5, 20, 100, 400])
    parser.add_argument("--gemma-tokens", type=int, default=1000)
    parser.add_argument("--no-gemma", action="store_true")
    args = parser.parse_args()
    rate = gemm_rate()
    print(
        f"{datetime.date.today()} {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPUs, torch {torch.__version__} ({torch.get_num_threads()} threads),"
        f" load average {os.getloadavg()[0]:.2f}; float32 GEMM {rate:.0f} GFLOP/s"
    )
    bench_smollm2(args.lengths, args.runs, rate)
    if not args.no_gemma:
        bench_gemma(args.gemma_tokens)
    print(f"\nload average at the end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
