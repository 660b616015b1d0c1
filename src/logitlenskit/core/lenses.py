"""Fitted lenses: readouts that translate each layer's state before the final norm.

Two readouts, each a per-layer affine map whose output the capture core then decodes with
the model's own final norm and unembedding:

* :class:`TunedLens`, the tuned lens of Belrose et al. (2023): ``h + A_l h + b_l``, where
  ``A_l`` and ``b_l`` are trained so that the decoded distribution matches the model's
  final one (KL). The residual form means an untrained lens (``A = 0, b = 0``) is the logit
  lens.
* :class:`LinearShortcut`, the linear shortcut of Din et al. (2023, "Jump to
  Conclusions"): ``A_l h + b_l``, the least-squares map from layer ``l``'s block output to
  the last layer's block output (the residual before the final norm).

Both keep their weights as float32 ``weight [L, d, d]`` and ``bias [L, d]``, indexed by
decoder layer (the row's block output), in ``torch.nn.Linear``'s convention
(``out = h @ weight[l].T + bias[l]``). They are applied in each state's own dtype and on
its device. The last layer's map is the identity (its state *is* the model's output).

Rows after attention (sub-layer rows, kind 1) are refused: a lens is fitted on block
outputs, and the mid-layer residual is a different distribution; applying a neighbouring
layer's map there would show numbers that look trustworthy and are not.

This module travels to NDIF by value with the trace body, so it imports only torch and the
standard library, and its classes are plain classes (NDIF rebuilds them from source, where
a dataclass's string annotations cannot be resolved). Weights travel with the request: a
lens larger than :data:`MAX_TRAVEL_BYTES` refuses to be pickled, with the reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

__all__ = ["MAX_TRAVEL_BYTES", "LinearShortcut", "TunedLens"]

#: The largest lens (weights and biases, float32) sent with an NDIF request. A request
#: carries the whole lens; 128 MiB holds every layer of a model up to d ≈ 1,000 at
#: 32 layers (SmolLM2-135M's is 40 MB, Gemma 3 270M's 30 MB). Above it, upload time
#: dominates a run and NDIF may refuse the request anyway.
MAX_TRAVEL_BYTES = 128 * 2**20

BLOCK_OUTPUT = 0


class _AffineLens:
    """Per-layer affine maps ``weight [L, d, d]``, ``bias [L, d]`` (float32, CPU)."""

    name = "affine lens"
    is_identity = False
    #: Whether the map is added to the state (tuned lens) or replaces it (shortcut).
    residual = False

    def __init__(self, weight: Any, bias: Any, *, source: str = "") -> None:
        """Check and keep the maps.

        Args:
            weight: ``[L, d, d]``, one matrix per decoder layer.
            bias: ``[L, d]``.
            source: where the weights came from (a file), named in refusals.

        Raises:
            TypeError: not tensors.
            ValueError: wrong shapes, or a weight that is not finite.
        """
        where = f" in {source}" if source else ""
        for field, value in (("weight", weight), ("bias", bias)):
            if not isinstance(value, torch.Tensor):
                raise TypeError(f"{self.name}: {field}{where} must be a tensor, got {value!r:.60}")
            if not value.is_floating_point():
                raise TypeError(f"{self.name}: {field}{where} has dtype {value.dtype}, not float")
        if weight.ndim != 3 or weight.shape[1] != weight.shape[2]:
            raise ValueError(
                f"{self.name}: weight{where} has shape {tuple(weight.shape)}; it must be "
                "[layers, d, d]"
            )
        if tuple(bias.shape) != tuple(weight.shape[:2]):
            raise ValueError(
                f"{self.name}: bias{where} has shape {tuple(bias.shape)}; the weight's "
                f"{tuple(weight.shape)} needs [{weight.shape[0]}, {weight.shape[1]}]"
            )
        for field, value in (("weight", weight), ("bias", bias)):
            bad = ~torch.isfinite(value)
            if bad.any():
                layer = int(bad.reshape(value.shape[0], -1).any(-1).nonzero()[0, 0])
                raise ValueError(
                    f"{self.name}: {field}{where} holds NaN or Inf (first at layer {layer}); "
                    "a lens with non-finite weights would decode every row to noise"
                )
        self.weight = weight.detach().to("cpu", torch.float32).contiguous()
        self.bias = bias.detach().to("cpu", torch.float32).contiguous()
        self.source = source

    @property
    def n_layers(self) -> int:
        """How many decoder layers the lens has maps for."""
        return int(self.weight.shape[0])

    @property
    def d_model(self) -> int:
        """The residual width it reads."""
        return int(self.weight.shape[1])

    @property
    def nbytes(self) -> int:
        """The size of its weights, which is what travels with an NDIF request."""
        return self.weight.numel() * 4 + self.bias.numel() * 4

    def translate(self, state: Any, layer: int) -> Any:
        """One layer's decoder input: the map applied to ``state [..., d]``."""
        weight = self.weight[layer].to(device=state.device, dtype=state.dtype)
        bias = self.bias[layer].to(device=state.device, dtype=state.dtype)
        mapped = torch.nn.functional.linear(state, weight, bias)
        return state + mapped if self.residual else mapped

    def prepare(self, states: list[Any], sites: Sequence[tuple[int, int]]) -> list[Any]:
        """Each state translated by its layer's map, same shapes and dtypes.

        Args:
            states: tensors ``[..., d]``, one per site.
            sites: ``(layer, kind)`` of each; only block outputs (kind 0) have maps.

        Raises:
            ValueError: a row after attention, a layer the lens has no map for, or a state
                of another width.
        """
        out = []
        for state, (layer, kind) in zip(states, sites, strict=True):
            if kind != BLOCK_OUTPUT:
                raise ValueError(
                    f"the {self.name} has maps for block outputs only, not for the row after "
                    f"attention of layer {layer}: turn sub-layer rows off (sublayers=False) "
                    "or use the logit lens for them"
                )
            if not -self.n_layers <= layer < self.n_layers:
                raise ValueError(
                    f"the {self.name} has maps for layers 0..{self.n_layers - 1}, not {layer}"
                )
            if state.shape[-1] != self.d_model:
                raise ValueError(
                    f"the {self.name} reads states of width {self.d_model}, this model's "
                    f"are {state.shape[-1]} wide: it was made for another model"
                )
            out.append(self.translate(state, layer % self.n_layers))
        return out

    def __getstate__(self) -> dict[str, Any]:
        # Pickling is how the lens travels to NDIF (and its simulation): refuse it there,
        # with the reason, rather than send a request the server would choke on.
        if self.nbytes > MAX_TRAVEL_BYTES:
            raise ValueError(
                f"the {self.name} is {self.nbytes / 2**20:.0f} MiB, over the "
                f"{MAX_TRAVEL_BYTES / 2**20:.0f} MiB that may travel with an NDIF request "
                "(its weights go with every run): run it locally (remote=False), or fit it "
                "on fewer layers"
            )
        return dict(self.__dict__)

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

    def __repr__(self) -> str:
        origin = f", source={self.source!r}" if self.source else ""
        return f"{type(self).__name__}(layers={self.n_layers}, d={self.d_model}{origin})"


class TunedLens(_AffineLens):
    """The tuned lens: ``h + A_l h + b_l`` per layer, then the model's norm and unembedding.

    ``weight[l]`` is ``A_l`` (zero: the logit lens at that layer). A lens in the tuned-lens
    package's folder format maps onto this with its translator ``l + 1`` at decoder layer
    ``l`` (its translator 0 reads the embeddings, which are not a lens row here).
    """

    name = "tuned lens"
    residual = True

    @classmethod
    def identity(cls, n_layers: int, d_model: int) -> TunedLens:
        """A lens whose every map is zero: the logit lens, as a tuned lens."""
        return cls(torch.zeros(n_layers, d_model, d_model), torch.zeros(n_layers, d_model))


class LinearShortcut(_AffineLens):
    """The linear shortcut: ``A_l h + b_l`` per layer, then the model's norm and unembedding.

    ``weight[l]`` maps layer ``l``'s block output to the last layer's block output (before
    the final norm); the last layer's is the identity.
    """

    name = "linear shortcut"
    residual = False
