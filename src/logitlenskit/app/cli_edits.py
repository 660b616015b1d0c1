"""The command line's ``--edit``: patch, steer and ablate written as text.

Each spec is ``KIND:LAYER:...`` with its free text last, so a prompt or a token may hold
colons::

    steer:12:8: Rome          add 8 × " Rome"'s unit unembedding row after layer 12
    steer:12:8:#4567          the same with a token id
    ablate:5:mlp              zero layer 5's MLP output (attention: its attention output)
    ablate:5:heads:0,3        zero heads 0 and 3 of layer 5
    patch:12:3:The Eiffel Tower is in the city of
                              layer 12, position 3 of that prompt written into the run

Specs are parsed before the model loads (a typo costs nothing); they become edits once it
has (:func:`build_edits`), and every edit is checked against the model and the prompt then.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

__all__ = ["EDIT_HELP", "EditSpec", "build_edits", "parse_edit"]

EDIT_HELP = (
    "an intervention, repeatable: steer:LAYER:ALPHA:TOKEN (TOKEN text or #id), "
    "ablate:LAYER:attention|mlp, ablate:LAYER:heads:0,3, patch:LAYER:POSITION:SOURCE PROMPT"
)


class EditSpec(NamedTuple):
    """One parsed ``--edit``: its kind, layer and the rest of its fields."""

    kind: str
    layer: int
    fields: tuple[Any, ...]


def _number(text: str, what: str, spec: str, kind: type = int) -> Any:
    try:
        return kind(text)
    except ValueError:
        raise ValueError(f"--edit {spec!r}: {what} must be a number, got {text!r}") from None


def _three(rest: str) -> list[str]:
    """``LAYER:X:FREE TEXT`` as three fields (missing ones empty; the text may hold colons)."""
    return [*rest.split(":", 2), "", ""][:3]


def parse_edit(spec: str) -> EditSpec:
    """One ``--edit`` spec, syntax only; ValueError naming the spec and the field."""
    kind, _, rest = spec.partition(":")
    if kind == "steer":
        layer, alpha, token = _three(rest)
        if not token:
            raise ValueError(
                f"--edit {spec!r}: write steer:LAYER:ALPHA:TOKEN, e.g. steer:12:8: Rome"
            )
        direction: Any = _number(token[1:], "a #token id", spec) if token.startswith("#") else token
        return EditSpec(
            "steer",
            _number(layer, "LAYER", spec),
            (_number(alpha, "ALPHA", spec, float), direction),
        )
    if kind == "ablate":
        layer, part, heads = _three(rest)
        if part not in ("attention", "mlp", "heads") or (part == "heads") != bool(heads):
            raise ValueError(
                f"--edit {spec!r}: write ablate:LAYER:attention, ablate:LAYER:mlp or "
                "ablate:LAYER:heads:0,3"
            )
        numbers = tuple(_number(h, "a head", spec) for h in heads.split(",")) if heads else ()
        return EditSpec("ablate", _number(layer, "LAYER", spec), (part, numbers))
    if kind == "patch":
        layer, position, source = _three(rest)
        if not source.strip():
            raise ValueError(
                f"--edit {spec!r}: write patch:LAYER:POSITION:SOURCE PROMPT (the prompt whose "
                "state is patched in)"
            )
        return EditSpec(
            "patch", _number(layer, "LAYER", spec), (_number(position, "POSITION", spec), source)
        )
    raise ValueError(f"--edit {spec!r}: the kind must be steer, ablate or patch, got {kind!r}")


def build_edits(specs: Sequence[EditSpec], model: Any, remote: Any = None) -> list[Any]:
    """The edits of parsed specs, read from ``model`` (a patch's source runs once here)."""
    # Here, not at the top: `logitlens --help` and a typo's message need no torch.
    from ..core.interventions import ablate, patch_from, steer

    edits = []
    for spec in specs:
        if spec.kind == "steer":
            alpha, direction = spec.fields
            edits.append(steer(model, spec.layer, direction, alpha))
        elif spec.kind == "ablate":
            part, heads = spec.fields
            edits.append(ablate(model, spec.layer, part, heads=heads or None, remote=remote))
        else:
            position, source = spec.fields
            edits.append(patch_from(model, source, spec.layer, position, remote=remote))
    return edits
