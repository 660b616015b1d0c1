"""A small multilingual word list and few-shot translation prompts built from it.

This module holds what is needed to reproduce the *shape* of the translation experiment of
Wendler et al. (2024), "Do Llamas Work in English? On the Latent Language of Multilingual
Transformers", on small models: a list of common, concrete nouns with their translations in
English, French, German, Spanish and Italian (``data/words.tsv``, shipped with the package,
so no download is needed), and a builder of few-shot prompts such as::

    Français: "chat" - Deutsch: "Katze"
    Français: "livre" - Deutsch: "Buch"
    Français: "fleur" - Deutsch: "

Each prompt comes with the words to track through the layers: the answer in the target
language and the same concept in a latent language (English by default), whose probability
the logit lens shows rising in the middle layers before the target word wins.

The words were written by hand for this package; concepts whose translations are spelt like
the English word in most of the languages (taxi, hotel, piano...) were left out, since they
cannot tell the languages apart.
"""

from __future__ import annotations

import csv
import io
import random
from importlib.resources import files
from typing import Any

__all__ = ["LANGUAGES", "load_words", "translation_prompts"]

LANGUAGES: dict[str, str] = {
    "en": "English",
    "fr": "Français",
    "de": "Deutsch",
    "es": "Español",
    "it": "Italiano",
}
"""Language code → the language's own name, as written in the prompts."""


def load_words() -> list[dict[str, str]]:
    """Read the shipped word list.

    Returns:
        One dict per concept, in the file's order, with the keys ``"concept"`` (the English
        word, lower-case ASCII) and one per code of `LANGUAGES` (``"en"``, ``"fr"``, ...),
        each holding a single word. German nouns are capitalized, the others lower case.
    """
    text = (files("logitlenskit") / "data" / "words.tsv").read_text(encoding="utf-8")
    reader = csv.DictReader(io.StringIO(text), delimiter="\t", quoting=csv.QUOTE_NONE)
    return [dict(row) for row in reader]


def _check_code(role: str, code: str) -> None:
    if code not in LANGUAGES:
        valid = ", ".join(repr(c) for c in LANGUAGES)
        raise ValueError(f"unknown {role} language {code!r}: valid codes are {valid}")


def _check_count(name: str, value: Any, most: int | None = None) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    if most is not None and value > most:
        raise ValueError(f"{name}={value} is too many: the word list has {most} other concepts")


def _line(source: str, target: str, source_word: str, target_word: str) -> str:
    return f'{LANGUAGES[source]}: "{source_word}" - {LANGUAGES[target]}: "{target_word}"'


def _overlaps(target_word: str, latent_word: str, tokenizer: Any) -> bool:
    """Whether the two words cannot be told apart by their first token (or are the same)."""
    from nnterp.prompt_utils import get_first_tokens

    if target_word.casefold() == latent_word.casefold():
        return True
    target_tokens = set(get_first_tokens(target_word, tokenizer))
    return not target_tokens.isdisjoint(get_first_tokens(latent_word, tokenizer))


def _examples(
    words: list[dict[str, str]], row: dict[str, str], shots: int, seed: int
) -> list[dict[str, str]]:
    """A concept's own draw of examples: every other concept may be one."""
    others = [other for other in words if other["concept"] != row["concept"]]
    return random.Random(f"{seed}:{row['concept']}").sample(others, shots)


def translation_prompts(
    source: str = "fr",
    target: str = "de",
    *,
    latent: str = "en",
    shots: int = 4,
    seed: int = 0,
    limit: int | None = None,
    tokenizer: Any = None,
    shared_shots: bool = False,
) -> list[dict[str, Any]]:
    """Build few-shot translation prompts in the format of Wendler et al. (2024).

    For each concept of `load_words`, in the file's order, the prompt shows `shots` example
    translations of other concepts, one per line, then asks for the concept's translation::

        Français: "chat" - Deutsch: "Katze"
        Français: "fleur" - Deutsch: "

    The examples are drawn with ``random.Random`` seeded by `seed` and the concept, so a
    concept's prompt is the same whatever `limit` is and whichever prompts are dropped, and
    a concept is never its own example.

    With ``shared_shots=True``, one draw of `shots` examples (seeded by `seed` alone) is
    the few-shot block of every prompt, as in a fixed-context experiment: the prompts then
    differ only in their last line, and a study runs their shared block once per batch.
    The concepts drawn as examples get no prompt, since their answer would be in it.

    With a `tokenizer`, prompts are dropped (as Wendler et al. do) where the target word's
    and the latent word's first tokens overlap, i.e. where the logit lens could not tell the
    two languages apart at the next position: the first tokens of ``"word"`` and
    ``" word"`` of each, from ``nnterp.prompt_utils.get_first_tokens``, share an id. Prompts
    whose target and latent words are the same string ignoring case (German "Wind" and
    English "wind") are dropped too. Without a tokenizer, no prompt is dropped.

    Args:
        source: code of the language the words are given in (a key of `LANGUAGES`).
        target: code of the language to translate into; must differ from `source`.
        latent: code of the language whose word is tracked as the latent one; must differ
            from `target`.
        shots: number of example translations before the question (0 or more).
        seed: seed of the examples' draw.
        limit: the most prompts to return (the first ones kept), or ``None`` for all.
        tokenizer: a Hugging Face tokenizer (or an nnterp ``StandardizedTransformer``) to
            drop the prompts whose target and latent words overlap, or ``None``.
        shared_shots: one set of examples for every prompt instead of one per concept.

    Returns:
        One dict per kept concept: ``"prompt"`` (the text, ending in ``<target name>: "``),
        ``"concept"`` (the English word), and ``"targets"``, which maps the target
        language's name and the latent language's name (e.g. ``"Deutsch"``, ``"English"``)
        to a one-element list holding the word in that language. The words are strings; a
        caller resolves them to token ids.

    Raises:
        ValueError: a code is not a key of `LANGUAGES`, `source` equals `target`, `latent`
            equals `target`, or `shots`, `seed` or `limit` is not a suitable integer.
    """
    _check_code("source", source)
    _check_code("target", target)
    _check_code("latent", latent)
    if source == target:
        raise ValueError(f"source and target are both {source!r}: translate between two languages")
    if latent == target:
        raise ValueError(
            f"latent and target are both {target!r}: the latent language must differ from the "
            "target, or the two tracked words are the same"
        )
    words = load_words()
    _check_count("shots", shots, most=len(words) - 1)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError(f"seed must be an integer, got {seed!r}")
    if limit is not None:
        _check_count("limit", limit)

    shared = random.Random(f"{seed}:shared").sample(words, shots) if shared_shots else None
    prompts: list[dict[str, Any]] = []
    for row in words:
        if limit is not None and len(prompts) >= limit:
            break
        if tokenizer is not None and _overlaps(row[target], row[latent], tokenizer):
            continue
        if shared is not None and row in shared:
            continue
        examples = shared if shared is not None else _examples(words, row, shots, seed)
        lines = [_line(source, target, ex[source], ex[target]) for ex in examples]
        lines.append(f'{LANGUAGES[source]}: "{row[source]}" - {LANGUAGES[target]}: "')
        prompts.append(
            {
                "prompt": "\n".join(lines),
                "concept": row["concept"],
                "targets": {LANGUAGES[target]: [row[target]], LANGUAGES[latent]: [row[latent]]},
            }
        )
    return prompts
