"""Every MODEL_CONFIGS family on a tiny random model built from its transformers config.

The sub-layer tests at the end hold, per family: the point the registry names ("mid") is
the residual after attention (the layer's output is that state plus the MLP branch applied
to it); the lens rows there match a float64 lens of that state; a block-output row equals
the lens of the next layer's input; parallel-attention families are refused with the reason.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import torch
import transformers as tf
from nnsight import LanguageModel

from logitlenskit.analyses.collect import collect_logit_lens, collect_logit_lens_topk_efficient
from logitlenskit.core.architectures import (
    MODEL_ALIASES,
    MODEL_CONFIGS,
    apply_module_or_callable,
    detect_model_type,
    get_model_config,
    resolve_accessor,
)

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
    from logitlenskit.core import session

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


# ---------------------------------------------------------------- sub-layer rows


def _out(value: Any) -> torch.Tensor:
    return value[0] if isinstance(value, tuple) else value


def _mlp_branch(model_type: str, block: Any, x: torch.Tensor) -> torch.Tensor:
    """What the architecture adds to the after-attention residual (transformers' code)."""
    if model_type in ("gemma2", "gemma3_text"):
        return block.post_feedforward_layernorm(_out(block.mlp(block.pre_feedforward_layernorm(x))))
    if model_type == "olmo2":
        return block.post_feedforward_layernorm(_out(block.mlp(x)))
    if model_type == "gpt2":
        return _out(block.mlp(block.ln_2(x)))
    return _out(block.mlp(block.post_attention_layernorm(x)))


def _states(hf, cfg, ids):
    """Plain-torch hooks: each layer's input, its mid point's input, its output."""
    blocks = resolve_accessor(hf, cfg["layers"])
    seen: dict[tuple[str, int], torch.Tensor] = {}
    handles = []
    for i, block in enumerate(blocks):
        handles.append(block.register_forward_pre_hook(
            lambda _m, args, kw, i=i: seen.__setitem__(("in", i), (args[0] if args else kw["hidden_states"])[0]),
            with_kwargs=True,
        ))  # fmt: skip
        handles.append(getattr(block, cfg["mid"]).register_forward_pre_hook(
            lambda _m, args, i=i: seen.__setitem__(("mid", i), args[0][0])
        ))  # fmt: skip
        handles.append(block.register_forward_hook(
            lambda _m, _a, out, i=i: seen.__setitem__(("out", i), _out(out)[0])
        ))  # fmt: skip
    try:
        with torch.no_grad():
            hf(torch.tensor([ids]))
    finally:
        for handle in handles:
            handle.remove()
    return blocks, seen


WITH_MID = sorted(t for t, c in MODEL_CONFIGS.items() if "mid" in c)


@pytest.mark.parametrize("model_type", WITH_MID)
def test_the_mid_point_is_the_residual_after_attention(model_type, tiny_models, float64_lens):
    model = tiny_models[model_type]
    hf, cfg = model._model, get_model_config(model)
    data = collect_logit_lens(PROMPT, model, k=4, layers=[0, 2], sublayers=True, remote=False)
    assert data["layers"] == [0, 0, 2, 2] and data["row_kinds"] == [1, 0, 1, 0]
    blocks, seen = _states(hf, cfg, data["input_ids"])
    for i in (0, 2):
        with torch.no_grad():
            rebuilt = (
                seen[("mid", i)] + _mlp_branch(model_type, blocks[i], seen[("mid", i)][None])[0]
            )
        assert torch.allclose(rebuilt, seen[("out", i)], atol=1e-4), "out = mid + MLP(mid)"
        assert not torch.allclose(seen[("mid", i)], seen[("in", i)]), "attention changed it"
    # Lens rows against a float64 lens of the hooked states: after attention, then output.
    hidden = [seen[("mid", 0)], seen[("out", 0)], seen[("mid", 2)], seen[("out", 2)]]
    norm, head = resolve_accessor(hf, cfg["norm"]), resolve_accessor(hf, cfg["lm_head"])
    softcap = getattr(hf.config, "final_logit_softcapping", None)
    ref = float64_lens(hidden, norm, head, softcap).exp()
    got = data["topk_probs"].double()
    assert (got - ref.gather(-1, data["topk"].long())).abs().max().item() <= 5e-5
    # A block's output is the next block's input.
    nxt = float64_lens([seen[("in", 1)]], norm, head, softcap).exp()[0]
    assert (got[1] - nxt.gather(-1, data["topk"][1].long())).abs().max().item() <= 5e-5


@pytest.mark.parametrize("model_type", sorted(set(MODEL_CONFIGS) - set(WITH_MID)))
def test_parallel_attention_families_are_refused(model_type, tiny_models):
    with pytest.raises(ValueError, match="in parallel"):
        collect_logit_lens(PROMPT, tiny_models[model_type], sublayers=True, remote=False)
