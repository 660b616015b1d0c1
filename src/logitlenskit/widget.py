"""LogitLensWidget: the anywidget that shows a logit lens and reruns the model on demand."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

import anywidget
import traitlets

from .formats import PAYLOAD_VERSION, to_widget_payload
from .ui_state import UIStateTraits

__all__ = ["BundleMissingError", "LogitLensWidget", "widget_payload"]

STATIC = Path(__file__).parent / "static"


class BundleMissingError(ImportError):
    """The built frontend bundle is not in the package (a source checkout not built yet)."""


def _bundle_file(name: str) -> Path:
    path = STATIC / name
    if not path.is_file():
        raise BundleMissingError(
            f"logitlenskit's frontend bundle is missing: {path}. In a source checkout, "
            "build it from the repository root with `npm ci && npm run build` (or "
            "`make build`); installed wheels ship it already."
        )
    return path


def widget_payload(data: Mapping[str, Any]) -> dict[str, Any]:
    """Normalize anything the widget accepts into what its ``data`` trait holds.

    Accepted: the collection dict of ``collect_logit_lens`` (turned into the binary
    version-3 payload), a version-3 payload, or seed V2 JSON (kept as it is; the frontend
    decodes it). ``{}`` means no data yet.

    Raises:
        ValueError: the dict is none of these, or its arrays disagree.
    """
    if not data:
        return {}
    meta = data.get("meta")
    if data.get("version") == PAYLOAD_VERSION or (isinstance(meta, Mapping)
                                                   and meta.get("version") == 2):
        return dict(data)
    if "topk" in data:
        return to_widget_payload(data)
    if "top_indices" in data:
        raise ValueError(
            "this looks like a collect_logit_lens_topk_efficient result, which holds ids "
            "only: convert it with the tokenizer first, "
            "LogitLensWidget(data=from_topk_efficient(data, model.tokenizer))"
        )
    raise ValueError(
        "unrecognized logit-lens data: expected the dict from collect_logit_lens(), "
        "seed V2 JSON (to_js_format), or a widget payload; got keys "
        f"{sorted(data)[:8]}"
    )


class LogitLensWidget(UIStateTraits, anywidget.AnyWidget):
    """Interactive logit-lens explorer: layers × positions grid, popups, trajectories.

    Show collected data, or attach a model so that a new prompt (typed in the widget or
    set as ``w.prompt`` from Python) reruns the lens and pushes fresh data.

    Args:
        data: collected data (see ``widget_payload`` for the accepted forms).
        model: an nnterp StandardizedTransformer (e.g. from ``load_model()``); makes the
            prompt editable.
        prompt: the prompt to run on ``model`` right away.
        k: how many top predictions to keep per cell.
        layers: which layers to show (default all; negative indices count from the end).
        remote: ``True`` runs on NDIF, ``"local"`` runs nnsight's NDIF simulation,
            ``None`` picks local unless the model was made for remote use.
        **kwargs: initial values of other traits (e.g. ``title="..."``).

    Example:
        >>> from logitlenskit import LogitLensWidget, load_model
        >>> LogitLensWidget(model=load_model(), prompt="The capital of France is")
    """

    _esm = _bundle_file("widget.js")
    _css = _bundle_file("widget.css")

    data = traitlets.Dict().tag(sync=True)
    prompt = traitlets.Unicode("").tag(sync=True)
    editable_prompt = traitlets.Bool(False).tag(sync=True)
    busy = traitlets.Bool(False).tag(sync=True)
    error = traitlets.Unicode("").tag(sync=True)

    def __init__(
        self,
        data: Mapping[str, Any] | None = None,
        *,
        model: Any = None,
        prompt: str | None = None,
        k: int = 5,
        layers: Sequence[int] | None = None,
        remote: bool | str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self._model = model
        self._lens_options = {"k": k, "layers": layers, "remote": remote}
        self.editable_prompt = model is not None
        if data is not None:
            self.data = data  # normalized by _validate_data
        if prompt is not None:
            if model is None and data is None:
                raise ValueError("a prompt needs a model: LogitLensWidget(model=..., prompt=...)")
            self.prompt = prompt

    @traitlets.validate("data")
    def _validate_data(self, proposal: dict[str, Any]) -> dict[str, Any]:
        return widget_payload(proposal["value"])

    @traitlets.observe("data")
    def _on_data(self, change: dict[str, Any]) -> None:
        # The old cell may not exist in the new data; set_trait because the trait is read-only
        # for users (only the widget sets it).
        self.set_trait("selected_cell", None)

    @traitlets.observe("prompt")
    def _on_prompt(self, change: dict[str, Any]) -> None:
        if self._model is not None and change["new"] != change["old"]:
            self.run(change["new"])

    def run(self, prompt: str | None = None) -> None:
        """Collect the lens for ``prompt`` (default: the current one) and show it.

        A bad prompt, or a failed run (NDIF, network, memory), leaves the current data in
        place and shows the reason in the widget (``w.error``) instead of raising, so a typo
        or an outage never loses the view.
        """
        if self._model is None:
            raise ValueError("this widget has no model: LogitLensWidget(model=load_model())")
        from .collect import collect_logit_lens

        self.busy = True
        try:
            collected = collect_logit_lens(prompt or self.prompt, self._model, **self._lens_options)
        except (ValueError, TypeError) as exc:
            self.error = str(exc)
        except Exception as exc:  # NDIF, network, out of memory: the widget must still say so
            self.error = f"{type(exc).__name__}: {exc}"
        else:
            with self.hold_sync():
                self.data = collected
                self.error = ""
        finally:
            self.busy = False

    def save_html(self, path: str | Path, title: str | None = None) -> Path:
        """Save the widget, with its current pins, colors and sizes, as a standalone page.

        The page needs no kernel and no network; see ``logitlenskit.export``.
        """
        from .export import save_html

        return save_html(self, path, title)
