"""LogitLensWidget: the anywidget that shows a logit lens and keeps it live with a model."""

from __future__ import annotations

import logging
import threading
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import anywidget
import numpy as np
import torch
import traitlets
from anywidget import experimental

from ..analyses import generation
from ..analyses.generation import has_chat_template
from ..base.diff_labels import side_label
from ..base.files import check_output_path, write_text_atomic
from ..base.formats import to_js_format, to_widget_payload, widget_payload
from ..base.ui_state import UIStateTraits
from ..base.validate import as_int, check_text
from ..core import request, session
from ..core.options import check_k as _check_k
from ..core.options import check_layers as _check_layers
from ..core.options import check_remote as _check_remote
from ..core.request import (
    check_track_ids,
    large_run,
    layer_count,
    model_tokenizer,
    token_strings,
    vocab_size,
)
from ..core.runs import Runner
from ..core.session import Control, LensRun, start_run
from ..core.targets import Target, resolve_targets
from ..output.page import page_html
from .callbacks import CallbackOutput
from .compare import CompareSide, check_same_tokenizer
from .live_checks import (
    RefusedValueError,
    RefusingWidget,
    check_model_layers,
    check_pin_ids,
    check_seed,
    check_selection,
    lens_row,
    refusing,
)

log = logging.getLogger(__name__)

__all__ = ["BundleMissingError", "LogitLensWidget", "widget_payload"]

STATIC = Path(__file__).parent.parent / "static"


class BundleMissingError(ImportError):
    """The built frontend bundle is not in the package (a source checkout not built yet)."""


def _bundle_file(name: str) -> Path:
    path = STATIC / name
    if not path.is_file():
        raise BundleMissingError(
            f"logitlenskit's frontend bundle is missing: {path}. In a source checkout, "
            "build it from the repository root with `npm ci && npm run build` (or "
            "`./dev.sh setup`); installed wheels ship it already."
        )
    return path


