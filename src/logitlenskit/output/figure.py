"""Figures for papers: the widget's grid, color bar and trajectory chart as SVG or PNG.

One drawing, made with matplotlib's object API (``Figure``, never pyplot's global state), so
it works headless and from the kernel thread that answers the browser's ``figure`` command.
The figure follows the widget's state: color mode and its target, pins and pinned rows,
``x_zoom`` (the layer range), chart metric and scale, and theme.

SVG text is drawn as outlines (``svg.fonttype = "path"``), so it looks the same without the
fonts; each cell's token is also written, escaped, as a ``<title>`` of its group, where
screen readers, tooltips and tests find it. PNG defaults to 300 dpi.
"""

from __future__ import annotations

import io
import math
import os
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import matplotlib
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import LinearSegmentedColormap, Normalize, to_rgb
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from ..base.files import check_output_path, write_bytes_atomic
from ..base.formats import widget_payload
from ..base.ui_state import (
    BYTE_TOKEN_PATTERN,
    CELL_OPACITY,
    COLOR_MODES,
    DARK_INK_BELOW,
    EMPTY_TOKEN,
    PIN_PALETTE,
    ROW_DASHES,
    THEME_COLORS,
    TOKEN_GLYPHS,
    UNKNOWN_TOKEN,
    UIStateTraits,
)
from ..base.validate import binary_field, cell_status_field
from .figure_kl import hatch_undefined_kl

__all__ = ["FIGURE_FORMATS", "figure_bytes", "figure_format", "lens_figure", "save_figure"]

#: File extensions a figure can be saved as, with their format names.
FIGURE_FORMATS = {".svg": "svg", ".png": "png"}

#: Above this many grid cells a figure is refused: unreadable in print and slow to draw.
MAX_CELLS = 6000
#: PNG pixel budget (width × height); about 400 MB of RGBA while drawing.
MAX_PIXELS = 100_000_000

# The widget's theme colors (background, text, muted text, borders, headers), as widget.css.
THEMES = THEME_COLORS

# Same glyphs as frontend/tokens.js, so a figure reads like the widget.
_BYTE_TOKEN = re.compile(BYTE_TOKEN_PATTERN)
_LOG_FLOOR = 1e-6
_CELL_ID = "llk-cell"

# Sizes in inches and points.
_COL_W, _ROW_H, _MIN_GRID_W = 0.5, 0.22, 3.2
_CELL_PT, _LABEL_PT, _TITLE_PT = 6.5, 7.0, 10.0
_RIGHT_W, _BOTTOM_H, _GAP_H = 2.4, 0.45, 0.45


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
        bar_pt = box.colorbar[3] * fig.get_figheight() * 72
        ticks = _rank_ticks(lens.max_rank, bar_pt) if state.color_mode == "rank" else None
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


# ------------------------------------------------------------------ data


