"""Targets: the tokens a question is about, named, resolved to token ids once.

A logit-lens question is usually about a word, not a token id: "when does ' Paris' appear?",
"is the model thinking in English or in French?". A :class:`Target` is a name and a set of
token ids whose probabilities are summed. :func:`resolve_targets` builds them from what a
user writes:

* an ``int``: that token id;
* a ``str``: a *word*, meaning every first token of its spellings: ``"Paris"``, ``" Paris"``,
  and (with ``case_variants``) ``"paris"``, ``" paris"``. A multi-token word counts by its
  first token, which is what the model must put on top to start writing it, but a one-letter
  first token (``"l"`` of ``"london"``) does not count: it starts every word with that
  letter. The spellings go through nnterp's ``get_first_tokens`` (the field's own helper);
* a list mixing those: a named set (e.g. all answers in French);
* a :class:`Target`, kept as it is.

The engine computes each target's exact summed probability and the rank of its best member
at every cell, inside the trace (:func:`~logitlenskit.engine.lens_reduce`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from ..base.validate import check_text

__all__ = [
    "MAX_TARGETS",
    "MAX_TARGET_IDS",
    "Target",
    "TargetSpec",
    "resolve_targets",
    "word_tokens",
]

#: At most this many targets per request, and ids per target: each target costs one pass
#: over every cell's distribution inside the trace.
MAX_TARGETS = 32
MAX_TARGET_IDS = 512

#: What a user may write for one target (see the module docstring).
TargetSpec = Any


@dataclasses.dataclass(frozen=True)
class Target:
    """A named set of token ids whose probabilities are summed.

    Attributes:
        name: what the widget, the chart and the tables call it.
        ids: the token ids, sorted, without repeats.
    """

    name: str
    ids: tuple[int, ...]

    def as_dict(self) -> dict[str, Any]:
        """The JSON form the widget payload and the collection dict carry."""
        return {"name": self.name, "ids": list(self.ids)}


def word_tokens(word: str, tokenizer: Any, case_variants: bool = True) -> list[int]:
    """First token ids of a word's spellings: with and without a leading space.

    Args:
        word: the word, e.g. ``"Paris"``; a leading space is ignored (both forms count).
        tokenizer: the model's tokenizer.
        case_variants: also count the lower-case and capitalized spellings.

    Returns:
        Sorted distinct ids: the word's own first tokens always; another spelling's only
        when it covers at least two characters.

    Raises:
        ValueError: an empty word.
    """
    from nnterp.prompt_utils import get_first_tokens

    stripped = word.strip()
    if not stripped:
        raise ValueError(f"target word {word!r} is empty: give a word such as 'Paris'")
    ids = {int(i) for i in get_first_tokens(stripped, tokenizer)}
    if case_variants:
        for spelling in {stripped.lower(), stripped[0].upper() + stripped[1:]} - {stripped}:
            for i in get_first_tokens(spelling, tokenizer):
                if len(tokenizer.decode([i]).strip()) >= min(2, len(stripped)):
                    ids.add(int(i))
    return sorted(ids)


def resolve_targets(
    spec: Mapping[str, TargetSpec] | Sequence[TargetSpec] | None,
    tokenizer: Any,
    vocab_size: int,
    case_variants: bool = True,
) -> list[Target]:
    """Turn what a user wrote into checked :class:`Target` s.

    Args:
        spec: ``{name: what}`` or a list of ``what`` (each named after itself), where
            ``what`` is a token id, a word, a list of those, or a :class:`Target`.
        tokenizer: the model's tokenizer (words are tokenized with it).
        vocab_size: ids must be below it.
        case_variants: words also count their other-case spellings.

    Returns:
        The targets, in the order given.

    Raises:
        ValueError: an empty set, an id out of range, repeated names, too many targets.
        TypeError: a value that is none of the accepted forms.
    """
    if spec is None:
        return []
    if isinstance(spec, (str, int, Target)):
        spec = [spec]
    named = list(spec.items()) if isinstance(spec, Mapping) else [(None, s) for s in spec]
    if len(named) > MAX_TARGETS:
        raise ValueError(
            f"{len(named)} targets given; at most {MAX_TARGETS} per run (each costs a pass "
            "over every cell): group related tokens into one named set instead"
        )
    targets = [_one(name, what, tokenizer, vocab_size, case_variants) for name, what in named]
    names = [t.name for t in targets]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(
            f"target names must be unique, {repeated} repeats: name them with a dict, "
            "e.g. {'French': ['Paris'], 'English': ['London']}"
        )
    return targets


def _one(
    name: str | None, what: TargetSpec, tokenizer: Any, vocab_size: int, case_variants: bool
) -> Target:
    if isinstance(what, Target):
        ids = _checked_ids(what.ids, what.name, vocab_size)
        return Target(check_text(name or what.name, "target name"), ids)
    items = [what] if isinstance(what, (str, int)) else _listed(what, name)
    ids: set[int] = set()
    for item in items:
        if isinstance(item, bool) or not isinstance(item, (int, str)):
            raise TypeError(
                f"target {name or what!r}: {item!r} is not a token id or a word; a target "
                "is an int, a str, or a list of them"
            )
        ids.update([item] if isinstance(item, int) else word_tokens(item, tokenizer, case_variants))
    label = name if name is not None else _default_name(what, tokenizer)
    return Target(check_text(label, "target name"), _checked_ids(ids, label, vocab_size))


def _listed(what: Any, name: str | None) -> list[Any]:
    if not isinstance(what, Iterable) or isinstance(what, (bytes, Mapping)):
        raise TypeError(
            f"target {name or what!r} must be a token id, a word, or a list of them, "
            f"got {type(what).__name__}"
        )
    items = list(what)
    if not items:
        raise ValueError(f"target {name!r} is an empty list: give at least one word or id")
    return items


def _default_name(what: TargetSpec, tokenizer: Any) -> str:
    if isinstance(what, str):
        return what.strip()
    if isinstance(what, int):
        return repr(tokenizer.decode([what]))
    return "+".join(_default_name(w, tokenizer) for w in what)


def _checked_ids(ids: Iterable[int], name: str, vocab_size: int) -> tuple[int, ...]:
    out = sorted({int(i) for i in ids})
    if not out:
        raise ValueError(f"target {name!r} has no token ids")
    if out[0] < 0 or out[-1] >= vocab_size:
        bad = out[0] if out[0] < 0 else out[-1]
        raise ValueError(
            f"target {name!r}: token id {bad} is outside the vocabulary [0, {vocab_size})"
        )
    if len(out) > MAX_TARGET_IDS:
        raise ValueError(
            f"target {name!r} has {len(out)} token ids; at most {MAX_TARGET_IDS}: use fewer "
            "spellings (case_variants=False) or split it"
        )
    return tuple(out)


def suggest_targets(
    data: Mapping[str, Any], position: int = -1, n: int = 10
) -> list[dict[str, Any]]:
    """Candidate targets at a position: its tracked tokens by their best probability at any layer.

    A token that peaks in the middle layers and is gone at the output (an intermediate
    answer, a latent English word) ranks here beside the final prediction, which a look at
    the last layer alone would miss. The widget's popup lists the same ("best at any
    layer").

    Args:
        data: a collection dict (``collect_logit_lens``, ``w.result``).
        position: the input position (negative from the end).
        n: how many.

    Returns:
        ``[{"id", "token", "peak", "layer"}]``, highest peak first: the peak probability and
        the model layer number where it is reached.
    """
    ids = [int(i) for i in np.asarray(data["tracked"][position])]
    probs = np.asarray(data["probs"][position], dtype=np.float64)  # [L, n_tracked]
    if not ids:
        return []
    peak = np.nan_to_num(probs, nan=-1.0).max(axis=0)
    row = np.nan_to_num(probs, nan=-1.0).argmax(axis=0)
    order = np.argsort(-peak, kind="stable")[:n]
    vocab, layers = data.get("vocab", {}), list(data["layers"])
    return [
        {
            "id": ids[j],
            "token": vocab.get(ids[j], ""),
            "peak": float(peak[j]),
            "layer": int(layers[int(row[j])]),
        }
        for j in order
    ]