class LogitLensWidget(RefusingWidget, UIStateTraits, anywidget.AnyWidget):
    """Interactive logit-lens explorer: layers × positions grid, popups, trajectories.

    Show collected data, or attach a model to make it live: a prompt typed in the widget or
    set as ``w.prompt``, a new ``k``, ``layers`` or ``remote``, a click on a cell and a pinned
    token all go back to the model (docs/live-loop.md).

    Args:
        data: collected data (see ``widget_payload`` for the accepted forms).
        model: an nnterp StandardizedTransformer (e.g. from ``load_model()``) or an nnsight
            LanguageModel of a registered architecture; makes the widget live.
        prompt: the prompt to run on ``model`` right away.
        k: how many top predictions to keep per cell.
        layers: which layers to show (default all; negative indices count from the end).
        remote: ``True`` runs on NDIF, ``"local"`` runs nnsight's NDIF simulation,
            ``None`` picks local unless the model was made for remote use.
        targets: tokens or words to measure exactly at every cell and pin, e.g.
            ``{"answer": "Paris", "foil": "London"}`` (see :meth:`set_targets`).
        **kwargs: initial values of other traits (e.g. ``title="..."``).

    Raises:
        TypeError, ValueError: an argument is of the wrong type or out of range (checked
            here, before any run).

    Example:
        >>> from logitlenskit import LogitLensWidget, load_model
        >>> w = LogitLensWidget(model=load_model(), prompt="The capital of France is")
        >>> w.k = 10                     # reruns; returns when the new data is shown
        >>> w.result["topk"].shape       # the data in collect_logit_lens's format
    """

    # The text, not the Path: anywidget watches a Path for changes with a callback that holds
    # every instance forever (a closed widget would never be freed).
    _esm = _bundle_file("widget.js").read_text(encoding="utf-8")
    _css = _bundle_file("widget.css").read_text(encoding="utf-8")

    data = traitlets.Dict().tag(sync=True)
    prompt = traitlets.Unicode("").tag(sync=True)
    k = traitlets.Int(5, help="Top-k width of the grid; a change reruns").tag(sync=True)
    layers = traitlets.List(
        None,
        allow_none=True,
        help="Layer numbers shown (None = all); a change reruns",
    ).tag(sync=True)
    remote = traitlets.Union(
        [traitlets.Bool(), traitlets.Unicode()],
        default_value=None,
        allow_none=True,
        help="True: NDIF, 'local': NDIF simulation, False: here, None: auto; a change reruns",
    ).tag(sync=True)
    targets = traitlets.List(
        help="Named targets measured exactly at every cell, [{'name': str, 'ids': [token "
        "ids]}]; set words or ids from Python (w.set_targets); a change reruns",
    ).tag(sync=True)
    metrics = traitlets.Bool(
        True, help="Compute every cell's KL divergence from the final output; a change reruns"
    ).tag(sync=True)
    chat = traitlets.Bool(
        False, help="Wrap the prompt in the model's chat template as a user message; reruns"
    ).tag(sync=True)
    has_chat_template = traitlets.Bool(
        False, help="The model's tokenizer has a chat template (the chat control shows)"
    ).tag(sync=True)
    sublayers = traitlets.Bool(
        False,
        help="Two lens rows per layer: the residual after its attention, then after the "
        "layer (payload row_kinds); a change reruns",
    ).tag(sync=True)
    compare_data = traitlets.Dict(
        help="Side B of a diff (a widget payload; LogitLensWidget.compare); {} = no diff"
    ).tag(sync=True)
    compare_prompt = traitlets.Unicode(
        "", help="Side B's prompt in a live diff; a change reruns side B"
    ).tag(sync=True)
    compare_labels = traitlets.List(
        ["A", "B"], help="What the view calls the two sides of a diff"
    ).tag(sync=True)
    editable_prompt = traitlets.Bool(False).tag(sync=True)
    busy = traitlets.Bool(False).tag(sync=True)
    progress = traitlets.Float(-1.0, help="Fraction of the current run done; -1 unknown").tag(
        sync=True
    )
    status = traitlets.Unicode("", help="What the current run is doing").tag(sync=True)
    confirm = traitlets.Unicode("", help="A large run waiting for the user's yes").tag(sync=True)
    error = traitlets.Unicode("").tag(sync=True)
    draft = traitlets.Unicode(
        "", help="A prompt whose run was stopped: the box keeps it, marked as not run"
    ).tag(sync=True)

    def __init__(
        self,
        data: Mapping[str, Any] | None = None,
        *,
        model: Any = None,
        prompt: str | None = None,
        k: int = 5,
        layers: Sequence[int] | None = None,
        remote: bool | str | None = None,
        targets: Any = None,
        **kwargs: Any,
    ) -> None:
        if prompt is not None and model is None and data is None:
            raise ValueError("a prompt needs a model: LogitLensWidget(model=..., prompt=...)")
        self._model = model
        self._run: LensRun | None = None
        self._collection: Mapping[str, Any] | None = None
        self._select_callbacks: list[Callable[..., Any]] = []
        self._callback_output = CallbackOutput()
        self._settled: _Shown | None = None  # what a stopped streaming run goes back to
        self._restoring = False
        self._waiting: Callable[[], None] | None = None
        self._request_lock = threading.Lock()
        self._own_payload: dict[str, Any] | None = None
        self._runner = None if model is None else Runner(model, self._busy_a, self._set_progress)
        self._side_b: CompareSide | None = None
        self._busy_sides: set[str] = set()
        if model is not None:
            model_tokenizer(model)  # TypeError now, not at the first run
        super().__init__(
            k=_check_k(k), layers=_check_layers(layers), remote=_check_remote(remote), **kwargs
        )
        self.editable_prompt = model is not None
        if model is not None:
            self.has_chat_template = has_chat_template(model_tokenizer(model))
        if data is not None:
            self.data = data  # normalized by _validate_data
        if targets is not None:
            self.set_targets(targets)
        if prompt is not None:
            self.prompt = prompt

    # -------------------------------------------------------------- data in

    @traitlets.validate("data")
    def _validate_data(self, proposal: dict[str, Any]) -> dict[str, Any]:
        value = proposal["value"]
        if value is self._own_payload:  # built and checked by to_widget_payload just now
            return value
        payload = widget_payload(value)
        if payload.get("run") is None:  # data from the user, not from a run of the model
            self._run = None
            self._collection = value if "topk" in value else None
        return payload

    @traitlets.observe("data")
    def _on_data(self, change: dict[str, Any]) -> None:
        old, new = change["old"] or {}, change["new"] or {}
        # The old cell may not exist in new data; the same run extended keeps it.
        if old.get("run") is None or old.get("run") != new.get("run"):
            self.set_trait("selected_cell", None)

    # Refusals are TraitErrors, so traitlets rolls a browser's value back (live_checks).
    @traitlets.validate("k")
    def _validate_k(self, proposal: dict[str, Any]) -> int:
        with refusing():
            return _check_k(proposal["value"])

    @traitlets.validate("layers")
    def _validate_layers(self, proposal: dict[str, Any]) -> list[int] | None:
        with refusing():
            layers = _check_layers(proposal["value"])
            check_model_layers(self._model, layers)
            return layers

    @traitlets.validate("remote")
    def _validate_remote(self, proposal: dict[str, Any]) -> bool | str | None:
        with refusing():
            return _check_remote(proposal["value"])

    @traitlets.validate("prompt")
    def _validate_prompt(self, proposal: dict[str, Any]) -> str:
        with refusing():
            text = check_text(proposal["value"], "prompt")
        if not text and self._model is not None and not self._restoring:
            raise RefusedValueError("prompt is empty: type some text to run (the lens shown stays)")
        return text

    def _check_pin_ids(self, ids: Sequence[int], name: str) -> None:
        """Pinned ids must be in the model's vocabulary (ui_state's pins validator asks)."""
        try:
            check_pin_ids(self._model, ids, name)
        except traitlets.TraitError as exc:
            raise RefusedValueError(str(exc)) from None

    @traitlets.validate("targets")
    def _validate_targets(self, proposal: dict[str, Any]) -> list[dict[str, Any]]:
        items = [_as_target(item) for item in proposal["value"]]
        if self._model is None and not all(isinstance(t, Target) for t in items):
            raise traitlets.TraitError(
                "without a model, targets must be [{'name': str, 'ids': [token ids]}]: "
                "words need the model's tokenizer"
            )
        tokenizer = None if self._model is None else model_tokenizer(self._model)
        size = 2**31 if self._model is None else vocab_size(self._model)
        try:
            return [t.as_dict() for t in resolve_targets(items, tokenizer, size)]
        except (TypeError, ValueError) as exc:
            raise traitlets.TraitError(f"targets: {exc}") from None

    @traitlets.observe("targets")
    def _on_targets(self, change: dict[str, Any]) -> None:
        pinned = {tuple(pin["ids"]) for pin in self.pins}
        new = [t for t in change["new"] if tuple(t["ids"]) not in pinned]
        if new:
            self.pins = [*self.pins, *({"ids": t["ids"], "name": t["name"]} for t in new)]

    def set_targets(self, spec: Any) -> None:
        """Measure named tokens or words exactly at every cell, and pin them.

        Args:
            spec: ``{name: what}`` or a list of ``what``, where ``what`` is a token id, a
                word (every first token of its spellings: "Paris", " Paris", "paris", ...),
                or a list of those (a set whose probabilities are summed); see
                :mod:`logitlenskit.targets`. ``None`` removes the targets.

        Each target's summed log-probability and the rank of its best member are computed
        inside the trace at every cell: the rank and log-ratio color modes and chart metrics
        read them. With a model, setting targets reruns it.

        Raises:
            ValueError: words without a model, or what ``resolve_targets`` refuses.
        """
        if self._model is None:
            raise ValueError(
                "set_targets needs the widget's model (words are tokenized with it); without "
                "one, set w.targets = [{'name': ..., 'ids': [token ids]}]"
            )
        size = vocab_size(self._model)
        resolved = resolve_targets(spec, model_tokenizer(self._model), size)
        self.targets = [t.as_dict() for t in resolved]

    @traitlets.observe("prompt", "k", "layers", "remote", "targets", "metrics", "chat", "sublayers")
    def _on_run_input(self, change: dict[str, Any]) -> None:
        if self._model is None or change["new"] == change["old"] or self._restoring:
            return
        if change["name"] == "prompt":
            self.draft = ""  # the box's text is the prompt again
        background = self._from_browser(change["name"])
        if self.prompt:
            self._request_run(background=background)
        if change["name"] != "prompt":  # k, layers, targets, ... apply to both sides
            self._request_side_b(background)

    @traitlets.observe("compare_prompt")
    def _on_compare_prompt(self, change: dict[str, Any]) -> None:
        if change["new"] != change["old"]:
            self._request_side_b(self._from_browser("compare_prompt"))

    @traitlets.validate("compare_prompt")
    def _validate_compare_prompt(self, proposal: dict[str, Any]) -> str:
        with refusing():
            return check_text(proposal["value"], "compare_prompt")

    @traitlets.validate("compare_data")
    def _validate_compare_data(self, proposal: dict[str, Any]) -> dict[str, Any]:
        value = proposal["value"]
        if not value:
            return {}
        payload = widget_payload(value)
        if self.data and list(payload["layers"]) != list(self.data["layers"]):
            raise traitlets.TraitError(
                f"compare_data has layers {payload['layers']}, the widget's data "
                f"{self.data['layers']}: both sides of a diff need the same layers"
            )
        return payload

    @traitlets.validate("compare_labels")
    def _validate_compare_labels(self, proposal: dict[str, Any]) -> list[str]:
        value = list(proposal["value"])
        if len(value) != 2:
            raise traitlets.TraitError(f"compare_labels must be two names, got {value!r}")
        return [check_text(v, f"compare_labels[{i}]") for i, v in enumerate(value)]

    @traitlets.observe("prompt", "compare_prompt")
    def _relabel_side(self, change: dict[str, Any]) -> None:
        # A diff's label names its side's prompt: an edited prompt renames its side
        # (diff_labels.py). The first prompt of each side keeps the labels given to compare().
        if self._side_b is None or not change["old"] or change["new"] == change["old"]:
            return
        side = 0 if change["name"] == "prompt" else 1
        labels = list(self.compare_labels)
        labels[side] = side_label(change["new"], self.compare_prompt if side == 0 else self.prompt)
        self.compare_labels = labels

    def _run_inputs(self, prompt: str) -> dict[str, Any]:
        """``start_run``'s arguments for ``prompt`` from the current traits."""
        return {
            "prompt": prompt,
            "k": self.k,
            "layers": self.layers,
            "remote": self.remote,
            "extra": _pinned_ids(self.pins),
            "targets": [Target(t["name"], tuple(t["ids"])) for t in self.targets],
            "metrics": self.metrics,
            "chat": self.chat,
            "sublayers": self.sublayers,
        }

    def _request_side_b(self, background: bool) -> None:
        side = self._side_b
        if side is None or not self.compare_prompt:
            return
        inputs = self._run_inputs(self.compare_prompt)
        side.request(inputs, background)

    @traitlets.observe("pins")
    def _on_pins(self, change: dict[str, Any]) -> None:
        if self._side_b is not None:
            self._side_b.track(_pinned_ids(change["new"]), self._from_browser("pins"))
        if self._run is not None:
            self._track(_pinned_ids(change["new"]), _background=self._from_browser("pins"))

    def _from_browser(self, name: str) -> bool:
        # ipywidgets holds the names being set by a frontend message in _property_lock.
        return name in getattr(self, "_property_lock", {})

    # -------------------------------------------------------------- runs

    def run(self, prompt: str | None = None) -> None:
        """Collect the lens for ``prompt`` (default: the current one) and show it.

        Returns once the new data is in place. A bad prompt, or a failed run (NDIF, network,
        memory), leaves the current data in place and shows the reason in the widget
        (``w.error``; the full traceback is logged) instead of raising, so a typo or an
        outage never loses the view.
        """
        if self._model is None:
            raise ValueError("this widget has no model: LogitLensWidget(model=load_model())")
        if prompt is not None and prompt != self.prompt:
            self.prompt = prompt  # the observer runs it
        else:
            self._request_run(background=False)

    def _request_run(self, background: bool) -> None:
        with self._request_lock:  # the newest ticket carries the newest trait values
            ticket = self._runner.claim()
            inputs = self._run_inputs(self.prompt)
        warning = self._size_warning(inputs["prompt"], inputs["k"], inputs["layers"])
        if warning and background:
            self._ask(warning, lambda: self._submit_run(inputs, True))
            return
        if warning:
            warnings.warn(warning, ResourceWarning, stacklevel=4)
        self._submit_run(inputs, background, ticket)

    def _submit_run(self, inputs: dict[str, Any], background: bool, ticket: Any = None) -> None:
        model = self._model
        self.error = ""

        def job(control: Control) -> LensRun:
            def partial(run: LensRun) -> None:
                control.check()  # a superseded run must not show its first screen either
                self._show(run, partial=True)

            return start_run(model, control=control, on_partial=partial, **inputs)

        self._runner.submit(job, self._show, self._fail, background, ticket)

    def _show(self, run: LensRun, partial: bool = False, ahead: Sequence[int] = ()) -> None:
        # Built before anything changes: a failure here leaves the view and w.result as
        # they were (the runner reports it in w.error).
        payload = {**to_widget_payload(run.payload_source()), "run": run.run_id}
        if ahead:
            self._push_trajectories(run, ahead)
        if not run.complete and (self._run is None or self._run.complete):
            # A run starts streaming: keep what Stop would go back to.
            self._settled = _Shown(self._run, self._collection, self.data)
        with self.hold_sync():
            self._run = run
            self._own_payload = payload
            self.data = payload
            if not partial:
                self.error = ""
        if not partial:
            missing = set(_pinned_ids(self.pins)) - set(run.extra)
            if missing:
                self._track(sorted(missing))

    def _push_trajectories(self, run: LensRun, ids: Sequence[int]) -> None:
        """Send newly tracked trajectories before the payload that also holds them.

        A pin's line then needs a few kilobytes to reach the browser, not the whole payload
        re-sent, decoded and re-laid out (docs/live-loop.md, "Pushed trajectories").
        """
        probs = session.trajectories(run, ids)
        vocab = run.result["vocab"]
        content = {
            "kind": "llk-trajectories",
            "run": run.run_id,
            "ids": [int(i) for i in ids],
            "tokens": [vocab.get(int(i), "") for i in ids],
        }
        self.send(content, [probs.astype("<f4").tobytes()])

    def _fail(self, exc: BaseException) -> None:
        log.error("logit-lens run failed", exc_info=exc)
        self.error = _one_line(exc)

    def stop(self) -> bool:
        """Cancel the current run. True if something was running.

        A prompt's run is cancelled whole: the data, ``w.result`` and ``w.prompt`` go back
        to the last finished run (a long prompt's first screens are taken back), and the
        new prompt waits in ``w.draft`` (the widget's box keeps it, marked as not run).
        Tokens a generation wrote before Stop stay.
        """
        stopped = self._runner.stop() if self._runner is not None else False
        if self._side_b is not None:
            stopped = self._side_b.stop() or stopped
        if not stopped:
            return False
        self._runner.wait_idle(2.0)  # its next layer or block check ends it
        self.error = self._cancel_to_settled()
        return True

    def _cancel_to_settled(self) -> str:
        """Put back the last finished run and keep the stopped prompt as a draft."""
        draft, reverted = self.prompt, False
        if self._run is not None and not self._run.complete and self._settled is not None:
            self._run, self._collection, data = self._settled
            self._own_payload, reverted = data, True
        else:
            data = self.data
        shown_prompt = self._run.prompt if self._run is not None else ""
        self._restoring = True
        try:
            with self.hold_sync():
                self.data = data
                if self._model is not None and draft != shown_prompt:
                    self.prompt, self.draft, reverted = shown_prompt, draft, True
        finally:
            self._restoring = False
        if not data:
            return "Stopped before the first run finished: there is no lens to show yet"
        if reverted:
            return "Stopped: the run was cancelled; the lens shown is the previous run's"
        return "Stopped: what is shown stays (a generation keeps the tokens written so far)"

    def wait(self, timeout: float | None = None) -> bool:
        """Block until runs started from the browser are done; False on timeout."""
        done = self._runner.wait_idle(timeout) if self._runner is not None else True
        if self._side_b is not None:
            done = self._side_b.wait(timeout) and done
        return done

    def _busy_a(self, busy: bool) -> None:
        self._set_busy(busy, "a")

    def _busy_b(self, busy: bool) -> None:
        self._set_busy(busy, "b")

    def _set_busy(self, busy: bool, side: str = "a") -> None:
        # Both sides of a diff run on their own runners; the widget is busy while either is.
        (self._busy_sides.add if busy else self._busy_sides.discard)(side)
        with self.hold_sync():
            self.busy = bool(self._busy_sides)
            self.progress = -1.0
            self.status = ""

    def _set_progress(self, fraction: float, status: str) -> None:
        with self.hold_sync():
            self.progress = float(fraction)
            self.status = status

    def _size_warning(self, prompt: str, k: int, layers: Sequence[int] | None) -> str:
        """Why a run is large enough to ask first, or ""."""
        try:
            n_pos = len(self._model.tokenizer.encode(prompt))
            n_layers = len(layers) if layers else layer_count(self._model, None)
        except Exception:  # the run itself will report what is wrong
            return ""
        megabytes = large_run(n_layers, n_pos, k, LARGE_PROMPT_TOKENS, LARGE_PAYLOAD_MB)
        if megabytes is not None:
            return (
                f"This run is large: {n_pos:,} tokens × {n_layers} layers with k={k} "
                f"sends about {megabytes:,.0f} MB to the browser. Run anyway?"
            )
        return ""

    def _ask(self, question: str, then: Callable[[], None]) -> None:
        self._waiting = then
        self.confirm = question

    # -------------------------------------------------------------- follow-ups

    def track(self, ids: Sequence[int]) -> None:
        """Compute the exact trajectory of token ``ids`` everywhere, and pin them to show it.

        Each id not pinned yet gets a pin of its own, so its line shows in the chart. They
        join the data (pins, pinned rows, color-by-token and groups are then exact
        everywhere) and stay tracked when the prompt changes while they are pinned; unpin
        one (``w.pins``) to hide its line. Returns once they are computed and shown.
        """
        if self._run is None:
            raise ValueError("nothing to track yet: the widget has no run of a model")
        check_track_ids(ids, self._run.request.vocab_size)
        pinned = set(_pinned_ids(self.pins))
        new = [{"ids": [i]} for i in dict.fromkeys(map(as_int, ids)) if i not in pinned]
        if new:
            self.pins = [*self.pins, *new]  # the pins observer tracks them
        else:
            self._track(ids)

    def _track(self, ids: Sequence[int], _background: bool = False) -> None:
        run = self._run
        if run is None:
            raise ValueError("nothing to track yet: the widget has no run of a model")
        ids = check_track_ids(ids, run.request.vocab_size)
        if not set(ids) - set(run.extra) or (self.busy and not run.complete):
            return  # a run still streaming tracks the pins when it ends
        if run.normed is not None:  # milliseconds: no need for a thread
            new = sorted(set(ids) - set(run.extra))
            try:
                self._show(session.track(run, ids), ahead=new)
            except Exception as exc:  # reported as a run's failure is, never lost
                self._fail(exc)
            return
        self._runner.submit(
            lambda control: session.track(run, ids, control), self._show, self._fail, _background
        )

    def generate(
        self,
        n: int = 20,
        *,
        sample: bool = False,
        seed: int | None = None,
        temperature: float = 1.0,
        _background: bool = False,
    ) -> None:
        """Let the model write ``n`` tokens after the prompt, and watch the lens as it does.

        Each token is fed once (the KV cache is reused; the prompt is never rerun) and its
        position joins the grid as soon as it is chosen, with the row where it became the
        top-1 ("commitment") and where it entered the top-k. Generation stops at the
        model's end-of-sequence token (a chat model's end of turn), at ``n``, or at Stop;
        the tokens so far stay. With ``w.chat = True`` the prompt is a user message in the
        model's chat template. Returns when done (from the widget it runs in a thread).

        Args:
            n: how many tokens, 1..512.
            sample: sample (with ``temperature``) instead of taking the most likely token.
            seed: sampling seed; the same seed writes the same tokens.
            temperature: > 0.

        Raises:
            ValueError: no model, a remote widget (generation runs here), bad arguments.
        """
        if self._model is None:
            raise ValueError("this widget has no model: LogitLensWidget(model=load_model())")
        if self.remote:
            raise ValueError("generation runs on this machine only: set w.remote = False first")
        generation.check_arguments(n, temperature)
        seed = check_seed(seed)
        if not self.prompt:
            raise ValueError("set a prompt first: w.prompt = '...'")
        with self._request_lock:
            ticket = self._runner.claim()
            inputs = self._run_inputs(self.prompt)
            current = (
                self._run if self._run is not None and self._run.prompt == self.prompt else None
            )

        def job(control: Control) -> LensRun:
            last_shown = [0.0]

            def shown(extended: LensRun) -> None:
                control.check()  # a superseded generation must not overwrite a newer view
                # Each push rebuilds the whole payload, so at most STREAM_INTERVAL apart; the
                # run's end (and a Stop) shows the last token whatever the interval.
                now = time.monotonic()
                if now - last_shown[0] >= STREAM_INTERVAL:
                    last_shown[0] = now
                    self._show(extended, partial=True)

            run = current
            if run is None:  # a new prompt: its lens first, in this thread too
                run = start_run(self._model, control=control, **inputs)
                shown(run)
            # Each token is shown as it comes, so Stop keeps the tokens written so far.
            try:
                return generation.generate(
                    run,
                    n,
                    sample=sample,
                    seed=seed,
                    temperature=temperature,
                    control=control,
                    on_token=shown,
                )
            except session.Cancelled:
                if self._run is run:  # stopped, not replaced: show the last token appended
                    self._show(run, partial=True)
                raise

        self._runner.submit(job, self._show, self._fail, _background, ticket)

    def on_select(
        self, callback: Callable[[int, int, int, str], Any], remove: bool = False
    ) -> None:
        """Call ``callback(layer, position, token_id, token)`` when the user selects.

        A selection is a click on a cell (its top-1 token) or on a token in its popup. An
        exception in a callback is logged and shown in ``w.error``, not raised. In a
        notebook, what callbacks print appears below the cell that called ``on_select``.
        """
        if remove:
            self._select_callbacks.remove(callback)
        else:
            self._callback_output.show_here()
            self._select_callbacks.append(callback)

    @classmethod
    def compare(
        cls,
        a: Any,
        b: Any,
        *,
        model: Any = None,
        model_b: Any = None,
        labels: Sequence[str] = ("A", "B"),
        **kwargs: Any,
    ) -> LogitLensWidget:
        """Diff two runs in one grid: prompt A vs prompt B, or model A vs model B.

        Args:
            a: side A: a prompt (with ``model``), or collected data.
            b: side B: a prompt (run on ``model_b``, default ``model``), or collected data.
            model: makes the diff live: editing either prompt (``w.prompt``,
                ``w.compare_prompt``, or the widget) reruns that side; ``k``, ``layers``,
                targets, pins and metrics apply to both.
            model_b: side B's model, which must share ``model``'s tokenizer (e.g. an edited
                copy: a layer ablated or a direction steered through nnsight).
            labels: what the view calls the two sides.
            **kwargs: the widget's other arguments (``k``, ``layers``, ``targets``, ...).

        Returns:
            The widget: cells can be colored by the change in a token's probability (A − B)
            or by the Jensen–Shannon divergence of the two top-k distributions; the popup
            shows both sides and the chart both trajectories. Positions are aligned by
            index; past the shorter prompt only one side shows (docs/views.md).

        Raises:
            ValueError: different tokenizers, different layers, or prompts without a model.
        """
        if model is None:
            if isinstance(a, str) or isinstance(b, str):
                raise ValueError("prompts need a model: LogitLensWidget.compare(a, b, model=...)")
            w = cls(data=a, compare_labels=list(labels), **kwargs)
            w.compare_data = b
            return w
        side_model = model if model_b is None else model_b
        check_same_tokenizer(model, side_model)
        w = cls(model=model, prompt=a, compare_labels=list(labels), **kwargs)
        w._side_b = CompareSide(
            side_model, w._set_compare_data, w._fail, w._busy_b, w._set_progress
        )
        w.compare_prompt = b
        return w

    def _set_compare_data(self, payload: dict[str, Any]) -> None:
        self.compare_data = payload

    @property
    def compare_result(self) -> dict[str, Any] | None:
        """Side B of a live diff in ``collect_logit_lens``'s format (None otherwise)."""
        run = None if self._side_b is None else self._side_b.run
        return None if run is None else _as_collection(run.result)

    @property
    def result(self) -> dict[str, Any] | None:
        """The shown data in ``collect_logit_lens``'s format (None for V2 or payload data).

        Only finished runs: while a long prompt streams it is the run before (what Stop
        goes back to; None if there was none), never cells not computed yet.
        """
        run, collection = self._run, self._collection
        if run is not None and not run.complete:
            run, collection, _ = self._settled or _Shown(None, None, {})
        if run is not None:
            return _as_collection(run.result)
        return None if collection is None else dict(collection)

    def close(self) -> None:
        """Close the widget: stop its runs, end their threads and let it be freed."""
        # getattr: ipywidgets' __del__ calls close() on a widget whose __init__ raised too.
        for part in ("_runner", "_side_b", "_callback_output"):
            if getattr(self, part, None) is not None:
                getattr(self, part).close()
        getattr(self, "_select_callbacks", []).clear()
        self._run = self._collection = self._settled = self._waiting = self._side_b = None
        super().close()

    def to_v2(self) -> dict[str, Any]:
        """The shown data as seed V2 JSON (``to_js_format``)."""
        result = self.result
        if result is None:
            raise ValueError(
                "this widget shows V2 or payload data, not a collection: "
                "w.data already is what it shows"
            )
        return to_js_format(result)

    # -------------------------------------------------------------- commands

    @experimental.command
    def detail(self, msg: dict[str, Any], buffers: list[bytes]) -> tuple[dict, list[bytes]]:
        """Browser: a cell's deeper top-k with every token's trajectory at its position."""
        run = self._run
        if msg.get("side") == "b":  # a diff's popup grows side B's list too
            run = None if self._side_b is None else self._side_b.run
        if run is None or msg.get("run") != run.run_id:
            return {"error": "stale: the data changed", "stale": True}, []
        try:
            layer_index = lens_row(run.layers, msg)
            ids, probs = session.detail(run, layer_index, int(msg["position"]), _check_k(msg["k"]))
        except Exception as exc:
            return {"error": _one_line(exc)}, []
        tokens = token_strings(run.request.tokenizer, ids)
        answer = {
            "run": run.run_id,
            "layer": int(msg["layer"]),
            "position": int(msg["position"]),
            "ids": ids,
            "tokens": tokens,
        }
        return answer, [probs.astype("<f4").tobytes()]

    @experimental.command
    def select(self, msg: dict[str, Any], buffers: list[bytes]) -> tuple[dict, list[bytes]]:
        """Browser: the user selected a cell or a token; run the on_select callbacks."""
        try:
            layer, position, token = self._selection(msg)
        except Exception as exc:
            return {"error": _one_line(exc)}, []
        text = self._token_text(token)
        for callback in list(self._select_callbacks):
            with self._callback_output.capture():
                try:
                    callback(layer, position, token, text)
                except Exception as exc:
                    log.error("on_select callback %r failed", callback, exc_info=exc)
                    self.error = f"on_select callback failed: {_one_line(exc)}"
        return {"ok": True}, []

    @experimental.command
    def rerun(self, msg: dict[str, Any], buffers: list[bytes]) -> tuple[dict, list[bytes]]:
        """Browser: run the current prompt again (Enter on an unchanged prompt)."""
        if self._model is None:
            return {"error": "this widget has no model"}, []
        self._request_run(background=True)
        return {"ok": True}, []

    @experimental.command
    def halt(self, msg: dict[str, Any], buffers: list[bytes]) -> tuple[dict, list[bytes]]:
        """Browser: the Stop button."""
        return {"stopped": self.stop()}, []

    @experimental.command
    def answer(self, msg: dict[str, Any], buffers: list[bytes]) -> tuple[dict, list[bytes]]:
        """Browser: the user's answer to ``confirm``."""
        then, self._waiting = self._waiting, None
        self.confirm = ""
        if then is not None and msg.get("accept") is True:
            then()
        return {"ok": True}, []

    @experimental.command
    def generate_tokens(
        self, msg: dict[str, Any], buffers: list[bytes]
    ) -> tuple[dict, list[bytes]]:
        """``{n, sample, seed}`` → ``{started: true}``; tokens stream in as data updates."""
        try:
            self.generate(
                msg.get("n", 20),
                sample=bool(msg.get("sample", False)),
                seed=msg.get("seed"),
                _background=True,
            )
        except Exception as exc:  # an answer, not a browser left waiting for one
            log.error("generate command failed", exc_info=exc)
            return {"error": _one_line(exc)}, []
        return {"started": True}, []

    @experimental.command
    def ping(self, msg: dict[str, Any], buffers: list[bytes]) -> tuple[dict, list[bytes]]:
        """Browser: is a kernel listening?"""
        return {"ok": True}, []

    def _selection(self, msg: Mapping[str, Any]) -> tuple[int, int, int]:
        data = self.data or {}
        size = None if self._model is None else vocab_size(self._model)
        layers = data.get("layers") if "input" in data else None
        n_pos = len(data["input"]) if "input" in data else 2**63
        layer, position, token = check_selection(msg, layers, n_pos, size)
        if token is not None:
            return layer, position, token
        result = self.result
        if result is None:
            raise ValueError("no collection to read the cell's top token from")
        layer_index = lens_row([int(x) for x in result["layers"]], msg)
        return layer, position, int(result["topk"][layer_index, position, 0])

    def _token_text(self, token: int) -> str:
        if self._run is not None and token in self._run.result["vocab"]:
            return self._run.result["vocab"][token]
        if self._model is not None:
            return token_strings(self._model.tokenizer, [token])[0]
        return str(self.data.get("vocab", {}).get(str(token), f"#{token}"))

    def __repr__(self) -> str:
        """What the data is, and how to see it where the widget cannot render.

        It is the output's ``text/plain``: what a saved notebook shows where the widget's
        model is gone (no kernel, no saved widget state) and what non-widget viewers show.
        """
        data = self.data or {}
        shape = (
            f"{len(data['input'])} positions × {len(data['layers'])} layers"
            if "input" in data and "layers" in data
            else "no data yet"
        )
        model = data.get("model") or (data.get("meta") or {}).get("model") or "?"
        return (
            f"LogitLensWidget(model={model!r}, {shape}): a live widget, shown while its kernel "
            "runs or from widget state saved in the notebook (JupyterLab: Settings → Save "
            "Widget State Automatically); show_logit_lens(w) makes a static copy that needs "
            "neither"
        )

    def save_html(
        self, path: str | Path, title: str | None = None, *, overwrite: bool = False
    ) -> Path:
        """Save the widget, with its current pins, colors and sizes, as a standalone page.

        The page needs no kernel and no network. Same rules as
        ``logitlenskit.export.save_html``: an existing file is replaced only with
        ``overwrite=True``, and a failure leaves any previous file intact.

        Args:
            path: the ``.html`` file to create.
            title: the page's and widget's title (default: the widget's title).
            overwrite: replace an existing file at ``path``.

        Returns:
            ``path`` as a ``Path``.
        """
        check_output_path(path, overwrite=overwrite)  # fail before the (slower) rendering
        return write_text_atomic(path, page_html(self.get_state(), title), overwrite=overwrite)

    # -------------------------------------------------------------- figures (figure.py)

    def save_svg(
        self, path: str | Path, *, theme: str | None = None, overwrite: bool = False
    ) -> Path:
        """Save the grid, color bar and chart as an SVG figure, as the widget shows them.

        Pins, pinned rows, colors and the layer zoom (``x_zoom``) are drawn; glyphs are
        outlines, so the file looks the same without the fonts.

        Args:
            path: the ``.svg`` file to create.
            theme: ``"light"`` or ``"dark"`` (default: ``dark_mode``; ``"auto"`` is light).
            overwrite: replace an existing file at ``path``.

        Returns:
            ``path`` as a ``Path``.
        """
        from ..output.figure import figure_format, save_figure

        figure_format(path, (".svg",))
        return save_figure(self, path, theme=theme, overwrite=overwrite)

    def save_png(
        self,
        path: str | Path,
        *,
        dpi: int = 300,
        theme: str | None = None,
        overwrite: bool = False,
    ) -> Path:
        """Save the grid, color bar and chart as a PNG figure at ``dpi`` (300: print).

        Args:
            path: the ``.png`` file to create.
            dpi: pixels per inch.
            theme: ``"light"`` or ``"dark"`` (default: ``dark_mode``; ``"auto"`` is light).
            overwrite: replace an existing file at ``path``.

        Returns:
            ``path`` as a ``Path``.
        """
        from ..output.figure import figure_format, save_figure

        figure_format(path, (".png",))
        return save_figure(self, path, dpi=dpi, theme=theme, overwrite=overwrite)

    def export(
        self,
        path: str | Path,
        *,
        dpi: int = 300,
        theme: str | None = None,
        title: str | None = None,
        overwrite: bool = False,
    ) -> Path:
        """Save as ``.svg``, ``.png`` (figures) or ``.html`` (a standalone page), by extension.

        Args:
            path: the file to create; its extension picks the format.
            dpi: PNG resolution.
            theme: figure theme (see ``save_svg``).
            title: the HTML page's title (see ``save_html``).
            overwrite: replace an existing file at ``path``.

        Raises:
            ValueError: another extension (the message names the allowed ones).
        """
        from ..output.figure import figure_format, save_figure

        if figure_format(path, (".svg", ".png", ".html")) == "html":
            return self.save_html(path, title, overwrite=overwrite)
        return save_figure(self, path, dpi=dpi, theme=theme, overwrite=overwrite)

    @experimental.command
    def figure(self, msg: dict[str, Any], buffers: list[bytes]) -> tuple[dict, list[bytes]]:
        """Browser: the export button; answers ``{format}`` and the file's bytes."""
        from ..output.figure import figure_bytes

        fmt, theme = msg.get("format"), msg.get("theme")
        try:
            data = figure_bytes(self, fmt, dpi=300, theme=theme)
        except Exception as exc:
            log.error("figure export failed", exc_info=exc)
            return {"error": _one_line(exc)}, []
        return {"format": fmt, "size": len(data)}, [data]


