"""Standalone HTML export: one file that shows the widget with no kernel and no network.

:func:`to_html` renders a widget (with its current pins, colors and sizes) or collected data
as a page (:mod:`.page`), and :func:`save_html` writes it so that a failure never costs the
user a file (:mod:`.files`, whose :func:`check_output_path` and :func:`write_text_atomic`
are re-exported here for the CLI and for scripts).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..base.files import check_output_path, write_text_atomic
from ..base.validate import check_text
from ..live.widget import LogitLensWidget
from ..output.page import page_html

__all__ = ["check_output_path", "save_html", "synced_state", "to_html", "write_text_atomic"]


def synced_state(source: LogitLensWidget | Mapping[str, Any]) -> dict[str, Any]:
    """A widget's synced state, or that of a widget made for ``source`` data and closed.

    The temporary widget checks the data and lays out the state; closing it keeps the
    notebook's widget manager from holding a model that no output shows.
    """
    if isinstance(source, LogitLensWidget):
        return source.get_state()
    widget = LogitLensWidget(source)
    try:
        return widget.get_state()
    finally:
        widget.close()


def to_html(source: LogitLensWidget | Mapping[str, Any], title: str | None = None) -> str:
    """Render a widget (with its current UI state) or collected data as a standalone page.

    Args:
        source: a LogitLensWidget, or data it accepts (collection dict, V2 JSON, payload);
            data is validated as the widget validates it.
        title: the page's and widget's title (default: the widget's title).

    Returns:
        The page's HTML text.

    Raises:
        ValueError: the data or the title breaks the rules (docs/data-format.md, "What is
            validated"), or the state holds NaN or Infinity.
    """
    if title is not None:
        check_text(title, "title")  # reported before anything about the data
    return page_html(synced_state(source), title)


def save_html(
    source: LogitLensWidget | Mapping[str, Any],
    path: str | os.PathLike[str],
    title: str | None = None,
    *,
    overwrite: bool = False,
) -> Path:
    """Write ``to_html(source, title)`` to ``path`` (UTF-8) without ever losing a file.

    The page is rendered and encoded before the target is touched, then written to a
    temporary file next to it and renamed over it, so a failure leaves any previous file
    intact. By default an existing file is not replaced (a second export under the same
    name raises ``FileExistsError`` instead of silently destroying the first); pass
    ``overwrite=True`` to replace it. Symbolic links are never written through.

    Args:
        source: a LogitLensWidget, or data it accepts.
        path: the ``.html`` file to create.
        title: the page's and widget's title (default: the widget's title).
        overwrite: replace an existing file at ``path``.

    Returns:
        ``path`` as a ``Path``.

    Raises:
        ValueError: bad data or title (nothing is written), or ``path`` is a link.
        FileExistsError: ``path`` exists and ``overwrite`` is false.
        OSError: the folder is missing or not writable (see :func:`check_output_path`).
    """
    check_output_path(path, overwrite=overwrite)  # fail before the (slower) rendering
    return write_text_atomic(path, to_html(source, title), overwrite=overwrite)
