"""A study as a paper figure: per-layer means with 95% bands over an entropy strip.

The layout of Wendler et al. (2024), "Do Llamas Work in English?": one panel of lines, each
a quantity's mean over the prompts with a shaded 95% confidence interval, and under it a
strip colored by the mean entropy at each layer. Drawn with matplotlib's object API (no
pyplot state), so it works headless and in any kernel thread; since no pyplot backend then
shows it, the figure displays itself in a notebook (:class:`StudyFigure`).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from ..base.ui_state import PIN_PALETTE

__all__ = ["StudyFigure", "quantity_color", "study_figure"]

_AXIS = {
    "probability": "probability",
    "rank": "rank (log scale)",
    "logprob_diff": "log-ratio (nats)",
    "kl": "KL divergence (nats)",
    "entropy": "entropy (nats)",
}


def quantity_color(quantities: Sequence[Any], name: str) -> str:
    """The color a quantity gets in every study figure and in the study widget.

    The pin palette's entry for the quantity's place among the quantities of its kind
    (frontend/study/bandchart.js applies the same rule). A study lists its targets in one
    order for every kind, so a target (a language) has one color for its probability and its
    rank, whichever quantities a figure or the widget's chart shows.

    Args:
        quantities: the study's quantities (:class:`~logitlenskit.study.Quantity` objects or
            the widget's ``{"name", "kind", ...}`` dicts), in order.
        name: the quantity's name.
    """

    def field(q: Any, key: str) -> str:
        return q[key] if isinstance(q, dict) else getattr(q, key)

    kind = next(field(q, "kind") for q in quantities if field(q, "name") == name)
    same_kind = [field(q, "name") for q in quantities if field(q, "kind") == kind]
    return PIN_PALETTE[same_kind.index(name) % len(PIN_PALETTE)]


class StudyFigure(Figure):
    """A matplotlib ``Figure`` that shows itself as a PNG when a notebook displays it.

    A figure made without pyplot is otherwise shown as ``<Figure size ...>`` in a kernel
    where pyplot was never imported. Where IPython's inline backend has registered its own
    PNG printer for figures, that one is used instead; either way there is one image.
    """

    def _repr_png_(self) -> bytes:
        buffer = io.BytesIO()
        self.savefig(buffer, format="png", bbox_inches="tight")
        return buffer.getvalue()


def study_figure(
    study: Any,
    quantities: Sequence[str] | None = None,
    *,
    title: str = "",
    width: float = 6.0,
) -> StudyFigure:
    """Draw a study's per-layer means with 95% bands, and its mean entropy as a strip.

    Args:
        study: a :class:`~logitlenskit.study.Study`.
        quantities: names to draw, all of one kind (default: every probability).
        title: the figure's title.
        width: inches; the height follows.

    Returns:
        The matplotlib ``Figure`` (a :class:`StudyFigure`: a notebook displays it; save it
        with ``fig.savefig("study.pdf")``).

    Raises:
        ValueError: an unknown name, names of different kinds, or nothing computed yet.
    """
    by_name = {q.name: (i, q) for i, q in enumerate(study.quantities)}
    names = (
        list(quantities)
        if quantities
        else [q.name for q in study.quantities if q.kind == "probability"]
    )
    unknown = [n for n in names if n not in by_name]
    if unknown or not names:
        raise ValueError(
            f"unknown quantities {unknown}: choose from {list(by_name)}"
            if unknown
            else "nothing to draw: the study has no probability quantities; name some"
        )
    kinds = {by_name[n][1].kind for n in names}
    if len(kinds) > 1:
        raise ValueError(f"{names} mix kinds {sorted(kinds)}: draw one kind per figure")
    if study.n_done == 0:
        raise ValueError("the study has no computed prompts yet: run it first")
    summary = study.summary_arrays()
    layers = np.asarray(study.layers)
    fig = StudyFigure(figsize=(width, width * 0.62), layout="constrained")
    lines, strip = fig.subplots(2, 1, sharex=True, height_ratios=[8, 1])
    for name in names:
        i, q = by_name[name]
        color = quantity_color(study.quantities, name)
        mean, low, high = summary[i, 0], summary[i, 1], summary[i, 2]
        lines.plot(layers, mean, color=color, label=q.label, marker="o", markersize=2.5)
        lines.fill_between(layers, low, high, color=color, alpha=0.2, linewidth=0)
    kind = kinds.pop()
    if kind == "rank":
        lines.set_yscale("log")
        lines.invert_yaxis()
    if kind == "probability":
        lines.set_ylim(bottom=0)
    lines.set_ylabel(_AXIS.get(kind, kind))
    lines.legend(frameon=False)
    lines.grid(alpha=0.3)
    lines.set_title(title or f"{study.n_done} prompts, mean and 95% interval per layer")
    _entropy_strip(fig, strip, study, summary, layers)
    return fig


def _entropy_strip(fig: Figure, ax: Any, study: Any, summary: np.ndarray, layers: Any) -> None:
    entropy = [i for i, q in enumerate(study.quantities) if q.kind == "entropy"]
    ax.set_yticks([])
    ax.set_xlabel("layer")
    if not entropy:
        return
    mean = summary[entropy[0], 0][None, :]
    step = float(np.median(np.diff(layers))) if len(layers) > 1 else 1.0
    extent = (layers[0] - step / 2, layers[-1] + step / 2, 0, 1)
    image = ax.imshow(mean, aspect="auto", cmap="viridis", extent=extent, vmin=0)
    ax.set_ylabel("entropy", rotation=0, ha="right", va="center")
    fig.colorbar(image, ax=ax, label="nats", aspect=4, pad=0.01)
