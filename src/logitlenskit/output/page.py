"""The standalone page and the notebook fragment: a widget's synced state and bundle as HTML.

Both carry the widget's bundle, CSS and synced state in a single JSON block and render the
same ES module the notebook uses, against a small in-page model that keeps the state in
memory (pins, colors and sizes still work; the prompt is read-only). Nothing is fetched
from a CDN, so they work offline. :func:`page_html` makes a whole page (a file to open or
attach to an email); :func:`fragment_html` makes one notebook output that needs no widget
manager (``show_logit_lens``) and can share its page with other outputs.

These functions take a widget's state (``widget.get_state()``), so this module needs
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
from uuid import uuid4

from ..base.validate import check_text

__all__ = ["check_root_id", "fragment_html", "page_html"]

# Trait values the page must not take over from a live notebook widget.
_STATIC_OVERRIDES = {"editable_prompt": False, "busy": False}
# DOMWidget plumbing that means nothing outside a kernel (private "_" traits are dropped too).
_WIDGET_INTERNALS = {"layout", "tabbable", "tooltip"}

# The in-page host, shared by the standalone page and the notebook fragment: an async
# function (payload, view, styleHost) that renders the bundle into ``view`` against a small
# model holding the traits in memory. It defines no globals (callers keep it local).
_MOUNT_JS = """async (payload, view, styleHost) => {
  // Binary trait values were base64-encoded; widgets receive them as DataViews, as in Jupyter.
  const revive = (value) => {
    if (Array.isArray(value)) return value.map(revive);
    if (value && typeof value === "object") {
      if (typeof value.$bytes === "string") {
        const bytes = Uint8Array.from(atob(value.$bytes), (c) => c.charCodeAt(0));
        return new DataView(bytes.buffer);
      }
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, revive(v)]));
    }
    return value;
  };
  const traits = revive(payload.traits);
  const handlers = new Map();
  const emit = (name) => (handlers.get(name) || []).slice().forEach((fn) => fn());
  const model = {
    get: (name) => traits[name],
    set: (name, value) => { traits[name] = value; emit(`change:${name}`); emit("change"); },
    on: (name, fn) => handlers.set(name, [...(handlers.get(name) || []), fn]),
    off: (name, fn) => handlers.set(name, (handlers.get(name) || []).filter((h) => h !== fn)),
    save_changes: () => {},
    send: () => {},
  };
  const style = document.createElement("style");
  style.textContent = payload.css;
  styleHost.append(style);
  const url = URL.createObjectURL(new Blob([payload.esm], { type: "text/javascript" }));
  let widget;
  try {
    widget = (await import(url)).default;
  } finally {
    URL.revokeObjectURL(url);
  }
  const definition = typeof widget === "function" ? await widget() : widget;
  view.replaceChildren();
  await definition.initialize?.({ model });
  await definition.render?.({ model, el: view });
}"""

_PAGE_HEAD = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
"""

_PAGE_BODY = """<style>body { margin: 16px; font-family: system-ui, sans-serif; }</style>
</head>
<body>
<div id="logitlens"></div>
"""

_PAGE_SCRIPT = f"""<script type="module">
const mount = {_MOUNT_JS};
const state = JSON.parse(document.getElementById("logitlens-state").textContent);
await mount(state, document.getElementById("logitlens"), document.head);
</script>
</body>
</html>
"""

# A notebook output shares its page with the notebook and with other outputs, so the
# fragment uses no fixed ids and no module-level names: a classic script wrapped in a
# function finds its own root (``document.currentScript``; the root's id for hosts that
# run output scripts out of place) and keeps the bundle's CSS inside that root.
_FRAGMENT_SCRIPT = f"""<script>
(() => {{
  const here = document.currentScript && document.currentScript.closest(".logitlens-static");
  const root = here || document.getElementById(@ROOT_ID@);
  if (!root || root.dataset.logitlensMounted) return;
  root.dataset.logitlensMounted = "1";
  const view = root.querySelector(":scope > .logitlens-static-view");
  const fail = (error) => {{
    const box = document.createElement("pre");
    box.style.cssText = "color:#82071e;background:#ffebe9;padding:6px;white-space:pre-wrap";
    box.textContent = `logit-lens view failed to start: ${{error && error.stack || error}}`;
    view.replaceChildren(box);
  }};
  try {{
    const state = JSON.parse(root.querySelector(":scope > .logitlens-static-state").textContent);
    const mount = {_MOUNT_JS};
    mount(state, view, root).catch(fail);
  }} catch (error) {{
    fail(error);
  }}
}})();
</script>
"""