#: Shortest time between two pushes of a generation's growing data (seconds).
STREAM_INTERVAL = 0.1

#: Above these, a run started from the browser asks first (and one from Python warns).
LARGE_PROMPT_TOKENS = request.LARGE_PROMPT_TOKENS
LARGE_PAYLOAD_MB = request.LARGE_PAYLOAD_MB


class _Shown(NamedTuple):
    """What the widget showed before a run started streaming (Stop goes back to it)."""

    run: LensRun | None
    collection: Mapping[str, Any] | None
    data: dict[str, Any]


def _as_target(item: Any) -> Any:
    """A ``{'name', 'ids'}`` entry of the targets trait as a Target; other items unchanged."""
    if isinstance(item, Mapping) and set(item) == {"name", "ids"}:
        ids = item["ids"]
        if isinstance(ids, (str, bytes)) or not hasattr(ids, "__iter__"):
            raise traitlets.TraitError(f"targets: 'ids' of {item['name']!r} must be a list")
        return Target(item["name"], tuple(ids))
    return item


def _pinned_ids(pins: Sequence[Mapping[str, Any]]) -> list[int]:
    return sorted({int(i) for pin in pins for i in pin.get("ids", [])})


def _one_line(exc: BaseException) -> str:
    """Exception type and message on one line, no traceback."""
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _as_collection(result: Mapping[str, Any]) -> dict[str, Any]:
    """The run's result with tensors, as ``collect_logit_lens`` returns it."""
    out = dict(result)
    for key in ("topk", "topk_probs", "entropy", "target_logprobs", "target_ranks", "kl"):
        if key in result:
            out[key] = torch.as_tensor(np.asarray(result[key]))
    out["tracked"] = [torch.as_tensor(np.asarray(t)) for t in result["tracked"]]
    out["probs"] = [torch.as_tensor(np.asarray(p)) for p in result["probs"]]
    out["vocab"] = dict(result["vocab"])
    return out
