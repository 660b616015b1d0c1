"""LogitLensWidget: the anywidget that shows a logit lens and keeps it live with a model."""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import anywidget
import traitlets
from anywidget import experimental

from ..analyses.generation import has_chat_template
from ..base.diff_labels import side_label
from ..base.formats import widget_payload
from ..base.ui_state import UIStateTraits
from ..base.validate import check_text
from ..core.options import LensOptions, check_k, check_layers, check_remote
from ..core.request import model_tokenizer
from ..core.session import LensRun
from ..core.targets import Target
from .callbacks import CallbackOutput
from .commands import detail_answer, one_line, select_answer
from .export_methods import ExportMethods, figure_answer
from .intervene import InterveneMethods
from .lens_methods import LensMethods, check_lens_key, lens_choices
from .live_checks import (
    RefusedValueError,
    RefusingWidget,
    check_compare_data,
    check_compare_labels,
    check_model_layers,
    check_pin_ids,
    check_targets,
    refusing,
)
from .live_methods import (
    LARGE_PROMPT_TOKENS,  # noqa: F401 (bench/bench_loop.py reads it here)
    LiveMethods,
    Shown,
)
from .side import LiveSide, pinned_ids

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


class LogitLensWidget(
    LensMethods,
    InterveneMethods,
    LiveMethods,
    ExportMethods,
    RefusingWidget,
    UIStateTraits,
    anywidget.AnyWidget,
):
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
    lens = traitlets.Unicode(
        "logit",
        help="The lens that decodes the grid: 'logit', 'tuned', 'linear' or 'patchscope' "
        "(docs/lenses.md); a change reruns (a fitted lens is fitted once, on first use)",
    ).tag(sync=True)
    lens_choices = traitlets.List(
        help="What the lens control offers: [{'key', 'name', 'note'}]; [] hides it"
    ).tag(sync=True)
    compare_lens = traitlets.Unicode(
        "", help="Side B's lens in a diff ('' = the same as lens): two lenses of one prompt"
    )
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
    sweep = traitlets.Dict(
        help="A patching sweep's heat map (sweep_patches): layers × positions of values, "
        "filled in as batches finish; {} = none"
    ).tag(sync=True)
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
        self._collection: Mapping[str, Any] | None = None
        self._select_callbacks: list[Callable[..., Any]] = []
        self._callback_output = CallbackOutput()
        self._settled: Shown | None = None  # what a stopped streaming run goes back to
        self._restoring = False
        self._waiting: Callable[[], None] | None = None
        self._declined: Callable[[], None] | None = None
        self._request_lock = threading.Lock()
        self._own_payload: dict[str, Any] | None = None
        self._busy_sides: set[str] = set()
        self._a = None if model is None else self._new_side(model, "a")
        self._b: LiveSide | None = None  # a live diff's side B (compare)
        if model is not None:
            model_tokenizer(model)  # TypeError now, not at the first run
        super().__init__(
            k=check_k(k), layers=check_layers(layers), remote=check_remote(remote), **kwargs
        )
        self.editable_prompt = model is not None
        if model is not None:
            self.has_chat_template = has_chat_template(model_tokenizer(model))
            self.lens_choices = lens_choices(model)
        if data is not None:
            self.data = data  # normalized by _validate_data
        if targets is not None:
            self.set_targets(targets)
        if prompt is not None:
            self.prompt = prompt

    def _new_side(self, model: Any, name: str) -> LiveSide:
        show = self._show if name == "a" else self._show_b
        busy = functools.partial(self._set_busy, side=name)
        # A diff's sides continue each other's runs where their prompts share a start
        # (minimal pairs): whichever side runs second takes the first one's shared cells.
        neighbour = (lambda: self._b and self._b.run) if name == "a" else (lambda: self._run)
        return LiveSide(
            model,
            show,
            self._fail,
            busy,
            self._set_progress,
            self._pinned,
            stream=name == "a",
            neighbour=neighbour,
        )

    @property
    def _run(self) -> LensRun | None:
        """Side A's shown run (None without a model, or for data not from a run)."""
        return None if self._a is None else self._a.run

    # -------------------------------------------------------------- data in

    @traitlets.validate("data")
    def _validate_data(self, proposal: dict[str, Any]) -> dict[str, Any]:
        value = proposal["value"]
        if value is self._own_payload:  # built and checked by to_widget_payload just now
            return value
        payload = widget_payload(value)
        if payload.get("run") is None:  # data from the user, not from a run of the model
            if self._a is not None:
                self._a.run = None
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
            return check_k(proposal["value"])

    @traitlets.validate("layers")
    def _validate_layers(self, proposal: dict[str, Any]) -> list[int] | None:
        with refusing():
            layers = check_layers(proposal["value"])
            check_model_layers(self._model, layers)
            return layers

    @traitlets.validate("remote")
    def _validate_remote(self, proposal: dict[str, Any]) -> bool | str | None:
        with refusing():
            return check_remote(proposal["value"])

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
        return check_targets(self._model, proposal["value"])

    @traitlets.observe("targets")
    def _on_targets(self, change: dict[str, Any]) -> None:
        pinned = {tuple(pin["ids"]) for pin in self.pins}
        new = [t for t in change["new"] if tuple(t["ids"]) not in pinned]
        if new:
            self.pins = [*self.pins, *({"ids": t["ids"], "name": t["name"]} for t in new)]

    @traitlets.observe("prompt", "k", "layers", "remote", "targets", "metrics", "chat", "sublayers")
    def _on_run_input(self, change: dict[str, Any]) -> None:
        if self._model is None or change["new"] == change["old"] or self._restoring:
            return
        if change["name"] == "prompt":
            self.draft = ""  # the box's text is the prompt again
            self._follow_prompt("prompt", change["new"])
        background = self._from_browser(change["name"])
        if self.prompt:
            self._request_run(background=background)
        if change["name"] != "prompt":  # k, layers, targets, ... apply to both sides
            self._request_side_b(background)

    @traitlets.observe("compare_prompt")
    def _on_compare_prompt(self, change: dict[str, Any]) -> None:
        if change["new"] != change["old"]:
            self._follow_prompt("compare_prompt", change["new"])
            self._request_side_b(self._from_browser("compare_prompt"))

    @traitlets.validate("compare_prompt")
    def _validate_compare_prompt(self, proposal: dict[str, Any]) -> str:
        with refusing():
            return check_text(proposal["value"], "compare_prompt")

    @traitlets.validate("compare_data")
    def _validate_compare_data(self, proposal: dict[str, Any]) -> dict[str, Any]:
        return check_compare_data(proposal["value"], self.data)

    @traitlets.validate("lens", "compare_lens")
    def _validate_lens(self, proposal: dict[str, Any]) -> str:
        with refusing():
            value = check_lens_key(proposal["value"])
        if proposal["trait"].name == "lens" and not value:
            raise RefusedValueError("lens must name a lens ('logit' is the logit lens)")
        return value

    @traitlets.observe("lens", "compare_lens")
    def _on_lens(self, change: dict[str, Any]) -> None:
        self._switch_lens(change)

    @traitlets.validate("compare_labels")
    def _validate_compare_labels(self, proposal: dict[str, Any]) -> list[str]:
        return check_compare_labels(proposal["value"])

    @traitlets.observe("prompt", "compare_prompt")
    def _relabel_side(self, change: dict[str, Any]) -> None:
        # A diff's label names its side's prompt: an edited prompt renames its side
        # (diff_labels.py). The first prompt of each side keeps the labels given to compare().
        if self._b is None or not change["old"] or change["new"] == change["old"] or self._edits:
            return
        side = 0 if change["name"] == "prompt" else 1
        labels = list(self.compare_labels)
        labels[side] = side_label(change["new"], self.compare_prompt if side == 0 else self.prompt)
        self.compare_labels = labels

    def _options(self) -> LensOptions:
        """The run options the traits hold: one value, checked once, for both sides."""
        return LensOptions(
            k=self.k,
            layers=self.layers,
            remote=self.remote,
            targets=tuple(Target(t["name"], tuple(t["ids"])) for t in self.targets),
            metrics=self.metrics,
            chat=self.chat,
            sublayers=self.sublayers,
            edits=self._edits,
            readout=self._readout(),
        )

    def _pinned(self) -> list[int]:
        return pinned_ids(self.pins)

    def _request_side_b(self, background: bool) -> None:
        if self._b is not None and self.compare_prompt:
            # Side B is the unedited run, under its own lens in a diff of two lenses.
            baseline = self._options().replace(edits=(), readout=self._readout("b"))
            self._b.request(self.compare_prompt, baseline, self._pinned(), background)

    @traitlets.observe("pins")
    def _on_pins(self, change: dict[str, Any]) -> None:
        ids, background = pinned_ids(change["new"]), self._from_browser("pins")
        for side in (self._b, self._a):
            if side is not None:
                side.track(ids, background)

    def _from_browser(self, name: str) -> bool:
        # ipywidgets holds the names being set by a frontend message in _property_lock.
        return name in getattr(self, "_property_lock", {})

    def close(self) -> None:
        """Close the widget: stop its runs, end their threads and let it be freed."""
        # getattr: ipywidgets' __del__ calls close() on a widget whose __init__ raised too.
        for part in ("_a", "_b", "_callback_output"):
            if getattr(self, part, None) is not None:
                getattr(self, part).close()
        getattr(self, "_select_callbacks", []).clear()
        self._collection = self._settled = self._waiting = self._b = None
        super().close()

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

    # -------------------------------------------------------------- commands (commands.py)

    @experimental.command
    def detail(self, msg: dict[str, Any], buffers: list[bytes]) -> tuple[dict, list[bytes]]:
        """Browser: a cell's deeper top-k with every token's trajectory at its position."""
        side = self._b if msg.get("side") == "b" else self._a  # a diff's popup grows B's too
        return detail_answer(None if side is None else side.run, msg)

    @experimental.command
    def select(self, msg: dict[str, Any], buffers: list[bytes]) -> tuple[dict, list[bytes]]:
        """Browser: the user selected a cell or a token; run the on_select callbacks."""
        return select_answer(self, msg)

    @experimental.command
    def rerun(self, msg: dict[str, Any], buffers: list[bytes]) -> tuple[dict, list[bytes]]:
        """Browser: run the current prompt again (Enter on an unchanged prompt)."""
        if self._model is None:
            return {"error": "this widget has no model"}, []
        self._request_run(background=True, fresh=True)
        return {"ok": True}, []

    @experimental.command
    def halt(self, msg: dict[str, Any], buffers: list[bytes]) -> tuple[dict, list[bytes]]:
        """Browser: the Stop button."""
        return {"stopped": self.stop()}, []

    @experimental.command
    def answer(self, msg: dict[str, Any], buffers: list[bytes]) -> tuple[dict, list[bytes]]:
        """Browser: the user's answer to ``confirm``."""
        (then, otherwise), self._waiting, self._declined = (
            (self._waiting, self._declined),
            None,
            None,
        )
        self.confirm = ""
        if msg.get("accept") is True and then is not None:
            then()
        elif msg.get("accept") is not True and otherwise is not None:
            otherwise()
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
            return {"error": one_line(exc)}, []
        return {"started": True}, []

    @experimental.command
    def ping(self, msg: dict[str, Any], buffers: list[bytes]) -> tuple[dict, list[bytes]]:
        """Browser: is a kernel listening?"""
        return {"ok": True}, []

    @experimental.command
    def figure(self, msg: dict[str, Any], buffers: list[bytes]) -> tuple[dict, list[bytes]]:
        """Browser: the export button; answers ``{format}`` and the file's bytes."""
        return figure_answer(self, msg)
