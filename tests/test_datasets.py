"""The shipped word list and the Wendler-style translation prompts (datasets.py)."""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections import Counter
from importlib.resources import files

import pytest

from logitlenskit.analyses import datasets
from logitlenskit.analyses.datasets import LANGUAGES, load_words, translation_prompts

HEADER = ["concept", "en", "fr", "de", "es", "it"]
EXAMPLE = re.compile(r'^(\w+): "([^"\s]+)" - (\w+): "([^"\s]+)"$')


def _raw_rows() -> list[list[str]]:
    text = (files("logitlenskit") / "data" / "words.tsv").read_text(encoding="utf-8")
    return list(csv.reader(io.StringIO(text), delimiter="\t", quoting=csv.QUOTE_NONE))


def _by_concept() -> dict[str, dict[str, str]]:
    return {row["concept"]: row for row in load_words()}


# --- the word list -------------------------------------------------------------------------


def test_tsv_has_header_and_at_least_200_complete_rows():
    rows = _raw_rows()
    assert rows[0] == HEADER
    body = rows[1:]
    assert len(body) >= 200
    for row in body:
        assert len(row) == 6, row
        for cell in row:
            assert cell, f"empty cell in {row}"
            assert not re.search(r"\s", cell), f"whitespace in {cell!r} ({row})"
            assert '"' not in cell, f"a quote would break the prompt: {row}"
            assert unicodedata.normalize("NFC", cell) == cell, f"{cell!r} is not NFC"


def test_tsv_has_no_duplicates_in_any_column():
    rows = _raw_rows()[1:]
    for index, name in enumerate(HEADER):
        counts = Counter(row[index].casefold() for row in rows)
        duplicates = sorted(word for word, n in counts.items() if n > 1)
        assert not duplicates, f"column {name} repeats {duplicates}"


def test_tsv_spelling_conventions():
    for row in load_words():
        assert row["concept"] == row["en"], row
        assert row["concept"].isascii() and row["concept"].islower(), row
        assert row["de"][0].isupper(), f"German nouns are capitalized: {row}"
        for code in ("fr", "es", "it"):
            assert row[code] == row[code].lower(), f"{code} is lower case: {row}"


def test_few_words_are_spelt_like_english():
    same = [
        row["concept"]
        for row in load_words()
        if sum(row[code].casefold() == row["en"] for code in ("fr", "de", "es", "it")) >= 2
    ]
    assert not same


def test_load_words_matches_the_file():
    words = load_words()
    rows = _raw_rows()[1:]
    assert len(words) == len(rows)
    assert words[0] == dict(zip(HEADER, rows[0], strict=True))
    assert words[-1] == dict(zip(HEADER, rows[-1], strict=True))
    assert all(list(word) == HEADER for word in words)
    assert set(LANGUAGES) == set(HEADER[1:])


def test_well_known_translations():
    flower = _by_concept()["flower"]
    assert (flower["fr"], flower["de"], flower["es"], flower["it"]) == (
        "fleur",
        "Blume",
        "flor",
        "fiore",
    )
    assert _by_concept()["dog"]["de"] == "Hund"


# --- the prompts ---------------------------------------------------------------------------


def test_zero_shot_prompt_is_exact():
    words = load_words()
    prompts = translation_prompts("fr", "de", shots=0)
    assert len(prompts) == len(words)
    first = words[0]
    assert prompts[0] == {
        "prompt": f'Français: "{first["fr"]}" - Deutsch: "',
        "concept": first["concept"],
        "targets": {"Deutsch": [first["de"]], "English": [first["en"]]},
    }


def test_few_shot_prompt_lines_are_real_translations_of_other_concepts():
    words = _by_concept()
    pairs = {(row["fr"], row["de"]): concept for concept, row in words.items()}
    for item in translation_prompts("fr", "de", shots=4):
        row = words[item["concept"]]
        lines = item["prompt"].split("\n")
        assert len(lines) == 5
        assert lines[-1] == f'Français: "{row["fr"]}" - Deutsch: "'
        assert item["prompt"].endswith('Deutsch: "')
        shown = []
        for line in lines[:-1]:
            match = EXAMPLE.match(line)
            assert match, line
            assert (match[1], match[3]) == ("Français", "Deutsch")
            shown.append(pairs[(match[2], match[4])])
        assert item["concept"] not in shown
        assert len(set(shown)) == len(shown), f"an example repeats: {shown}"
        assert item["targets"] == {"Deutsch": [row["de"]], "English": [row["en"]]}


def test_other_languages_and_latent():
    cat = _by_concept()["cat"]
    item = next(
        p for p in translation_prompts("es", "it", latent="fr", shots=1) if p["concept"] == "cat"
    )
    example, question = item["prompt"].split("\n")
    assert re.match(r'^Español: "[^"]+" - Italiano: "[^"]+"$', example)
    assert question == f'Español: "{cat["es"]}" - Italiano: "'
    assert item["targets"] == {"Italiano": [cat["it"]], "Français": [cat["fr"]]}
    # English can be the source language too, with another latent language.
    item = translation_prompts("en", "de", latent="fr", shots=0)[0]
    assert item["prompt"].startswith('English: "')