@dataclass
class _Lens:
    """The payload's arrays, decoded: what the grid and the chart read."""

    model: str
    input: list[str]
    layers: list[int]
    k: int
    vocab: dict[int, str]
    topk_ids: np.ndarray  # [L, P, k]
    topk_probs: np.ndarray  # [L, P, k]
    offsets: np.ndarray  # [P + 1]
    tracked_ids: np.ndarray  # [T]
    tracked_probs: np.ndarray  # [T, L]
    entropy: np.ndarray | None  # [L, P]
    kl: np.ndarray | None  # [L, P]
    targets: list[list[int]]  # the data's named targets' ids
    target_logprobs: np.ndarray | None  # [T, L, P], exact
    target_ranks: np.ndarray | None  # [T, L, P], exact
    status: np.ndarray  # [L, P], 0 = computed
    final_row: int

    @property
    def n_rows(self) -> int:
        return len(self.layers)

    @property
    def n_pos(self) -> int:
        return len(self.input)

    def token(self, token_id: int) -> str:
        return self.vocab.get(token_id, UNKNOWN_TOKEN)

    def target_index(self, ids: Sequence[int]) -> int | None:
        """The data target with exactly these ids, if any."""
        key = _id_key(ids)
        return next((t for t, ids_t in enumerate(self.targets) if _id_key(ids_t) == key), None)

    def exact_log_prob(self, ids: Sequence[int]) -> np.ndarray | None:
        """``[L, P]`` exact log-probability of a data target with exactly these ids."""
        t = self.target_index(ids)
        return None if t is None or self.target_logprobs is None else self.target_logprobs[t]

    def rank(self, ids: Sequence[int]) -> np.ndarray:
        """``[L, P]`` rank of the best of ``ids``, as frontend/lens.js reads it.

        Exact for a data target, else its place in the top-k (0 where none of them is there).
        """
        t = self.target_index(ids)
        if t is not None and self.target_ranks is not None:
            return self.target_ranks[t].astype(float)
        hits = np.isin(self.topk_ids, list(ids))
        return np.where(hits.any(-1), hits.argmax(-1) + 1, 0).astype(float)

    @property
    def max_rank(self) -> int:
        """The rank the rank mode colors palest (frontend/lens.js's ``maxRank``)."""
        ranks = 0
        if self.target_ranks is not None and self.target_ranks.size:
            ranks = int(self.target_ranks[:, self.status == 0].max(initial=0))
        return max(2, self.k + 1, max(self.vocab, default=-1) + 1, ranks)

    def trajectories(self, ids: Sequence[int]) -> np.ndarray:
        """``[L, P]`` summed tracked probability of ``ids`` (NaN where none is tracked)."""
        out = np.full((self.n_rows, self.n_pos), np.nan)
        for p in range(self.n_pos):
            t = self.trajectory(p, ids)
            if t is not None:
                out[:, p] = t
        return out

    def trajectory(self, position: int, ids: Sequence[int]) -> np.ndarray | None:
        """Summed probability of ``ids`` at every lens row; None when none is tracked."""
        lo, hi = int(self.offsets[position]), int(self.offsets[position + 1])
        here = self.tracked_ids[lo:hi]
        rows = [lo + int(i) for i in np.flatnonzero(np.isin(here, list(ids)))]
        if not rows:
            return None
        return self.tracked_probs[rows].sum(axis=0)


def _decode(payload: Mapping[str, Any]) -> _Lens:
    layers = [int(x) for x in payload["layers"]]
    n_rows, n_pos, k = len(layers), len(payload["input"]), int(payload["k"])

    def array(key: str, dtype: str, shape: tuple[int, ...]) -> np.ndarray:
        return binary_field(payload, key, dtype, math.prod(shape), key).reshape(shape)

    offsets = array("tracked_offsets", "<i4", (n_pos + 1,))
    n_tracked = int(offsets[-1])
    status = cell_status_field(payload, n_rows, n_pos)
    targets = payload.get("targets") or []
    per_target = (len(targets), n_rows, n_pos)
    num_layers = payload.get("num_layers")
    final_row = n_rows - 1
    if num_layers is not None and int(num_layers) - 1 in layers:
        final_row = layers.index(int(num_layers) - 1)
    return _Lens(
        model=str(payload.get("model", "")),
        input=[str(t) for t in payload["input"]],
        layers=layers,
        k=k,
        vocab={int(key): str(text) for key, text in payload["vocab"].items()},
        topk_ids=array("topk_ids", "<i4", (n_rows, n_pos, k)),
        topk_probs=array("topk_probs", "<f4", (n_rows, n_pos, k)),
        offsets=offsets,
        tracked_ids=array("tracked_ids", "<i4", (n_tracked,)),
        tracked_probs=array("tracked_probs", "<f4", (n_tracked, n_rows)),
        entropy=None
        if payload.get("entropy") is None
        else array("entropy", "<f4", (n_rows, n_pos)),
        kl=None if payload.get("kl") is None else array("kl", "<f4", (n_rows, n_pos)),
        targets=[[int(i) for i in t["ids"]] for t in targets],
        target_logprobs=array("target_logprobs", "<f4", per_target) if targets else None,
        target_ranks=array("target_ranks", "<i4", per_target) if targets else None,
        status=status,
        final_row=final_row,
    )


