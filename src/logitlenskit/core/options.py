"""What a lens run is asked to do, checked once, with one table of limits.

The widget's traits, the command line, :func:`~logitlenskit.collect_logit_lens` and studies
all describe a run with the same :class:`LensOptions`, so a value one of them accepts the
others accept too, and every refusal reads the same. The model-dependent rules (layer range,
``k`` against the vocabulary, the chat template) are checked where the model is known, in
:func:`~logitlenskit.core.request.prepare_request`, with the same messages.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any, Literal

from ..base.validate import MAX_K, as_int
from .capture import Edit
from .readout import LOGIT_LENS, Readout

__all__ = ["LIMITS", "LensOptions", "Remote", "check_k", "check_layers", "check_remote"]

#: Where a trace runs: ``True`` NDIF, ``"local"`` nnsight's NDIF simulation, ``False`` here,
#: ``None`` here unless the model's weights were never loaded here (a model made for NDIF).
Remote = bool | Literal["local"] | None

#: Inclusive limits of the run options, shared by every entry point; None: the model's
#: vocabulary size. A collection may ask for every token (``k`` up to the vocabulary); what
#: a view shows (the widget, the command line's page and figures) holds at most ``view_k``,
#: the data format's limit.
LIMITS: dict[str, tuple[int, int | None]] = {"k": (1, None), "view_k": (1, MAX_K)}


def check_k(k: Any, vocab_size: int | None = None, *, collection: bool = False) -> int:
    """Top-k width: a whole number within ``LIMITS`` and the vocabulary.

    A view's limit (``view_k``) unless ``collection``, which may reach the vocabulary.
    """
    value = as_int(k)
    if value is None:
        raise TypeError(f"k must be an int (e.g. k=5), got {type(k).__name__}")
    low, high = LIMITS["k" if collection else "view_k"]
    if high is not None and not low <= value <= high:
        raise ValueError(
            f"k={value} is out of range: use {low}..{high} (the popup's 'more' shows up to "
            "100 tokens of any cell without a larger k)"
        )
    if not low <= value or (vocab_size is not None and value > vocab_size):
        raise ValueError(
            f"k={value} is out of range: it must be between 1 and the vocabulary size "
            f"{vocab_size if vocab_size is not None else '(of the model)'}"
        )
    return value


def check_layers(layers: Any) -> list[int] | None:
    """Layer indices (ints, not empty), or None for all; the range is the model's rule."""
    if layers is None:
        return None
    if isinstance(layers, (str, bytes)) or not hasattr(layers, "__iter__"):
        raise TypeError(f"layers must be a list of ints or None, got {type(layers).__name__}")
    out = []
    for layer in layers:
        if as_int(layer) is None:
            raise TypeError(f"layer indices must be ints, got {layer!r}")
        out.append(as_int(layer))
    if not out:
        raise ValueError("layers is empty: pass None for all layers or some layer indices")
    return out


def check_remote(remote: Any) -> bool | str | None:
    """True (NDIF), 'local' (its simulation), False or None."""
    if remote is None or remote is True or remote is False or remote == "local":
        return remote
    raise ValueError(
        f"remote must be True (NDIF), 'local' (NDIF simulation), False or None, got {remote!r}"
    )


@dataclasses.dataclass(frozen=True)
class LensOptions:
    """A lens run's options, checked when made (model-free rules).

    Attributes:
        k: top predictions per cell.
        layers: layer indices (negative from the end), or None for all.
        remote: where the trace runs (:data:`Remote`).
        targets: named tokens measured at every cell, as ``resolve_targets`` accepts.
        metrics: also every cell's KL divergence from the model's final output.
        chat: wrap the prompt in the tokenizer's chat template as a user message.
        sublayers: two lens rows per layer, after its attention and after the layer.
        readout: how a row's state becomes the decoder's input (the logit lens).
        edits: interventions applied inside the trace.
    """

    k: int = 5
    layers: tuple[int, ...] | None = None
    remote: Remote = None
    targets: Any = None
    metrics: bool = False
    chat: bool = False
    sublayers: bool = False
    readout: Readout = LOGIT_LENS
    edits: tuple[Edit, ...] = ()

    def __post_init__(self) -> None:
        layers = check_layers(self.layers)
        object.__setattr__(self, "k", check_k(self.k, collection=True))
        object.__setattr__(self, "layers", None if layers is None else tuple(layers))
        object.__setattr__(self, "remote", check_remote(self.remote))
        object.__setattr__(self, "edits", tuple(self.edits))
        for name in ("metrics", "chat", "sublayers"):
            object.__setattr__(self, name, bool(getattr(self, name)))

    def replace(self, **changes: Any) -> LensOptions:
        """A copy with ``changes``, checked again."""
        return dataclasses.replace(self, **changes)

    def layer_list(self) -> Sequence[int] | None:
        """``layers`` as a list, or None."""
        return None if self.layers is None else list(self.layers)
