"""What a live widget is told, checked before it acts, and refused values rolled back.

traitlets rolls a trait back only when its validator raises ``TraitError``; a ``ValueError``
from a value set by the browser (inside ``hold_trait_notifications``) stays in the trait.
So the widget's checks raise :class:`RefusedValueError` / :class:`RefusedTypeError` (a
``TraitError`` that is also the ``ValueError`` / ``TypeError`` callers expect), and
:class:`RefusingWidget`
answers a refused browser change by keeping the old value, naming the reason in ``error``
and sending the old value back to the view (whose controls would otherwise show it).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import traitlets

from ..base.formats import widget_payload
from ..base.validate import as_int, check_text
from ..core.request import is_nnterp, layer_count, layer_numbers, model_tokenizer, vocab_size
from ..core.targets import Target, resolve_targets

__all__ = [
    "MAX_SEED",
    "RefusedTypeError",
    "RefusedValueError",
    "RefusingWidget",
    "check_compare_data",
    "check_compare_labels",
    "check_seed",
    "check_selection",
    "check_targets",
    "lens_row",
    "model_layer_count",
    "refusing",
]

#: Largest sampling seed (numpy's and torch's generators both take 0..2**32 - 1).
MAX_SEED = 2**32 - 1


class RefusedValueError(traitlets.TraitError, ValueError):
    """A trait value out of range: the trait keeps its old value."""


class RefusedTypeError(traitlets.TraitError, TypeError):
    """A trait value of the wrong type: the trait keeps its old value."""


@contextlib.contextmanager
def refusing() -> Iterator[None]:
    """Turn a check's ``TypeError``/``ValueError`` into a refusal traitlets rolls back."""
    try:
        yield
    except traitlets.TraitError:
        raise
    except TypeError as exc:
        raise RefusedTypeError(str(exc)) from None
    except ValueError as exc:
        raise RefusedValueError(str(exc)) from None


class RefusingWidget:
    """Mixin for a widget with an ``error`` trait: refused browser changes are undone.

    The view gets the old values back (``send_state``) and the reason in ``error``.
    """

    def set_state(self, sync_data: Mapping[str, Any]) -> None:
        """Apply a state message from the browser; a refused value is rolled back."""
        try:
            super().set_state(sync_data)  # type: ignore[misc]
        except traitlets.TraitError as exc:
            names = [name for name in sync_data if name in self.keys]  # type: ignore[attr-defined]
            self.error = " ".join(str(exc).split())  # type: ignore[attr-defined]
            self.send_state(names)  # type: ignore[attr-defined]


def model_layer_count(model: Any) -> int | None:
    """The model's decoder layer count, or None when it cannot be told here."""
    try:
        if is_nnterp(model):
            return layer_count(model, None)
        from ..core.architectures import get_model_config

        return layer_count(model, get_model_config(model, None))
    except Exception:  # the run reports what is wrong with the model
        return None


def check_model_layers(model: Any, layers: Sequence[int] | None) -> None:
    """ValueError when a layer index is out of the model's range (None: all is fine)."""
    n_layers = None if layers is None or model is None else model_layer_count(model)
    if n_layers is not None:
        layer_numbers(layers, n_layers)


def check_pin_ids(model: Any, ids: Sequence[int], name: str) -> None:
    """TraitError when a pinned id is not in the model's vocabulary."""
    if model is None:
        return
    size = vocab_size(model)
    bad = [i for i in ids if i >= size]
    if bad:
        raise traitlets.TraitError(
            f"{name} holds token id {bad[0]}, outside the vocabulary (ids 0..{size - 1})"
        )


def _whole(value: Any, name: str) -> int:
    number = as_int(value)
    if number is None:
        raise ValueError(f"{name} must be a whole number, got {value!r}")
    return number


