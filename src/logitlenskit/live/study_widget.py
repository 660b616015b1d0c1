"""StudyWidget: the view of a logit-lens study over many prompts.

A study measures per-prompt, per-layer numbers (the probability of a target token at the
last position, its rank, the KL to the final layer, the entropy, ...) over many prompts.
The widget shows their mean with a 95% confidence band per layer, the mean entropy per
layer, and a prompts × layers heatmap of one quantity. The collecting side (``study.py``)
fills it with :meth:`StudyWidget.update` and registers what the browser's Stop and Resume
buttons do with :meth:`StudyWidget.on_stop` / :meth:`StudyWidget.on_resume`.

The numbers travel as float32 little-endian bytes: ``values`` is ``[Q, N, L]`` (quantity,
prompt, layer), ``summary`` is ``[Q, 3, L]`` (mean, CI low, CI high). NaN means "not
computed yet" or "not defined"; the browser draws nothing there.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import anywidget
import numpy as np
import traitlets
from anywidget import experimental

log = logging.getLogger(__name__)

__all__ = ["QUANTITY_KINDS", "StudyWidget"]

STATIC = Path(__file__).parent.parent / "static"

#: Kinds of quantity the widget draws, with their units (the browser's axes and color bars
#: follow them): probability 0–1; rank ≥ 1 (log scale); kl and entropy in nats ≥ 0;
#: logprob_diff in nats, signed; delta a signed difference of probabilities.
QUANTITY_KINDS = ("probability", "rank", "kl", "entropy", "logprob_diff", "delta")

SUMMARY_ROWS = ("mean", "ci_low", "ci_high")


def _bundle_file(name: str) -> Path:
    path = STATIC / name
    if not path.is_file():
        raise ImportError(
            f"logitlenskit's frontend bundle is missing: {path}. In a source checkout, "
            "build it from the repository root with `npm ci && npm run build` (or "
            "`./dev.sh setup`); installed wheels ship it already."
        )
    return path


def _one_line(exc: BaseException) -> str:
    """Exception type and message on one line, no traceback."""
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def check_quantities(quantities: Any) -> list[dict[str, str]]:
    """Validate and normalize quantity descriptions.

    Args:
        quantities: a sequence of ``{"name": str, "kind": str, "label": str}``; ``label``
            may be left out (the name is used).

    Returns:
        New dicts with exactly the keys name, kind and label.

    Raises:
        TypeError: ``quantities`` is not a list of dicts, or a field is not a string.
        ValueError: a name is empty or repeated, or a kind is unknown.
    """
    if isinstance(quantities, (str, bytes)) or not isinstance(quantities, Sequence):
        raise TypeError(
            "quantities must be a list of {'name', 'kind', 'label'} dicts, got "
            f"{type(quantities).__name__}"
        )
    out: list[dict[str, str]] = []
    seen: set[str] = set()
    for i, q in enumerate(quantities):
        if not isinstance(q, dict):
            raise TypeError(
                f"quantities[{i}] must be a dict {{'name', 'kind', 'label'}}, got "
                f"{type(q).__name__}"
            )
        fields = {"label": q.get("name"), **q}
        for field in ("name", "kind", "label"):
            if not isinstance(fields.get(field), str):
                raise TypeError(
                    f"quantities[{i}]['{field}'] must be a string, got "
                    f"{type(fields.get(field)).__name__}"
                )
        name, kind, label = str(fields["name"]), str(fields["kind"]), str(fields["label"])
        if not name:
            raise ValueError(f"quantities[{i}]['name'] is empty")
        if name in seen:
            raise ValueError(f"quantities[{i}]['name'] {name!r} is used twice: names are unique")
        if kind not in QUANTITY_KINDS:
            raise ValueError(
                f"quantities[{i}]['kind'] {kind!r} is unknown: it is one of "
                + ", ".join(repr(k) for k in QUANTITY_KINDS)
            )
        unknown = sorted(set(q) - {"name", "kind", "label"})
        if unknown:
            raise ValueError(f"quantities[{i}] has unknown keys {unknown}: name, kind, label")
        seen.add(name)
        out.append({"name": name, "kind": kind, "label": label or name})
    return out


def _float32_bytes(array: Any, field: str, shape: tuple[int, ...], dims: str) -> bytes:
    """``array`` as float32 little-endian C-order bytes, after checking its shape."""
    try:
        a = np.asarray(array)
    except Exception as exc:
        raise ValueError(f"{field} is not an array: {_one_line(exc)}") from exc
    if a.dtype.kind not in "fiub":
        raise ValueError(f"{field} must hold real numbers, got dtype {a.dtype}")
    if a.shape != shape:
        raise ValueError(f"{field} has shape {a.shape}, expected {dims} = {shape}")
    return np.ascontiguousarray(a, dtype="<f4").tobytes()


class StudyWidget(anywidget.AnyWidget):
    """The view of a logit-lens study: per-layer means with 95% bands, entropy, a heatmap.

    Args:
        layers: the model layer index of each column (L of them).
        prompts: one label per prompt (N of them): the heatmap's rows, shown in full when
            hovered.
        quantities: Q dicts ``{"name", "kind", "label"}``; ``kind`` is one of
            :data:`QUANTITY_KINDS`. Names are unique.
        **kwargs: initial values of other traits (``n_total``, ``shown``, ``dark_mode``...).

    Raises:
        TypeError, ValueError: an argument is malformed (the message names it).

    Example:
        >>> w = StudyWidget([0, 1, 2], ["a", "b"], [{"name": "p", "kind": "probability",
        ...                                          "label": "p(target)"}])
        >>> w.update(values=np.full((1, 2, 3), 0.5), summary=np.full((1, 3, 3), 0.5),
        ...          n_done=2, status="done")
    """

    # Text, not a Path: anywidget watches a Path for edits, and its watcher's callback holds
    # every instance of the class, so closed widgets would never be freed.
    _esm = _bundle_file("study.js").read_text(encoding="utf-8")
    _css = _bundle_file("study.css").read_text(encoding="utf-8")

    layers = traitlets.List(traitlets.Int(), help="Model layer index of each column").tag(sync=True)
    prompts = traitlets.List(traitlets.Unicode(), help="One label per prompt (rows)").tag(sync=True)
    quantities = traitlets.List(
        traitlets.Dict(), help="[{'name', 'kind', 'label'}], one per quantity"
    ).tag(sync=True)
    values = traitlets.Bytes(b"", help="float32 little-endian [Q, N, L]; NaN = none").tag(sync=True)
    summary = traitlets.Bytes(
        b"", help="float32 little-endian [Q, 3, L]: mean, CI low, CI high per layer"
    ).tag(sync=True)
    n_done = traitlets.Int(0, help="Prompts computed so far").tag(sync=True)
    n_total = traitlets.Int(0, help="Prompts in the study").tag(sync=True)
    busy = traitlets.Bool(False, help="A batch is running").tag(sync=True)
    status = traitlets.Unicode("", help="One line: what the study is doing").tag(sync=True)
    error = traitlets.Unicode("", help="One readable line; empty = no error").tag(sync=True)

    shown = traitlets.List(
        traitlets.Unicode(),
        help="Quantity names drawn in the band chart; [] = every quantity of kind probability",
    ).tag(sync=True)
    heatmap_quantity = traitlets.Unicode("", help="Quantity the heatmap shows; '' = the first").tag(
        sync=True
    )
    selected_prompt = traitlets.Int(
        None, allow_none=True, help="Prompt whose heatmap row was clicked last (the browser)"
    ).tag(sync=True)
    dark_mode = traitlets.Enum(
        ("auto", "light", "dark"),
        default_value="auto",
        help="'auto' follows JupyterLab's / VS Code's theme",
    ).tag(sync=True)

    def __init__(
        self,
        layers: Sequence[int],
        prompts: Sequence[str],
        quantities: Sequence[dict[str, str]],
        **kwargs: Any,
    ) -> None:
        self._stop_handlers: list[Callable[[], Any]] = []
        self._resume_handlers: list[Callable[[], Any]] = []
        self._ready = False
        layers_, prompts_ = _check_layers(layers), _check_prompts(prompts)
        quantities_ = check_quantities(quantities)
        q, n, n_layers = len(quantities_), len(prompts_), len(layers_)
        kwargs.setdefault("n_total", n)
        kwargs.setdefault("values", np.full((q, n, n_layers), np.nan, "<f4").tobytes())
        kwargs.setdefault("summary", np.full((q, 3, n_layers), np.nan, "<f4").tobytes())
        super().__init__(layers=layers_, prompts=prompts_, quantities=quantities_, **kwargs)
        self._check_bytes("values", self.values, (q, n, n_layers))
        self._check_bytes("summary", self.summary, (q, 3, n_layers))
        self._ready = True

    # -------------------------------------------------------------- shape

    @property
    def shape(self) -> tuple[int, int, int]:
        """``(Q, N, L)``: quantities, prompts, layers."""
        return len(self.quantities), len(self.prompts), len(self.layers)

    def _check_bytes(self, field: str, data: bytes, shape: tuple[int, ...]) -> None:
        expected = int(np.prod(shape)) * 4
        if len(data) != expected:
            raise ValueError(
                f"{field} has {len(data)} bytes, expected {expected} (float32 of shape {shape})"
            )

    @traitlets.observe("layers", "prompts", "quantities")
    def _on_shape(self, change: dict[str, Any]) -> None:
        # New rows, columns or quantities: numbers of the old shape mean nothing any more.
        if not self._ready:  # the constructor sets them all together and checks them
            return
        q, n, n_layers = self.shape
        with self.hold_sync():
            if len(self.values) != q * n * n_layers * 4:
                self.values = np.full((q, n, n_layers), np.nan, "<f4").tobytes()
                self.n_done = 0
            if len(self.summary) != q * 3 * n_layers * 4:
                self.summary = np.full((q, 3, n_layers), np.nan, "<f4").tobytes()
            if change["name"] == "prompts":
                self.n_total = n
                self.n_done = min(self.n_done, n)
                if self.selected_prompt is not None and self.selected_prompt >= n:
                    self.selected_prompt = None
            if change["name"] == "quantities":
                names = {x["name"] for x in self.quantities}
                self.shown = [s for s in self.shown if s in names]
                if self.heatmap_quantity and self.heatmap_quantity not in names:
                    self.heatmap_quantity = ""

    # -------------------------------------------------------------- validation

    @traitlets.validate("quantities")
    def _validate_quantities(self, proposal: dict[str, Any]) -> list[dict[str, str]]:
        return check_quantities(proposal["value"])

    @traitlets.validate("layers")
    def _validate_layers(self, proposal: dict[str, Any]) -> list[int]:
        return _check_layers(proposal["value"])

    @traitlets.validate("shown")
    def _validate_shown(self, proposal: dict[str, Any]) -> list[str]:
        value = list(proposal["value"])
        names = {q["name"] for q in self.quantities}
        unknown = [s for s in value if s not in names]
        if unknown:
            raise traitlets.TraitError(
                f"shown names unknown quantities {unknown}; known: {sorted(names)}"
            )
        return list(dict.fromkeys(value))

    @traitlets.validate("heatmap_quantity")
    def _validate_heatmap_quantity(self, proposal: dict[str, Any]) -> str:
        value = proposal["value"]
        names = [q["name"] for q in self.quantities]
        if value and value not in names:
            raise traitlets.TraitError(
                f"heatmap_quantity {value!r} is not a quantity; known: {names} (or '')"
            )
        return value

    @traitlets.validate("selected_prompt")
    def _validate_selected_prompt(self, proposal: dict[str, Any]) -> int | None:
        value = proposal["value"]
        if value is not None and not 0 <= value < len(self.prompts):
            raise traitlets.TraitError(
                f"selected_prompt {value} is not a prompt index: 0 <= index < "
                f"{len(self.prompts)} (or None)"
            )
        return value

    @traitlets.validate("n_done", "n_total")
    def _validate_counts(self, proposal: dict[str, Any]) -> int:
        value = proposal["value"]
        if value < 0:
            raise traitlets.TraitError(f"{proposal['trait'].name} must be >= 0, got {value}")
        return value

    # -------------------------------------------------------------- data in

    def update(
        self,
        *,
        values: np.ndarray,
        summary: np.ndarray,
        n_done: int,
        status: str = "",
    ) -> None:
        """Show new numbers: every trait changes in one message to the browser.

        Args:
            values: ``[Q, N, L]`` per-prompt numbers (NaN = not computed / not defined).
            summary: ``[Q, 3, L]`` mean, 95% CI low and CI high per layer (NaN = undefined).
            n_done: prompts computed so far, ``0 <= n_done <= n_total``.
            status: one line saying what the study is doing.

        Raises:
            ValueError: a shape, ``n_done`` or ``status`` is wrong (the message names it).
        """
        q, n, n_layers = self.shape
        values_bytes = _float32_bytes(values, "values", (q, n, n_layers), "[Q, N, L]")
        summary_bytes = _float32_bytes(summary, "summary", (q, 3, n_layers), "[Q, 3, L]")
        if isinstance(n_done, bool) or not isinstance(n_done, (int, np.integer)):
            raise ValueError(f"n_done must be an int, got {type(n_done).__name__}")
        if not 0 <= int(n_done) <= self.n_total:
            raise ValueError(f"n_done is {n_done}, expected 0 <= n_done <= n_total={self.n_total}")
        if not isinstance(status, str):
            raise ValueError(f"status must be a string, got {type(status).__name__}")
        with self.hold_sync():
            self.values = values_bytes
            self.summary = summary_bytes
            self.n_done = int(n_done)
            self.status = " ".join(status.split())

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """The shown numbers as arrays: ``values`` ``[Q, N, L]`` and ``summary`` ``[Q, 3, L]``."""
        q, n, n_layers = self.shape
        values = np.frombuffer(self.values, "<f4").reshape(q, n, n_layers)
        summary = np.frombuffer(self.summary, "<f4").reshape(q, 3, n_layers)
        return values, summary

    # -------------------------------------------------------------- Stop / Resume

    def on_stop(self, fn: Callable[[], Any]) -> Callable[[], Any]:
        """Call ``fn()`` when the browser's Stop button is pressed; returns ``fn``.

        Exceptions it raises are logged and shown in ``error``, never raised.
        """
        if not callable(fn):
            raise TypeError(f"on_stop takes a callable, got {type(fn).__name__}")
        self._stop_handlers.append(fn)
        return fn

    def on_resume(self, fn: Callable[[], Any]) -> Callable[[], Any]:
        """Call ``fn()`` when the browser's Resume button is pressed; returns ``fn``.

        Exceptions it raises are logged and shown in ``error``, never raised.
        """
        if not callable(fn):
            raise TypeError(f"on_resume takes a callable, got {type(fn).__name__}")
        self._resume_handlers.append(fn)
        return fn

    def _run_handlers(self, what: str, handlers: list[Callable[[], Any]]) -> dict[str, Any]:
        failed = ""
        for fn in list(handlers):
            try:
                fn()
            except Exception as exc:
                log.error("%s handler %r failed", what, fn, exc_info=exc)
                failed = f"{what} failed: {_one_line(exc)}"
                self.error = failed
        return {"error": failed} if failed else {"ok": True, "handlers": len(handlers)}

    @experimental.command
    def stop(
        self, msg: Any = None, buffers: list[bytes] | None = None
    ) -> tuple[dict[str, Any], list[bytes]]:
        """Browser: the Stop button. Runs the ``on_stop`` handlers (also callable from Python).

        Returns:
            ``({"ok": True, "handlers": n}, [])``, or ``({"error": line}, [])`` when a
            handler raised (the line is also put in ``error``).
        """
        return self._run_handlers("stop", self._stop_handlers), []

    @experimental.command
    def resume(
        self, msg: Any = None, buffers: list[bytes] | None = None
    ) -> tuple[dict[str, Any], list[bytes]]:
        """Browser: the Resume button. Runs the ``on_resume`` handlers (also from Python).

        Returns:
            ``({"ok": True, "handlers": n}, [])``, or ``({"error": line}, [])`` when a
            handler raised (the line is also put in ``error``).
        """
        return self._run_handlers("resume", self._resume_handlers), []

    def __repr__(self) -> str:
        q, n, n_layers = self.shape
        return (
            f"StudyWidget({n_layers} layers, {n} prompts, {q} quantities, "
            f"{self.n_done}/{self.n_total} done)"
        )


def _check_layers(layers: Any) -> list[int]:
    if isinstance(layers, (str, bytes)) or not isinstance(layers, Sequence | np.ndarray):
        raise TypeError(f"layers must be a list of ints, got {type(layers).__name__}")
    out = []
    for i, layer in enumerate(layers):
        if isinstance(layer, bool) or not isinstance(layer, (int, np.integer)):
            raise TypeError(f"layers[{i}] must be an int, got {type(layer).__name__}")
        out.append(int(layer))
    return out


def _check_prompts(prompts: Any) -> list[str]:
    if isinstance(prompts, (str, bytes)) or not isinstance(prompts, Sequence):
        raise TypeError(f"prompts must be a list of strings, got {type(prompts).__name__}")
    for i, p in enumerate(prompts):
        if not isinstance(p, str):
            raise TypeError(f"prompts[{i}] must be a string, got {type(p).__name__}")
    return list(prompts)
