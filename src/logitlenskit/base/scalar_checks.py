"""Shared checks of data from outside: the error, scalars, strings, sizes and byte fields.

Every check of docs/data-format.md (payload_checks.py, payload_field_checks.py,
v2_checks.py, and checked.py for collection dicts) fails through :class:`InvalidDataError`
with one message that names the field, the index and the rule; the pieces they share are
here. validate.py re-exports the public ones.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Mapping
from typing import Any, NoReturn

import numpy as np

__all__ = [
    "MAX_K",
    "MAX_PAYLOAD_BYTES",
    "InvalidDataError",
    "as_int",
    "binary_field",
    "check_text",
]

# Real lenses use k = 5..50 and at most a few hundred; a top-k of 10,000 makes the browser
# allocate L·P·10,000 slots for a grid that shows one token per cell.
MAX_K = 1024
# What the browser holds for one view (typed arrays plus token text). 512 MiB admits an
# 80-layer model on a 5,000-token prompt with k = 10 (about 200 MB) with room to spare, and
# refuses the 683 MB payload of an accidental huge k.
MAX_PAYLOAD_BYTES = 512 * 2**20
# Integers travel to the browser as JSON numbers, exact only below 2**53.
_JS_SAFE_INT = 2**53
_PROBS = "probabilities must be finite numbers in [0, 1]"
_SURROGATE = re.compile("[\ud800-\udfff]")


class InvalidDataError(ValueError):
    """Logit-lens data that breaks docs/data-format.md; the message names field and index."""


def _fail(message: str) -> NoReturn:
    raise InvalidDataError(message)


def _describe(value: Any) -> str:
    """A bad value as a message shows it: NaN, Infinity, 7.0, 'abc', or its type."""
    if isinstance(value, (float, np.floating)):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return repr(float(value))
    if isinstance(value, (bool, int, str)) or value is None:
        return repr(value)
    if isinstance(value, np.integer):
        return repr(int(value))
    if isinstance(value, (list, tuple)):
        return f"a {type(value).__name__} of {len(value)}"
    return f"a {type(value).__module__}.{type(value).__name__}".replace("builtins.", "")


def as_int(value: Any) -> int | None:
    """The integer behind an int, numpy or torch integer; None for bools and non-integers.

    Bools are refused because ``True`` is almost always a mistake where a count or an id is
    expected (Python would silently read it as 1).
    """
    if isinstance(value, bool) or "bool" in str(getattr(value, "dtype", "")):
        return None
    try:
        return operator.index(value)
    except TypeError:
        return None


def check_text(value: Any, name: str) -> str:
    """Check that ``value`` is a ``str`` that can be sent to a browser and saved as UTF-8.

    Args:
        value: the text.
        name: how messages name it (e.g. ``"title"`` or ``"input[3]"``).

    Returns:
        ``value`` unchanged.

    Raises:
        InvalidDataError: not a string, or it holds a lone surrogate (a half of a UTF-16
            pair, e.g. from ``bytes.decode(errors="surrogateescape")``), which UTF-8 cannot
            encode.
    """
    if not isinstance(value, str):
        _fail(f"{name} must be a string, got {_describe(value)}")
    found = _SURROGATE.search(value)
    if found:
        _fail(
            f"{name} holds a lone surrogate {found.group()!r} at character {found.start()}, "
            "which is not valid Unicode and cannot be shown or saved: remove it, or decode "
            "the original bytes with errors='replace'"
        )
    return value


def _strings(values: Any, name: str) -> list[str]:
    if not isinstance(values, (list, tuple)):
        _fail(f"{name} must be a list of strings, got {_describe(values)}")
    for i, text in enumerate(values):
        if not isinstance(text, str):
            _fail(f"{name}[{i}] must be a string, got {_describe(text)}")
    # One regex pass over all strings; the slow per-string pass only runs to name a culprit.
    if _SURROGATE.search("".join(values)):
        for i, text in enumerate(values):
            check_text(text, f"{name}[{i}]")
    return list(values)


def _int(value: Any, name: str, low: int = 0, high: int = _JS_SAFE_INT - 1) -> int:
    number = as_int(value)
    if number is None:
        _fail(f"{name} must be an integer, got {_describe(value)}")
    if not low <= number <= high:
        _fail(f"{name} is {number}; it must be between {low} and {high}")
    return number


def _ints(values: Any, name: str, low: int = 0) -> list[int]:
    if not isinstance(values, (list, tuple)):
        _fail(f"{name} must be a list of integers, got {_describe(values)}")
    return [_int(v, f"{name}[{i}]", low) for i, v in enumerate(values)]


def _check_size(n_bytes: int, detail: str) -> None:
    if n_bytes > MAX_PAYLOAD_BYTES:
        _fail(
            f"the data would take {n_bytes / 1e6:,.0f} MB in the browser ({detail}), over "
            f"the {MAX_PAYLOAD_BYTES // 2**20} MiB limit: collect fewer layers, a shorter "
            "prompt or a smaller k"
        )


def _check_k(k: int) -> None:
    if k > MAX_K:
        _fail(
            f"k is {k}: at most {MAX_K} predictions per cell are supported (the grid shows "
            "one per cell and the popup a few): collect with a smaller k"
        )


def _index(flat: int, shape: tuple[int, ...]) -> str:
    return "".join(f"[{i}]" for i in np.unravel_index(flat, shape))


def binary_field(
    payload: Mapping[str, Any], key: str, dtype: str, count: int, layout: str
) -> np.ndarray:
    """A payload's little-endian bytes field as a flat array (no copy), its length checked.

    Raises:
        InvalidDataError: not bytes, or not ``count`` values of ``dtype``.
    """
    value = payload[key]
    if not isinstance(value, (bytes, bytearray, memoryview)):
        _fail(
            f"{key} must be bytes holding {layout} little-endian, got {_describe(value)}: "
            f"convert with numpy, array.astype('{dtype}').tobytes()"
        )
    view = memoryview(value)
    if not view.c_contiguous:
        _fail(f"{key} is a non-contiguous memoryview; pass bytes(...) of it")
    size = np.dtype(dtype).itemsize
    if view.nbytes != count * size:
        _fail(
            f"{key} has {view.nbytes} bytes, expected {count * size} "
            f"({layout}: {count} values of {size} bytes)"
        )
    return np.frombuffer(view.cast("B"), dtype=dtype)