def _lens_and_state(source: Any) -> tuple[_Lens, Any]:
    """The decoded data and the UI state (a widget's, or the defaults for bare data)."""
    if isinstance(source, UIStateTraits):
        payload, state = getattr(source, "data", {}), source
    elif isinstance(source, Mapping):
        payload, state = widget_payload(source), UIStateTraits()
    else:
        raise TypeError(
            f"a figure needs a LogitLensWidget or collected data, got {type(source).__name__}"
        )
    if not payload:
        raise ValueError("no data to draw yet: run a prompt or give the widget data first")
    if "topk_ids" not in payload:
        raise ValueError(
            "figures need a collection or a version-3 payload, not seed V2 JSON: pass "
            "the dict from collect_logit_lens() to the widget"
        )
    return _decode(payload), state


# ------------------------------------------------------------------ text


@lru_cache(maxsize=1)
def _has_return_glyph() -> bool:
    from matplotlib import font_manager
    from matplotlib.ft2font import FT2Font

    font = FT2Font(font_manager.findfont("DejaVu Sans"))
    return ord("\u240d") in font.get_charmap()


def _glyph(ch: str) -> str:
    if ch == "\r" and not _has_return_glyph():
        return "\\r"  # ␍ is missing from DejaVu Sans: a box would say nothing
    if ch in TOKEN_GLYPHS:
        return TOKEN_GLYPHS[ch]
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:x}"


def _special(ch: str) -> bool:
    # Whitespace and controls (as tokens.js), plus what XML cannot carry at all (surrogates,
    # U+FFFE/U+FFFF) and format characters that would reorder or hide the text around them.
    category = unicodedata.category(ch)
    return ch.isspace() or category in ("Cc", "Cs", "Cf") or ch in "\ufffe\uffff"


def visible(raw: str) -> str:
    """A token string with whitespace and control characters shown as glyphs (as the widget)."""
    text = "".join(_glyph(ch) if _special(ch) else ch for ch in raw)
    return text or EMPTY_TOKEN


def _fit(text: str, chars: int) -> str:
    return text if len(text) <= chars else text[: max(1, chars - 1)] + "\u2026"


def _is_fragment(raw: str) -> bool:
    return "\ufffd" in raw or bool(_BYTE_TOKEN.fullmatch(raw))


def _title(state: Any, lens: _Lens) -> str:
    """The widget's title (or the model's name) as one line of plain text."""
    text = state.title or lens.model
    # Spaces stay spaces here (it is prose, not a token); other specials become glyphs.
    return " ".join(visible(word) for word in text.split())


# ------------------------------------------------------------------ state


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


#: What a figure can draw: every color mode but the sub-layer split and the diff's two
#: (a diff's figure draws each side's grid in one of these), since a figure that silently
#: differs from the view would mislead.
DRAWN_COLOR_MODES = tuple(m for m in COLOR_MODES if m not in ("sublayer", "diff_token", "jsd"))
DIVERGING_COLOR_MODES = ("delta", "logprob_diff")
DRAWN_METRICS = ("probability", "rank")


def _check_drawable(state: Any) -> None:
    if state.color_mode in ("diff_token", "jsd"):
        raise ValueError(
            f"figures cannot draw color mode {state.color_mode!r} yet: a figure of a diff "
            "draws both sides' grids, each colored by one of "
            f"{', '.join(DRAWN_COLOR_MODES)}; set w.color_mode to one of those first"
        )
    if state.color_mode not in DRAWN_COLOR_MODES:
        raise ValueError(
            f"figures cannot draw color mode {state.color_mode!r} yet (they draw "
            f"{', '.join(DRAWN_COLOR_MODES)}): set w.color_mode to one of those first"
        )
    if state.trajectory_metric not in DRAWN_METRICS:
        raise ValueError(
            f"figures cannot draw the chart metric {state.trajectory_metric!r} yet (they draw "
            f"{' and '.join(DRAWN_METRICS)}): set w.trajectory_metric first"
        )


