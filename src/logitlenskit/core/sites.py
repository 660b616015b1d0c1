"""Sites: the points of a forward pass a trace can read or change.

A site is ``(layer, kind)``. Two kinds are lens rows (the residual stream after a whole
decoder layer, and after its attention); three more are module outputs that interventions
change (the attention block's output, the MLP's output, the attention heads before their
output projection). nnsight interleaves a trace body with the forward pass, so a trace must
visit its sites in the order the model reaches them: :func:`forward_order`.

This module travels to NDIF by value with the trace body: it imports only the standard
library.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "AFTER_ATTENTION",
    "ATTENTION_OUTPUT",
    "BLOCK_OUTPUT",
    "HEADS",
    "MLP_OUTPUT",
    "Site",
    "first_row_kind",
    "forward_order",
    "row_touched",
]

#: Lens rows: the residual stream after a whole layer, or after its attention (before the MLP).
BLOCK_OUTPUT, AFTER_ATTENTION = 0, 1
#: Module outputs: the attention block's, the MLP's, and the heads' concatenated outputs
#: (the input of the attention's output projection).
ATTENTION_OUTPUT, MLP_OUTPUT, HEADS = 2, 3, 4

#: (layer number, kind): one point of the forward pass.
Site = tuple[int, int]

# Where each kind comes within its layer: heads → attention output → after-attention
# residual → MLP output → layer output.
_STAGE = {HEADS: 0, ATTENTION_OUTPUT: 1, AFTER_ATTENTION: 2, MLP_OUTPUT: 3, BLOCK_OUTPUT: 4}


def forward_order(sites: Sequence[Site]) -> list[Site]:
    """Distinct sites in the order a forward pass reaches them."""
    return sorted(set(sites), key=lambda s: (s[0], _STAGE[s[1]]))


def first_row_kind(kind: int) -> int:
    """The first lens-row kind of its layer that a change at a site of ``kind`` reaches.

    A change before the after-attention point (in the attention) reaches both rows of the
    layer (``AFTER_ATTENTION``); one after it only the layer's output row (``BLOCK_OUTPUT``).
    """
    return AFTER_ATTENTION if _STAGE[kind] <= _STAGE[AFTER_ATTENTION] else BLOCK_OUTPUT


def row_touched(row: Site, edit_layer: int, edit_row_kind: int) -> bool:
    """Whether lens row ``row`` comes at or after an edit (positions aside).

    ``edit_row_kind`` is the edit's :func:`first_row_kind`. The view applies the same rule
    to mark the cells an edit can change (frontend/edits.js).
    """
    layer, kind = row
    return layer > edit_layer or (
        layer == edit_layer and (edit_row_kind == AFTER_ATTENTION or kind == BLOCK_OUTPUT)
    )
