"""GPU benchmark: the logit lens of a random-weight model of real shape, ours vs plain torch.

    python bench/bench_gpu.py --device cuda --dtype bfloat16 --layers 4 --prompt-tokens 100 500

What it times, in one process, each median of ``--runs`` runs after one warm-up, the two
variants alternating run by run:

* ours  — ``collect_logit_lens(prompt, model, remote=False)`` on the model wrapped by
  ``load_model(hf_model, tokenizer=tok)``: the public API end to end (tokenizing, the
  nnsight trace, the engine's blocked reduction, decoding the packed result).
* plain — the same work written in plain PyTorch: one forward pass of the decoder stack
  with ``output_hidden_states``, the final norm and the unembedding of every layer ×
  position at once, ``log_softmax`` in float32 and ``topk``.

On CUDA every timed region starts and ends with ``torch.cuda.synchronize()``, and the peak
memory of a variant is ``torch.cuda.max_memory_allocated()`` above what was allocated
before it (the weights), largest over its runs.

The bound is what the unembedding alone would take at the device's matmul rate:
2·L·P·d·V FLOPs divided by the median rate of a large square matmul in the same dtype,
measured here; the second bound adds the forward pass's FLOPs (its linear layers,
2·P·params, plus causal attention, 2·P²·d per layer).

The model is a ``LlamaForCausalLM`` built from a ``LlamaConfig`` in code with random
weights, so nothing is downloaded: ``--shape llama3-8b`` is Llama-3-8B's width (d 4096,
MLP 14,336, 32 heads, 8 KV heads, vocabulary 128,256, rope theta 500,000) with
``--layers`` decoder layers (default 4, which fits any card; 32 is the whole model, about
16 GB of bfloat16 weights plus ~20 GB for plain's logits at 500 tokens); ``--shape tiny``
(d 256, vocabulary 32,000) checks the script on a CPU in seconds.

The tokenizer is built in code too: a word-level ``PreTrainedTokenizerFast`` whose
vocabulary is ``<unk>`` (id 0, also the padding token) and ``t1`` … ``t{V-1}``, split on
whitespace. ``collect_logit_lens`` takes a prompt string and decodes token strings, so it
needs a real tokenizer; this one needs no file or network, has exactly the model's
vocabulary size, and makes a prompt of exactly P tokens (P random words ``t{id}``), so
both variants see the same ids. It has no special token other than ``<unk>`` because a
fast tokenizer matches special tokens inside words (``t1`` would split ``t123``).

A model built on the GPU has no accelerate hooks, and nnsight hands it the token ids on
the CPU; a forward pre-hook moves its tensor inputs to the model's device.

The top-1 agreement of ours with plain is printed as a check that both did the same work.
In transformers 5 the last entry of ``hidden_states`` is already normed, so plain normalises
the last layer twice; with random weights the norm's weight is all ones and RMSNorm is then
idempotent, so the check holds, and the cost is the same.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import AutoModelForCausalLM, LlamaConfig, PreTrainedTokenizerFast

# The GPU machine gets a copy of this tree, not an installed package.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from logitlenskit.analyses.collect import collect_logit_lens
from logitlenskit.core.models import load_model

K = 5

SHAPES: dict[str, dict[str, Any]] = {
    "llama3-8b": {
        "hidden_size": 4096,
        "intermediate_size": 14336,
        "num_attention_heads": 32,
        "num_key_value_heads": 8,
        "vocab_size": 128256,
    },
    "tiny": {
        "hidden_size": 256,
        "intermediate_size": 896,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "vocab_size": 32000,
    },
}


@dataclass
class Timing:
    """A variant's run times (s) and peak memory above its start (bytes; None on CPU)."""

    seconds: list[float]
    peak: int | None = None

    def add(self, seconds: float, peak: int | None) -> None:
        self.seconds.append(seconds)
        if peak is not None:
            self.peak = max(self.peak or 0, peak)