def _id_key(ids: Sequence[int]) -> tuple[int, ...]:
    """A token set's identity, whatever the order or repeats (frontend/lens.js's idKey)."""
    return tuple(sorted({int(i) for i in ids}))


def _zoom_columns(zoom: Sequence[int], n_rows: int) -> list[int]:
    """Lens rows shown, clamped as the widget clamps ``x_zoom`` (frontend/layout.js)."""
    if len(zoom) != 2:
        return list(range(n_rows))
    first = min(max(0, int(zoom[0])), n_rows - 1)
    last = min(max(first, int(zoom[1])), n_rows - 1)
    return list(range(first, last + 1))


def _color_target(state: Any, lens: _Lens) -> list[int]:
    """Token ids the token / group / delta coloring uses, as frontend/color.js chooses them."""
    pins = state.pins
    if state.color_mode == "token":
        if state.color_token is not None:
            return [state.color_token]
        return [pins[0]["ids"][0]] if pins else []
    if state.color_mode == "group":
        if state.color_group:
            return list(state.color_group)
        group = next((p for p in pins if len(p["ids"]) > 1), pins[0] if pins else None)
        return list(group["ids"]) if group else []
    if state.color_mode in ("rank", *DIVERGING_COLOR_MODES):
        if state.color_group:
            return list(state.color_group)
        return list(pins[0]["ids"]) if pins else (lens.targets[0] if lens.targets else [])
    return []


def _color_foil(state: Any, lens: _Lens) -> list[int]:
    """The log-ratio's foil, as frontend/color.js chooses it.

    The chosen one, else the first pin, then data target, that is not the target.
    """
    if state.color_foil:
        return list(state.color_foil)
    target = _id_key(_color_target(state, lens))
    candidates = [list(p["ids"]) for p in state.pins] + lens.targets
    return next((c for c in candidates if _id_key(c) != target), [])


def _log_ratio(lens: _Lens, target: Sequence[int], foil: Sequence[int]) -> np.ndarray:
    """The log-ratio ``log p(target) − log p(foil)`` of every cell, ``[L, P]``.

    Exact when both are data targets, else from the tracked trajectories (NaN where either
    is untracked, or both are 0).
    """
    a, b = lens.exact_log_prob(target), lens.exact_log_prob(foil)
    with np.errstate(divide="ignore", invalid="ignore"):
        if a is None or b is None:
            a, b = np.log(lens.trajectories(target)), np.log(lens.trajectories(foil))
        return a - b


def _intensity(lens: _Lens, state: Any, max_rank: int | None = None) -> np.ndarray | None:
    """[L, P] values the cells are colored by (NaN: no number), or None for no coloring.

    ``max_rank``: the palest rank when it is not this data's own (a diff's two sides share one).
    """
    mode = state.color_mode
    if mode == "top1":
        values = lens.topk_probs[:, :, 0].astype(float)
    elif mode in ("token", "group", "delta"):
        ids = _color_target(state, lens)
        if not ids:
            return None
        probs = np.nan_to_num(lens.trajectories(ids))  # untracked: 0, uncolored
        values = _layer_change(probs, lens.status) if mode == "delta" else np.minimum(1, probs)
    elif mode == "rank":
        ids = _color_target(state, lens)
        if not ids:
            return None
        values = _rank_intensity(lens.rank(ids), max_rank or lens.max_rank)
    elif mode == "logprob_diff":
        target, foil = _color_target(state, lens), _color_foil(state, lens)
        if not target or not foil:
            return None
        # Unknown ratios are uncolored (0), as in the widget; NaN is for cells without numbers.
        values = np.nan_to_num(
            _log_ratio(lens, target, foil), nan=0.0, posinf=np.inf, neginf=-np.inf
        )
    elif mode == "entropy" and lens.entropy is not None:
        values = lens.entropy.astype(float)
    elif mode == "kl" and lens.kl is not None:
        values = lens.kl.astype(float)
    else:
        return None
    return np.where(lens.status == 0, values, np.nan)