_NOTE_STYLE = "color:#656d76;font:12px system-ui,sans-serif;margin:4px 0"

# Shown until the script replaces it: what a viewer that drops the output's scripts
# (GitHub's preview, an untrusted notebook in JupyterLab) leaves on screen.
_NO_SCRIPT_TEXT = (
    "Logit-lens explorer: {title}. This viewer did not run the output's JavaScript "
    "(GitHub's preview never does; JupyterLab does for trusted notebooks). Open the "
    "notebook in JupyterLab, VS Code, Colab or nbviewer, or export a page with save_html."
)


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


def _payload(state: Mapping[str, Any], title: str | None) -> tuple[str, dict[str, Any]]:
    """The shown title and the JSON payload (bundle, CSS, traits) for a widget's state."""
    if title is not None:
        check_text(title, "title")
    traits = {
        k: v for k, v in state.items() if k not in _WIDGET_INTERNALS and not k.startswith("_")
    }
    traits.update(_STATIC_OVERRIDES)
    if title is not None:
        traits["title"] = title
    shown = traits.get("title") or traits.get("data", {}).get("model") or "logit lens"
    payload = {"esm": state["_esm"], "css": state.get("_css", ""), "traits": _jsonable(traits)}
    return str(shown), payload


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
    shown, payload = _payload(state, title)
    return (
        f"{_PAGE_HEAD}<title>{html.escape(shown)}</title>\n{_PAGE_BODY}"
        '<script type="application/json" id="logitlens-state">'
        f"{_script_safe_json(payload)}</script>\n{_PAGE_SCRIPT}"
    )


def check_root_id(root_id: str) -> str:
    """Check an element id given for a fragment's root: non-empty text without whitespace.

    Raises:
        ValueError: empty, holds whitespace (HTML ids cannot), or a lone surrogate.
    """
    check_text(root_id, "container_id")
    if not root_id or any(c.isspace() for c in root_id):
        raise ValueError(
            f"container_id must be a non-empty HTML id without whitespace, got {root_id!r}"
        )
    return root_id


def fragment_html(
    state: Mapping[str, Any],
    title: str | None = None,
    root_id: str | None = None,
    note: str | None = None,
) -> str:
    """Render a widget's state as an HTML fragment for a notebook output (no kernel needed).

    The fragment is one ``<div>`` carrying the bundle (once), its CSS and the state, and a
    script that renders the explorer into it, as :func:`page_html` does for a whole page.
    It defines no global names and adds CSS only inside its own root (the bundle's rules
    are all scoped to the widget's classes), so several fragments can share a page.

    Args:
        state: ``LogitLensWidget.get_state()``, as for :func:`page_html`.
        title: the widget's title (default: the state's title, else the model name).
        root_id: the root element's id (default: a fresh ``logitlens-<hex>``).
        note: a line of text shown above the explorer (e.g. where the view came from).

    Returns:
        The fragment's HTML text.

    Raises:
        ValueError: a bad title or ``root_id``, or the state holds NaN or Infinity.
    """
    root_id = check_root_id(root_id) if root_id is not None else f"logitlens-{uuid4().hex}"
    shown, payload = _payload(state, title)
    script = _FRAGMENT_SCRIPT.replace("@ROOT_ID@", _script_safe_json(root_id))
    note_html = (
        f'<div class="logitlens-static-note" style="{_NOTE_STYLE}">{html.escape(note)}</div>\n'
        if note
        else ""
    )
    fallback = html.escape(_NO_SCRIPT_TEXT.format(title=shown))
    return (
        f'<div class="logitlens-static" id="{html.escape(root_id)}">\n{note_html}'
        f'<div class="logitlens-static-view"><p style="{_NOTE_STYLE}">{fallback}</p></div>\n'
        '<script type="application/json" class="logitlens-static-state">'
        f"{_script_safe_json(payload)}</script>\n{script}</div>\n"
    )