def test_same_seed_same_prompts_other_seed_other_prompts():
    first = translation_prompts(seed=3)
    assert translation_prompts(seed=3) == first
    other = translation_prompts(seed=4)
    assert [p["concept"] for p in other] == [p["concept"] for p in first]
    changed = sum(a["prompt"] != b["prompt"] for a, b in zip(first, other, strict=True))
    assert changed > len(first) // 2


def test_limit_keeps_the_first_prompts_unchanged():
    everything = translation_prompts("de", "fr", shots=3)
    assert translation_prompts("de", "fr", shots=3, limit=7) == everything[:7]
    assert translation_prompts(limit=0) == []


def test_every_other_concept_can_be_an_example():
    words = load_words()
    item = translation_prompts(shots=len(words) - 1, limit=1)[0]
    assert item["prompt"].count("\n") == len(words) - 1


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"source": "xx"}, "unknown source language 'xx'"),
        ({"target": "pt"}, "unknown target language 'pt'"),
        ({"latent": "English"}, "unknown latent language 'English'"),
        ({"source": "de", "target": "de"}, "source and target are both 'de'"),
        ({"target": "en", "latent": "en"}, "latent and target are both 'en'"),
        ({"shots": -1}, "shots must be a non-negative integer"),
        ({"shots": 2.0}, "shots must be a non-negative integer"),
        ({"shots": True}, "shots must be a non-negative integer"),
        ({"shots": 100_000}, "too many"),
        ({"limit": -1}, "limit must be a non-negative integer"),
        ({"seed": "0"}, "seed must be an integer"),
    ],
)
def test_bad_arguments_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)) as caught:
        translation_prompts(**kwargs)
    if "unknown" in message:
        for code in LANGUAGES:
            assert repr(code) in str(caught.value)


# --- dropping prompts whose target and latent words overlap ---------------------------------


@pytest.fixture(scope="module")
def smollm2_tokenizer(request):
    """SmolLM2's tokenizer: from the converted cache when present, else via the model."""
    from logitlenskit.core.models import cache_dir

    folder = cache_dir() / "smollm2-135m"
    if (folder / "config.json").exists():
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(folder)
    return request.getfixturevalue("smollm2").tokenizer


def _first_tokens(word, tokenizer) -> set[int]:
    from nnterp.prompt_utils import get_first_tokens

    return set(get_first_tokens(word, tokenizer))


def _row(en: str, fr: str, de: str) -> dict[str, str]:
    return {"concept": en, "en": en, "fr": fr, "de": de, "es": fr, "it": fr}


def test_constructed_overlaps_are_dropped(monkeypatch, smollm2_tokenizer):
    tok = smollm2_tokenizer
    # "botella" is not German, but shares its first token ("bot") with "bottle".
    assert _first_tokens("botella", tok) & _first_tokens("bottle", tok)
    # "Wind" and "wind" share no first token, yet are the same word.
    assert not _first_tokens("Wind", tok) & _first_tokens("wind", tok)
    assert not _first_tokens("Blume", tok) & _first_tokens("flower", tok)
    assert not _first_tokens("Katze", tok) & _first_tokens("cat", tok)
    rows = [
        _row("bottle", "bouteille", "botella"),
        _row("flower", "fleur", "Blume"),
        _row("wind", "vent", "Wind"),
        _row("cat", "chat", "Katze"),
    ]
    monkeypatch.setattr(datasets, "load_words", lambda: rows)
    assert [p["concept"] for p in translation_prompts(shots=1)] == [
        "bottle",
        "flower",
        "wind",
        "cat",
    ]
    kept = translation_prompts(shots=1, tokenizer=tok)
    assert [p["concept"] for p in kept] == ["flower", "cat"]
    # Dropped concepts still serve as examples.
    shown = {
        line.split('"')[1]
        for p in translation_prompts(shots=3, tokenizer=tok)
        for line in p["prompt"].split("\n")[:-1]
    }
    assert {"bouteille", "vent"} <= shown


@pytest.mark.parametrize(("source", "target"), [("fr", "de"), ("de", "fr"), ("fr", "es")])
def test_shipped_words_filtered_by_first_tokens(smollm2_tokenizer, source, target):
    tok = smollm2_tokenizer
    words = _by_concept()
    kept = translation_prompts(source, target, tokenizer=tok)
    kept_concepts = {p["concept"] for p in kept}
    for concept, row in words.items():
        same = row[target].casefold() == row["en"].casefold()
        overlap = bool(_first_tokens(row[target], tok) & _first_tokens(row["en"], tok))
        assert (concept in kept_concepts) == (not same and not overlap), (concept, row)
    # Most of the list survives: the filter is not dropping everything.
    assert len(kept) >= 0.8 * len(words)
    # The unfiltered prompts of the kept concepts are unchanged by the filter.
    unfiltered = {p["concept"]: p for p in translation_prompts(source, target)}
    assert all(p == unfiltered[p["concept"]] for p in kept)


def test_known_cases_on_shipped_words(smollm2_tokenizer):
    kept = {p["concept"] for p in translation_prompts("fr", "de", tokenizer=smollm2_tokenizer)}
    assert {"flower", "dog", "cat", "house"} <= kept
    assert not {"hand", "wind", "winter"} & kept  # German spells them like English
    kept = {p["concept"] for p in translation_prompts("fr", "es", tokenizer=smollm2_tokenizer)}
    assert "bottle" not in kept  # botella / bottle: first token "bot"
    assert "flower" in kept
