"""What a diff calls its two sides once a prompt is edited (LogitLensWidget.compare).

Labels given to ``compare`` name the prompts they were given with; an edited prompt gets a
label of its own, so the view never calls side B "Italy" while it shows Spain.
"""

from __future__ import annotations

__all__ = ["LABEL_CHARS", "side_label"]

#: The longest label made from a prompt; longer text is cut with "…".
LABEL_CHARS = 24


def side_label(prompt: str, other: str) -> str:
    """A short name for one side's ``prompt`` beside the other side's ``other``.

    The words of ``prompt`` where the two differ (the common leading and trailing words
    dropped: "The capital of Spain is" beside "The capital of France is" is "Spain"), or the
    whole prompt when they do not differ or that part is long; cut to ``LABEL_CHARS``.
    """
    words, others = prompt.split(), other.split()
    if not words:
        return "empty prompt"
    shared = min(len(words), len(others))
    start = 0
    while start < shared and words[start] == others[start]:
        start += 1
    end = 0
    while end < shared - start and words[-1 - end] == others[-1 - end]:
        end += 1
    differ = " ".join(words[start : len(words) - end])
    return _shorten(differ if 0 < len(differ) <= LABEL_CHARS else " ".join(words))


def _shorten(text: str) -> str:
    if len(text) <= LABEL_CHARS:
        return text
    return text[: LABEL_CHARS - 1].rstrip() + "\u2026"
