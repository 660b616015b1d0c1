"""Figures: the title, the grid of cells with their top-1 tokens, and the color bar.

How a cell is colored comes from the color mode's rule (figure_colors.py); this module
turns those numbers into the mesh, the cells' text and the bar.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from ..base.ui_state import ROW_DASHES
from .figure_colors import (
    _diverging_map,
    _heat_map,
    _intensity,
    _nice_ceil,
    _rank_intensity,
    _rule,
    _text_color,
)
from .figure_data import _Lens
from .figure_kl import hatch_undefined_kl
from .figure_layout import _CELL_PT, _LABEL_PT, _TITLE_PT, _Box
from .figure_text import _fit, _is_fragment, _titles, visible

__all__: list[str] = []

_CELL_ID = "llk-cell"


def _draw_title(fig: Figure, box: _Box, title: str, colors: dict[str, str]) -> None:
    if title:
        fig.text(
            box.grid[0],
            box.title_y,
            _fit(title, 120),
            color=colors["fg"],
            fontsize=_TITLE_PT,
            fontweight="bold",
            ha="left",
            va="center",
        )


def _draw_grid(fig, box, lens, state, columns, colors, *, side="", bound=None, max_rank=None):
    """The cells, their top-1 tokens, row and column labels; returns the color mapping.

    A diff's side B: ``side`` "b" marks its SVG ids (``llk-cellb-…``), ``bound`` is the color
    bound both sides share (entropy, KL, diverging modes) and ``max_rank`` their palest rank.
    """
    ax = fig.add_axes(box.grid, facecolor=colors["bg"])
    rule = _rule(state)
    values = _intensity(lens, state, max_rank)
    shown = np.zeros((len(columns), lens.n_pos)) if values is None else values[columns]
    vmin, vmax = 0.0, 1.0
    cmap = _heat_map(getattr(state, rule.color), colors)
    if values is not None and rule.scale == "data":
        vmax = bound or float(np.nanmax(shown, initial=0.0)) or 1.0
    elif values is not None and rule.scale == "diverging":
        # Diverging over a round symmetric bound of the shown rows' finite values
        # (frontend/color.js).
        finite = np.abs(shown[np.isfinite(shown)])
        vmax = bound or _nice_ceil(float(finite.max(initial=0.0)))
        vmax = vmax if rule.cap is None else min(rule.cap, vmax)
        vmin = -vmax
        shown = np.clip(shown, vmin, vmax)  # ±∞ (a 0 probability) is the full color
        cmap = _diverging_map(getattr(state, rule.color), state.negative_color, colors)
    masked = np.ma.masked_invalid(shown.T)
    mesh = ax.pcolormesh(
        masked,
        cmap=cmap,
        norm=Normalize(vmin, vmax),
        edgecolors=colors["border"],
        linewidth=0.3,
    )
    rgba = mesh.to_rgba(masked)
    for ci, row in enumerate(columns):
        for p in range(lens.n_pos):
            _cell_text(ax, lens, row, p, ci, rgba[p, ci], box.cell_chars, colors, side)
    if values is not None and state.color_mode == "kl":
        gid = lambda row, p: f"{_CELL_ID}{side}-{lens.layers[row]}-{p}"  # noqa: E731
        hatch_undefined_kl(ax, lens.kl, lens.status, columns, colors["muted"], _titles(fig), gid)
    _grid_axes(ax, lens, state, columns, colors, side)
    return None if values is None else mesh


def _cell_text(ax, lens, row, p, ci, rgba, chars, colors, side="") -> None:
    status = int(lens.status[row, p])
    if status == 0:
        raw = lens.token(int(lens.topk_ids[row, p, 0]))
        text, ink = visible(raw), _text_color(rgba)
        style = "italic" if _is_fragment(raw) else "normal"
    else:
        raw, text, ink, style = "", "NaN" if status == 1 else "\u2026", colors["muted"], "normal"
    label = ax.text(
        ci + 0.5,
        p + 0.5,
        _fit(text, chars),
        ha="center",
        va="center",
        fontsize=_CELL_PT,
        color=ink,
        fontstyle=style,
    )
    label.set_gid(f"{_CELL_ID}{side}-{lens.layers[row]}-{p}")
    _titles(ax.figure)[label.get_gid()] = text if status == 0 else "no value"


def _grid_axes(ax, lens, state, columns, colors, side="") -> None:
    ax.set_xlim(0, len(columns))
    ax.set_ylim(lens.n_pos, 0)
    ax.xaxis.tick_top()
    ax.set_xticks([i + 0.5 for i in range(len(columns))], [str(lens.layers[r]) for r in columns])
    ax.set_yticks([p + 0.5 for p in range(lens.n_pos)], [_fit(visible(t), 18) for t in lens.input])
    for p, tick in enumerate(ax.get_yticklabels()):
        tick.set_gid(f"llk-input{side}-{p}")
        _titles(ax.figure)[tick.get_gid()] = visible(lens.input[p])
    ax.tick_params(length=0, labelsize=_LABEL_PT, colors=colors["fg"], pad=3)
    ax.set_xlabel("layer", color=colors["muted"], fontsize=_LABEL_PT)
    ax.xaxis.set_label_position("top")
    for spine in ax.spines.values():
        spine.set_color(colors["border"])
    rows = _pinned_rows(lens, state)
    for j, p in enumerate(rows):
        ax.add_patch(
            Rectangle(
                (0, p),
                len(columns),
                1,
                fill=False,
                edgecolor=colors["fg"],
                linewidth=1.0,
                linestyle=_dash(j),
                clip_on=False,
            )
        )


def _draw_colorbar(fig, box, mappable, label, colors, ticks=None) -> None:
    """The color bar; ``ticks``: (levels, labels) where its values are not its units."""
    if mappable is None:
        return
    cax = fig.add_axes(box.colorbar)
    bar = fig.colorbar(mappable, cax=cax)
    if ticks is not None:
        cax.set_yticks(*ticks)
    bar.set_label(label, color=colors["fg"], fontsize=_LABEL_PT)
    bar.outline.set_edgecolor(colors["border"])
    cax.tick_params(labelsize=_LABEL_PT - 0.5, colors=colors["fg"])


def _bar_ticks(fig: Figure, box: _Box, state: Any, max_rank: int):
    """The color bar's ticks where its values are not its units (ranks), else None."""
    if _rule(state).scale != "rank":
        return None
    return _rank_ticks(max_rank, box.colorbar[3] * fig.get_figheight() * 72)


