"""The study widget's page harness and a fabricated, realistic study.

tests/ui/harness.html with ``?bundle=study`` is a plain page that imports the exact
``_esm`` StudyWidget ships (through a Blob URL, as anywidget does) and renders it against a
fake model whose binary traits are DataViews into larger buffers; it counts the DOM
listeners, observers, timers and frames the widget adds and records the commands it
invokes. The tests
(tests/ui/test_study_view.py) and bench/bench_study_view.py both use it.
"""

from __future__ import annotations

from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np

from harness import HarnessPage, serve_files, wire
from logitlenskit.live.study_widget import StudyWidget

__all__ = [
    "QUANTITIES",
    "StudyPage",
    "fabricate",
    "start_study_server",
    "study_widget",
    "summarize",
    "widget_state",
]

HERE = Path(__file__).parent

#: The quantities of the fabricated study: two of kind probability, a rank, an entropy.
QUANTITIES = [
    {"name": "p_target", "kind": "probability", "label": "p(target)"},
    {"name": "p_alt", "kind": "probability", "label": "p(distractor)"},
    {"name": "rank", "kind": "rank", "label": "rank of target"},
    {"name": "entropy", "kind": "entropy", "label": "entropy"},
]


def start_study_server() -> tuple[ThreadingHTTPServer, str]:
    """Serve the study page and the bundle exactly as StudyWidget ships it.

    Returns the running server (call ``shutdown()`` when done) and its address.
    """
    state = StudyWidget([0], ["x"], QUANTITIES[:1]).get_state()
    files = {
        "/": ("text/html; charset=utf-8", (HERE / "harness.html").read_bytes()),
        "/study.js": ("text/javascript; charset=utf-8", state["_esm"].encode()),
        "/study.css": ("text/css; charset=utf-8", state["_css"].encode()),
    }
    server, url = serve_files(files)
    return server, url + "?bundle=study"


def fabricate(
    n: int, n_layers: int, done: int | None = None, *, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Per-prompt numbers of QUANTITIES shaped like a real study, and their summary.

    The target's probability rises late (a sigmoid over depth, a per-prompt shift), the
    distractor's peaks mid-way, the target's rank falls from ~10^3 to ~1 and the entropy
    falls from ~8 to ~1 nats. Prompts from ``done`` on are not computed (NaN rows).

    Returns:
        ``values`` [4, n, n_layers] and ``summary`` [4, 3, n_layers] (mean, 95% CI low and
        high over the computed prompts; NaN where fewer than two), float32.
    """
    done = n if done is None else done
    rng = np.random.default_rng(seed)
    depth = np.linspace(0.0, 1.0, n_layers)[None, :]
    shift = rng.normal(0.0, 0.08, (n, 1))
    noise = rng.normal(0.0, 0.04, (n, n_layers))
    p_target = 1.0 / (1.0 + np.exp(-(depth - 0.7 - shift) * 14.0))
    p_target = np.clip(p_target * rng.uniform(0.5, 1.0, (n, 1)) + noise * 0.3, 0.0, 1.0)
    p_alt = np.clip(0.3 * np.exp(-(((depth - 0.5 - shift) / 0.18) ** 2)) + noise * 0.2, 0, 1)
    rank = np.maximum(1.0, np.round(10 ** (3.2 * (1 - p_target) + rng.normal(0, 0.2, (n, 1)))))
    entropy = np.clip(8.0 - 7.0 * depth + rng.normal(0, 0.5, (n, n_layers)), 0.05, None)
    values = np.stack([p_target, p_alt, rank, entropy]).astype("<f4")
    values[:, done:, :] = np.nan
    summary = summarize(values)
    return values, summary


def summarize(values: np.ndarray) -> np.ndarray:
    """Mean and a normal 95% CI per layer over the computed (non-NaN) prompts."""
    q, _, n_layers = values.shape
    summary = np.full((q, 3, n_layers), np.nan, "<f4")
    count = np.sum(~np.isnan(values), axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.nansum(values, axis=1) / count
        var = np.nansum((values - mean[:, None, :]) ** 2, axis=1) / (count - 1)
        half = 1.96 * np.sqrt(var / count)
    ok = count >= 2
    summary[:, 0] = np.where(count >= 1, mean, np.nan)
    summary[:, 1] = np.where(ok, mean - half, np.nan)
    summary[:, 2] = np.where(ok, mean + half, np.nan)
    return summary


def study_widget(
    n: int = 50, n_layers: int = 10, done: int | None = 40, **traits: Any
) -> StudyWidget:
    """A StudyWidget of the fabricated study with ``done`` prompts computed."""
    prompts = [f"Prompt {i}: The capital of country {i} is" for i in range(n)]
    layers = list(range(0, 2 * n_layers, 2))  # model layers 0, 2, 4, ...: not the indices
    w = StudyWidget(layers, prompts, QUANTITIES, **traits)
    values, summary = fabricate(n, n_layers, done)
    w.update(values=values, summary=summary, n_done=n if done is None else done, status="")
    return w


def widget_state(w: StudyWidget, names: tuple[str, ...] = ()) -> dict[str, Any]:
    """The widget's synced traits (all, or ``names``), private ones left out."""
    state = w.get_state(key=list(names) if names else None)
    return {k: v for k, v in state.items() if not k.startswith("_")}


class StudyPage(HarnessPage):
    """The harness page with the study widget: mount it and drive the fake kernel."""

    def mount(
        self,
        w: StudyWidget,
        *,
        offset: int = 8,
        outputs: tuple[str, ...] = ("out1",),
        experimental: bool = True,
    ) -> float:
        """Render ``w``'s state; returns the render time (ms, layout included)."""
        return self.page.evaluate(
            "([s, o]) => window.llk.mount(s, o)",
            [
                wire(widget_state(w)),
                {"offset": offset, "outputs": list(outputs), "experimental": experimental},
            ],
        )

    def push(self, w: StudyWidget, *names: str) -> None:
        """Send ``w``'s traits ``names`` (all when none) as one kernel message."""
        self.page.evaluate("(p) => window.llk.setMany(p)", wire(widget_state(w, names)))

    def set_trait(self, name: str, value: Any) -> None:
        self.page.evaluate("(p) => window.llk.setMany(p)", wire({name: value}))