def _rank_intensity(ranks: np.ndarray, max_rank: int) -> np.ndarray:
    """Rank 1 strongest, ``max_rank`` palest, evenly in log(rank); 0 (uncolored) for 0."""
    with np.errstate(divide="ignore"):
        level = 1 - np.log(np.maximum(1.0, ranks)) / math.log(max_rank)
    return np.where(ranks > 0, np.clip(level, 0.0, 1.0), 0.0)


def _layer_change(probs: np.ndarray, status: np.ndarray) -> np.ndarray:
    """Each cell's change from the lens row before it.

    0 (uncolored, as in the widget) at the first row and where the row before has no numbers.
    """
    change = np.zeros_like(probs)
    change[1:] = probs[1:] - probs[:-1]
    change[1:][status[:-1] != 0] = 0.0
    return change


def _color_label(lens: _Lens, state: Any) -> str:
    mode = state.color_mode
    if mode == "entropy":
        return "entropy (nats)"
    if mode == "kl":
        return "KL to final output (nats)"
    if mode in ("token", "group", "delta"):
        names = _ids_label(lens, state, _color_target(state, lens))
        if mode == "delta":
            return f"ΔP({_fit(names, 20)}) from the layer before"
        return f"P({_fit(names, 24)})"
    if mode == "rank":
        return f"rank of {_fit(_ids_label(lens, state, _color_target(state, lens)), 20)} (1 = top)"
    if mode == "logprob_diff":
        a, b = (
            _fit(_ids_label(lens, state, ids), 12)
            for ids in (_color_target(state, lens), _color_foil(state, lens))
        )
        return f"log P({a}) − log P({b}) (nats)"
    return "top-1 probability"


def _ids_label(lens: _Lens, state: Any, ids: Sequence[int]) -> str:
    """How the widget's legend names these ids.

    A pin's name when it has one (a target is pinned under its name), else the tokens
    joined by " + ".
    """
    key = _id_key(ids)
    named = next((p for p in state.pins if p.get("name") and _id_key(p["ids"]) == key), None)
    if named is not None:
        return str(named["name"])
    return " + ".join(visible(lens.token(i)) for i in ids)


# ------------------------------------------------------------------ layout


@dataclass
class _Box:
    """Where the parts go, in figure fractions, and the sizes they are drawn at."""

    grid: tuple[float, float, float, float]
    colorbar: tuple[float, float, float, float]
    chart: tuple[float, float, float, float]
    title_y: float
    cell_chars: int


def _rc() -> dict[str, Any]:
    return {
        "svg.fonttype": "path",
        "svg.hashsalt": "logitlenskit",  # stable glyph ids: identical states, identical files
        "font.family": _font_families(),
        "axes.unicode_minus": True,
    }


@lru_cache(maxsize=1)
def _font_families() -> list[str]:
    """DejaVu Sans (matplotlib's own), then installed fonts for scripts it lacks."""
    from matplotlib import font_manager

    installed = {f.name for f in font_manager.fontManager.ttflist}
    fallbacks = ["Noto Sans", "Noto Sans CJK JP", "Noto Sans CJK SC", "Noto Sans Symbols2"]
    return ["DejaVu Sans", *(name for name in fallbacks if name in installed)]


def _quarters(inches: float) -> float:
    return math.ceil(inches * 4 - 1e-9) / 4


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


# ------------------------------------------------------------------ drawing


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


def _heat_map(color: str, colors: dict[str, str]) -> LinearSegmentedColormap:
    # The widget paints the mode color at CELL_OPACITY × value over the background, which is
    # this linear blend; the color bar then shows exactly the cells' colors.
    bg, ink = np.array(to_rgb(colors["bg"])), np.array(to_rgb(color))
    top = bg * (1 - CELL_OPACITY) + ink * CELL_OPACITY
    cmap = LinearSegmentedColormap.from_list("llk", [bg, top])
    return cmap.with_extremes(bad=colors["head-bg"])


