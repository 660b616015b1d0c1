"""Figures for papers: the widget's grid, color bar and trajectory chart as SVG or PNG.

One drawing, made with matplotlib's object API (``Figure``, never pyplot's global state), so
it works headless and from the kernel thread that answers the browser's ``figure`` command.
The figure follows the widget's state: color mode and its target, pins and pinned rows,
``x_zoom`` (the layer range), chart metric and scale, and theme.

SVG text is drawn as outlines (``svg.fonttype = "path"``), so it looks the same without the
fonts; each cell's token is also written, escaped, as a ``<title>`` of its group, where
screen readers, tooltips and tests find it. PNG defaults to 300 dpi.

This module is the public API; the parts are figure_data.py (the numbers, read from a
collection dict or a payload), figure_colors.py (one color rule per color mode),
figure_layout.py, figure_grid.py, figure_chart.py, figure_text.py (glyphs, fonts, SVG
titles) and figure_diff.py (a diff's two sides).
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ..base.files import check_output_path, write_bytes_atomic
from ..base.ui_state import THEME_COLORS
from .figure_chart import _draw_chart
from .figure_colors import (
    DIVERGING_COLOR_MODES,
    DRAWN_COLOR_MODES,
    DRAWN_METRICS,
    FIGURE_COLOR_RULES,
    REFUSED_COLOR_MODES,
    _check_drawable,
    _color_label,
)
from .figure_data import _lens_and_state
from .figure_grid import _bar_ticks, _draw_colorbar, _draw_grid, _draw_title
from .figure_layout import _layout, _zoom_columns
from .figure_text import _rc, _title, _with_titles, visible

__all__ = [
    "DIVERGING_COLOR_MODES",
    "DRAWN_COLOR_MODES",
    "DRAWN_METRICS",
    "FIGURE_COLOR_RULES",
    "FIGURE_FORMATS",
    "MAX_CELLS",
    "MAX_PIXELS",
    "REFUSED_COLOR_MODES",
    "figure_bytes",
    "figure_format",
    "lens_figure",
    "save_figure",
    "visible",
]

#: File extensions a figure can be saved as, with their format names.
FIGURE_FORMATS = {".svg": "svg", ".png": "png"}

#: Above this many grid cells a figure is refused: unreadable in print and slow to draw.
MAX_CELLS = 6000
#: PNG pixel budget (width × height); about 400 MB of RGBA while drawing.
MAX_PIXELS = 100_000_000

# The widget's theme colors (background, text, muted text, borders, headers), as widget.css.
THEMES = THEME_COLORS


# ------------------------------------------------------------------ public API


def lens_figure(source: Any, *, theme: str | None = None) -> Figure:
    """Draw the grid, its color bar and the trajectory chart as a matplotlib ``Figure``.

    Args:
        source: a ``LogitLensWidget`` (its data and UI state: pins, zoom, colors, theme), or
            data it accepts (collection dict or version-3 payload; default UI state).
        theme: ``"light"`` or ``"dark"``; default the widget's ``dark_mode``, where
            ``"auto"`` means light (Python cannot see the notebook's theme).

    Returns:
        A ``Figure`` with no pyplot manager; its size is set in inches.

    A diff (``LogitLensWidget.compare``) draws both sides: side A's grid over side B's,
    each under its name, on one color scale, and the chart with side B's lines dashed.

    Raises:
        ValueError: the data is seed V2 JSON or empty, the theme is unknown, the grid has
            more than ``MAX_CELLS`` cells (zoom to fewer layers: ``w.x_zoom``), or the
            color mode or chart metric is one figures do not draw yet
            (``DRAWN_COLOR_MODES``, ``DRAWN_METRICS``).
    """
    lens, state = _lens_and_state(source)
    _check_drawable(state)
    colors = THEMES[_theme(state, theme)]
    if getattr(state, "compare_data", None):  # a diff: both sides (figure_diff.py)
        from .figure_diff import diff_figure

        return diff_figure(lens, state, colors)
    columns = _zoom_columns(state.x_zoom, lens.n_rows)
    if len(columns) * lens.n_pos > MAX_CELLS:
        raise ValueError(
            f"the figure would have {len(columns) * lens.n_pos:,} cells (over {MAX_CELLS:,}): "
            "zoom to fewer layers (w.x_zoom = [first, last]) or use a shorter prompt"
        )
    with matplotlib.rc_context(_rc()):
        fig = Figure(facecolor=colors["bg"])
        FigureCanvasAgg(fig)
        box = _layout(fig, lens, state, len(columns))
        _draw_title(fig, box, _title(state, lens), colors)
        mappable = _draw_grid(fig, box, lens, state, columns, colors)
        ticks = _bar_ticks(fig, box, state, lens.max_rank)
        _draw_colorbar(fig, box, mappable, _color_label(lens, state), colors, ticks)
        _draw_chart(fig, box, lens, state, columns, colors)
    return fig


def figure_bytes(source: Any, fmt: str, *, dpi: int = 300, theme: str | None = None) -> bytes:
    """The figure of ``source`` (see :func:`lens_figure`) as SVG or PNG bytes.

    Args:
        source: a ``LogitLensWidget`` or data it accepts.
        fmt: ``"svg"`` or ``"png"``.
        dpi: PNG resolution (SVG is resolution-free; its size is in points).
        theme: ``"light"`` or ``"dark"``; default the widget's theme.

    Raises:
        ValueError: an unknown format, a bad dpi, or see :func:`lens_figure`.
    """
    if fmt not in FIGURE_FORMATS.values():
        raise ValueError(f"figure format must be 'svg' or 'png', got {fmt!r}")
    dpi = _check_dpi(dpi)
    fig = lens_figure(source, theme=theme)
    width, height = fig.get_size_inches() * dpi
    if fmt == "png" and width * height > MAX_PIXELS:
        raise ValueError(
            f"a {width:,.0f} × {height:,.0f} px PNG is too large: lower dpi (now {dpi}), "
            "zoom to fewer layers, or save an SVG"
        )
    buffer = io.BytesIO()
    with matplotlib.rc_context(_rc()):
        # No date: the same state gives the same bytes (diffs, caches, reproducible papers).
        metadata = {"Date": None} if fmt == "svg" else {}
        fig.savefig(buffer, format=fmt, dpi=dpi, facecolor=fig.get_facecolor(), metadata=metadata)
    data = buffer.getvalue()
    return _with_titles(data, fig) if fmt == "svg" else data


def save_figure(
    source: Any,
    path: str | os.PathLike[str],
    *,
    dpi: int = 300,
    theme: str | None = None,
    overwrite: bool = False,
) -> Path:
    """Write the figure of ``source`` to ``path``, SVG or PNG by its extension.

    Same rules as ``save_html``: an existing file is replaced only with ``overwrite=True``
    and a failure leaves any previous file intact.

    Args:
        source: a ``LogitLensWidget`` or data it accepts.
        path: a ``.svg`` or ``.png`` file.
        dpi: PNG resolution.
        theme: ``"light"`` or ``"dark"``; default the widget's theme.
        overwrite: replace an existing file.

    Returns:
        ``path`` as a ``Path``.

    Raises:
        ValueError: the extension is neither ``.svg`` nor ``.png``, or see
            :func:`figure_bytes`.
        FileExistsError, OSError: see ``files.check_output_path``.
    """
    fmt = figure_format(path)
    check_output_path(path, overwrite=overwrite)  # before the (slower) drawing
    return write_bytes_atomic(
        path, figure_bytes(source, fmt, dpi=dpi, theme=theme), overwrite=overwrite
    )


def figure_format(path: str | os.PathLike[str], allowed: Sequence[str] = (".svg", ".png")) -> str:
    """The format a path's extension names (``".SVG"`` counts); ValueError names the allowed."""
    suffix = Path(path).suffix.lower()
    if suffix not in allowed:
        shown = f"'{suffix}'" if suffix else "no extension"
        raise ValueError(f"{path}: {shown} is not a figure format: use one of {', '.join(allowed)}")
    return FIGURE_FORMATS.get(suffix, suffix.lstrip("."))


# ------------------------------------------------------------------ options


def _theme(state: Any, theme: str | None) -> str:
    chosen = theme if theme is not None else state.dark_mode
    if chosen == "auto":
        return "light"
    if chosen not in THEMES:
        raise ValueError(f"theme must be 'light' or 'dark', got {chosen!r}")
    return chosen


def _check_dpi(dpi: Any) -> int:
    if isinstance(dpi, bool) or not isinstance(dpi, (int, np.integer)) or not 10 <= dpi <= 2400:
        raise ValueError(f"dpi must be an integer from 10 to 2400 (300 is print), got {dpi!r}")
    return int(dpi)
