"""Interventions from the widget: patch, steer and ablate, shown against the unedited run.

:class:`InterveneMethods` is a mixin of :class:`~logitlenskit.LogitLensWidget`. An edited
widget is a diff (docs/interventions.md): side A is the prompt run with the edits, side B
the same prompt without them (the baseline), so the diff view's colors are the edits'
effect and nothing edited is shown unmarked (the payload's ``edits`` records mark it).

* **Patch** (in a live diff of prompts A and B): A's state at a cell replaces B's there;
  side A then shows B patched and side B shows B as it was.
* **Steer** and **ablate**: the widget's prompt with the change, against itself without.

While edited, both sides follow one prompt (typing reruns both). :meth:`clear_edits` puts
back what was shown before the first edit (the diff of A and B, or the single prompt).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from anywidget import experimental

from ..analyses.patch_sweep import SweepResult, patch_sweep
from ..base.diff_labels import LABEL_CHARS
from ..base.edit_records import edits_caption
from ..core.edits import Steer, records
from ..core.interventions import ablate, patch_from, steer
from ..core.request import prepare_request
from ..core.session import Cancelled, Control
from .commands import one_line

if TYPE_CHECKING:
    from .widget import LogitLensWidget

__all__ = ["InterveneMethods"]

log = logging.getLogger("logitlenskit.live.widget")


class _Before(NamedTuple):
    """What the widget showed before its first edit (clear_edits goes back to it)."""

    prompt: str
    compare_prompt: str
    labels: list[str]
    had_diff: bool


class InterveneMethods:
    """Patch, steer, ablate and the patching sweep of a live widget (see the module docstring)."""

    _edits: tuple[Any, ...] = ()
    _before_edits: _Before | None = None
    _sweep_result: SweepResult | None = None

    @property
    def edits(self) -> tuple[Any, ...]:
        """The edits side A runs with (empty: the widget shows the model's own output)."""
        return self._edits

    @property
    def sweep_result(self) -> SweepResult | None:
        """The last patching sweep (:meth:`sweep_patches`), complete or stopped; None before."""
        return self._sweep_result

    # -------------------------------------------------------------- edits

    def patch(
        self: LogitLensWidget,
        layer: int,
        position: int,
        *,
        into: int | None = None,
        at: str = "output",
    ) -> None:
        """Patch side A's state at ``(layer, position)`` into side B's run (a live diff).

        Side A then shows B's prompt with the patch and side B shows it without: cells at
        layers ≥ ``layer`` and positions ≥ ``into`` can change; every other cell is B's own.
        A second patch replaces the first (from the same source prompt).

        Args:
            layer: the layer (0 … num_layers − 1).
            position: the source position in prompt A (negative from the end).
            into: the position of B that receives it; default the same index.
            at: ``"output"`` (after the layer) or ``"after_attention"``.

        Raises:
            ValueError: not a live diff of one model, or a layer or position out of range.
        """
        source, target = self._patch_prompts()
        edit = patch_from(
            self._model, source, layer, position, into=into, at=at, remote=self.remote
        )
        self._set_edits((edit,), prompt=target, background=False)

    def steer(
        self: LogitLensWidget,
        layer: int,
        direction: Any,
        alpha: float = 1.0,
        *,
        start: int = 0,
    ) -> None:
        """Add ``alpha · direction`` to the residual stream at ``layer``; show it vs the baseline.

        Args:
            layer: the layer whose output is steered.
            direction: a vector ``[d]`` (e.g. ``prompt_direction``, ``mean_direction``), a
                token id, or one token's text (its unit unembedding row).
            alpha: the scale (the widget's α control changes it; 0 is the baseline exactly).
            start: the first position steered (generation is steered too).
        """
        edit = steer(self._model, layer, direction, alpha, start=start)
        self._set_edits((*self._edits, edit), background=False)

    def ablate(
        self: LogitLensWidget,
        layer: int,
        part: str,
        *,
        heads: Sequence[int] | None = None,
        mean_over: Sequence[str] | None = None,
    ) -> None:
        """Zero (or mean-) ablate a layer's attention, MLP or heads; show it vs the baseline.

        Args:
            layer: the layer.
            part: ``"attention"``, ``"mlp"`` or ``"heads"``.
            heads: the head numbers, for ``part="heads"``.
            mean_over: prompts whose mean output replaces the part (e.g. a study's prompts).
        """
        edit = ablate(
            self._model, layer, part, heads=heads, mean_over=mean_over, remote=self.remote
        )
        self._set_edits((*self._edits, edit), background=False)

    def set_edits(self: LogitLensWidget, edits: Sequence[Any]) -> None:
        """Run side A with ``edits`` (Patch, Steer, Ablate, or your own :class:`Edit`).

        Checked against the model and the prompt first (ValueError naming the edit); an
        empty list is :meth:`clear_edits`.
        """
        self._set_edits(tuple(edits), background=False)

    def clear_edits(self: LogitLensWidget) -> None:
        """Drop every edit and show what was shown before the first one."""
        self._clear_edits(background=False)

    def _patch_prompts(self: LogitLensWidget) -> tuple[str, str]:
        if self._model is None or self._b is None:
            raise ValueError(
                "patching needs a live diff: LogitLensWidget.compare(prompt_a, prompt_b, "
                "model=model), then w.patch(layer, position)"
            )
        if self._b.model is not self._model:
            raise ValueError(
                "patching from the widget needs both sides on one model; across two models use "
                "collect_logit_lens(prompt, model_b, edits=[patch_from(model_a, ...)])"
            )
        before = self._before_edits  # a patch always comes from the diff's own prompt A
        if before is None:
            return self.prompt, self.compare_prompt
        return before.prompt, before.compare_prompt

    def _set_edits(
        self: LogitLensWidget,
        edits: tuple[Any, ...],
        *,
        prompt: str | None = None,
        background: bool,
    ) -> None:
        if self._model is None:
            raise ValueError("edits need a model: LogitLensWidget(model=..., prompt=...)")
        if not edits:
            self._clear_edits(background)
            return
        target = self.prompt if prompt is None else prompt
        # Refused here, before anything changes: a bad edit never reaches a run.
        prepare_request(target, self._model, self._options().replace(edits=edits))
        if self._before_edits is None:
            self._before_edits = _Before(
                self.prompt, self.compare_prompt, list(self.compare_labels), self._b is not None
            )
            if self._b is None:
                self._b = self._new_side(self._model, "b")
        self._edits = edits
        caption = edits_caption(records(edits)).removeprefix("edited: ")
        self.compare_labels = [_short(caption), "baseline"]
        with self.hold_trait_notifications():
            same_prompt = target == self.prompt
            self.prompt = target
            self.compare_prompt = target
        if same_prompt:  # no trait changed: the edits alone ask for side A's rerun
            self._request_run(background=background)

    def _clear_edits(self: LogitLensWidget, background: bool) -> None:
        before, self._before_edits = self._before_edits, None
        if before is None:
            return
        self._edits = ()
        if not before.had_diff:
            side, self._b = self._b, None
            if side is not None:
                side.close()
            self.compare_data = {}
        with self.hold_trait_notifications():
            same_prompt = before.prompt == self.prompt
            self.prompt = before.prompt
            self.compare_prompt = before.compare_prompt if before.had_diff else ""
        self.compare_labels = before.labels  # after the prompts, which rename their sides
        if same_prompt:
            self._request_run(background=background)

    def _follow_prompt(self: LogitLensWidget, name: str, text: str) -> None:
        """While edited, the two sides show one prompt: typing in either moves both."""
        if self._edits and self._b is not None:
            other = "compare_prompt" if name == "prompt" else "prompt"
            if getattr(self, other) != text:
                setattr(self, other, text)

    # -------------------------------------------------------------- the sweep

    def sweep_patches(
        self: LogitLensWidget,
        *,
        metric: str = "logit_diff",
        target: Any = None,
        foil: Any = None,
        layers: Sequence[int] | None = None,
        batch_size: int | None = None,
        wait: bool = False,
    ) -> None:
        """Patch every (layer, position) of prompt A into prompt B; stream the heat map.

        The widget's sweep panel fills in as batches finish (Stop ends it; a click on a
        cell opens that patched run as :meth:`patch` does). :attr:`sweep_result` holds the
        values (``table()``, ``plot_sweep``).

        Args:
            metric: ``"logit_diff"`` (log p(target) − log p(foil)), ``"prob"`` (p(target)) or
                ``"kl"`` (KL of the patched output from A's), at B's last position.
            target: the answer A's prompt leads to (a word or token id).
            foil: the answer B's prompt leads to, for ``"logit_diff"``.
            layers: the layers swept (default all).
            batch_size: patched copies per forward pass (default: the sweep's).
            wait: block until the sweep is done (default: it runs in the background).
        """
        clean, corrupt = self._patch_prompts()
        options = {"metric": metric, "target": target, "foil": foil, "layers": layers}
        if batch_size is not None:
            options["batch_size"] = batch_size

        def job(control: Control) -> SweepResult:
            def shown(partial: SweepResult) -> None:
                self._sweep_result = partial
                self.sweep = partial.to_trait()
                control.check()

            try:
                return patch_sweep(
                    self._model,
                    clean,
                    corrupt,
                    remote=self.remote,
                    control=control,
                    on_batch=shown,
                    **options,
                )
            except Cancelled as exc:  # Stop: the cells done so far stay, marked as stopped
                stopped = getattr(exc, "result", None)
                if stopped is not None:
                    self._sweep_result = stopped
                    self.sweep = stopped.to_trait()
                elif self.sweep:
                    self.sweep = {**self.sweep, "running": False, "error": "stopped"}
                raise

        def done(result: SweepResult) -> None:
            self._sweep_result = result
            self.sweep = result.to_trait()

        def failed(exc: BaseException) -> None:
            self.sweep = (
                {**self.sweep, "running": False, "error": one_line(exc)} if self.sweep else {}
            )
            self._fail(exc)

        self._a.submit(job, done, failed, background=not wait)

    # -------------------------------------------------------------- browser commands

    @experimental.command
    def edit(self, msg: dict[str, Any], buffers: list[bytes]) -> tuple[dict, list[bytes]]:
        """Browser: the edits legend (remove one, change a steer's α, clear all)."""
        return _answer(self._edit_answer, msg)

    @experimental.command
    def patch_cell(self, msg: dict[str, Any], buffers: list[bytes]) -> tuple[dict, list[bytes]]:
        """Browser: "patch into B" in a popup, or a click on a sweep's cell."""
        return _answer(self._patch_answer, msg)

    @experimental.command
    def sweep_action(self, msg: dict[str, Any], buffers: list[bytes]) -> tuple[dict, list[bytes]]:
        """Browser: the sweep panel's close button."""
        return _answer(self._sweep_answer, msg)

    def _edit_answer(self: LogitLensWidget, msg: dict[str, Any]) -> dict[str, Any]:
        """The ``edit`` command: remove one edit, change a steer's α, or clear them all."""
        action, edits = msg.get("action"), list(self._edits)
        if action == "clear":
            self._clear_edits(background=True)
            return {"ok": True}
        index = msg.get("index")
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(edits):
            return {"error": f"no edit number {index!r} (there are {len(edits)})"}
        if action == "remove":
            del edits[index]
        elif action == "alpha" and isinstance(edits[index], Steer):
            alpha = msg.get("alpha")
            if isinstance(alpha, bool) or not isinstance(alpha, (int, float)):
                return {"error": f"alpha must be a number, got {alpha!r}"}
            edits[index] = edits[index].with_alpha(float(alpha))
        else:
            return {"error": f"unknown edit action {action!r} for edit {index}"}
        self._set_edits(tuple(edits), background=True)
        return {"ok": True}

    def _patch_answer(self: LogitLensWidget, msg: dict[str, Any]) -> dict[str, Any]:
        """The ``patch_cell`` command: a popup's "patch into B", or a sweep cell's click."""
        layer, position, into = msg.get("layer"), msg.get("position"), msg.get("into")
        at = "after_attention" if msg.get("row_kind") == 1 else "output"
        source, target = self._patch_prompts()
        edit = patch_from(
            self._model, source, layer, position, into=into, at=at, remote=self.remote
        )
        self._set_edits((edit,), prompt=target, background=True)
        return {"ok": True}

    def _sweep_answer(self: LogitLensWidget, msg: dict[str, Any]) -> dict[str, Any]:
        """The ``sweep_action`` command: close the sweep panel (stopping a running sweep)."""
        if msg.get("action") != "close":
            return {"error": f"unknown sweep action {msg.get('action')!r}"}
        if self.sweep.get("running"):
            self._a.stop()
        self.sweep = {}
        return {"ok": True}


def _short(text: str) -> str:
    limit = 2 * LABEL_CHARS
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _answer(body: Callable[[dict[str, Any]], dict[str, Any]], msg: dict[str, Any]) -> tuple:
    """A command's answer: its body's, or the error it raised (the browser never waits)."""
    try:
        return body(msg), []
    except Exception as exc:
        log.error("command failed", exc_info=exc)
        return {"error": one_line(exc)}, []
