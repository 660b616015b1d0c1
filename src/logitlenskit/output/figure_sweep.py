"""Figures: a patching sweep as the causal-tracing heat map.

One cell per (layer, position), colored by its normalized effect: 0 is the corrupt run's
metric, 1 the clean run's (Meng et al., 2022, "Locating and Editing Factual Associations in
GPT", Figure 1). Positions run down the side with their tokens, as in the widget's grid
and the paper; layers run across. The colormap diverges around 0, so a patch that moves
the metric away from the clean value shows in the other color rather than blending into
"no effect". Cells not computed (a stopped sweep) are grey.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.colors import Normalize
from matplotlib.figure import Figure

from ..analyses.patch_sweep import SweepResult
from ..analyses.study_plot import StudyFigure

__all__ = ["SWEEP_NOTE", "plot_sweep"]

#: The title's second line: these values are interventions, not the model's own output.
SWEEP_NOTE = (
    "values from patched runs (the clean state at {at} written in): "
    "0 = corrupt, 1 = clean; * token differs"
)
_CMAP = "RdBu_r"
_MISSING = "#d9d9d9"


def _arrays(result: SweepResult | dict[str, Any]) -> dict[str, Any]:
    """What the figure needs, from a :class:`SweepResult` or its ``to_trait()`` dict."""
    if isinstance(result, SweepResult):
        return {
            "values": result.values,
            "normalized": result.normalized(),
            "layers": result.layers,
            "tokens": result.tokens,
            "metric": result.metric_label,
            "clean": result.clean_label,
            "corrupt": result.corrupt_label,
            "at": result.at,
            "done": result.done,
            "total": result.total,
        }
    if not isinstance(result, dict) or "values" not in result:
        raise TypeError(
            f"plot_sweep draws a SweepResult (patch_sweep's result) or its to_trait() dict, "
            f"got {type(result).__name__}"
        )
    values = np.array(
        [[np.nan if v is None else float(v) for v in row] for row in result["values"]],
        dtype=np.float64,
    ).reshape(len(result["layers"]), len(result["positions"]))
    span = float(result["clean_value"]) - float(result["corrupt_value"])
    normalized = (
        (values - float(result["corrupt_value"])) / span if span else np.full_like(values, np.nan)
    )
    return {
        "values": values,
        "normalized": normalized,
        "layers": list(result["layers"]),
        "tokens": list(result["tokens"]),
        "metric": result["metric"],
        "clean": result["clean_label"],
        "corrupt": result["corrupt_label"],
        "at": "output",
        "done": int(result["done"]),
        "total": int(result["total"]),
    }


def plot_sweep(result: SweepResult | dict[str, Any], ax: Any = None) -> Figure:
    """Draw a patching sweep as a heat map: positions (tokens) down, layers across.

    Args:
        result: :func:`~logitlenskit.analyses.patch_sweep.patch_sweep`'s result (or its
            ``to_trait()`` dict); a partial one draws its uncomputed cells grey.
        ax: matplotlib axes to draw in (its figure is returned); None makes a new figure.

    Returns:
        The matplotlib ``Figure`` (a notebook displays it; ``fig.savefig("sweep.pdf")``).
        Its heat map's image is ``[positions, layers]``.
    """
    data = _arrays(result)
    normalized = data["normalized"]
    # Equal clean and corrupt metrics leave nothing to normalize by: show raw values.
    raw = bool(np.isnan(normalized).all() and np.isfinite(data["values"]).any())
    shown = (data["values"] if raw else normalized).T  # [P, L]: tokens down the side
    finite = shown[np.isfinite(shown)]
    limit = max(float(np.abs(finite).max()) if finite.size else 0.0, 0.0 if raw else 1.0)
    limit = limit or 1.0
    if ax is None:
        n_l, n_p = shown.shape[1], shown.shape[0]
        fig = StudyFigure(
            figsize=(min(3.0 + 0.22 * n_l, 14.0), min(1.8 + 0.3 * n_p, 12.0)),
            layout="constrained",
        )
        ax = fig.add_subplot()
    fig = ax.figure
    cmap = _colormap()
    image = ax.imshow(
        np.ma.masked_invalid(shown),
        cmap=cmap,
        norm=Normalize(-limit, limit),
        aspect="auto",
        interpolation="nearest",
    )
    layers, tokens = data["layers"], data["tokens"]
    ax.set_yticks(range(len(tokens)), [repr(t)[1:-1] for t in tokens])
    step = max(1, len(layers) // 15)
    ax.set_xticks(range(0, len(layers), step), [str(x) for x in layers[::step]])
    ax.set_xlabel("layer")
    ax.set_ylabel("position (clean token)")
    label = data["metric"] if raw else f"normalized effect on {data['metric']}"
    fig.colorbar(image, ax=ax, label=label, shrink=0.9)
    progress = "" if data["done"] >= data["total"] else f" ({data['done']}/{data['total']} cells)"
    where = "after attention" if data["at"] == "after_attention" else "the layer output"
    ax.set_title(
        f"{data['metric']}: {data['clean']} patched into {data['corrupt']}{progress}\n"
        + SWEEP_NOTE.format(at=where),
        fontsize="medium",
    )
    return fig


def _colormap() -> Any:
    from matplotlib import colormaps

    return colormaps[_CMAP].with_extremes(bad=_MISSING)
