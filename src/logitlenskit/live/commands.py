"""The bodies of the widget's browser commands (docs/live-loop.md, "Commands").

anywidget finds commands as methods of the widget class, so each stays there as a line or
two that calls one of these. Every answer is a JSON object (and buffers); a failure is an
``{"error": ...}`` answer, never an exception in the kernel's message handler. The
functions given the widget read its shown data (``data``, ``result``, ``_run``), its model
(``_model``) and its ``on_select`` callbacks, and set ``error``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from ..core import session
from ..core.options import check_k
from ..core.request import token_strings, vocab_size
from ..core.session import LensRun
from .live_checks import check_selection, lens_row

__all__ = ["detail_answer", "one_line", "select_answer", "token_text"]

log = logging.getLogger("logitlenskit.live.widget")

Answer = tuple[dict, list[bytes]]


def one_line(exc: BaseException) -> str:
    """Exception type and message on one line, no traceback."""
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def detail_answer(run: LensRun | None, msg: Mapping[str, Any]) -> Answer:
    """``detail``: the cell's deeper top-k and each token's probability at every lens row."""
    if run is None or msg.get("run") != run.run_id:
        return {"error": "stale: the data changed", "stale": True}, []
    try:
        layer_index = lens_row(run.layers, msg)
        ids, probs = session.detail(run, layer_index, int(msg["position"]), check_k(msg["k"]))
    except Exception as exc:
        return {"error": one_line(exc)}, []
    answer = {
        "run": run.run_id,
        "layer": int(msg["layer"]),
        "position": int(msg["position"]),
        "ids": ids,
        "tokens": token_strings(run.request.tokenizer, ids),
    }
    return answer, [probs.astype("<f4").tobytes()]


def select_answer(widget: Any, msg: Mapping[str, Any]) -> Answer:
    """``select``: run the ``on_select`` callbacks on the cell or token the user chose.

    A callback's exception is logged and shown in ``widget.error``; the others still run.
    """
    try:
        layer, position, token = _selection(widget, msg)
    except Exception as exc:
        return {"error": one_line(exc)}, []
    text = token_text(widget, token)
    for callback in list(widget._select_callbacks):
        with widget._callback_output.capture():
            try:
                callback(layer, position, token, text)
            except Exception as exc:
                log.error("on_select callback %r failed", callback, exc_info=exc)
                widget.error = f"on_select callback failed: {one_line(exc)}"
    return {"ok": True}, []


def _selection(widget: Any, msg: Mapping[str, Any]) -> tuple[int, int, int]:
    """(layer, position, token) of a ``select``; a cell's top-1 when no token is named."""
    data = widget.data or {}
    model = widget._model
    size = None if model is None else vocab_size(model)
    layers = data.get("layers") if "input" in data else None
    n_pos = len(data["input"]) if "input" in data else 2**63
    layer, position, token = check_selection(msg, layers, n_pos, size)
    if token is not None:
        return layer, position, token
    result = widget.result
    if result is None:
        raise ValueError("no collection to read the cell's top token from")
    layer_index = lens_row([int(x) for x in result["layers"]], msg)
    return layer, position, int(result["topk"][layer_index, position, 0])


def token_text(widget: Any, token: int) -> str:
    """How the widget's run, model or data spells ``token``."""
    run = widget._run
    if run is not None and token in run.result["vocab"]:
        return run.result["vocab"][token]
    if widget._model is not None:
        return token_strings(widget._model.tokenizer, [token])[0]
    return str(widget.data.get("vocab", {}).get(str(token), f"#{token}"))
