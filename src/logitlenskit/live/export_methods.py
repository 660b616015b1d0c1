"""The widget's files: a standalone page and SVG/PNG figures, drawn by ``output/``.

:class:`ExportMethods` is a mixin of :class:`~logitlenskit.LogitLensWidget` (its public
``save_html``, ``save_svg``, ``save_png`` and ``export``); :func:`figure_answer` is the body
of its ``figure`` command (the browser's export button).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from ..base.files import check_output_path, write_text_atomic
from ..output.page import page_html
from .commands import one_line

__all__ = ["ExportMethods", "figure_answer"]

log = logging.getLogger("logitlenskit.live.widget")


class ExportMethods:
    """Saving a widget as a page or a figure (mixed into the widget class)."""

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
        state = self.get_state()  # type: ignore[attr-defined]
        return write_text_atomic(path, page_html(state, title), overwrite=overwrite)

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


def figure_answer(widget: Any, msg: dict[str, Any]) -> tuple[dict, list[bytes]]:
    """The ``figure`` command: ``{format, theme}`` → ``{format, size}`` and the file's bytes."""
    from ..output.figure import figure_bytes

    fmt, theme = msg.get("format"), msg.get("theme")
    try:
        data = figure_bytes(widget, fmt, dpi=300, theme=theme)
    except Exception as exc:
        log.error("figure export failed", exc_info=exc)
        return {"error": one_line(exc)}, []
    return {"format": fmt, "size": len(data)}, [data]
