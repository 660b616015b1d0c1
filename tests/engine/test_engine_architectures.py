"""Every MODEL_CONFIGS family on a tiny random model built from its transformers config."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import torch
import transformers as tf
from nnsight import LanguageModel

from logitlenskit.architectures import (
    MODEL_ALIASES,
    MODEL_CONFIGS,
    apply_module_or_callable,
    detect_model_type,
    get_model_config,
    resolve_accessor,
)
from logitlenskit.collect import collect_logit_lens, collect_logit_lens_topk_efficient

VOCAB = 49152  # the SmolLM2 tokenizer's, reused by every tiny model
SMALL = dict(
    vocab_size=VOCAB,
    hidden_size=64,
    intermediate_size=96,
    num_hidden_layers=3,
    num_attention_heads=4,
    max_position_embeddings=256,
)
GQA = dict(SMALL, num_key_value_heads=2)

BUILDERS: dict[str, Callable[[], Any]] = {
    "llama": lambda: tf.LlamaConfig(**GQA),
    "mistral": lambda: tf.MistralConfig(**GQA),
    "mixtral": lambda: tf.MixtralConfig(**GQA, num_local_experts=2, num_experts_per_tok=1),
    "qwen2": lambda: tf.Qwen2Config(**GQA),
    "qwen3": lambda: tf.Qwen3Config(**GQA, head_dim=16),
    "olmo": lambda: tf.OlmoConfig(**GQA),
    "olmo2": lambda: tf.Olmo2Config(**GQA),
    "phi": lambda: tf.PhiConfig(**SMALL),
    "phi3": lambda: tf.Phi3Config(**GQA, pad_token_id=0),
    "gemma": lambda: tf.GemmaConfig(**GQA, head_dim=16),
    "gemma2": lambda: tf.Gemma2Config(**GQA, head_dim=16),  # final_logit_softcapping=30
    "gemma3_text": lambda: tf.Gemma3TextConfig(**GQA, head_dim=16, sliding_window=8),
    "gpt2": lambda: tf.GPT2Config(
        vocab_size=VOCAB, n_embd=64, n_layer=3, n_head=4, n_positions=256
    ),
    "gptj": lambda: tf.GPTJConfig(
        vocab_size=VOCAB, n_embd=64, n_layer=3, n_head=4, rotary_dim=8, n_positions=256
    ),
    "gpt_neox": lambda: tf.GPTNeoXConfig(**SMALL),
}

PROMPT = "Tiny models 🍕 see the the same words. Ünïcödé 東京"


def _tiny(model_type: str, tokenizer: Any) -> LanguageModel:
    config = BUILDERS[model_type]()
    config.initializer_range = 0.5  # peaked lens distributions, not near-uniform ties
    torch.manual_seed(0)
    hf = tf.AutoModelForCausalLM.from_config(config, dtype=torch.float32).eval()
    return LanguageModel(hf, tokenizer=tokenizer)


@pytest.fixture(scope="module")
def tiny_models(smol_tokenizer) -> dict[str, LanguageModel]:
    return {name: _tiny(name, smol_tokenizer) for name in BUILDERS}


def test_every_family_has_a_tiny_model():
    assert set(MODEL_CONFIGS) <= set(BUILDERS), "add a tiny config for each registered family"


@pytest.mark.parametrize("model_type", sorted(MODEL_CONFIGS))
def test_family_matches_reference(model_type, tiny_models, reference, check_reference):
    model = tiny_models[model_type]
    assert detect_model_type(model) == model_type
    cfg = get_model_config(model)
    hf = model._model
    layers = resolve_accessor(hf, cfg["layers"])
    norm = resolve_accessor(hf, cfg["norm"])
    head = resolve_accessor(hf, cfg["lm_head"])
    data = collect_logit_lens_topk_efficient(
        PROMPT, model, top_k=4, track_across_layers=True, remote=False, layers=[0, -1, 1]
    )
    as_collection = {
        "topk": data["top_indices"],
        "topk_probs": data["top_probs"],
        "tracked": data["tracked_indices"],
        "probs": data["tracked_probs"],
    }
    ref_lp, logits = reference(hf, layers, norm, head, data["input_ids"], data["layers"])
    check_reference(as_collection, ref_lp)
    # Last lens row (layer -1) reproduces the model's own output distribution.
    own = logits.double().softmax(-1)
    last = data["top_probs"][1].double() - own.gather(-1, data["top_indices"][1].long())
    assert last.abs().max().item() <= 1e-5
    assert data["top_probs"][1, :, 0].min() > 0.01, "tiny model should be peaked"


def test_softcap_is_applied(tiny_models):
    assert tiny_models["gemma2"]._model.config.final_logit_softcapping == 30.0


def test_collect_logit_lens_accepts_registry_models(tiny_models):
    data = collect_logit_lens(PROMPT, tiny_models["gpt2"], k=3, remote=False)
    assert data["topk"].shape == (3, len(data["input_ids"]), 3)


def test_registered_callables_give_same_result(tiny_models):
    """A custom entry using each accessor form reproduces the built-in llama entry."""
    model = tiny_models["llama"]
    MODEL_CONFIGS["custom_llama"] = {
        "layers": lambda m: m.model.layers,  # fn(model) → module list
        "norm": lambda m, hidden: m.model.norm(hidden),  # fn(model, hidden)
        "lm_head": lambda m: m.lm_head,  # fn(model) → module
        "n_layers": "config.num_hidden_layers",
    }
    try:
        custom = collect_logit_lens_topk_efficient(
            PROMPT, model, top_k=3, remote=False, model_type="custom_llama"
        )
    finally:
        del MODEL_CONFIGS["custom_llama"]
    builtin = collect_logit_lens_topk_efficient(PROMPT, model, top_k=3, remote=False)
    assert torch.equal(custom["top_indices"], builtin["top_indices"])
    assert torch.equal(custom["top_probs"], builtin["top_probs"])


def test_apply_module_or_callable_forms(tiny_models):
    hf = tiny_models["llama"]._model
    h = torch.randn(2, 64)
    want = hf.lm_head(h)
    forms = [
        "lm_head",
        lambda m, x: m.lm_head(x),
        lambda m: m.lm_head,
        lambda m: m.lm_head.weight.T,
    ]
    for form in forms:
        assert torch.allclose(apply_module_or_callable(hf, form, h), want, atol=1e-5)


def test_aliases_point_at_registered_types():
    assert set(MODEL_ALIASES.values()) <= set(MODEL_CONFIGS)
    assert MODEL_ALIASES["pythia"] == "gpt_neox"


def test_unknown_architecture_message(tiny_models):
    with pytest.raises(ValueError) as err:
        collect_logit_lens_topk_efficient(
            PROMPT, tiny_models["llama"], remote=False, model_type="mamba"
        )
    message = str(err.value)
    assert "mamba" in message and "llama" in message and "gpt_neox" in message
    assert "MODEL_CONFIGS['my_type']" in message


@pytest.mark.parametrize("model_type", ["gpt2", "gemma2", "phi"])
def test_live_session_on_registry_models(model_type, tiny_models):
    """The widget's session (cache, tracking, deeper top-k) on LanguageModel families,
    softcapped (gemma2) and with an unembedding bias (phi) included.
    """
    from logitlenskit import session

    model = tiny_models[model_type]
    run = session.start_run(model, PROMPT, k=3, layers=[0, -1])
    data = collect_logit_lens(PROMPT, model, k=3, layers=[0, -1], remote=False, track=[77])
    assert torch.equal(torch.as_tensor(run.result["topk"]), data["topk"])
    session.track(run, [77])
    for p in range(len(data["input"])):
        mine = run.result["probs"][p][:, list(run.result["tracked"][p]).index(77)]
        theirs = data["probs"][p][:, data["tracked"][p].tolist().index(77)].numpy()
        assert abs(mine - theirs).max() <= 1e-5
    ids, probs = session.detail(run, 1, 2, 10)
    top = data["topk"][1, 2].tolist()
    assert ids[:3] == top and abs(probs[:3, 1] - data["topk_probs"][1, 2].numpy()).max() <= 1e-5
