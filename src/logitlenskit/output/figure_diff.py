"""Figures of a diff (``LogitLensWidget.compare``): both sides, as the widget compares them.

Side A's grid over side B's, each under its name (and prompt), on one color scale (the
bound of entropy, KL and the diverging modes, and the palest rank, are the largest of both
sides'), one color bar beside them, and the chart with every line on both sides: side A's
as in a one-sided figure, side B's dashed (``6 3``, as the widget draws them), each named by
its side. Positions are aligned by index, so a line at a position side B lacks has no
side-B twin. Side B's SVG groups are ``llk-cellb-<layer>-<position>`` and
``llk-inputb-<position>``. The drawing parts are the one-sided figure's (figure_grid.py,
figure_chart.py).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import matplotlib
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from .figure import MAX_CELLS
from .figure_chart import _chart_lines, _draw_chart, _Line, _values
from .figure_colors import _color_label, _intensity, _nice_ceil, _rule
from .figure_data import _from_payload, _Lens
from .figure_grid import _bar_ticks, _draw_colorbar, _draw_grid, _draw_title
from .figure_layout import (
    _BOTTOM_H,
    _CELL_PT,
    _COL_W,
    _GAP_H,
    _LABEL_PT,
    _MIN_GRID_W,
    _RIGHT_W,
    _ROW_H,
    _Box,
    _quarters,
    _zoom_columns,
)
from .figure_text import _fit, _rc, _title, visible

__all__ = ["diff_figure"]

#: Side B's lines, as the widget's chart dashes them.
SIDE_B_DASH = (0, (6, 3))
_NAME_H, _BETWEEN_H, _HEAD_H, _TITLE_H = 0.24, 0.15, 0.3, 0.4


def diff_figure(lens_a: _Lens, state: Any, colors: dict[str, str]) -> Figure:
    """Both sides of a diff as one figure (see the module's text).

    Args:
        lens_a: side A's decoded data (the widget's ``data``).
        state: the widget (its ``compare_data``, ``compare_labels``, prompts and UI state).
        colors: the theme's colors.

    Raises:
        ValueError: side B is not a version-3 payload, has other layers, or the two grids
            have more than ``MAX_CELLS`` cells together.
    """
    lens_b = _side_b(state.compare_data, lens_a)
    columns = _zoom_columns(state.x_zoom, lens_a.n_rows)
    cells = len(columns) * (lens_a.n_pos + lens_b.n_pos)
    if cells > MAX_CELLS:
        raise ValueError(
            f"the figure would have {cells:,} cells on its two sides (over {MAX_CELLS:,}): "
            "zoom to fewer layers (w.x_zoom = [first, last]) or use shorter prompts"
        )
    names = _names(state)
    max_rank = max(lens_a.max_rank, lens_b.max_rank)
    bound = _shared_bound(lens_a, lens_b, state, columns, max_rank)
    with matplotlib.rc_context(_rc()):
        fig = Figure(facecolor=colors["bg"])
        FigureCanvasAgg(fig)
        box_a, box_b, name_ys = _layout(fig, lens_a, lens_b, state, len(columns))
        _draw_title(fig, box_a, _title(state, lens_a), colors)
        meshes = []
        for lens, box, side in ((lens_a, box_a, ""), (lens_b, box_b, "b")):
            meshes.append(
                _draw_grid(
                    fig,
                    box,
                    lens,
                    state,
                    columns,
                    colors,
                    side=side,
                    bound=bound,
                    max_rank=max_rank,
                )
            )
        for name, y in zip(names, name_ys, strict=True):
            fig.text(box_a.grid[0], y, name, color=colors["fg"], fontsize=_LABEL_PT + 1,
                     fontweight="bold", ha="left", va="center")  # fmt: skip
        ticks = _bar_ticks(fig, box_a, state, max_rank)
        _draw_colorbar(fig, box_a, meshes[0], _color_label(lens_a, state), colors, ticks)
        lines = _both_sides_lines(lens_a, lens_b, state, state.compare_labels)
        _draw_chart(fig, box_a, lens_a, state, columns, colors, lines)
    return fig


def _side_b(payload: dict[str, Any], lens_a: _Lens) -> _Lens:
    if "topk_ids" not in payload:
        raise ValueError(
            "figures need side B as a collection or a version-3 payload, not seed V2 JSON"
        )
    lens_b = _from_payload(payload)
    if lens_b.layers != lens_a.layers:
        raise ValueError(
            f"side B has layers {lens_b.layers}, side A {lens_a.layers}: a diff's figure "
            "draws both sides on the same layers"
        )
    return lens_b


def _names(state: Any) -> list[str]:
    """Each side's heading: its name, and its prompt where the name is not the prompt."""
    out = []
    for label, prompt in zip(
        state.compare_labels, (state.prompt, state.compare_prompt), strict=True
    ):
        text = " ".join(visible(word) for word in str(prompt).split())
        out.append(f"{label}: {_fit(text, 90)}" if text and text != label else str(label))
    return out


