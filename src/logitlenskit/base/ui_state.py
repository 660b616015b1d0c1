"""The explorer's UI state as synced traitlets.

Everything a user changes in the widget (pins, colors, sizes, title, zoom) lives here rather
than only in the browser, so it is saved with the notebook, survives reopening it, and can be
read and set from Python. ``LogitLensWidget`` mixes this class in.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import traitlets

from .validate import as_int, check_text

__all__ = [
    "COLOR_MODES",
    "PIN_NAME_MAX",
    "PIN_PALETTE",
    "ROW_DASHES",
    "SIZE_LIMITS",
    "THEME_COLORS",
    "TOKEN_GLYPHS",
    "TRAJECTORY_METRICS",
    "ColumnLink",
    "IndexInt",
    "UIStateTraits",
]

# What colors the cells, with the label the widget's menu shows for each. These facts, the
# palette, the size limits and every trait's default reach the frontend as one generated
# module (frontend/schema.js, written by scripts/gen_schema.py), so they are stated once.
COLOR_MODES = {
    "top1": "top-1 probability",
    "token": "a token",
    "group": "a pinned group",
    "entropy": "entropy",
    "kl": "KL to final output",
    "rank": "rank of the target",
    "logprob_diff": "log p(target) \u2212 log p(foil)",
    "delta": "change from the previous layer",
    "sublayer": "which sub-layer moved the top-1 most",
    "diff_token": "change in a token's probability, A \u2212 B",
    "jsd": "Jensen\u2013Shannon divergence of the top-k",
    "none": "none",
}
# What the chart plots, with the label of the widget's menu (frontend/schema.js too).
TRAJECTORY_METRICS = {
    "probability": "probability",
    "rank": "rank",
    "logprob": "log-probability",
    "delta": "change per layer",
    "kl": "KL to final output",
}
# The longest pin name (characters): the legend shows it in place of the pin's tokens.
PIN_NAME_MAX = 80
# Distinct in both light and dark themes; the frontend cycles through the same list.
PIN_PALETTE = (
    "#e6194b",
    "#3cb44b",
    "#4363d8",
    "#f58231",
    "#911eb4",
    "#42d4f4",
    "#f032e6",
    "#9a6324",
    "#808000",
    "#000075",
)
# Dash patterns (dash, gap, ... in px or pt) telling pinned input rows apart, in pin order;
# () is solid. The widget's chart, grid marks and legend and the figures use the same ones.
ROW_DASHES = ((), (6, 3), (2, 2), (8, 3, 2, 3), (12, 4))
# How whitespace in a token is drawn, so " Paris" and "Paris" never look alike.
TOKEN_GLYPHS = {" ": "\u2423", "\u00a0": "\u2423", "\n": "\u21b5", "\r": "\u240d", "\t": "\u21e5"}
# Shown for an empty token and for a token whose text has not arrived yet; a byte-fallback
# token (one byte of a UTF-8 character) looks like <0xE2>.
EMPTY_TOKEN = "\u2205"
UNKNOWN_TOKEN = "\u2026"
BYTE_TOKEN_PATTERN = "<0x[0-9A-Fa-f]{2}>"
# The themes' colors, as widget.css's --llk-<name> variables (tests/test_schema.py checks the
# CSS against them); figures use them too.
THEME_COLORS = {
    "light": {
        "bg": "#ffffff",
        "fg": "#1f2328",
        "muted": "#656d76",
        "border": "#d0d7de",
        "head-bg": "#f6f8fa",
    },
    "dark": {
        "bg": "#1e1e1e",
        "fg": "#e6edf3",
        "muted": "#9198a1",
        "border": "#3d444d",
        "head-bg": "#262a30",
    },
}
# A cell's color is the mode's color at this opacity times its value, over the background.
CELL_OPACITY = 0.9
# Below this relative luminance of a cell, white text reads better than black (WCAG).
DARK_INK_BELOW = 0.18
# Inclusive, in CSS pixels (font_size in px too); the browser's drags and A+/A- stay inside.
SIZE_LIMITS = {
    "column_width": (16, 400),
    "input_column_width": (30, 800),
    "table_width": (200, 10000),
    "chart_height": (40, 1200),
    "grid_height": (80, 4000),
    "font_size": (6, 32),
}
# Used with fullmatch: "$" alone would accept a trailing newline, which reaches CSS.
_HEX = re.compile(r"#[0-9a-fA-F]{6}")
# The traits that make two widgets' columns line up.
_COLUMN_TRAITS = ("column_width", "input_column_width", "table_width")
_PIN_KEYS = {"ids", "color", "name"}


def _hex_color(value: Any, name: str) -> str:
    if not isinstance(value, str) or not _HEX.fullmatch(value):
        raise traitlets.TraitError(
            f"{name} must be a color like '#1f77b4' ('#' and six hex digits), got {value!r}"
        )
    return value.lower()


def _pin_name(value: Any, i: int) -> str | None:
    """A pin's optional name: a str of at most PIN_NAME_MAX characters, valid Unicode."""
    if value is None:
        return None
    try:
        check_text(value, f"pins[{i}]['name']")
    except ValueError as exc:
        raise traitlets.TraitError(str(exc)) from None
    if len(value) > PIN_NAME_MAX:
        raise traitlets.TraitError(
            f"pins[{i}]['name'] has {len(value)} characters; a pin name has at most {PIN_NAME_MAX}"
        )
    return value


