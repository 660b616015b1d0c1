"""The seed notebook API for showing collected data: show_logit_lens, display_logit_lens.

``show_logit_lens`` keeps the seed's contract: it returns an ``IPython.display.HTML``
whose output renders the full explorer with no widget installed and no kernel (the bundle
and the data are inside it), so it survives nbviewer, nbconvert, VS Code, Colab and a
reopened notebook. The live widget, attached to Python, is ``LogitLensWidget(data)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from IPython.display import HTML

from ..base.formats import from_topk_efficient
from ..live.widget import LogitLensWidget
from ..output.page import fragment_html
from .export import synced_state

__all__ = ["display_logit_lens", "show_logit_lens"]

# Said above a copy of a live widget, so nobody expects its pins to reach Python.
STATIC_COPY_NOTE = (
    "Static copy of a LogitLensWidget: it needs no kernel, and changes made here stay here."
)


def show_logit_lens(
    data: Mapping[str, Any] | LogitLensWidget,
    tokenizer: Any = None,
    title: str | None = None,
    container_id: str | None = None,
) -> HTML:
    """Make a self-contained HTML output of the explorer for collected data.

    The output carries the frontend bundle (once) and the data, and renders the full
    explorer (grid, popups, pins, chart, colors) in the browser with no widget manager,
    no kernel and no network. Several such outputs can share a page; none of them adds
    global names or CSS outside its own element. Changes made in it (pins, sizes) are not
    sent back to Python: for that, use the live widget ``LogitLensWidget(data)``.

    Args:
        data: a ``collect_logit_lens`` dict, seed V2 JSON, a
            ``collect_logit_lens_topk_efficient`` result (then ``tokenizer`` is needed), or
            a ``LogitLensWidget`` (a static copy of its current view, pins and all).
        tokenizer: the model's tokenizer, for results that hold token ids only.
        title: the explorer's title (default: the widget's title, else the model name).
        container_id: the id of the output's root element (default: a fresh unique id).

    Returns:
        An ``IPython.display.HTML``; as a cell's last expression it displays itself, and
        its ``.data`` is the HTML text.

    Raises:
        TypeError: a token-id-only result without its tokenizer.
        ValueError: the data, the title or ``container_id`` breaks the rules
            (docs/data-format.md, "What is validated").
    """
    if isinstance(data, LogitLensWidget):
        return HTML(fragment_html(data.get_state(), title, container_id, STATIC_COPY_NOTE))
    return HTML(fragment_html(synced_state(_collection(data, tokenizer)), title, container_id))


def display_logit_lens(
    data: Mapping[str, Any] | LogitLensWidget, tokenizer: Any = None, title: str | None = None
) -> None:
    """Display ``show_logit_lens(data, tokenizer, title)`` in the current notebook output.

    Args:
        data: anything :func:`show_logit_lens` accepts.
        tokenizer: the model's tokenizer, for results that hold token ids only.
        title: the explorer's title.
    """
    from IPython.display import display

    display(show_logit_lens(data, tokenizer, title))


def _collection(data: Mapping[str, Any], tokenizer: Any) -> Mapping[str, Any]:
    """Data the widget accepts: token-id-only seed results are decoded with the tokenizer."""
    if "top_indices" not in data:
        return data
    if tokenizer is None:
        raise TypeError(
            "this collect_logit_lens_topk_efficient result holds token ids only: "
            "pass the tokenizer, show_logit_lens(data, model.tokenizer)"
        )
    return from_topk_efficient(data, tokenizer)
