"""The widget's lens: which one decodes the grid, fitting one on first use, its reliability.

:class:`LensMethods` is a mixin of :class:`~logitlenskit.LogitLensWidget`. The ``lens``
trait names the lens of side A (the control in the run bar sets it); ``compare_lens`` side
B's in a diff of one prompt under two lenses (empty: the same lens). A fitted lens not in
the cache yet is fitted once (minutes): from Python it is fitted on the spot; from the
browser the widget asks first, then fits on side A's runner, with progress and Stop, and
reruns. Every run shown carries its lens's name and, for a fitted lens, its per-row
reliability, which the view draws as a strip along the columns (docs/lenses.md).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from ..analyses.lens_choice import LENS_KEYS, LensChoice, choose_lens, is_fitted
from ..analyses.lens_choice import reliability_fields as _reliability_fields
from ..core.readout import Readout
from ..core.session import Control, LensRun

if TYPE_CHECKING:
    from .widget import LogitLensWidget

__all__ = ["LensMethods", "lens_choices"]

log = logging.getLogger("logitlenskit.live.widget")

#: About what a first fit costs on 2 CPU cores (docs/lenses.md), said before one starts.
_FIT_TIME = {"tuned": "~15 min", "linear": "~3 min"}


def lens_choices(model: Any) -> list[dict[str, str]]:
    """What the lens control offers for ``model``: every lens, noted when it needs a fit.

    A model whose weights are not here (made for NDIF) gets the lenses that need no fit.
    """
    try:
        is_fitted(model, "tuned")
    except ValueError:  # weights on the meta device: no lens can be keyed by them
        return [{"key": key, "name": LENS_KEYS[key], "note": ""} for key in ("logit", "patchscope")]
    return [
        {
            "key": key,
            "name": name,
            "note": "" if is_fitted(model, key) else f"fits on first use ({_FIT_TIME[key]})",
        }
        for key, name in LENS_KEYS.items()
    ]


def check_lens_key(value: Any) -> str:
    """A lens control's value: one of :data:`LENS_KEYS` ("" allowed for ``compare_lens``)."""
    if value in LENS_KEYS or value == "":
        return value
    raise ValueError(
        f"lens must be one of {', '.join(map(repr, LENS_KEYS))}, got {value!r} (a lens folder "
        "or a FittedLens goes to collect_logit_lens(lens=...))"
    )


class LensMethods:
    """The widget's lens (see the module docstring)."""

    _lenses: dict[str, LensChoice]

    def _lens_choice(self: LogitLensWidget, key: str) -> LensChoice:
        """The choice for ``key``, made once per widget (a fit here if none is cached)."""
        cache = self.__dict__.setdefault("_lenses", {})
        if key not in cache:
            cache[key] = choose_lens(key, self._model)
        return cache[key]

    def _readout(self: LogitLensWidget, side: str = "a") -> Readout:
        key = self.compare_lens if side == "b" and self.compare_lens else self.lens
        return self._lens_choice(key).readout

    def _annotate(self: LogitLensWidget, run: LensRun) -> None:
        """Add the reliability of the run's lens to its data, when the lens has one."""
        if "lens_reliability" in run.result:
            return
        for choice in self.__dict__.get("_lenses", {}).values():
            if choice.readout is run.request.readout:
                request = run.request
                run.result.update(_reliability_fields(choice, request.layers, request.row_kinds))
                return

    def _switch_lens(self: LogitLensWidget, change: dict[str, Any]) -> None:
        """A new lens for a side: rerun it, after a fit (asked first from the browser)."""
        if self._model is None or change["new"] == change["old"] or self._restoring:
            return
        side = "b" if change["name"] == "compare_lens" else "a"
        key = change["new"] or self.lens
        rerun = self._request_side_b if side == "b" else self._rerun_both
        background = self._from_browser(change["name"])
        if is_fitted(self._model, key) or not background:
            self._lens_choice(key)  # from Python a first fit happens here, blocking
            rerun(background)
            return
        old = change["old"]
        self._ask(
            f"No {LENS_KEYS[key]} is fitted for this model yet: fitting one takes "
            f"{_FIT_TIME[key]} on text the model writes itself, once (then cached). Fit it now?",
            lambda: self._fit_then_rerun(key, rerun),
            otherwise=lambda: self._restore_trait(change["name"], old),
        )

    def _restore_trait(self: LogitLensWidget, name: str, value: Any) -> None:
        """Put a trait back without a run (a fit the user declined)."""
        self._restoring = True
        try:
            setattr(self, name, value)
        finally:
            self._restoring = False

    def _rerun_both(self: LogitLensWidget, background: bool) -> None:
        if self.prompt:
            self._request_run(background=background)
        self._request_side_b(background)

    def _fit_then_rerun(self: LogitLensWidget, key: str, rerun: Any) -> None:
        def job(control: Control) -> LensChoice:
            return choose_lens(key, self._model, control=control)

        def fitted(choice: LensChoice) -> None:
            self.__dict__.setdefault("_lenses", {})[key] = choice
            self.lens_choices = lens_choices(self._model)
            rerun(True)

        self._a.submit(job, fitted, self._fail, background=True)