def _index(value: Any, name: str, what: str) -> int:
    """A non-negative int from an int, numpy or torch integer; bools are refused."""
    number = as_int(value)
    if number is None or number < 0:
        raise traitlets.TraitError(
            f"{name} must hold non-negative {what} (integers >= 0), got {value!r}"
        )
    return number


def _token_ids(value: Any, name: str, what: str = "token ids") -> list[int]:
    """Distinct non-negative ints, in order; numpy and torch integers are welcome."""
    if not isinstance(value, (list, tuple)):
        raise traitlets.TraitError(f"{name} must be a list of {what}, got {value!r}")
    ids: list[int] = []
    for item in value:
        number = _index(item, name, what)
        if number not in ids:
            ids.append(number)
    return ids


class IndexInt(traitlets.Int):
    """An ``Int`` trait that also takes numpy and torch integers, and refuses bools.

    (``True`` passes a plain ``Int`` as 1; where a size or an id is expected it is a mistake.)
    """

    def validate(self, obj: Any, value: Any) -> Any:
        """The value as an ``int``; TraitError for bools and non-integers."""
        number = as_int(value)
        if number is None and not isinstance(value, bool):
            try:
                number = super().validate(obj, value)  # integer-valued floats, as Int allows
            except traitlets.TraitError:
                number = None
        if number is None:
            raise traitlets.TraitError(
                f"{self.name} must be an integer, got {value!r} ({type(value).__name__})"
            )
        return super().validate(obj, int(number))


class ColumnLink:
    """Keeps two widgets' column sizes equal until ``unlink()`` is called."""

    def __init__(self, links: list[traitlets.link]) -> None:
        self._links = links

    def unlink(self) -> None:
        """Stop keeping the columns together (idempotent)."""
        while self._links:
            self._links.pop().unlink()


