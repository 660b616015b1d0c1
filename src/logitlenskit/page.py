"""The standalone page: a widget's synced state and bundle in one HTML file.

The page carries the widget's bundle, CSS and synced state in a single JSON block and
renders the same ES module the notebook uses, against a small in-page model that keeps the
state in memory (pins, colors and sizes still work; the prompt is read-only). Nothing is
fetched from a CDN, so the file opens offline and can be attached to an email.

:func:`page_html` takes a widget's state (``widget.get_state()``), so this module needs
neither the widget nor a kernel; :mod:`.export` turns data into a widget first.
"""

from __future__ import annotations

import base64
import html
import json
import math
import numbers
from collections.abc import Mapping
from typing import Any

from .validate import check_text

__all__ = ["page_html"]

# Trait values the page must not take over from a live notebook widget.
_STATIC_OVERRIDES = {"editable_prompt": False, "busy": False}
# DOMWidget plumbing that means nothing outside a kernel (private "_" traits are dropped too).
_WIDGET_INTERNALS = {"layout", "tabbable", "tooltip"}

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>body {{ margin: 16px; font-family: system-ui, sans-serif; }}</style>
</head>
<body>
<div id="logitlens"></div>
<script type="application/json" id="logitlens-state">{state}</script>
<script type="module">
const state = JSON.parse(document.getElementById("logitlens-state").textContent);
// Binary trait values were base64-encoded; widgets receive them as DataViews, as in Jupyter.
const revive = (value) => {{
  if (Array.isArray(value)) return value.map(revive);
  if (value && typeof value === "object") {{
    if (typeof value.$bytes === "string") {{
      const bytes = Uint8Array.from(atob(value.$bytes), (c) => c.charCodeAt(0));
      return new DataView(bytes.buffer);
    }}
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, revive(v)]));
  }}
  return value;
}};
const traits = revive(state.traits);
const handlers = new Map();
const emit = (name) => (handlers.get(name) || []).slice().forEach((fn) => fn());
const model = {{
  get: (name) => traits[name],
  set: (name, value) => {{ traits[name] = value; emit(`change:${{name}}`); emit("change"); }},
  on: (name, fn) => handlers.set(name, [...(handlers.get(name) || []), fn]),
  off: (name, fn) => handlers.set(name, (handlers.get(name) || []).filter((h) => h !== fn)),
  save_changes: () => {{}},
  send: () => {{}},
}};
const style = document.createElement("style");
style.textContent = state.css;
document.head.append(style);
const url = URL.createObjectURL(new Blob([state.esm], {{ type: "text/javascript" }}));
const widget = (await import(url)).default;
const definition = typeof widget === "function" ? await widget() : widget;
await definition.initialize?.({{ model }});
await definition.render?.({{ model, el: document.getElementById("logitlens") }});
</script>
</body>
</html>
"""


def _jsonable(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"$bytes": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    # numpy scalars are welcome in V2 data and ids; json.dumps knows only Python numbers.
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, numbers.Real) and not isinstance(value, (bool, float)):
        return float(value)
    return value


def _non_finite(value: Any, path: str = "") -> str | None:
    """Where in a JSON-able value the first NaN or Infinity sits (for the error message)."""
    if isinstance(value, float) and not math.isfinite(value):
        return f"{path or 'value'} is {value}"
    if isinstance(value, Mapping):
        items = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return None
    for key, item in items:
        found = _non_finite(item, f"{path}[{key!r}]")
        if found:
            return found
    return None


def _script_safe_json(value: Any) -> str:
    """JSON that cannot end its <script> element early, whatever the token strings hold.

    NaN and Infinity are refused: they are not JSON, and one of them makes the page's
    ``JSON.parse`` fail, leaving a blank page.
    """
    try:
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except ValueError:
        raise ValueError(
            f"the widget state holds a number JSON cannot carry ({_non_finite(value)}); "
            "probabilities and sizes must be finite: fix the data before exporting"
        ) from None
    for char, escape in {
        "<": "\\u003c",
        ">": "\\u003e",
        "&": "\\u0026",
        "\u2028": "\\u2028",
        "\u2029": "\\u2029",
    }.items():
        text = text.replace(char, escape)
    return text


def page_html(state: Mapping[str, Any], title: str | None = None) -> str:
    """Render a widget's state as a standalone page.

    Args:
        state: ``LogitLensWidget.get_state()``: the synced traits plus ``_esm`` and
            ``_css`` (the bundle). Private and DOMWidget-only traits are dropped, and the
            page never claims a kernel (``editable_prompt`` and ``busy`` are false).
        title: the page's and widget's title (default: the state's title, else the model
            name).

    Returns:
        The page's HTML text.

    Raises:
        ValueError: the title holds a lone surrogate, or the state holds NaN or Infinity.
    """
    if title is not None:
        check_text(title, "title")
    traits = {
        k: v for k, v in state.items() if k not in _WIDGET_INTERNALS and not k.startswith("_")
    }
    traits.update(_STATIC_OVERRIDES)
    if title is not None:
        traits["title"] = title
    page_title = traits.get("title") or traits.get("data", {}).get("model") or "logit lens"
    payload = {"esm": state["_esm"], "css": state.get("_css", ""), "traits": _jsonable(traits)}
    return _PAGE.format(title=html.escape(str(page_title)), state=_script_safe_json(payload))
