"""validate.py on a generation's payload fields (docs/data-format.md §3): ``position_kinds``,
``commitment`` and ``entered_topk``.

``BAD`` is shared with the browser tier (tests/ui/test_generate.py), which checks that the
shipped decoder refuses each case with the same message.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from fake_lens import payload
from logitlenskit.base.validate import InvalidDataError, validate_payload

L, P = 4, 3  # the payload below: 4 lens rows, 3 positions


def generation_fields(
    kinds: tuple[int, ...] = (1, 0, 2),
    commitment: tuple[int, ...] = (-1, -1, 2),
    entered: tuple[int, ...] = (-1, -1, 0),
) -> dict[str, bytes]:
    return {
        "position_kinds": np.array(kinds, "u1").tobytes(),
        "commitment": np.array(commitment, "<i4").tobytes(),
        "entered_topk": np.array(entered, "<i4").tobytes(),
    }


def valid_payload() -> dict[str, Any]:
    """A 4-row, 3-position payload with valid generation fields."""
    return {**payload(n_layers=L, n_pos=P, k=3, vocab_size=12), **generation_fields()}


def _with(**fields: Any) -> Callable[[], dict[str, Any]]:
    return lambda: {**valid_payload(), **fields}


KINDS_RULE = (
    "a position's kind is 0 (prompt text), 1 (chat template or special token) or 2 (generated)"
)
ROWS_RULE = f"it must be a lens row from -1 to {L - 1} (an index into layers; -1 for none)"

# (id, the payload, Python's message, whether the browser's message is the same once its
# quotes around the field name are dropped; else it need only name the field first)
BAD: list[tuple[str, Callable[[], dict[str, Any]], str, bool]] = [
    (
        "kind 3",
        _with(**generation_fields(kinds=(0, 3, 2))),
        f"position_kinds[1] is 3; {KINDS_RULE}",
        True,
    ),
    (
        "kind 255",
        _with(**generation_fields(kinds=(0, 0, 255))),
        f"position_kinds[2] is 255; {KINDS_RULE}",
        True,
    ),
    (
        "commitment past the last row",
        _with(**generation_fields(commitment=(-1, -1, L))),
        f"commitment[2] is {L}; {ROWS_RULE}",
        True,
    ),
    (
        "commitment below -1",
        _with(**generation_fields(commitment=(-2, -1, 1))),
        f"commitment[0] is -2; {ROWS_RULE}",
        True,
    ),
    (
        "entered_topk huge",
        _with(**generation_fields(entered=(-1, 2**31 - 1, 0))),
        f"entered_topk[1] is {2**31 - 1}; {ROWS_RULE}",
        True,
    ),
    (
        "entered_topk most negative",
        _with(**generation_fields(entered=(-1, -1, -(2**31)))),
        f"entered_topk[2] is {-(2**31)}; {ROWS_RULE}",
        True,
    ),
    (
        "position_kinds short",
        _with(position_kinds=bytes([0, 2])),
        "position_kinds has 2 bytes, expected 3",
        False,
    ),
    (
        "commitment long",
        _with(commitment=np.zeros(P + 1, "<i4").tobytes()),
        "commitment has 16 bytes, expected 12",
        False,
    ),
    (
        "entered_topk not bytes",
        _with(entered_topk="x"),
        "entered_topk must be bytes",
        False,
    ),
]


@pytest.mark.parametrize(("make", "message"), [pytest.param(m, msg, id=i) for i, m, msg, _ in BAD])
def test_bad_generation_fields_are_refused_naming_field_position_and_rule(make, message):
    with pytest.raises(InvalidDataError) as info:
        validate_payload(make())
    assert str(info.value).startswith(message), str(info.value)


def test_valid_generation_fields_pass_and_each_is_optional():
    validate_payload(valid_payload())
    for key in ("position_kinds", "commitment", "entered_topk"):
        data = valid_payload()
        del data[key]
        validate_payload(data)
        validate_payload({**data, key: None})
    # every kind, and the whole range of rows, including -1 and L - 1
    validate_payload(_with(**generation_fields((0, 1, 2), (-1, 0, L - 1), (L - 1, -1, 0)))())


def test_the_fields_are_checked_at_every_position_even_flagged_ones():
    """Cell status exempts cells, not positions: a kind or row is a fact about a position."""
    data = valid_payload()
    data["cell_status"] = np.full((L, P), 2, "u1").tobytes()
    validate_payload(data)
    data.update(generation_fields(commitment=(-1, -1, 9)))
    with pytest.raises(InvalidDataError, match=r"^commitment\[2\] is 9"):
        validate_payload(data)
