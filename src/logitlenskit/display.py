"""The seed notebook API for showing collected data: show_logit_lens, display_logit_lens."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .formats import from_topk_efficient
from .widget import LogitLensWidget

__all__ = ["display_logit_lens", "show_logit_lens"]


def show_logit_lens(
    data: Mapping[str, Any],
    tokenizer: Any = None,
    title: str | None = None,
    container_id: str | None = None,
) -> LogitLensWidget:
    """Make a widget for collected data; as a cell's last expression it displays itself.

    Args:
        data: a ``collect_logit_lens`` dict, seed V2 JSON, or a
            ``collect_logit_lens_topk_efficient`` result (then ``tokenizer`` is needed).
        tokenizer: the model's tokenizer, for results that hold ids only.
        title: the widget's title (default: the model name).
        container_id: accepted so seed notebooks keep running; the widget manages its own
            DOM, so it is not used.

    Returns:
        The widget. Unlike the seed's HTML string it stays live: pins, colors and sizes
        sync back to Python, and ``w.save_html(path)`` exports a standalone page.
    """
    del container_id
    if "top_indices" in data:
        if tokenizer is None:
            raise TypeError(
                "this collect_logit_lens_topk_efficient result holds token ids only: "
                "pass the tokenizer, show_logit_lens(data, model.tokenizer)"
            )
        data = from_topk_efficient(data, tokenizer)
    widget = LogitLensWidget(data)
    if title is not None:
        widget.title = title
    return widget


def display_logit_lens(
    data: Mapping[str, Any], tokenizer: Any = None, title: str | None = None
) -> None:
    """Display ``show_logit_lens(data, tokenizer, title)`` in the current notebook output."""
    from IPython.display import display

    display(show_logit_lens(data, tokenizer, title))
