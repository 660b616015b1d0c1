"""Figures: the color rules, one per color mode of ``ui_state.COLOR_MODES``, in one table.

``FIGURE_COLOR_RULES`` says how a figure colors the cells in each mode it draws (which
numbers, on which scale, in which color, under which label), as frontend/color.js colors
them; ``REFUSED_COLOR_MODES`` names the modes figures refuse, with the reason. Every mode is
in exactly one of the two (tests/test_figure_colors.py), so a new mode cannot reach a
figure uncolored: it fails that test until it gets a rule or a refusal here.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from matplotlib.colors import LinearSegmentedColormap, to_rgb

from ..base.ui_state import CELL_OPACITY, COLOR_MODES, DARK_INK_BELOW
from .figure_data import _id_key, _Lens
from .figure_text import _fit, visible

__all__ = [
    "DIVERGING_COLOR_MODES",
    "DRAWN_COLOR_MODES",
    "DRAWN_METRICS",
    "FIGURE_COLOR_RULES",
    "REFUSED_COLOR_MODES",
    "ColorRule",
]


@dataclass(frozen=True)
class ColorRule:
    """How figures color the cells in one color mode.

    Attributes:
        values: ``(lens, state, max_rank)`` → the cells' numbers ``[L, P]``, or None when
            the mode has nothing to color by (no target chosen, no entropy in the data);
            ``max_rank`` is the palest rank where it is not the data's own.
        scale: how a number maps to the color's strength: ``"unit"`` (0 to 1 as it is),
            ``"data"`` (0 to the largest shown), ``"diverging"`` (the negative color at
            −bound to the mode's color at +bound, a round symmetric bound of the shown
            numbers, at most ``cap``) or ``"rank"`` (0 to 1 by log rank, ticked in ranks).
        color: the UI trait that holds the mode's color.
        label: ``(lens, state)`` → the color bar's label.
        target: the token set the mode reads (``_color_target``): ``"token"``, ``"group"``,
            ``"target"`` (the color group, a pin or a data target) or None.
        cap: the largest diverging bound.
    """

    values: Callable[[_Lens, Any, int | None], np.ndarray | None]
    scale: str
    color: str
    label: Callable[[_Lens, Any], str]
    target: str | None = None
    cap: float | None = None


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


def _color_target(state: Any, lens: _Lens) -> list[int]:
    """Token ids the token / group / rank / diverging coloring uses, as frontend/color.js."""
    pins, rule = state.pins, FIGURE_COLOR_RULES.get(state.color_mode)
    kind = rule.target if rule else None
    if kind == "token":
        if state.color_token is not None:
            return [state.color_token]
        return [pins[0]["ids"][0]] if pins else []
    if kind == "group":
        if state.color_group:
            return list(state.color_group)
        group = next((p for p in pins if len(p["ids"]) > 1), pins[0] if pins else None)
        return list(group["ids"]) if group else []
    if kind == "target":
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


# ------------------------------------------------------------------ each mode's numbers


def _top1(lens: _Lens, state: Any, max_rank: int | None) -> np.ndarray:
    return lens.topk_probs[:, :, 0].astype(float)


def _probability(lens: _Lens, state: Any, max_rank: int | None) -> np.ndarray | None:
    ids = _color_target(state, lens)
    if not ids:
        return None
    probs = np.nan_to_num(lens.trajectories(ids))  # untracked: 0, uncolored
    return (
        _layer_change(probs, lens.status) if state.color_mode == "delta" else np.minimum(1, probs)
    )


def _rank(lens: _Lens, state: Any, max_rank: int | None) -> np.ndarray | None:
    ids = _color_target(state, lens)
    return _rank_intensity(lens.rank(ids), max_rank or lens.max_rank) if ids else None


def _ratio(lens: _Lens, state: Any, max_rank: int | None) -> np.ndarray | None:
    target, foil = _color_target(state, lens), _color_foil(state, lens)
    if not target or not foil:
        return None
    # Unknown ratios are uncolored (0), as in the widget; NaN is for cells without numbers.
    return np.nan_to_num(_log_ratio(lens, target, foil), nan=0.0, posinf=np.inf, neginf=-np.inf)


def _field(name: str) -> Callable[[_Lens, Any, int | None], np.ndarray | None]:
    def values(lens: _Lens, state: Any, max_rank: int | None) -> np.ndarray | None:
        data = getattr(lens, name)
        return None if data is None else data.astype(float)

    return values


def _nothing(lens: _Lens, state: Any, max_rank: int | None) -> None:
    return None


def _names(lens: _Lens, state: Any, chars: int) -> str:
    return _fit(_ids_label(lens, state, _color_target(state, lens)), chars)


def _ratio_label(lens: _Lens, state: Any) -> str:
    a, b = (
        _fit(_ids_label(lens, state, ids), 12)
        for ids in (_color_target(state, lens), _color_foil(state, lens))
    )
    return f"log P({a}) − log P({b}) (nats)"


def _fixed(text: str) -> Callable[[_Lens, Any], str]:
    return lambda lens, state: text


#: The color modes figures draw, by ``ui_state.COLOR_MODES`` name.
FIGURE_COLOR_RULES: dict[str, ColorRule] = {
    "top1": ColorRule(_top1, "unit", "heat_color", _fixed("top-1 probability")),
    "token": ColorRule(
        _probability, "unit", "heat_color", lambda ln, s: f"P({_names(ln, s, 24)})", "token"
    ),
    "group": ColorRule(
        _probability, "unit", "heat_color", lambda ln, s: f"P({_names(ln, s, 24)})", "group"
    ),
    "entropy": ColorRule(_field("entropy"), "data", "entropy_color", _fixed("entropy (nats)")),
    "kl": ColorRule(_field("kl"), "data", "metric_color", _fixed("KL to final output (nats)")),
    "rank": ColorRule(
        _rank,
        "rank",
        "heat_color",
        lambda ln, s: f"rank of {_names(ln, s, 20)} (1 = top)",
        "target",
    ),
    "logprob_diff": ColorRule(_ratio, "diverging", "heat_color", _ratio_label, "target"),
    "delta": ColorRule(
        _probability,
        "diverging",
        "heat_color",
        lambda ln, s: f"ΔP({_names(ln, s, 20)}) from the layer before",
        "target",
        cap=1.0,  # a probability's change is never beyond ±1
    ),
    "none": ColorRule(_nothing, "unit", "heat_color", _fixed("")),
}

_DIFF_REASON = "a figure of a diff draws both sides' grids, each colored in one drawn mode"
#: The color modes figures refuse, with the reason: a figure that silently differed from the
#: view would mislead.
REFUSED_COLOR_MODES: dict[str, str] = {
    "sublayer": "the sub-layer split is not drawn by figures",
    "diff_token": _DIFF_REASON,
    "jsd": _DIFF_REASON,
}

DRAWN_COLOR_MODES = tuple(m for m in COLOR_MODES if m in FIGURE_COLOR_RULES)
DIVERGING_COLOR_MODES = tuple(
    m for m in DRAWN_COLOR_MODES if FIGURE_COLOR_RULES[m].scale == "diverging"
)
DRAWN_METRICS = ("probability", "rank")


def _rule(state: Any) -> ColorRule:
    """The drawn mode's rule; ValueError for a mode figures refuse (or have no rule for)."""
    mode = state.color_mode
    drawn = ", ".join(DRAWN_COLOR_MODES)
    if mode in REFUSED_COLOR_MODES:
        raise ValueError(
            f"figures cannot draw color mode {mode!r} yet: {REFUSED_COLOR_MODES[mode]}; "
            f"figures draw {drawn}: set w.color_mode to one of those first"
        )
    if mode not in FIGURE_COLOR_RULES:
        raise ValueError(
            f"figures cannot draw color mode {mode!r}: it has no rule in "
            "src/logitlenskit/output/figure_colors.py (FIGURE_COLOR_RULES or "
            f"REFUSED_COLOR_MODES); figures draw {drawn}"
        )
    return FIGURE_COLOR_RULES[mode]


def _check_drawable(state: Any) -> None:
    _rule(state)
    if state.trajectory_metric not in DRAWN_METRICS:
        raise ValueError(
            f"figures cannot draw the chart metric {state.trajectory_metric!r} yet (they draw "
            f"{' and '.join(DRAWN_METRICS)}): set w.trajectory_metric first"
        )


def _intensity(lens: _Lens, state: Any, max_rank: int | None = None) -> np.ndarray | None:
    """[L, P] values the cells are colored by (NaN: no number), or None for no coloring.

    ``max_rank``: the palest rank when it is not this data's own (a diff's two sides share one).
    """
    values = _rule(state).values(lens, state, max_rank)
    return None if values is None else np.where(lens.status == 0, values, np.nan)


def _color_label(lens: _Lens, state: Any) -> str:
    return _rule(state).label(lens, state)


# ------------------------------------------------------------------ colors


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


def _text_color(rgb: Sequence[float]) -> str:
    """Black or white, whichever reads better on ``rgb`` (the WCAG crossover, as grid.js)."""
    lin = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb[:3]]
    luminance = 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]
    return "#ffffff" if luminance < DARK_INK_BELOW else "#000000"
