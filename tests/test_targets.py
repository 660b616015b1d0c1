"""Targets: words to token ids, and the errors a user gets for what cannot be a target."""

from __future__ import annotations

import itertools

import pytest

from logitlenskit.core.targets import MAX_TARGETS, Target, resolve_targets, word_tokens

pytestmark = pytest.mark.slow  # needs the embedded model's tokenizer


@pytest.fixture(scope="module")
def tok(smollm2):
    return smollm2.tokenizer


def _first(tok, text):
    return tok(text, add_special_tokens=False).input_ids[0]


def test_a_word_counts_the_first_token_of_each_spelling(tok):
    ids = word_tokens("Paris", tok)
    for spelling in ("Paris", " Paris", "paris", " paris"):
        assert _first(tok, spelling) in ids, spelling
    assert word_tokens(" Paris", tok) == ids  # a leading space changes nothing
    assert set(word_tokens("Paris", tok, case_variants=False)) == {
        _first(tok, "Paris"),
        _first(tok, " Paris"),
    }


def test_one_letter_prefixes_of_other_spellings_do_not_count(tok):
    # "london" starts with the one-letter token "l" on this tokenizer: counting it would
    # count every word that starts with l.
    assert len(tok.decode([_first(tok, "london")]).strip()) == 1
    ids = word_tokens("London", tok)
    assert _first(tok, "london") not in ids
    assert _first(tok, " London") in ids


def test_resolve_names_sets_ids_and_order(tok):
    targets = resolve_targets(
        {"capital": "Paris", "other": ["London", 42], "id": 7}, tok, vocab_size=49152
    )
    assert [t.name for t in targets] == ["capital", "other", "id"]
    assert targets[2].ids == (7,)
    assert 42 in targets[1].ids and set(word_tokens("London", tok)) <= set(targets[1].ids)
    assert list(targets[0].ids) == sorted(set(targets[0].ids))
    # A list names each target after itself; a Target passes through.
    named = resolve_targets(["Rome", Target("mine", (5, 3))], tok, vocab_size=49152)
    assert [t.name for t in named] == ["Rome", "mine"]
    assert named[1].ids == (3, 5)
    assert resolve_targets(None, tok, 10) == []


@pytest.mark.parametrize(
    ("spec", "error", "message"),
    [
        ({"a": []}, ValueError, "empty list"),
        ({"a": 10**6}, ValueError, "outside the vocabulary"),
        ({"a": -1}, ValueError, "outside the vocabulary"),
        ({"a": "  "}, ValueError, "is empty"),
        ({"a": 1.5}, TypeError, "token id, a word"),
        ({"a": [True]}, TypeError, "not a token id or a word"),
        (["Paris", "Paris"], ValueError, "must be unique"),
        ([str(i) for i in range(MAX_TARGETS + 1)], ValueError, f"at most {MAX_TARGETS}"),
    ],
)
def test_bad_targets_are_refused_with_the_reason(tok, spec, error, message):
    with pytest.raises(error, match=message):
        resolve_targets(spec, tok, vocab_size=49152)


def test_suggestions_rank_tokens_by_their_peak_at_any_layer(smollm2):
    import numpy as np

    from logitlenskit import collect_logit_lens
    from logitlenskit.core.targets import suggest_targets

    data = collect_logit_lens("The capital of France is", smollm2, k=3)
    found = suggest_targets(data, position=-1, n=5)
    probs = data["probs"][-1].numpy()
    ids = data["tracked"][-1].tolist()
    peaks = probs.max(axis=0)
    want = [ids[j] for j in np.argsort(-peaks, kind="stable")[:5]]
    assert [f["id"] for f in found] == want
    top = found[0]
    assert top["peak"] == pytest.approx(float(peaks.max()))
    assert top["layer"] == data["layers"][int(probs[:, ids.index(top["id"])].argmax())]
    assert top["token"] == data["vocab"][top["id"]]
    assert all(a["peak"] >= b["peak"] for a, b in itertools.pairwise(found))
