"""Figures: the trajectory chart, one line per pin and pinned row (frontend/pins.js)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..base.ui_state import PIN_PALETTE
from .figure_colors import _ids_label
from .figure_data import _Lens
from .figure_grid import _dash, _pinned_rows
from .figure_layout import _LABEL_PT
from .figure_text import _fit

__all__: list[str] = []

_LOG_FLOOR = 1e-6


@dataclass
class _Line:
    values: np.ndarray
    color: str
    dash: Any
    label: str
    ids: Sequence[int] = ()
    position: int = 0


def _chart_lines(lens: _Lens, state: Any) -> list[_Line]:
    """Pins at the pinned rows (or the last position); with no pins, the final predictions."""
    rows = _pinned_rows(lens, state)
    positions = rows or [lens.n_pos - 1]
    if state.pins:
        series = [(pin, p, j, "") for pin in state.pins for j, p in enumerate(positions)]
    else:  # an empty chart says nothing: show what the model predicts at those positions
        top = [int(lens.topk_ids[lens.final_row, p, 0]) for p in positions]
        series = [
            ({"ids": [t], "color": PIN_PALETTE[j % len(PIN_PALETTE)]}, p, j, " (prediction)")
            for j, (p, t) in enumerate(zip(positions, top, strict=True))
        ]
    return [
        _Line(
            _values(lens, state, p, pin["ids"]),
            pin["color"],
            _dash(j) if rows else "solid",
            f"{_fit(pin.get('name') or _ids_label(lens, state, pin['ids']), 22)} @{p}{note}",
            pin["ids"],
            p,
        )
        for pin, p, j, note in series
    ]


def _values(lens: _Lens, state: Any, p: int, ids: Sequence[int]) -> np.ndarray:
    """The plotted metric at every lens row; NaN where unknown (as frontend/pins.js)."""
    if state.trajectory_metric == "rank":
        ranks = lens.rank(ids)[:, p]
        values = np.where(ranks > 0, ranks, np.nan)
    else:
        t = lens.trajectory(p, ids)
        values = np.full(lens.n_rows, np.nan) if t is None else t.astype(float)
    return np.where(lens.status[:, p] == 0, values, np.nan)


def _draw_chart(fig, box, lens, state, columns, colors, lines=None) -> None:
    """The trajectory chart: ``lines``, default the pins' (or predictions') on ``lens``."""
    ax = fig.add_axes(box.chart, facecolor=colors["bg"])
    x = np.arange(len(columns)) + 0.5
    lines = _chart_lines(lens, state) if lines is None else lines
    for line in lines:
        values = line.values[columns]
        if state.chart_scale == "log" and state.trajectory_metric != "rank":
            values = np.where(values > 0, values, np.nan)
        ax.plot(x, values, color=line.color, linestyle=line.dash, linewidth=1.4, label=line.label)
        alone = _isolated(values)
        ax.plot(x[alone], values[alone], "o", color=line.color, markersize=2.5)
    _chart_axes(ax, lens, state, columns, lines, colors)


def _isolated(values: np.ndarray) -> np.ndarray:
    """Known values with no known neighbour: no segment reaches them, so they get a dot."""
    known = np.isfinite(values)
    padded = np.pad(known, 1)
    return known & ~padded[:-2] & ~padded[2:]


def _chart_axes(ax, lens, state, columns, lines, colors) -> None:
    ax.set_xlim(0, len(columns))
    step = max(1, -(-len(columns) // 16))
    ticks = list(range(0, len(columns), step))
    ax.set_xticks([i + 0.5 for i in ticks], [str(lens.layers[columns[i]]) for i in ticks])
    ax.set_xlabel("layer", color=colors["muted"], fontsize=_LABEL_PT)
    if state.trajectory_metric == "rank":
        ax.set_ylim(max(2, lens.k), 1)
        ax.set_ylabel("rank (top-k only)", color=colors["muted"], fontsize=_LABEL_PT)
    elif state.chart_scale == "log":
        low = min([np.nanmin(line.values[columns], initial=1.0) for line in lines] + [0.1])
        ax.set_yscale("log")
        ax.set_ylim(10 ** np.floor(np.log10(max(_LOG_FLOOR, low))), 1)
        ax.set_ylabel("probability (log)", color=colors["muted"], fontsize=_LABEL_PT)
    else:
        ax.set_ylim(0, 1)
        ax.set_ylabel("probability", color=colors["muted"], fontsize=_LABEL_PT)
    ax.tick_params(labelsize=_LABEL_PT, colors=colors["fg"])
    ax.grid(True, color=colors["border"], linewidth=0.4)
    for spine in ax.spines.values():
        spine.set_color(colors["border"])
    if lines:
        legend = ax.legend(
            loc="upper left",
            bbox_to_anchor=(1.02, 1.0),
            fontsize=_LABEL_PT - 0.5,
            frameon=False,
            labelcolor=colors["fg"],
            handlelength=2.6,
        )
        legend.set_in_layout(False)
