"""``lens=`` for a collection, a study or the widget: the readout and what is known of its trust.

:func:`choose_lens` turns what a user passes (a name, a folder, a fitted lens, a readout)
into the readout a run uses and, when the lens was fitted or loaded, its per-layer
reliability on held-out text (docs/lenses.md). The logit lens's own reliability comes from
any lens fitted for the same weights (each fit measures the logit lens on the same text),
so a user sees how blind it is as soon as one lens was fitted.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from ..base.lens_fields import LOGIT_LENS_NAME, rows_reliability
from ..core.patchscope import Patchscope
from ..core.readout import LOGIT_LENS, Readout
from .lens_resolve import LENS_NAMES, lens_folder, lens_for, resolve_lens
from .lens_store import FittedLens, load_lens

__all__ = ["LENS_KEYS", "LensChoice", "choose_lens", "is_fitted", "reliability_fields"]

#: What the widget's lens control offers, by key.
LENS_KEYS = {
    "logit": "logit lens",
    "tuned": "tuned lens",
    "linear": "linear shortcut",
    "patchscope": "patchscope",
}


class LensChoice(NamedTuple):
    """A lens ready to run: its readout and its per-decoder-layer reliability (or None)."""

    readout: Readout
    reliability: Mapping[str, Sequence[float]] | None


def _key(lens: Any) -> str | None:
    if isinstance(lens, str):
        name = lens.strip().lower()
        return "patchscope" if name == "patchscope" else LENS_NAMES.get(name)
    return None


def is_fitted(model: Any, key: str) -> bool:
    """Whether ``model``'s lens ``key`` is ready without a fit (logit, patchscope, cached)."""
    if key in ("logit", "patchscope"):
        return True
    return (lens_folder(model, key) / "logitlenskit.json").exists()


def _cached_logit_reliability(model: Any) -> Mapping[str, Sequence[float]] | None:
    """The logit lens's reliability measured by a lens fitted on these weights, if any."""
    for key in ("tuned", "linear"):
        path = lens_folder(model, key) / "logitlenskit.json"
        if path.exists():
            stored = json.loads(path.read_text(encoding="utf-8")).get("reliability", {})
            if LOGIT_LENS_NAME in stored:
                return stored[LOGIT_LENS_NAME]
    return None


def choose_lens(lens: Any, model: Any, **fit: Any) -> LensChoice:
    """The readout ``lens`` names, with its reliability when known.

    Args:
        lens: None or ``"logit"``; ``"tuned"`` or ``"linear"`` (the model's fitted lens:
            loaded from the cache, or fitted once, which takes minutes); ``"patchscope"``;
            a lens folder; a :class:`~.lens_store.FittedLens`; or a readout.
        model: the model.
        **fit: ``fit_lens`` arguments for a first fit (``progress``, ``control``, ...).

    Raises:
        TypeError, ValueError: what ``resolve_lens`` refuses.
    """
    key = _key(lens)
    if lens is None or key == "logit":
        return LensChoice(LOGIT_LENS, _cached_logit_reliability(model))
    if key == "patchscope":
        return LensChoice(Patchscope(), None)
    if key in ("tuned", "linear"):
        fitted = lens_for(model, key, **fit)
        return LensChoice(fitted.readout, fitted.reliability.get(fitted.name))
    if isinstance(lens, (str, os.PathLike)) and key is None and Path(lens).is_dir():
        lens = load_lens(lens, model)  # a folder: its stored reliability comes with it
    if isinstance(lens, FittedLens):
        lens.check_model(model)
        return LensChoice(lens.readout, lens.reliability.get(lens.name))
    return LensChoice(resolve_lens(lens, model), None)


def reliability_fields(choice: LensChoice, layers: Sequence[int], row_kinds: Any) -> dict[str, Any]:
    """The data's ``lens_reliability`` for a choice and its lens rows ({} when unknown)."""
    if choice.reliability is None:
        return {}
    tokens = choice.reliability.get("tokens") or []
    note = f"held-out text, {int(tokens[0]):,} tokens" if tokens else "held-out text"
    return {"lens_reliability": rows_reliability(choice.reliability, layers, row_kinds, note)}