def _shared_bound(lens_a, lens_b, state, columns, max_rank) -> float | None:
    """The color bound of both sides' shown cells, where the mode scales to the data."""
    scale = _rule(state).scale
    if scale not in ("data", "diverging"):
        return None
    shown = [_intensity(lens, state, max_rank) for lens in (lens_a, lens_b)]
    values = np.concatenate([v[columns].ravel() for v in shown if v is not None] or [[]])
    if scale == "data":
        return float(np.nanmax(values, initial=0.0)) or None
    finite = np.abs(values[np.isfinite(values)])
    return _nice_ceil(float(finite.max(initial=0.0)))


def _both_sides_lines(lens_a, lens_b, state, labels) -> list[_Line]:
    """Every chart line on side A, then its twin on side B (dashed) where B has the position."""
    out = []
    for line in _chart_lines(lens_a, state):
        out.append(replace(line, label=f"{line.label} ({labels[0]})"))
        if line.position < lens_b.n_pos:
            values = _values(lens_b, state, line.position, line.ids)
            label = f"{line.label} ({labels[1]})"
            out.append(replace(line, values=values, dash=SIDE_B_DASH, label=label))
    return out


def _layout(fig, lens_a, lens_b, state, n_cols) -> tuple[_Box, _Box, list[float]]:
    """Title, side A's name and grid, side B's name and grid, chart; the bar beside both.

    Returns both grids' boxes and the names' heights (figure fractions).
    """
    col_w = max(_COL_W, _MIN_GRID_W / n_cols)
    labels = [len(_fit(visible(t), 18)) for t in (*lens_a.input, *lens_b.input)]
    left = min(1.8, max(0.7, 0.2 + 0.06 * max(labels, default=4)))
    grid_w, h_a, h_b = n_cols * col_w, lens_a.n_pos * _ROW_H, lens_b.n_pos * _ROW_H
    chart_h = max(1.2, state.chart_height / 96)
    top_a = _TITLE_H + _NAME_H + _HEAD_H
    top_b = top_a + h_a + _BETWEEN_H + _NAME_H + _HEAD_H
    width = _quarters(left + grid_w + _RIGHT_W)
    height = _quarters(top_b + h_b + _GAP_H + chart_h + _BOTTOM_H)
    fig.set_size_inches(width, height)

    def box(x: float, y_top: float, w: float, h: float) -> tuple[float, float, float, float]:
        return (x / width, 1 - (y_top + h) / height, w / width, h / height)

    box_a = _Box(
        grid=box(left, top_a, grid_w, h_a),
        colorbar=box(left + grid_w + 0.15, top_a, 0.12, min(top_b + h_b - top_a, 2.0)),
        chart=box(left, top_b + h_b + _GAP_H, grid_w, chart_h),
        title_y=1 - 0.22 / height,
        cell_chars=max(3, int(col_w * 72 / (_CELL_PT * 0.62))),
    )
    box_b = replace(box_a, grid=box(left, top_b, grid_w, h_b))
    name_ys = [1 - (top - _HEAD_H - _NAME_H / 2) / height for top in (top_a, top_b)]
    return box_a, box_b, name_ys
