"""Readouts: how a lens row's residual state becomes the decoder's input.

The capture core (:mod:`.capture`) decodes every row with the model's own final norm and
unembedding; a readout decides what reaches them. The logit lens passes each state as it
is. Another lens (a tuned lens's per-layer affine translators, say) is another
:class:`Readout` in its own module: the captures take it as their ``readout`` argument.

This module travels to NDIF by value with the trace body, so it imports only torch-free
standard library names.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

__all__ = ["LOGIT_LENS", "LogitLens", "Readout"]


class Readout(Protocol):
    """What a lens does to each row's state before the final norm and unembedding.

    Attributes:
        name: how the lens is named in data and titles.
        is_identity: whether rows pass unchanged, so the final layer's row is the model's
            own output (the KL reference can then be read from it).
    """

    name: str
    is_identity: bool

    def prepare(self, states: list[Any], sites: Sequence[tuple[int, int]]) -> list[Any]:
        """The decoder inputs of ``states``, one per ``(layer, kind)`` site, same shapes."""
        ...


class LogitLens:
    """The logit lens: each state decoded as if it were the last layer's."""

    name = "logit lens"
    is_identity = True

    def prepare(self, states: list[Any], sites: Sequence[tuple[int, int]]) -> list[Any]:
        """The states themselves."""
        return states

    def __repr__(self) -> str:
        return "LogitLens()"


#: The default readout.
LOGIT_LENS = LogitLens()