def llama_config(shape: str, layers: int) -> LlamaConfig:
    return LlamaConfig(
        **SHAPES[shape],
        num_hidden_layers=layers,
        rope_theta=500000.0,
        max_position_embeddings=8192,
        tie_word_embeddings=False,
    )


def word_tokenizer(vocab_size: int) -> PreTrainedTokenizerFast:
    """A tokenizer of ``vocab_size`` whitespace-separated words: ``<unk>``, ``t1``, ``t2``…"""
    vocab = {"<unk>": 0, **{f"t{i}": i for i in range(1, vocab_size)}}
    core = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return PreTrainedTokenizerFast(tokenizer_object=core, unk_token="<unk>", pad_token="<unk>")


def build_model(config: LlamaConfig, dtype: torch.dtype, device: torch.device) -> Any:
    """Random weights, made on ``device``, with a hook that moves inputs there."""
    torch.manual_seed(0)
    with torch.device(device):
        model = AutoModelForCausalLM.from_config(config, dtype=dtype).eval()

    def move(value: Any) -> Any:
        return value.to(device) if isinstance(value, torch.Tensor) else value

    def to_device(_module: Any, args: tuple, kwargs: dict) -> tuple[tuple, dict]:
        return tuple(move(a) for a in args), {k: move(v) for k, v in kwargs.items()}

    model.register_forward_pre_hook(to_device, with_kwargs=True)
    return model


def random_prompt(n_tokens: int, vocab_size: int, seed: int) -> tuple[str, list[int]]:
    """A prompt of exactly ``n_tokens`` words of :func:`word_tokenizer`, and its ids."""
    generator = torch.Generator().manual_seed(seed)
    ids = torch.randint(1, vocab_size, (n_tokens,), generator=generator).tolist()
    return " ".join(f"t{i}" for i in ids), ids


def plain_lens(hf: Any, ids: torch.Tensor, k: int = K) -> torch.return_types.topk:
    """Every layer × position through the final norm and unembedding, then top-k."""
    with torch.no_grad():
        out = hf.model(ids, output_hidden_states=True)
        hidden = torch.stack(out.hidden_states[1:])[:, 0]
        logits = hf.lm_head(hf.model.norm(hidden))
        return torch.log_softmax(logits.float(), dim=-1).topk(k, dim=-1)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn: Callable[[], Any], device: torch.device) -> tuple[float, int | None, Any]:
    """Wall time of ``fn()`` (synchronized), peak extra CUDA memory, and its result."""
    gc.collect()
    base = None
    if device.type == "cuda":
        sync(device)
        torch.cuda.reset_peak_memory_stats(device)
        base = torch.cuda.memory_allocated(device)
    t0 = time.perf_counter()
    result = fn()
    sync(device)
    elapsed = time.perf_counter() - t0
    peak = None if base is None else torch.cuda.max_memory_allocated(device) - base
    return elapsed, peak, result


def matmul_rate(dtype: torch.dtype, device: torch.device, runs: int) -> float:
    """Median FLOP/s of a large square matmul (8192 on CUDA, 2048 on CPU)."""
    n = 8192 if device.type == "cuda" else 2048
    a = torch.randn(n, n, device=device).to(dtype)
    b = torch.randn(n, n, device=device).to(dtype)
    a @ b  # warm-up (cuBLAS handles, CPU thread pool)
    times = [timed(lambda: a @ b, device)[0] for _ in range(runs)]
    return 2 * n**3 / statistics.median(times)


