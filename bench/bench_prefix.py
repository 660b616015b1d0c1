"""Benchmark: what prefix reuse saves in the live widget, and what it keeps.

    .venv/bin/python bench/bench_prefix.py [--runs 5] [--kept 100 1000 5000]

SmolLM2, local, one process, the widget's default options (every layer, k = 5, KL on).
Each figure is the median of ``--runs``; every widget timing alternates with its baseline
(the order flipped every run), since single runs on a 2-core VM swing by ±10 %:

* append — a 500-token prompt is shown; ``w.prompt += <5 tokens>`` until the new data is in
  place, against ``collect_logit_lens`` of the new prompt (the same data, from scratch);
* edit   — a 200-token prompt is shown; its last sentence replaced, the same comparison;
* diff   — ``LogitLensWidget.compare`` of two 100-token prompts that differ in their last
  10 tokens, until both sides are shown, against one ``collect_logit_lens`` of side A
  (KL on, as in the widget);
* kept   — for each length in ``--kept``, the state a widget keeps for follow-ups and
  continuations: the KV cache (``run.kept``) and the normed hidden states (``run.normed``).

The browser's share (rendering the new grid) is in bench/bench_widget.py.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections.abc import Callable
from typing import Any

from logitlenskit import collect_logit_lens, load_model
from logitlenskit.core.options import LensOptions
from logitlenskit.core.session import run_options
from logitlenskit.live.widget import LogitLensWidget

TEXT = (
    "The history of the city goes back two thousand years, to a small settlement on the "
    "river where traders met to exchange salt, grain and wool. Over the centuries it grew "
    "into a market town, then a regional capital, and finally one of the great ports of the "
    "continent, famous for its bridges, its libraries and its stubborn, talkative people. "
)
ENDINGS = [
    " Its old harbour is now a park.",
    " Today most of its people work in trade.",
    " The cathedral was finished in 1420.",
    " Its university is the oldest in the land.",
    " Ferries still cross the river every hour.",
]


def prompt_of(model: Any, n_tokens: int) -> str:
    """Whole sentences of text, as few as make at least ``n_tokens`` tokens."""
    sentences = [f"{s.strip()}." for s in TEXT.split(".") if s.strip()]
    text = ""
    while len(model.tokenizer.encode(text)) < n_tokens:
        text += " " + sentences[len(text.split(".")) % len(sentences)] if text else sentences[0]
    return text


def alternate(a: Callable[[int], None], b: Callable[[int], None], runs: int) -> tuple[float, float]:
    """Median seconds of ``a`` and ``b``, run in turn, the order flipped every run."""
    times: dict[Any, list[float]] = {a: [], b: []}
    for i in range(runs):
        for fn in (a, b) if i % 2 == 0 else (b, a):
            start = time.perf_counter()
            fn(i)
            times[fn].append(time.perf_counter() - start)
    return statistics.median(times[a]), statistics.median(times[b])


def baseline(model: Any, w: LogitLensWidget) -> Callable[[str], Any]:
    """``collect_logit_lens`` of a prompt with the widget's own options."""
    return lambda prompt: collect_logit_lens(prompt, model, k=w.k, metrics=w.metrics)


def shown(w: LogitLensWidget, prompt: str) -> None:
    w.prompt = prompt
    assert w.wait(600) and w.error == "", w.error


def append(model: Any, runs: int) -> tuple[float, float, int]:
    """Appending ~5 tokens to a shown 500-token prompt vs a collection of the new one."""
    start = prompt_of(model, 500)
    w = LogitLensWidget(model=model, prompt=start)
    assert w.wait(600)
    collect = baseline(model, w)
    seconds = []

    def suffix(i: int) -> str:
        return f" It had {i + 2} gates and"  # about five tokens, new every run

    def widget(i: int) -> None:
        shown(w, start)  # back to the 500 tokens (untimed work of the previous run)
        t0 = time.perf_counter()
        shown(w, start + suffix(i))
        seconds.append(time.perf_counter() - t0)

    _, full = alternate(widget, lambda i: collect(start + suffix(i)), runs)
    n = len(w.result["input_ids"])
    w.close()
    return statistics.median(seconds), full, n


def edit_last_sentence(model: Any, runs: int) -> tuple[float, float, int]:
    """Replacing the last sentence of a shown 200-token prompt vs a collection."""
    text = prompt_of(model, 180)  # about 200 tokens with the new last sentence
    body = text[: text.rfind(".", 0, len(text) - 1) + 1]
    w = LogitLensWidget(model=model, prompt=body + ENDINGS[-1])
    assert w.wait(600)
    collect = baseline(model, w)
    seconds = []

    def widget(i: int) -> None:
        shown(w, body + ENDINGS[-1])
        t0 = time.perf_counter()
        shown(w, body + ENDINGS[i % (len(ENDINGS) - 1)])
        seconds.append(time.perf_counter() - t0)

    _, full = alternate(widget, lambda i: collect(body + ENDINGS[i % (len(ENDINGS) - 1)]), runs)
    n = len(w.result["input_ids"])
    w.close()
    return statistics.median(seconds), full, n


def diff(model: Any, runs: int) -> tuple[float, float]:
    """A live diff of a minimal pair (last 10 tokens differ) vs one collection of side A."""
    body = prompt_of(model, 90)
    a, b = body + " The river froze every winter.", body + " Its bridges were made of stone."

    def both(_: int) -> None:
        w = LogitLensWidget.compare(a, b, model=model)
        assert w.wait(600) and w.error == ""
        w.close()

    return alternate(both, lambda _: collect_logit_lens(a, model, k=5, metrics=True), runs)


def kept_megabytes(model: Any, lengths: list[int]) -> list[tuple[int, float, float]]:
    """(tokens, KV cache MB, normed states MB) a run of each length keeps."""
    rows = []
    for n in lengths:
        run = run_options(model, prompt_of(model, n), LensOptions(k=5))
        kv = run.kept.nbytes / 1e6 if run.kept is not None else 0.0
        normed = run.normed.nbytes / 1e6 if run.normed is not None else 0.0
        rows.append((len(run.input_ids), kv, normed))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--kept", type=int, nargs="*", default=[100, 1000, 5000])
    args = parser.parse_args()
    model = load_model()
    load = os.getloadavg()[0]
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, load {load:.2f} before")
    print(f"\nSmolLM2, median of {args.runs} runs, alternated with the baseline\n")
    print("| case | widget s | collection s | ratio | goal |")
    print("|---|---|---|---|---|")
    inc, full, n = append(model, args.runs)
    print(f"| append 5 tokens to {n - 5} | {inc:.2f} | {full:.2f} | {inc / full:.3f} | ≤ 0.15 |")
    inc, full, n = edit_last_sentence(model, args.runs)
    print(f"| new last sentence of {n} | {inc:.2f} | {full:.2f} | {inc / full:.3f} | ≤ 0.3 |")
    both, one = diff(model, args.runs)
    print(f"| diff of a minimal pair (~100) | {both:.2f} | {one:.2f} | {both / one:.2f} | ≤ 1.2 |")
    print(f"\nload {os.getloadavg()[0]:.2f} after the timings\n")
    print("| tokens | KV cache MB | normed states MB | kept MB |")
    print("|---|---|---|---|")
    for tokens, kv, normed in kept_megabytes(model, args.kept):
        print(f"| {tokens} | {kv:.1f} | {normed:.1f} | {kv + normed:.1f} |")


if __name__ == "__main__":
    main()
