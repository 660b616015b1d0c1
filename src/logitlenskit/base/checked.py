"""Numbers from outside, converted only when nothing changes: never coerced.

A collection dict may come from anywhere (a file, another library, hand-made lists). numpy
would turn a top-k id of 216.7 into token 216, 2**32 + 216 into 216 in int32, a cell status
of 257 into 1 (invalid), ``"0.25"`` into a probability and ``True`` into 1. Each of those
puts on screen something the model did not produce, so :func:`numbers_array` refuses them
with the value's path, as :mod:`.validate` does for payloads (docs/data-format.md).
"""

from __future__ import annotations

import functools
import numbers
from typing import Any

import numpy as np

from .scalar_checks import InvalidDataError, _describe, _index

__all__ = ["ID_MAX", "integer", "numbers_array"]

#: Token ids travel as int32.
ID_MAX = 2**31 - 1


@functools.cache
def _range(dtype: np.dtype) -> tuple[int, int]:
    info = np.iinfo(dtype)  # slow to build, and asked once per position
    return int(info.min), int(info.max)


def _fail_at(array: np.ndarray, bad: np.ndarray, name: str, rule: str) -> None:
    flat = int(np.flatnonzero(bad)[0])
    value = array.ravel()[flat]
    value = value.item() if isinstance(value, np.generic) else value  # True, not numpy.bool
    raise InvalidDataError(f"{name}{_index(flat, array.shape)} is {_describe(value)}{rule}")


def _plain(value: Any, name: str, integer: bool) -> np.ndarray:
    """``value`` as an int or float numpy array; refuses bools, strings, None and the like."""
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    nested = isinstance(value, (list, tuple))
    try:  # lists as objects, so that True and "0.5" are still themselves
        array = np.asarray(value, dtype=object if nested else None)
    except ValueError:
        raise InvalidDataError(f"{name} is not a rectangular array of numbers") from None
    kind = "an integer" if integer else "a number"
    if array.dtype.kind == "b":
        _fail_at(array, np.ones(array.shape, bool), name, f", not {kind}")
    if array.dtype.kind in "iuf":
        return array
    if array.dtype.kind != "O":
        _fail_at(array, np.ones(array.shape, bool), name, f", not {kind}")
    flat = array.ravel()
    good = [isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_)) for v in flat]
    if not all(good):
        _fail_at(array, ~np.asarray(good).reshape(array.shape), name, f", not {kind}")
    if all(isinstance(v, numbers.Integral) for v in flat):
        # Python ints past int64 stay objects here and fail the range check below.
        try:
            return np.asarray(flat.tolist(), dtype=np.int64).reshape(array.shape)
        except OverflowError:
            return array
    return np.asarray(flat.tolist(), dtype=np.float64).reshape(array.shape)


def numbers_array(
    value: Any,
    dtype: Any,
    name: str,
    low: int | None = None,
    high: int | None = None,
    rule: str = "",
) -> np.ndarray:
    """A contiguous numpy copy of ``value`` in ``dtype``, refused where that would change it.

    Args:
        value: a tensor, numpy array or nested list.
        dtype: the numpy dtype wanted. For an integer dtype every value must be a whole
            number (``2.0`` is fine, ``216.7`` and ``True`` are not) in ``[low, high]``
            (default: the dtype's range); for a float dtype any int or float will do.
        name: the field as messages name it, e.g. ``"topk"`` or ``"probs[3]"``.
        low: smallest allowed integer.
        high: largest allowed integer.
        rule: what the range means, added to the range message.

    Raises:
        InvalidDataError: naming the first bad value's path, e.g. ``topk[0][3][1] is 216.7,
            not an integer``.
    """
    target = np.dtype(dtype)
    integer = target.kind in "iu"
    array = _plain(value, name, integer)
    if integer:
        held = _range(target)
        low = held[0] if low is None else low
        high = held[1] if high is None else high
        if array.dtype.kind == "f":
            with np.errstate(invalid="ignore"):
                whole = np.isfinite(array) & (array == np.round(array))
            if not whole.all():
                _fail_at(array, ~whole, name, ", not an integer")
        if array.size and _outside(array, low, high):
            outside = np.asarray((array < low) | (array > high), bool)
            _fail_at(array, outside, name, f"; {rule or 'it'} must be from {low} to {high}")
    return np.ascontiguousarray(array, dtype=target)


def _outside(array: np.ndarray, low: int, high: int) -> bool:
    """Whether some value is outside ``[low, high]`` (a per-position call: kept cheap)."""
    if array.dtype.kind in "iu":
        held = _range(array.dtype)
        if held[0] >= low and held[1] <= high:
            return False
    return bool(array.min() < low or array.max() > high)


def integer(value: Any, name: str, low: int = 0, high: int = 2**53 - 1) -> int:
    """One integer (not a bool, not ``2.5``) in ``[low, high]``, as a plain int."""
    return int(numbers_array(value, np.int64, name, low, high).reshape(-1)[0])
