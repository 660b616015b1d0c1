"""Figures: text as the widget shows it, the fonts it is set in, and the SVG's titles.

Token strings are untrusted and often invisible (a space, a newline, a byte fragment), so
they are drawn with the widget's glyphs (frontend/tokens.js) and, in an SVG, written in full
and escaped as the ``<title>`` of their group, where screen readers, tooltips and tests
find them.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import Any
from xml.sax.saxutils import escape

from matplotlib.figure import Figure

from ..base.edit_records import edits_caption
from ..base.lens_fields import lens_caption
from ..base.ui_state import BYTE_TOKEN_PATTERN, EMPTY_TOKEN, TOKEN_GLYPHS

__all__ = ["visible"]

_BYTE_TOKEN = re.compile(BYTE_TOKEN_PATTERN)


@lru_cache(maxsize=1)
def _has_return_glyph() -> bool:
    from matplotlib import font_manager
    from matplotlib.ft2font import FT2Font

    font = FT2Font(font_manager.findfont("DejaVu Sans"))
    return ord("\u240d") in font.get_charmap()


def _glyph(ch: str) -> str:
    if ch == "\r" and not _has_return_glyph():
        return "\\r"  # ␍ is missing from DejaVu Sans: a box would say nothing
    if ch in TOKEN_GLYPHS:
        return TOKEN_GLYPHS[ch]
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:x}"


def _special(ch: str) -> bool:
    # Whitespace and controls (as tokens.js), plus what XML cannot carry at all (surrogates,
    # U+FFFE/U+FFFF) and format characters that would reorder or hide the text around them.
    category = unicodedata.category(ch)
    return ch.isspace() or category in ("Cc", "Cs", "Cf") or ch in "\ufffe\uffff"


def visible(raw: str) -> str:
    """A token string with whitespace and control characters shown as glyphs (as the widget)."""
    text = "".join(_glyph(ch) if _special(ch) else ch for ch in raw)
    return text or EMPTY_TOKEN


def _fit(text: str, chars: int) -> str:
    return text if len(text) <= chars else text[: max(1, chars - 1)] + "\u2026"


def _is_fragment(raw: str) -> bool:
    return "\ufffd" in raw or bool(_BYTE_TOKEN.fullmatch(raw))


def _title(state: Any, lens: Any) -> str:
    """The widget's title (or the model's name) as one line of plain text.

    A lens other than the logit lens is named, and an edited run says so: its numbers are
    not the model's own output.
    """
    text = state.title or lens.model
    for caption in (lens_caption(lens.lens), edits_caption(lens.edits)):
        if caption:
            text = f"{text} — {caption}"
    # Spaces stay spaces here (it is prose, not a token); other specials become glyphs.
    return " ".join(visible(word) for word in text.split())


# ------------------------------------------------------------------ fonts


def _rc() -> dict[str, Any]:
    return {
        "svg.fonttype": "path",
        "svg.hashsalt": "logitlenskit",  # stable glyph ids: identical states, identical files
        "font.family": _font_families(),
        "axes.unicode_minus": True,
    }


@lru_cache(maxsize=1)
def _font_families() -> list[str]:
    """DejaVu Sans (matplotlib's own), then installed fonts for scripts it lacks."""
    from matplotlib import font_manager

    installed = {f.name for f in font_manager.fontManager.ttflist}
    fallbacks = ["Noto Sans", "Noto Sans CJK JP", "Noto Sans CJK SC", "Noto Sans Symbols2"]
    return ["DejaVu Sans", *(name for name in fallbacks if name in installed)]


# ------------------------------------------------------------------ SVG titles

# matplotlib writes an artist's gid as the id of the <g> around it; only our own ids, made
# of these characters, are looked for, so token text never reaches the pattern.
_GROUP = re.compile(rb'<g id=(["\'])(llk-[a-z]+-[0-9-]+)\1>')


def _titles(fig: Figure) -> dict[str, str]:
    """Full visible text of each labelled group of ``fig``, by gid (cells are truncated)."""
    return fig.__dict__.setdefault("_llk_titles", {})


def _with_titles(svg: bytes, fig: Figure) -> bytes:
    """Put each group's text in a ``<title>``: findable, read aloud, shown on hover."""
    titles = _titles(fig)

    def add(match: re.Match[bytes]) -> bytes:
        text = titles.get(match.group(2).decode("ascii"))
        if text is None:
            return match.group(0)
        return match.group(0) + b"<title>" + escape(text).encode("utf-8") + b"</title>"

    return _GROUP.sub(add, svg)
