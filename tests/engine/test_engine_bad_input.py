"""Bad input fails fast, before any tracing, with a message naming the problem."""

from __future__ import annotations

import pytest

from logitlenskit.analyses.collect import collect_logit_lens, collect_logit_lens_topk_efficient


@pytest.mark.parametrize("prompt", ["", "   \n\t "])
def test_empty_prompt(smollm2, prompt):
    with pytest.raises(ValueError, match="empty"):
        collect_logit_lens(prompt, smollm2)


def test_prompt_not_a_string(smollm2):
    with pytest.raises(TypeError, match="prompt must be a str"):
        collect_logit_lens(["The", "cat"], smollm2)


def test_prompt_longer_than_context(smollm2):
    limit = smollm2._model.config.max_position_embeddings
    with pytest.raises(ValueError, match=f"longer than the model's context of {limit}"):
        collect_logit_lens("word " * (limit + 10), smollm2)


@pytest.mark.parametrize("layers", [[30], [-31], [0, 99]])
def test_layer_out_of_range(smollm2, layers):
    with pytest.raises(ValueError, match=r"out of range.*30 layers"):
        collect_logit_lens("Hi there", smollm2, layers=layers)


@pytest.mark.parametrize(
    "layers,error",
    [([], ValueError), (["3"], TypeError), ([1.5], TypeError), ([True], TypeError), (5, TypeError)],
)
def test_layers_malformed(smollm2, layers, error):
    with pytest.raises(error, match="layer"):
        collect_logit_lens("Hi there", smollm2, layers=layers)


@pytest.mark.parametrize(
    "k,error",
    [(0, ValueError), (-3, ValueError), (49153, ValueError), (2.0, TypeError), ("5", TypeError)],
)
def test_k_out_of_range(smollm2, k, error):
    with pytest.raises(error, match="k"):
        collect_logit_lens("Hi there", smollm2, k=k)


def test_k_equal_to_vocabulary_works(smollm2):
    data = collect_logit_lens("Hi", smollm2, k=49152, layers=[-1], remote=False)
    assert data["topk"].shape[-1] == 49152
    # Every value carries at most 0.9% relative codec error, so the sum is within 1%.
    assert abs(data["topk_probs"][0, -1].double().sum().item() - 1) < 0.01


def test_remote_value(smollm2):
    with pytest.raises(ValueError, match="remote must be"):
        collect_logit_lens("Hi there", smollm2, remote="ndif")


def test_not_an_nnsight_model(smollm2):
    with pytest.raises(TypeError, match="StandardizedTransformer"):
        collect_logit_lens("Hi there", smollm2._model)


def test_model_without_tokenizer(smollm2, monkeypatch):
    monkeypatch.setattr(smollm2, "tokenizer", None, raising=False)
    with pytest.raises(TypeError, match="no tokenizer"):
        collect_logit_lens("Hi there", smollm2)


def test_unknown_model_type(smollm2):
    from nnsight import LanguageModel

    lm = LanguageModel(smollm2._model, tokenizer=smollm2.tokenizer)
    with pytest.raises(ValueError, match=r"unknown model type 'rwkv'.*Known types"):
        collect_logit_lens_topk_efficient("Hi there", lm, model_type="rwkv", remote=False)


def test_nothing_traced_on_bad_input(smollm2, monkeypatch):
    """Validation runs before the trace: a bad k never starts the model."""
    monkeypatch.setattr(type(smollm2), "trace", lambda *a, **kw: pytest.fail("traced"))
    with pytest.raises(ValueError):
        collect_logit_lens("Hi there", smollm2, k=0)