def flops(config: LlamaConfig, n_pos: int) -> tuple[float, float]:
    """FLOPs of the lens's unembedding (every layer × position) and of the forward pass."""
    d, ff, layers = config.hidden_size, config.intermediate_size, config.num_hidden_layers
    kv = config.num_key_value_heads * (d // config.num_attention_heads)
    unembed = 2 * layers * n_pos * d * config.vocab_size
    per_layer = 2 * n_pos * (2 * d * d + 2 * d * kv + 3 * d * ff) + 2 * n_pos**2 * d
    return unembed, layers * per_layer


def agreement(ours: dict[str, Any], plain: torch.return_types.topk) -> float:
    """Fraction of cells whose top-1 token is the same in both."""
    return (ours["topk"][..., 0].long() == plain.indices[..., 0].cpu()).float().mean().item()


def bench_length(
    model: Any, n_pos: int, runs: int, device: torch.device
) -> tuple[dict[str, Timing], float]:
    """Time ours and plain at one prompt length, alternating; also their top-1 agreement."""
    vocab_size = model._model.config.vocab_size
    prompt, ids = random_prompt(n_pos, vocab_size, seed=n_pos)
    id_tensor = torch.tensor([ids], device=device)
    variants = {
        "ours": lambda: collect_logit_lens(prompt, model, k=K, remote=False),
        "plain": lambda: plain_lens(model._model, id_tensor),
    }
    results = {name: timed(fn, device)[2] for name, fn in variants.items()}  # warm-up
    stats = {name: Timing([]) for name in variants}
    for _ in range(runs):
        for name, fn in variants.items():
            seconds, peak, _ = timed(fn, device)
            stats[name].add(seconds, peak)
    return stats, agreement(results["ours"], results["plain"])


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return f"{line.split(':', 1)[1].strip()} ({torch.get_num_threads()} threads)"
    return f"CPU ({torch.get_num_threads()} threads)"


def fmt_gb(n: int | None) -> str:
    return "-" if n is None else f"{n / 2**30:.2f} GB"


def print_rows(
    config: LlamaConfig, dtype: str, n_pos: int, stats: dict[str, Timing], rate: float
) -> None:
    shape = f"{config.num_hidden_layers} × {config.hidden_size} × {config.vocab_size:,}"
    unembed, forward = flops(config, n_pos)
    t_plain = statistics.median(stats["plain"].seconds)
    for name, timing in stats.items():
        t = statistics.median(timing.seconds)
        print(
            f"| {shape} | {dtype} | {n_pos} | {name} | {t:.4f} | {t / t_plain:.2f} |"
            f" {unembed / rate:.4f} | {(unembed + forward) / rate:.4f} | {fmt_gb(timing.peak)} |"
        )


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", choices=sorted(SHAPES), default="llama3-8b")
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--dtype", choices=["bfloat16", "float16", "float32"], default="bfloat16")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--prompt-tokens", type=int, nargs="+", default=[100, 500])
    parser.add_argument("--runs", type=int, default=7)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    device, dtype = torch.device(args.device), getattr(torch, args.dtype)
    if device.type == "cuda":
        device = torch.device("cuda", torch.cuda.current_device())
    config = llama_config(args.shape, args.layers)
    started = time.perf_counter()
    hf = build_model(config, dtype, device)
    model = load_model(hf, tokenizer=word_tokenizer(config.vocab_size))
    built = time.perf_counter() - started
    rate = matmul_rate(dtype, device, args.runs)
    print(
        f"{datetime.date.today()} {device_name(device)}, torch {torch.__version__}, "
        f"load average {os.getloadavg()[0]:.2f}; {args.dtype} matmul {rate / 1e9:,.0f} "
        f"GFLOP/s; model ({args.shape}, {args.layers} layers) built in {built:.1f} s; "
        f"median of {args.runs} runs"
    )
    print(
        "\n| layers × d × V | dtype | tokens | variant | median s | × plain |"
        " unembed bound s | + forward bound s | peak extra memory |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    checks = []
    for n_pos in args.prompt_tokens:
        stats, agree = bench_length(model, n_pos, args.runs, device)
        print_rows(config, args.dtype, n_pos, stats, rate)
        checks.append(f"{n_pos} tokens {agree:.1%}")
    print(f"\ntop-1 agreement of ours with plain: {', '.join(checks)}")


if __name__ == "__main__":
    main()
