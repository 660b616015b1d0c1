"""Figures: where the title, grid, color bar and chart go, in inches and figure fractions."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from matplotlib.figure import Figure

from .figure_data import _Lens
from .figure_text import _fit, visible

__all__: list[str] = []

# Sizes in inches and points.
_COL_W, _ROW_H, _MIN_GRID_W = 0.5, 0.22, 3.2
_CELL_PT, _LABEL_PT, _TITLE_PT = 6.5, 7.0, 10.0
_RIGHT_W, _BOTTOM_H, _GAP_H = 2.4, 0.45, 0.45


@dataclass
class _Box:
    """Where the parts go, in figure fractions, and the sizes they are drawn at."""

    grid: tuple[float, float, float, float]
    colorbar: tuple[float, float, float, float]
    chart: tuple[float, float, float, float]
    title_y: float
    cell_chars: int


def _quarters(inches: float) -> float:
    return math.ceil(inches * 4 - 1e-9) / 4


def _zoom_columns(zoom: Sequence[int], n_rows: int) -> list[int]:
    """Lens rows shown, clamped as the widget clamps ``x_zoom`` (frontend/layout.js)."""
    if len(zoom) != 2:
        return list(range(n_rows))
    first = min(max(0, int(zoom[0])), n_rows - 1)
    last = min(max(first, int(zoom[1])), n_rows - 1)
    return list(range(first, last + 1))


def _layout(fig: Figure, lens: _Lens, state: Any, n_cols: int) -> _Box:
    col_w = max(_COL_W, _MIN_GRID_W / n_cols)
    labels = [len(_fit(visible(t), 18)) for t in lens.input]
    left = min(1.8, max(0.7, 0.2 + 0.06 * max(labels, default=4)))
    title_h, head_h = 0.4, 0.3
    grid_w, grid_h = n_cols * col_w, lens.n_pos * _ROW_H
    chart_h = max(1.2, state.chart_height / 96)  # the widget's CSS px at 96 per inch
    # Whole quarter inches (the slack goes right and below): exact in binary floating point,
    # so a PNG is exactly size × dpi pixels for any dpi divisible by 4 (72, 300, 600...).
    width = _quarters(left + grid_w + _RIGHT_W)
    height = _quarters(title_h + head_h + grid_h + _GAP_H + chart_h + _BOTTOM_H)
    fig.set_size_inches(width, height)

    def box(x: float, y_top: float, w: float, h: float) -> tuple[float, float, float, float]:
        return (x / width, 1 - (y_top + h) / height, w / width, h / height)

    grid_top = title_h + head_h
    return _Box(
        grid=box(left, grid_top, grid_w, grid_h),
        colorbar=box(left + grid_w + 0.15, grid_top, 0.12, min(grid_h, 2.0)),
        chart=box(left, grid_top + grid_h + _GAP_H, grid_w, chart_h),
        title_y=1 - 0.22 / height,
        cell_chars=max(3, int(col_w * 72 / (_CELL_PT * 0.62))),
    )
