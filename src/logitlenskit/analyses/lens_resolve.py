"""Which lens a run uses: ``lens=`` as a name, a folder, a fitted lens or a readout.

:func:`lens_for` gives a model its fitted lens of a kind, from the cache folder when one
was fitted before on the same weights (``cache_dir()/lenses/<weights hash>-<kind>``, next
to the converted embedded models), else by fitting it once and saving it there.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..core.models import cache_dir, logger
from ..core.readout import LOGIT_LENS, Readout
from .lens_fit import fit_lens
from .lens_store import FittedLens, check_shape, load_lens
from .lens_text import weights_hash

__all__ = ["LENS_NAMES", "lens_folder", "lens_for", "resolve_lens"]

#: What ``lens=`` accepts by name.
LENS_NAMES = {
    "logit": "logit",
    "logit lens": "logit",
    "tuned": "tuned",
    "tuned lens": "tuned",
    "linear": "linear",
    "linear shortcut": "linear",
}


def lens_folder(model: Any, kind: str) -> Path:
    """Where ``model``'s fitted lens of ``kind`` is cached (keyed by its weights)."""
    return cache_dir() / "lenses" / f"{weights_hash(model)}-{kind}"


def lens_for(model: Any, kind: str = "tuned", **fit: Any) -> FittedLens:
    """The model's fitted lens of ``kind``: loaded from the cache, or fitted once and saved.

    Args:
        model: the model.
        kind: ``"tuned"`` or ``"linear"``.
        **fit: :func:`~.lens_fit.fit_lens` arguments for a first fit.

    Raises:
        ValueError: an unknown kind.
    """
    if kind not in ("tuned", "linear"):
        raise ValueError(f"kind must be 'tuned' or 'linear', got {kind!r}")
    folder = lens_folder(model, kind)
    if (folder / "logitlenskit.json").exists():
        return load_lens(folder, model)
    logger.info(f"no cached {kind} lens for this model: fitting one (one time)")
    fitted = fit_lens(model, kind, **fit)  # type: ignore[arg-type]
    fitted.save(folder)
    logger.info(f"{kind} lens fitted in {fitted.info.get('seconds')} s, saved to {folder}")
    return fitted


def resolve_lens(lens: Any, model: Any) -> Readout:
    """The readout that ``lens=`` names, checked against ``model``.

    Args:
        lens: None or ``"logit"`` (the logit lens); ``"tuned"`` or ``"linear"`` (the
            model's fitted lens, via :func:`lens_for`); a lens folder's path; a
            :class:`~.lens_store.FittedLens`; or a readout (``name``, ``is_identity``,
            ``prepare``).
        model: the model the lens will read.

    Returns:
        The readout to pass as ``LensOptions(readout=...)``.

    Raises:
        TypeError: ``lens`` is none of these.
        ValueError: an unknown name or a folder that does not exist.
        LensMismatchError: a lens for other weights or another shape of model.
    """
    if lens is None:
        return LOGIT_LENS
    if isinstance(lens, FittedLens):
        lens.check_model(model)
        return lens.readout
    if isinstance(lens, (str, os.PathLike)):
        key = LENS_NAMES.get(str(lens).strip().lower()) if isinstance(lens, str) else None
        if key == "logit":
            return LOGIT_LENS
        if key is not None:
            return lens_for(model, key).readout
        if Path(lens).is_dir():
            return load_lens(lens, model).readout
        raise ValueError(
            f"lens={lens!r} is neither a lens name ({', '.join(sorted(set(LENS_NAMES)))}) "
            "nor an existing lens folder"
        )
    if all(hasattr(lens, attr) for attr in ("name", "is_identity", "prepare")):
        if hasattr(lens, "d_model") and hasattr(lens, "n_layers"):
            check_shape(lens, model, f"lens={lens!r}")
        return lens
    raise TypeError(
        "lens must be None, 'logit', 'tuned', 'linear', a lens folder, a FittedLens or a "
        f"readout (with name, is_identity and prepare), got {type(lens).__name__}"
    )
