"""Standalone HTML export: one file that shows the widget with no kernel and no network.

The page carries the widget's bundle, CSS and synced state in a single JSON block and
renders the same ES module the notebook uses, against a small in-page model that keeps the
state in memory (pins, colors and sizes still work; the prompt is read-only). Nothing is
fetched from a CDN, so the file opens offline and can be attached to an email.

Files are written so that a failure never costs the user a file: the content is rendered
and encoded first, then written to a temporary file next to the target and renamed over it
(:func:`write_text_atomic`). The CLI uses the same writer and :func:`check_output_path`.
"""

from __future__ import annotations

import base64
import html
import json
import math
import numbers
import os
import secrets
import stat
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

from .validate import check_text

if TYPE_CHECKING:
    from .widget import LogitLensWidget

__all__ = ["check_output_path", "save_html", "to_html", "write_text_atomic"]

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
    for char, escape in {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026",
                         "\u2028": "\\u2028", "\u2029": "\\u2029"}.items():
        text = text.replace(char, escape)
    return text


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
    from .widget import LogitLensWidget  # imported here so the CLI can check paths without it

    if title is not None:
        check_text(title, "title")
    widget = source if isinstance(source, LogitLensWidget) else LogitLensWidget(source)
    state = widget.get_state()
    traits = {k: v for k, v in state.items()
              if k not in _WIDGET_INTERNALS and not k.startswith("_")}
    traits.update(_STATIC_OVERRIDES)
    if title is not None:
        traits["title"] = title
    page_title = traits.get("title") or traits.get("data", {}).get("model") or "logit lens"
    payload = {"esm": state["_esm"], "css": state.get("_css", ""), "traits": _jsonable(traits)}
    return _PAGE.format(title=html.escape(str(page_title)), state=_script_safe_json(payload))


def check_output_path(
    path: str | os.PathLike[str],
    *,
    overwrite: bool = False,
    name: str = "path",
    overwrite_hint: str = "pass overwrite=True to replace it",
) -> Path:
    """Check that a file can be written at ``path`` without losing anything by surprise.

    Args:
        path: where the file will go.
        overwrite: whether an existing regular file may be replaced.
        name: how messages name the path (the CLI passes ``"--html"``).
        overwrite_hint: the fix a message gives for an existing file.

    Returns:
        ``path`` as a ``Path``.

    Raises:
        TypeError: ``path`` is not a path.
        ValueError: ``path`` is a symbolic link (never written through, even with
            ``overwrite``: the link's target is often not where the user thinks).
        FileExistsError: the file exists and ``overwrite`` is false.
        IsADirectoryError, FileNotFoundError, NotADirectoryError, PermissionError: the
            path names a folder, or its folder is missing or not writable.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{name} must be a file path, got {type(path).__name__}")
    path = Path(path)
    if path.is_symlink():
        raise ValueError(
            f"{name}: {path} is a symbolic link (to {os.readlink(path)}); files are not "
            "written through links: give the real path, or remove the link"
        )
    if path.is_dir():
        raise IsADirectoryError(f"{name}: {path} is a folder: give a file name inside it, "
                                f"e.g. {path / 'lens.html'}")
    if path.exists() and not overwrite:
        raise FileExistsError(f"{name}: {path} already exists; {overwrite_hint}, or choose "
                              "another name")
    folder = path.parent
    if not folder.exists():
        raise FileNotFoundError(f"{name}: the folder {folder} does not exist: create it first")
    if not folder.is_dir():
        raise NotADirectoryError(f"{name}: {folder} is not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise PermissionError(f"{name}: cannot write in the folder {folder}: choose a folder "
                              "you can write to")
    return path


def _encode(text: str, name: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(
            f"{name}: the content cannot be saved as UTF-8 (character {exc.start} is a lone "
            f"surrogate {text[exc.start]!r}); nothing was written"
        ) from None


def write_text_atomic(
    path: str | os.PathLike[str], text: str, *, overwrite: bool = False, name: str = "path",
    overwrite_hint: str = "pass overwrite=True to replace it",
) -> Path:
    """Write ``text`` (UTF-8) to ``path`` so that a failure leaves the old file as it was.

    The text is encoded first, then written to a temporary file in the same folder, flushed
    to disk and renamed over ``path`` in one step: readers see the old file or the new one,
    never a truncated mix. An existing file's permissions are kept.

    Args:
        path: the target file.
        text: its new content.
        overwrite: replace an existing file (default: refuse, see :func:`check_output_path`).
        name, overwrite_hint: how messages name the path and the fix for an existing file.

    Returns:
        ``path`` as a ``Path``.

    Raises:
        ValueError: the text cannot be encoded, or ``path`` is a symbolic link.
        OSError: see :func:`check_output_path`; or the disk is full (the target is intact).
    """
    path = check_output_path(path, overwrite=overwrite, name=name,
                             overwrite_hint=overwrite_hint)
    data = _encode(text, name)
    old_mode = stat.S_IMODE(path.stat().st_mode) if path.exists() else None
    temp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    # O_EXCL: never reuse or follow something already there; 0o666 lets the umask decide.
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0),
                 0o666)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        if old_mode is not None:
            os.chmod(temp, old_mode)
        if overwrite:
            os.replace(temp, path)
        else:
            _place_new(temp, path, name, overwrite_hint)
    finally:
        if os.path.lexists(temp):
            os.unlink(temp)
    return path


def _place_new(temp: Path, path: Path, name: str, overwrite_hint: str) -> None:
    """Move ``temp`` to ``path`` unless a file appeared there meanwhile (no silent clobber)."""
    try:
        os.link(temp, path)  # fails if path exists, atomically
    except FileExistsError:
        raise FileExistsError(f"{name}: {path} already exists; {overwrite_hint}, or choose "
                              "another name") from None
    except OSError:  # a file system without hard links: check, then rename
        if os.path.lexists(path):
            raise FileExistsError(f"{name}: {path} already exists; {overwrite_hint}") from None
        os.replace(temp, path)


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