def check_selection(
    msg: Mapping[str, Any], layers: Sequence[int] | None, n_positions: int, size: int | None
) -> tuple[int, int, int | None]:
    """A ``select`` message's (layer, position, token), checked against the shown data.

    Args:
        msg: ``{layer, position, token}`` from the browser (``token`` may be None).
        layers: the data's layer numbers (None: not known, not checked).
        n_positions: the data's positions.
        size: the vocabulary size (None: not known, only ``>= 0`` is checked).

    Raises:
        ValueError: a field is not a whole number or not in the data, naming it.
    """
    layer = _whole(msg.get("layer"), "layer")
    position = _whole(msg.get("position"), "position")
    if layers is not None and layer not in [int(x) for x in layers]:
        raise ValueError(f"layer {layer} is not a layer of the shown data ({list(layers)})")
    if not 0 <= position < n_positions:
        raise ValueError(
            f"position {position} is out of range: the shown data has positions "
            f"0..{n_positions - 1}"
        )
    token = msg.get("token")
    if token is None:
        return layer, position, None
    token = _whole(token, "token")
    if token < 0 or (size is not None and token >= size):
        top = "" if size is None else f"..{size - 1}"
        raise ValueError(f"token {token} is not a token id (ids are 0{top})")
    return layer, position, token


def check_seed(seed: Any) -> int | None:
    """A sampling seed: None or a whole number 0..MAX_SEED."""
    if seed is None:
        return None
    number = as_int(seed)
    if number is None or not 0 <= number <= MAX_SEED:
        raise ValueError(f"seed must be None or a whole number from 0 to {MAX_SEED}, got {seed!r}")
    return number


def lens_row(layers: Sequence[int], msg: Mapping[str, Any]) -> int:
    """The lens row a browser message names, checked against its ``layer``.

    Its ``row`` when given (sub-layer rows share a layer number), else the layer's first row.
    """
    layer = int(msg["layer"])
    if msg.get("row") is None:
        return list(layers).index(layer)
    row = int(msg["row"])
    if not 0 <= row < len(layers) or int(layers[row]) != layer:
        raise ValueError(f"lens row {row} is not a row of layer {layer} in this data")
    return row


def check_targets(model: Any, items: Sequence[Any]) -> list[dict[str, Any]]:
    """The ``targets`` trait's value, resolved: ``[{'name', 'ids'}]`` (TraitError if bad).

    Items are ``{'name', 'ids'}`` entries or what ``resolve_targets`` takes; words need
    ``model``'s tokenizer, and ids must be in its vocabulary.
    """
    targets = [_as_target(item) for item in items]
    if model is None and not all(isinstance(t, Target) for t in targets):
        raise traitlets.TraitError(
            "without a model, targets must be [{'name': str, 'ids': [token ids]}]: "
            "words need the model's tokenizer"
        )
    tokenizer = None if model is None else model_tokenizer(model)
    size = 2**31 if model is None else vocab_size(model)
    try:
        return [t.as_dict() for t in resolve_targets(targets, tokenizer, size)]
    except (TypeError, ValueError) as exc:
        raise traitlets.TraitError(f"targets: {exc}") from None


def _as_target(item: Any) -> Any:
    """A ``{'name', 'ids'}`` entry of the targets trait as a Target; other items unchanged."""
    if isinstance(item, Mapping) and set(item) == {"name", "ids"}:
        ids = item["ids"]
        if isinstance(ids, (str, bytes)) or not hasattr(ids, "__iter__"):
            raise traitlets.TraitError(f"targets: 'ids' of {item['name']!r} must be a list")
        return Target(item["name"], tuple(ids))
    return item


def check_compare_data(value: Any, data: Mapping[str, Any]) -> dict[str, Any]:
    """Side B's payload (``{}``: no diff), with the layers of the shown ``data``."""
    if not value:
        return {}
    payload = widget_payload(value)
    if data and list(payload["layers"]) != list(data["layers"]):
        raise traitlets.TraitError(
            f"compare_data has layers {payload['layers']}, the widget's data "
            f"{data['layers']}: both sides of a diff need the same layers"
        )
    return payload


def check_compare_labels(value: Any) -> list[str]:
    """What a diff calls its two sides: two texts."""
    labels = list(value)
    if len(labels) != 2:
        raise traitlets.TraitError(f"compare_labels must be two names, got {labels!r}")
    return [check_text(v, f"compare_labels[{i}]") for i, v in enumerate(labels)]
