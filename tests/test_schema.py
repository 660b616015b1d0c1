"""frontend/schema.js is what scripts/gen_schema.py writes from the Python traits today.

The frontend reads the UI facts (defaults, limits, enums, color-mode labels, palette, k
limits) and its trait types from that one generated module; this test is what keeps it from
drifting when a trait changes in Python.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest
import traitlets

from logitlenskit.base import ui_state
from logitlenskit.live import widget

ROOT = Path(__file__).resolve().parent.parent


def _generator():
    spec = importlib.util.spec_from_file_location("gen_schema", ROOT / "scripts" / "gen_schema.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_schema_is_current():
    committed = (ROOT / "frontend" / "schema.js").read_text()
    assert committed == _generator().render(), (
        "frontend/schema.js is stale: run .venv/bin/python scripts/gen_schema.py"
    )


def test_every_synced_trait_is_typed():
    text = _generator().render()
    typed = set(re.findall(r"@property \{[^}]*\} (\w+)", text))
    synced = {
        name
        for cls in (ui_state.UIStateTraits, widget.LogitLensWidget)
        for name, t in cls.class_own_traits().items()
        if t.metadata.get("sync")
    }
    assert synced <= typed, f"untyped traits: {sorted(synced - typed)}"


def test_a_trait_kind_without_a_js_type_is_refused():
    trait = traitlets.Tuple().tag(sync=True)
    trait.name = "odd"
    with pytest.raises(TypeError, match="'odd'"):
        _generator()._js_type(trait)


def _css_block(css: str, selector_start: str) -> dict[str, str]:
    """The --llk-* variables of the first rule whose selector list starts with ``selector_start``."""
    start = css.index(selector_start)
    body = css[css.index("{", start) + 1 : css.index("}", start)]
    return dict(re.findall(r"--llk-([\w-]+):\s*([^;]+);", body))


def test_widget_css_themes_match_the_python_theme_colors():
    css = (ROOT / "frontend" / "widget.css").read_text()
    shown = {"light": _css_block(css, ".llk {"), "dark": _css_block(css, '.llk[data-theme="dark"]')}
    for theme, colors in ui_state.THEME_COLORS.items():
        for name, value in colors.items():
            assert shown[theme].get(name, "").lower() == value, (
                f"widget.css --llk-{name} ({theme}) is {shown[theme].get(name)!r}, "
                f"ui_state.THEME_COLORS says {value!r}: change both, then run gen_schema.py"
            )
