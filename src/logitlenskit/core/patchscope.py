r"""The Patchscope lens: decode a hidden state by letting the model read it again.

Ghandeharioun et al. (2024) decode a state by patching it into another prompt and reading
what the model then predicts. The token-identity Patchscope uses a few-shot prompt that
asks the model to repeat a token (``"cat -> cat\\n1135 -> 1135\\nhello -> hello\\n?"``): the
state of layer ``l`` at one position replaces the ``?``'s state at layer ``l``, the rest of
the model runs, and the prediction after ``?`` is that cell's decoding. Unlike a readout,
it needs a forward pass per cell, so it is not applied inside the lens's trace: each cell's
final state is captured through the capture core (many cells per batched pass, as a
patching sweep does), and those states are decoded with the model's own norm and
unembedding like any lens row. Follow-ups (a cell's deeper top-k, a pinned token) then read
the kept states exactly as for the logit lens.

Locally the identity prompt's prefix (all but its last token) runs once and its KV cache
serves every batch, so a cell costs one token's pass, not the prompt's; on NDIF, where no
cache is kept between requests, every pass runs the whole prompt.

At the last layer the patch replaces the ``?``'s output state itself, so the cell equals the
model's own prediction at that position (a test checks it).

On NDIF each batch is one request and ``batch × d`` floats come back (a lens's decoding
happens here): for a 30 × 20 grid of a d = 576 model, 1.4 MB in all.
"""

from __future__ import annotations

from collections import defaultdict
from copy import deepcopy
from typing import Any

import torch

from .capture import capture_states, capture_step
from .edits import PatchBatch
from .sites import AFTER_ATTENTION, BLOCK_OUTPUT

__all__ = ["IDENTITY_PROMPT", "Patchscope"]

#: The token-identity prompt; its last token is where a state is patched in.
IDENTITY_PROMPT = "cat -> cat\n1135 -> 1135\nhello -> hello\n?"

_AT = {BLOCK_OUTPUT: "output", AFTER_ATTENTION: "after_attention"}


class Patchscope:
    """The token-identity Patchscope, as a lens (``lens="patchscope"``).

    Args:
        prompt: the identity prompt; the state goes into its last token.
        batch_size: patched copies of the prompt per forward pass.
    """

    name = "patchscope"
    is_identity = False

    def __init__(self, prompt: str = IDENTITY_PROMPT, batch_size: int = 64) -> None:
        if not isinstance(prompt, str) or not prompt.strip():
            raise ValueError("a Patchscope's prompt must be some text ending in its placeholder")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
        self.prompt = prompt
        self.batch_size = batch_size

    def prepare(self, states: list[Any], sites: Any) -> list[Any]:
        """Not applicable: a Patchscope runs the model again (see :meth:`normed_rows`)."""
        raise ValueError(
            "a Patchscope decodes each cell with a forward pass of its own, so it cannot run "
            "inside one lens trace; collect_logit_lens and the widget read it through "
            "normed_rows (a cell's follow-up on NDIF is not available for it)"
        )

    def normed_rows(self, request: Any, reference: int | None) -> torch.Tensor:
        """Every cell's decoding state, final-normed: ``[R (+1 with reference), P, d]``.

        Args:
            request: the lens request (its rows, prompt, edits and where to run).
            reference: a layer whose own normed block output comes last, as one more row
                (the model's output, for KL), or None.
        """
        adapter = request.adapter
        rows = request.row_specs()
        final = (adapter.n_layers - 1, BLOCK_OUTPUT)
        wanted = [*rows, *([] if reference is None else [(reference, BLOCK_OUTPUT)])]
        # The source's states, edited as the request asks, read in one pass.
        sources = capture_states(
            adapter,
            torch.tensor([request.input_ids]),
            wanted,
            remote=request.remote,
            edits=request.edits,
        )
        identity = request.tokenizer(self.prompt)["input_ids"]
        prefix = None if request.remote else _prefix_cache(adapter, identity[:-1])
        cells = [(r, p) for r in range(len(rows)) for p in range(request.n_positions)]
        out = torch.empty(len(rows), request.n_positions, sources[0].shape[-1])
        into = len(identity) - 1
        for first in range(0, len(cells), self.batch_size):
            batch = cells[first : first + self.batch_size]
            edits = _patches(batch, rows, sources, into)
            if prefix is None:
                ids, cached = torch.tensor([identity] * len(batch)), {}
            else:  # the '?' alone, reading the prefix's keys and values
                ids, cached = (
                    torch.tensor([identity[-1:]] * len(batch)),
                    _repeat(prefix, len(batch)),
                )
            (states,) = capture_states(
                adapter,
                ids,
                [final],
                at=(slice(None), -1),
                remote=request.remote,
                edits=edits,
                start=into if prefix is not None else 0,
                **cached,
            )
            for i, (r, p) in enumerate(batch):
                out[r, p] = states[i].float()
        norm = adapter.norm_module()
        with torch.no_grad():
            normed = norm(out.to(sources[0].dtype))
            if reference is not None:
                normed = torch.cat([normed, norm(sources[-1])[None]])
        return normed.detach()

    def __repr__(self) -> str:
        return f"Patchscope(prompt={self.prompt!r}, batch_size={self.batch_size})"


def _patches(
    batch: list[tuple[int, int]], rows: list[tuple[int, int]], sources: list[Any], into: int
) -> list[PatchBatch]:
    """One PatchBatch per lens row present in ``batch``: each copy gets its cell's state."""
    by_row: dict[int, list[int]] = defaultdict(list)
    for i, (r, _) in enumerate(batch):
        by_row[r].append(i)
    edits = []
    for r, members in by_row.items():
        layer, kind = rows[r]
        vectors = torch.stack([sources[r][batch[i][1]] for i in members])
        edits.append(PatchBatch(layer, members, [into] * len(members), vectors, at=_AT[kind]))
    return edits


def _prefix_cache(adapter: Any, ids: list[int]) -> dict[str, Any]:
    """The identity prompt's prefix run once: its KV cache, as the forward argument."""
    name = adapter.cache_argument()
    _, output = capture_step(adapter, torch.tensor([ids]), [], use_cache=True)
    return {name: output[name]}


def _repeat(prefix: dict[str, Any], n: int) -> dict[str, Any]:
    """A fresh copy of the prefix's cache for a batch of ``n`` (a pass appends to it)."""
    ((name, cache),) = prefix.items()
    copy = deepcopy(cache)
    copy.batch_repeat_interleave(n)
    return {name: copy, "use_cache": True}