def _rank_ticks(max_rank: int, bar_pt: float) -> tuple[np.ndarray, list[str]]:
    """The rank color bar's ticks: ranks 1, 10, 100, …, the palest, at their intensities.

    Both ends always; a power of ten only where its label clears the kept ones on a bar
    ``bar_pt`` points tall (labels are stacked vertically, about 1.3 lines apart).
    """
    ranks = [10**e for e in range(int(math.log10(max_rank)) + 1) if 10**e < max_rank]
    at = _rank_intensity(np.array([*ranks, max_rank], float), max_rank)
    gap = 1.3 * _LABEL_PT / max(bar_pt, 1e-9)  # one label's height in bar fractions
    kept = [0]  # rank 1, at the full color
    for i in range(1, len(ranks)):
        if at[kept[-1]] - at[i] >= gap and at[i] >= gap:  # clear of the last kept and the end
            kept.append(i)
    kept.append(len(ranks))
    shown = [*ranks, max_rank]
    return at[kept], [f"{shown[i]:,}" for i in kept]


def _pinned_rows(lens: _Lens, state: Any) -> list[int]:
    return [p for p in state.pinned_rows if p < lens.n_pos]


def _dash(index: int) -> Any:
    dash = ROW_DASHES[index % len(ROW_DASHES)]
    return (0, dash) if dash else "solid"
