"""Checks on logit-lens data that comes from outside: seed V2 JSON and version-3 payloads.

The widget shows whatever numbers it is given, and people draw conclusions from them, so data
is checked in Python before it reaches the browser or a saved page (docs/data-format.md,
"What is validated, and how errors look"). Every failure raises :class:`InvalidDataError`
(a ``ValueError``) with one message that names the field, the index and the rule, e.g.::

    tracked[3][' Paris'][12] is NaN; probabilities must be finite numbers in [0, 1]

Numeric checks are vectorized, so a 5,000-token payload is checked in milliseconds.

The checks live by format: payload_checks.py and payload_field_checks.py (version-3
payloads), v2_checks.py (seed V2 JSON), scalar_checks.py (what they share); this module
names them all and dispatches between the two formats.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .payload_checks import validate_payload
from .payload_field_checks import ENTROPY_SLACK, METRIC_SLACK, cell_status_field
from .scalar_checks import (
    MAX_K,
    MAX_PAYLOAD_BYTES,
    InvalidDataError,
    as_int,
    binary_field,
    check_text,
)
from .scalar_checks import _describe as _describe  # checked.py's messages read as these
from .scalar_checks import _index as _index
from .v2_checks import validate_v2

__all__ = [
    "ENTROPY_SLACK",
    "MAX_K",
    "MAX_PAYLOAD_BYTES",
    "METRIC_SLACK",
    "InvalidDataError",
    "as_int",
    "binary_field",
    "cell_status_field",
    "check_text",
    "validate_data",
    "validate_payload",
    "validate_v2",
]


def validate_data(data: Mapping[str, Any]) -> dict[str, Any]:
    """Check data the widget shows as it is: a version-3 payload or a seed V2 document.

    Args:
        data: a dict with ``version == 3`` or ``meta.version == 2``.

    Returns:
        The checked data (see :func:`validate_payload` and :func:`validate_v2`).

    Raises:
        InvalidDataError: the first problem found, naming field and index.
    """
    # Dispatch as widget_payload does: a top-level "version" is a payload, "meta" is V2.
    if isinstance(data, Mapping) and "version" in data and "meta" not in data:
        return validate_payload(data)
    return validate_v2(data)
