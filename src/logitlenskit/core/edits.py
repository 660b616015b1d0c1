"""Interventions: patch, steer and ablate, applied inside the capture core's trace.

An edit names one :mod:`site <.sites>` and changes the state there in place, before
anything reads it, so everything the model computes from that point on sees the change
(the lens rows after it, the KL reference, the next token of a generation). The capture
core applies the edits of every capture (a lens run, its follow-ups, a generation step, a
sweep's batch), so an edited run is edited everywhere it is read.

Every edit also describes itself as a :meth:`record`: a JSON-able dict that travels with
the data (the collection dict's and the payload's ``edits``) so a view can say what was
changed and mark the cells it can reach (:func:`.sites.row_touched`, positions from
``from_position`` on).

These classes travel to NDIF by value (their vectors with them: ``d`` floats each): plain
classes, not dataclasses (a dataclass's string annotations cannot be resolved where NDIF
rebuilds it), importing only torch and the standard library.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch

from .sites import (
    AFTER_ATTENTION,
    ATTENTION_OUTPUT,
    BLOCK_OUTPUT,
    HEADS,
    MLP_OUTPUT,
    first_row_kind,
)

__all__ = ["Ablate", "ModelShape", "Patch", "PatchBatch", "Steer", "check_edits", "records"]

_RESIDUAL = {"output": BLOCK_OUTPUT, "after_attention": AFTER_ATTENTION}
_PARTS = {"attention": ATTENTION_OUTPUT, "mlp": MLP_OUTPUT, "heads": HEADS}


class ModelShape:
    """What an edit is checked against: the model's and the prompt's sizes."""

    def __init__(
        self, n_layers: int, n_positions: int, d_model: int, n_heads: int, head_dim: int
    ) -> None:
        self.n_layers, self.n_positions = n_layers, n_positions
        self.d_model, self.n_heads, self.head_dim = d_model, n_heads, head_dim


def _layer(layer: Any) -> int:
    if isinstance(layer, bool) or not isinstance(layer, int) or layer < 0:
        raise ValueError(
            f"layer must be a layer number >= 0 (0 is the first layer, num_layers - 1 the "
            f"last), got {layer!r}"
        )
    return layer


def _position(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be a position >= 0 (0 is the first token), got {value!r}")
    return value


def _vector(vector: Any, name: str) -> torch.Tensor:
    tensor = torch.as_tensor(vector).detach()
    if tensor.dim() != 1 or not tensor.is_floating_point():
        raise ValueError(
            f"{name} must be a 1-D float vector of the model's width, got shape "
            f"{tuple(tensor.shape)} of {tensor.dtype}"
        )
    if not torch.isfinite(tensor).all():
        raise ValueError(f"{name} holds NaN or Inf: an edit must write finite values")
    return tensor.cpu()


def _site_kind(name: str, table: dict[str, int], what: str) -> int:
    if name not in table:
        raise ValueError(f"{what} must be one of {sorted(table)}, got {name!r}")
    return table[name]


def _check_layer(edit: Any, shape: ModelShape) -> None:
    if edit.site[0] >= shape.n_layers:
        raise ValueError(
            f"{edit.label}: layer {edit.site[0]} is out of range (the model has layers "
            f"0..{shape.n_layers - 1})"
        )


def _check_width(edit: Any, vector: torch.Tensor, width: int, name: str) -> None:
    if vector.shape[0] != width:
        raise ValueError(
            f"{edit.label}: {name} has width {vector.shape[0]}, but the model's is {width}"
        )


def _record(edit: Any, kind: str, from_position: int, **extra: Any) -> dict[str, Any]:
    return {
        "kind": kind,
        "label": edit.label,
        "layer": edit.site[0],
        "row_kind": first_row_kind(edit.site[1]),
        "from_position": from_position,
        **extra,
    }


class Patch:
    """Activation patching: one position's state replaced by another run's.

    Args:
        layer: the layer whose state is replaced.
        position: the position (of this run) that receives ``vector``.
        vector: the state to write, ``[d]`` (e.g. :func:`~.interventions.patch_from`
            reads it from another prompt's run).
        at: ``"output"`` (the residual after the layer) or ``"after_attention"``.
        label: how views name it (untrusted text is fine: views show it as text).
    """

    def __init__(
        self, layer: int, position: int, vector: Any, *, at: str = "output", label: str = ""
    ) -> None:
        self.site = (_layer(layer), _site_kind(at, _RESIDUAL, "at"))
        self.position = _position(position, "position")
        self.vector = _vector(vector, "the patched state")
        self.label = label or f"patch L{layer} P{position}"

    def apply(self, state: torch.Tensor, start: int = 0) -> None:
        """Write the vector at the position (if this pass holds it)."""
        index = self.position - start
        if 0 <= index < state.shape[-2]:
            state[..., index, :] = self.vector.to(state.device, state.dtype)

    def check(self, shape: ModelShape) -> None:
        """ValueError naming the argument unless the edit fits the model and the prompt."""
        _check_layer(self, shape)
        if self.position >= shape.n_positions:
            raise ValueError(
                f"{self.label}: position {self.position} is past the prompt "
                f"({shape.n_positions} tokens: positions 0..{shape.n_positions - 1})"
            )
        _check_width(self, self.vector, shape.d_model, "the patched state")

    def record(self) -> dict[str, Any]:
        """The edit as data (see the module docstring)."""
        return _record(self, "patch", self.position)

    def __repr__(self) -> str:
        return f"Patch(layer={self.site[0]}, position={self.position}, label={self.label!r})"


class PatchBatch:
    """Many patches in one pass: sequence ``i`` of a batch gets ``vectors[i]`` at ``positions[i]``.

    A patching sweep runs one batch per layer (or per group of layers): every copy of the
    prompt gets one patch, so the batch's passes hold the whole sweep's effects.
    """

    def __init__(
        self,
        layer: int,
        rows: Sequence[int],
        positions: Sequence[int],
        vectors: Any,
        *,
        at: str = "output",
    ) -> None:
        self.site = (_layer(layer), _site_kind(at, _RESIDUAL, "at"))
        self.rows = torch.as_tensor(list(rows), dtype=torch.long)
        self.positions = torch.as_tensor(list(positions), dtype=torch.long)
        self.vectors = torch.as_tensor(vectors).detach().cpu()
        self.label = f"patch sweep L{layer}"

    def apply(self, state: torch.Tensor, start: int = 0) -> None:
        """Write each row's vector at its position."""
        rows, positions = self.rows.to(state.device), (self.positions - start).to(state.device)
        state[rows, positions] = self.vectors.to(state.device, state.dtype)

    def check(self, shape: ModelShape) -> None:
        """Layer and positions in range (the sweep builds the vectors from the model)."""
        _check_layer(self, shape)
        if int(self.positions.max()) >= shape.n_positions:
            raise ValueError(f"{self.label}: a position is past the prompt")

    def record(self) -> dict[str, Any]:
        """The edit as data."""
        return _record(self, "patch", int(self.positions.min()))


class Steer:
    """Steering: ``alpha · vector`` added to the residual stream at a layer.

    Args:
        layer: the layer whose output (or after-attention state) is steered.
        vector: the direction ``[d]`` (e.g. :func:`~.interventions.token_direction`).
        alpha: its scale; 0 leaves the run bit-identical to the unsteered one.
        start: the first position steered (every later one is too; 0: all).
        at: ``"output"`` or ``"after_attention"``.
        label: how views name it, without α (views add ``×{alpha}``, so a changed α is
            never shown with the old one); default ``"steer L{layer}"``.
    """

    def __init__(
        self,
        layer: int,
        vector: Any,
        alpha: float = 1.0,
        *,
        start: int = 0,
        at: str = "output",
        label: str = "",
    ) -> None:
        if isinstance(alpha, bool) or not isinstance(alpha, (int, float)):
            raise TypeError(f"alpha must be a number, got {type(alpha).__name__}")
        if not math.isfinite(alpha):
            raise ValueError(f"alpha must be finite, got {alpha!r}")
        self.site = (_layer(layer), _site_kind(at, _RESIDUAL, "at"))
        self.vector = _vector(vector, "the steering vector")
        self.alpha = float(alpha)
        self.start = _position(start, "start")
        self.name = label or f"steer L{layer}"
        self.label = f"{self.name} ×{self.alpha:g}"

    def apply(self, state: torch.Tensor, start: int = 0) -> None:
        """Add ``alpha · vector`` at every position from ``self.start``."""
        if self.alpha == 0:  # bit-identical: no write at all, not even + 0.0
            return
        first = max(self.start - start, 0)
        if first < state.shape[-2]:
            state[..., first:, :] += self.alpha * self.vector.to(state.device, state.dtype)

    def check(self, shape: ModelShape) -> None:
        """ValueError naming the argument unless the edit fits the model and the prompt."""
        _check_layer(self, shape)
        if self.start >= shape.n_positions:
            raise ValueError(
                f"{self.label}: start {self.start} is past the prompt ({shape.n_positions} tokens)"
            )
        _check_width(self, self.vector, shape.d_model, "the steering vector")

    def with_alpha(self, alpha: float) -> Steer:
        """The same steering at another scale."""
        return Steer(
            self.site[0],
            self.vector,
            alpha,
            start=self.start,
            at="after_attention" if self.site[1] == AFTER_ATTENTION else "output",
            label=self.name,
        )

    def record(self) -> dict[str, Any]:
        """The edit as data (with its ``alpha``, which the widget's control changes)."""
        return _record(self, "steer", self.start, alpha=self.alpha)

    def __repr__(self) -> str:
        return f"Steer(layer={self.site[0]}, alpha={self.alpha}, start={self.start})"


class Ablate:
    """Ablation: a layer's attention output, MLP output, or some attention heads removed.

    Args:
        layer: the layer.
        part: ``"attention"`` (the attention block's output), ``"mlp"`` (the MLP's output)
            or ``"heads"`` (``heads`` of the attention, before its output projection).
        heads: the head numbers, for ``part="heads"``.
        mean: None to zero the part; else the value written instead (mean ablation): the
            part's mean output, ``[d]`` (``[n_heads · head_dim]`` for heads), e.g. from
            :func:`~.interventions.mean_activation`.
        head_dim: each head's width, for ``part="heads"`` (the model's config has it).
        label: how views name it.
    """

    def __init__(
        self,
        layer: int,
        part: str,
        *,
        heads: Sequence[int] | None = None,
        mean: Any = None,
        head_dim: int | None = None,
        label: str = "",
    ) -> None:
        self.site = (_layer(layer), _site_kind(part, _PARTS, "part"))
        self.part = part
        self.heads = None if heads is None else sorted({int(h) for h in heads})
        if (part == "heads") != (self.heads is not None and head_dim is not None):
            raise ValueError(
                "part='heads' needs heads=[...] and head_dim; other parts take neither"
            )
        if self.heads is not None and (not self.heads or self.heads[0] < 0):
            raise ValueError(f"heads must be head numbers >= 0, got {heads!r}")
        self.head_dim = head_dim
        self.mean = None if mean is None else _vector(mean, "the mean")
        how = "zero" if mean is None else "mean"
        which = part if self.heads is None else "heads " + ",".join(map(str, self.heads))
        self.label = label or f"{how}-ablate L{layer} {which}"

    def apply(self, state: torch.Tensor, start: int = 0) -> None:
        """Overwrite the part (all positions) with zeros or the mean."""
        fill = 0.0 if self.mean is None else self.mean.to(state.device, state.dtype)
        if self.heads is None:
            state[...] = fill
            return
        for head in self.heads:
            part = slice(head * self.head_dim, (head + 1) * self.head_dim)
            state[..., part] = fill if self.mean is None else fill[part]

    def check(self, shape: ModelShape) -> None:
        """ValueError naming the argument unless the edit fits the model."""
        _check_layer(self, shape)
        if self.heads is not None and self.heads[-1] >= shape.n_heads:
            raise ValueError(
                f"{self.label}: head {self.heads[-1]} is out of range (the model has heads "
                f"0..{shape.n_heads - 1})"
            )
        if self.mean is not None:
            width = shape.n_heads * shape.head_dim if self.heads is not None else shape.d_model
            _check_width(self, self.mean, width, "the mean")

    def record(self) -> dict[str, Any]:
        """The edit as data."""
        extra = {"part": self.part, "mode": "zero" if self.mean is None else "mean"}
        if self.heads is not None:
            extra["heads"] = list(self.heads)
        return _record(self, "ablate", 0, **extra)

    def __repr__(self) -> str:
        return f"Ablate(layer={self.site[0]}, part={self.part!r}, heads={self.heads})"


def check_edits(edits: Sequence[Any], shape: ModelShape) -> None:
    """ValueError naming the edit and its argument unless every edit fits; before any run.

    An edit of another class (the :class:`~.capture.Edit` protocol) needs ``site`` and
    ``apply``; its ``check(shape)`` runs when it has one.
    """
    for edit in edits:
        if not hasattr(edit, "site") or not callable(getattr(edit, "apply", None)):
            raise TypeError(
                f"edits must be Patch, Steer, Ablate or objects with .site and .apply(state, "
                f"start), got {type(edit).__name__}"
            )
        if callable(getattr(edit, "check", None)):
            edit.check(shape)
        elif not 0 <= edit.site[0] < shape.n_layers:
            raise ValueError(f"{edit!r}: layer {edit.site[0]} is out of range")


def records(edits: Sequence[Any]) -> list[dict[str, Any]]:
    """Every edit as data; an edit without ``record()`` is described by its repr."""
    out = []
    for edit in edits:
        if callable(getattr(edit, "record", None)):
            out.append(edit.record())
        else:
            layer, kind = edit.site
            out.append(
                {
                    "kind": "custom",
                    "label": repr(edit)[:200],
                    "layer": int(layer),
                    "row_kind": first_row_kind(kind),
                    "from_position": 0,
                }
            )
    return out