class UIStateTraits(traitlets.HasTraits):
    """Synced UI state of the logit-lens explorer.

    Pins and color targets name tokens by id, never by string: different ids can decode to
    the same text. Sizes are CSS pixels.
    """

    title = traitlets.Unicode("", help="Title shown above the grid (editable inline)").tag(
        sync=True
    )
    pins = traitlets.List(
        help="Pinned trajectories: [{'ids': [token ids], 'color': '#rrggbb', 'name': str}] "
        "('name' optional, at most 80 characters: the legend shows it instead of the tokens); "
        "an entry with several ids is a group whose trajectory is the sum of its members",
    ).tag(sync=True)
    pinned_rows = traitlets.List(
        help="Input positions whose trajectories are compared (line style each)"
    ).tag(sync=True)
    color_mode = traitlets.Enum(
        tuple(COLOR_MODES), default_value="top1", help="What colors the cells"
    ).tag(sync=True)
    color_token = IndexInt(None, allow_none=True, help="Token id colored in 'token' mode").tag(
        sync=True
    )
    color_group = traitlets.List(
        help="Token ids of the pinned group colored in 'group' mode, and the target of the "
        "'rank', 'logprob_diff' and 'delta' modes; [] = the first multi-token pin ('group') or "
        "the first pin, else the data's first target (the others)"
    ).tag(sync=True)
    color_foil = traitlets.List(
        help="Token ids of the foil in 'logprob_diff' mode (log p(target) - log p(foil)); "
        "[] = the first pin, else the data's first target, other than the target"
    ).tag(sync=True)
    heat_color = traitlets.Unicode("#2b6cd4", help="Cell color of the probability modes").tag(
        sync=True
    )
    entropy_color = traitlets.Unicode("#d9822b", help="Cell color of the entropy mode").tag(
        sync=True
    )
    metric_color = traitlets.Unicode(
        "#8a4fbf", help="Cell color of the 'kl' mode, and the chart's KL lines"
    ).tag(sync=True)
    negative_color = traitlets.Unicode(
        "#c8372d",
        help="Second color of the diverging modes: cells that favor the foil "
        "('logprob_diff') or lost probability ('delta'); heat_color is the other side",
    ).tag(sync=True)
    trajectory_metric = traitlets.Enum(
        tuple(TRAJECTORY_METRICS),
        default_value="probability",
        help="What the chart plots: 'probability', 'rank', 'logprob' (natural log), 'delta' "
        "(change of probability from the previous lens row) or 'kl' (KL to the final output, "
        "one line per pinned row or the followed position; pins do not apply)",
    ).tag(sync=True)
    chart_scale = traitlets.Enum(
        ("linear", "log"), default_value="linear", help="Chart y axis scale"
    ).tag(sync=True)
    column_width = IndexInt(56, help="Width of one layer column").tag(sync=True)
    input_column_width = IndexInt(110, help="Width of the input token column").tag(sync=True)
    table_width = IndexInt(0, help="Width of the whole explorer; 0 follows the output area").tag(
        sync=True
    )
    chart_height = IndexInt(160, help="Height of the trajectory chart").tag(sync=True)
    grid_height = IndexInt(420, help="Height above which the grid scrolls vertically").tag(
        sync=True
    )
    x_zoom = traitlets.List(
        help="[first, last] lens row shown (inclusive, indices into data layers); [] = all",
    ).tag(sync=True)
    dark_mode = traitlets.Enum(
        ("auto", "light", "dark"),
        default_value="auto",
        help="'auto' follows JupyterLab's / VS Code's theme",
    ).tag(sync=True)
    font_size = IndexInt(12, help="Base font size; the whole widget scales with it").tag(sync=True)
    selected_cell = traitlets.Dict(
        default_value=None,
        allow_none=True,
        read_only=True,
        help="The cell whose popup was opened last, {'layer': layer number, 'position': "
        "input position}; it stays after the popup closes and is cleared by a new run. Set "
        "by the widget only: read it to follow what the user clicks (or use on_select)",
    ).tag(sync=True)

    @traitlets.validate("title")
    def _validate_title(self, proposal: dict[str, Any]) -> str:
        try:
            return check_text(proposal["value"], "title")
        except ValueError as exc:
            raise traitlets.TraitError(str(exc)) from None

    @traitlets.validate("pins")
    def _validate_pins(self, proposal: dict[str, Any]) -> list[dict[str, Any]]:
        value = proposal["value"]
        pins: list[dict[str, Any]] = []
        for i, pin in enumerate(value):
            if not isinstance(pin, Mapping) or not set(pin) <= _PIN_KEYS:
                raise traitlets.TraitError(
                    f"pins[{i}] must be {{'ids': [token ids], 'color': '#rrggbb', 'name': str}} "
                    f"('color' and 'name' optional), got {pin!r}"
                )
            ids = _token_ids(pin.get("ids"), f"pins[{i}]['ids']")
            self._check_pin_ids(ids, f"pins[{i}]['ids']")
            if not ids:
                raise traitlets.TraitError(
                    f"pins[{i}] has no token ids: give at least one, e.g. {{'ids': [42]}}"
                )
            color = pin.get("color") or PIN_PALETTE[i % len(PIN_PALETTE)]
            entry = {"ids": ids, "color": _hex_color(color, f"pins[{i}]['color']")}
            name = _pin_name(pin.get("name"), i)
            if name:
                entry["name"] = name
            pins.append(entry)
        return pins

    def _check_pin_ids(self, ids: list[int], name: str) -> None:
        """Raise TraitError for ids a pin cannot hold (a live widget checks its vocabulary)."""

    @traitlets.validate("pinned_rows")
    def _validate_pinned_rows(self, proposal: dict[str, Any]) -> list[int]:
        return _token_ids(proposal["value"], "pinned_rows", "input positions")

    @traitlets.validate("color_group", "color_foil")
    def _validate_color_group(self, proposal: dict[str, Any]) -> list[int]:
        return _token_ids(proposal["value"], proposal["trait"].name)

    @traitlets.validate("color_token")
    def _validate_color_token(self, proposal: dict[str, Any]) -> int | None:
        value = proposal["value"]
        if value is not None and value < 0:
            raise traitlets.TraitError(
                f"color_token must be a token id >= 0, or None for no token, got {value}"
            )
        return value

    @traitlets.validate("heat_color", "entropy_color", "metric_color", "negative_color")
    def _validate_color(self, proposal: dict[str, Any]) -> str:
        return _hex_color(proposal["value"], proposal["trait"].name)

    @traitlets.validate("x_zoom")
    def _validate_x_zoom(self, proposal: dict[str, Any]) -> list[int]:
        value = proposal["value"]
        rule = "x_zoom must be [] (all rows) or [first, last] lens rows, 0 <= first <= last"
        if not isinstance(value, (list, tuple)) or len(value) not in (0, 2):
            raise traitlets.TraitError(f"{rule}; got {value!r}")
        rows = [_index(v, "x_zoom", "lens rows") for v in value]
        if rows and rows[1] < rows[0]:
            raise traitlets.TraitError(f"{rule}; got {value!r}")
        return rows

    @traitlets.validate("selected_cell")
    def _validate_selected_cell(self, proposal: dict[str, Any]) -> dict[str, int] | None:
        value = proposal["value"]
        if value is None:
            return None
        if set(value) != {"layer", "position"} or not all(
            isinstance(v, int) and not isinstance(v, bool) for v in value.values()
        ):
            raise traitlets.TraitError(
                f"selected_cell must be None or {{'layer': int, 'position': int}}, got {value!r}"
            )
        return dict(value)

    @traitlets.validate(
        "column_width",
        "input_column_width",
        "table_width",
        "chart_height",
        "grid_height",
        "font_size",
    )
    def _validate_size(self, proposal: dict[str, Any]) -> int:
        name = proposal["trait"].name
        low, high = SIZE_LIMITS[name]
        value = proposal["value"]
        if name == "table_width" and value == 0:
            return 0
        if not low <= value <= high:
            zero = " (or 0 to follow the output area)" if name == "table_width" else ""
            raise traitlets.TraitError(
                f"{name} must be between {low} and {high} CSS pixels{zero}, got {value}"
            )
        return value

    def link_columns(self, other: UIStateTraits) -> ColumnLink:
        """Keep this widget's and ``other``'s column sizes equal (both directions).

        ``other`` takes this widget's sizes first. Returns a ``ColumnLink``; call its
        ``unlink()`` to let them move independently again.
        """
        return ColumnLink([traitlets.link((self, name), (other, name)) for name in _COLUMN_TRAITS])