def _diverging_map(color: str, negative: str, colors: dict[str, str]) -> LinearSegmentedColormap:
    # The widget's diverging cells: the negative color below 0 and the mode color above,
    # each at CELL_OPACITY × |value| / bound over the background.
    bg = np.array(to_rgb(colors["bg"]))
    ends = [bg * (1 - CELL_OPACITY) + np.array(to_rgb(c)) * CELL_OPACITY for c in (negative, color)]
    cmap = LinearSegmentedColormap.from_list("llk-diverging", [ends[0], bg, ends[1]])
    return cmap.with_extremes(bad=colors["head-bg"])


def _nice_ceil(v: float) -> float:
    """The smallest 1, 2, 2.5 or 5 × 10^n that is ≥ v; 1 for v ≤ 0 (color.js's niceCeil)."""
    if not v > 0:
        return 1.0
    e = math.floor(math.log10(v))
    for m in (1, 2, 2.5, 5, 10):
        c = m * 10.0**e
        if c >= v * (1 - 1e-9):
            return float(f"{c:.6g}")
    return 10.0 ** (e + 1)


def _text_color(rgb: Sequence[float]) -> str:
    """Black or white, whichever reads better on ``rgb`` (the WCAG crossover, as grid.js)."""
    lin = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb[:3]]
    luminance = 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]
    return "#ffffff" if luminance < DARK_INK_BELOW else "#000000"


def _draw_grid(fig, box, lens, state, columns, colors, *, side="", bound=None, max_rank=None):
    """The cells, their top-1 tokens, row and column labels; returns the color mapping.

    A diff's side B: ``side`` "b" marks its SVG ids (``llk-cellb-…``), ``bound`` is the color
    bound both sides share (entropy, KL, diverging modes) and ``max_rank`` their palest rank.
    """
    ax = fig.add_axes(box.grid, facecolor=colors["bg"])
    values = _intensity(lens, state, max_rank)
    color = {"entropy": state.entropy_color, "kl": state.metric_color}.get(
        state.color_mode, state.heat_color
    )
    shown = np.zeros((len(columns), lens.n_pos)) if values is None else values[columns]
    vmin, vmax = 0.0, 1.0
    cmap = _heat_map(color, colors)
    if values is not None and state.color_mode in ("entropy", "kl"):
        vmax = bound or float(np.nanmax(shown, initial=0.0)) or 1.0
    elif values is not None and state.color_mode in DIVERGING_COLOR_MODES:
        # Diverging over a round symmetric bound of the shown rows' finite values
        # (frontend/color.js); a probability change is never beyond ±1.
        finite = np.abs(shown[np.isfinite(shown)])
        vmax = bound or _nice_ceil(float(finite.max(initial=0.0)))
        vmax = min(1.0, vmax) if state.color_mode == "delta" else vmax
        vmin = -vmax
        shown = np.clip(shown, vmin, vmax)  # ±∞ (a 0 probability) is the full color
        cmap = _diverging_map(state.heat_color, state.negative_color, colors)
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


# ------------------------------------------------------------------ SVG titles

# matplotlib writes an artist's gid as the id of the <g> around it; only our own ids, made
# of these characters, are looked for, so token text never reaches the pattern.
_GROUP = re.compile(rb'<g id=(["\'])(llk-[a-z]+-[0-9-]+)\1>')


def _titles(fig: Figure) -> dict[str, str]:
    """Full visible text of each labelled group of ``fig``, by gid (cells are truncated)."""
    return fig.__dict__.setdefault("_llk_titles", {})


def _with_titles(svg: bytes, fig: Figure) -> bytes:
    """Put each group's text in a ``<title>``: findable, read aloud, shown on hover."""
    titles = _titles(fig)

    def add(match: re.Match[bytes]) -> bytes:
        text = titles.get(match.group(2).decode("ascii"))
        if text is None:
            return match.group(0)
        return match.group(0) + b"<title>" + escape(text).encode("utf-8") + b"</title>"

    return _GROUP.sub(add, svg)
