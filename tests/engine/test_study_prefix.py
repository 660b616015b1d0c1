"""A study batch whose prompts share a token prefix runs it once: the same numbers as the full
batch (float32 noise), the prefix pass really taken once, and the edge cases of the cut."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import pytest

from logitlenskit.analyses.datasets import translation_prompts
from logitlenskit.analyses.study_batch import MIN_SAVED_POSITIONS, shared_prefix, trace_batch
from logitlenskit.core.prefix import shared_length

pytestmark = pytest.mark.slow

LAYERS = list(range(30))
ATOL = 5e-5


def _targets(model: Any, data: list[dict[str, Any]]) -> list[list[list[int]]]:
    """Per target language, per prompt, the answer word's first token."""
    names = list(data[0]["targets"])
    tok = model.tokenizer
    return [[[tok.encode(item["targets"][name][0])[0]] for item in data] for name in names]


def _shared_shot_items(model: Any, n: int) -> list[dict[str, Any]]:
    """``n`` prompts sharing a four-shot block, with answers of different token lengths."""
    data = translation_prompts("fr", "de", shots=4, shared_shots=True, tokenizer=model.tokenizer)
    lengths: dict[int, dict[str, Any]] = {}
    for item in data:  # one prompt per suffix length first, so the suffixes' padding varies
        lengths.setdefault(len(model.tokenizer.encode(item["prompt"])), item)
    chosen = list(lengths.values())
    return (chosen + [item for item in data if item not in chosen])[:n]


@contextmanager
def _first_layer_shapes(model: Any) -> Iterator[list[tuple[int, int]]]:
    """The ``[batch, positions]`` of every input the first decoder layer sees."""
    seen: list[tuple[int, int]] = []
    layer = model._model.model.layers[0]
    handle = layer.register_forward_pre_hook(
        lambda _m, args, kwargs: seen.append(
            tuple((args[0] if args else kwargs["hidden_states"]).shape[:2])
        ),
        with_kwargs=True,
    )
    try:
        yield seen
    finally:
        handle.remove()


def _rank_bounds(
    model: Any, reference: Any, prompt: str, layer: int, ids: list[int]
) -> tuple[int, int]:
    """The ranks a float64 reference allows the target, counting logits tied within ATOL."""
    hf = model._model
    ids_all = model.tokenizer.encode(prompt)
    lp, _ = reference(hf, hf.model.layers, hf.model.norm, hf.lm_head, ids_all, [layer])
    row = lp[0, -1]
    best = row[ids].max()
    return int((row > best + ATOL).sum()) + 1, int((row > best - ATOL).sum()) + 1


def _assert_same_numbers(
    model: Any, reference: Any, prompts: list[str], targets: list[list[list[int]]]
) -> None:
    reused = trace_batch(model, prompts, LAYERS, targets, False)
    full = trace_batch(model, prompts, LAYERS, targets, False, reuse_prefix=False)
    assert reused.keys() == full.keys()
    for name in ("kl", "entropy", "target_logprobs"):
        np.testing.assert_allclose(reused[name], full[name], rtol=0, atol=ATOL, err_msg=name)
    np.testing.assert_array_equal(reused["invalid"], full["invalid"])
    assert not full["invalid"].any()
    # Ranks are equal but where the target ties another token within float32 noise.
    for t, layer, b in zip(
        *np.nonzero(reused["target_ranks"] != full["target_ranks"]), strict=True
    ):
        low, high = _rank_bounds(model, reference, prompts[b], LAYERS[layer], targets[t][b])
        for ranks in (reused, full):
            assert low <= ranks["target_ranks"][t, layer, b] <= high, (t, layer, b)


def test_a_shared_few_shot_prefix_gives_the_full_batch_numbers(smollm2, reference):
    data = _shared_shot_items(smollm2, 6)
    prompts = [item["prompt"] for item in data]
    encoded = [smollm2.tokenizer.encode(p) for p in prompts]
    assert len({len(ids) for ids in encoded}) > 1, "suffixes of different lengths"
    assert shared_prefix(encoded) >= 70  # the four-shot block, not just 'Français: "'
    _assert_same_numbers(smollm2, reference, prompts, _targets(smollm2, data))


def test_the_prefix_runs_once_and_the_suffixes_after_it(smollm2):
    data = _shared_shot_items(smollm2, 5)
    prompts = [item["prompt"] for item in data]
    encoded = [smollm2.tokenizer.encode(p) for p in prompts]
    p = shared_prefix(encoded)
    suffix = max(len(ids) for ids in encoded) - p
    with _first_layer_shapes(smollm2) as seen:
        trace_batch(smollm2, prompts, LAYERS, _targets(smollm2, data), False)
    assert seen == [(1, p), (5, suffix)]
    with _first_layer_shapes(smollm2) as seen:
        trace_batch(smollm2, prompts, LAYERS, _targets(smollm2, data), False, reuse_prefix=False)
    assert seen == [(5, p + suffix)]


def test_a_batch_without_a_shared_prefix_is_one_padded_pass(smollm2):
    prompts = ["The capital of France is", "Berlin is in", "Two plus two makes", "Le chat"]
    encoded = [smollm2.tokenizer.encode(p) for p in prompts]
    assert shared_prefix(encoded) == 0
    with _first_layer_shapes(smollm2) as seen:
        out = trace_batch(smollm2, prompts, LAYERS, [], False)
    assert seen == [(4, max(map(len, encoded)))]
    full = trace_batch(smollm2, prompts, LAYERS, [], False, reuse_prefix=False)
    np.testing.assert_array_equal(out["kl"], full["kl"])
    assert np.isfinite(out["entropy"]).all() and not out["invalid"].any()


def test_a_prompt_inside_the_shared_prefix_keeps_its_last_token(smollm2, reference):
    data = _shared_shot_items(smollm2, 4)
    encoded = [smollm2.tokenizer.encode(item["prompt"]) for item in data]
    cut = 40  # mid-way through the block that the other prompts share
    short = smollm2.tokenizer.decode(encoded[0][:cut])
    assert smollm2.tokenizer.encode(short) == encoded[0][:cut], "a clean token boundary"
    prompts = [item["prompt"] for item in data] + [short]
    all_encoded = [*encoded, encoded[0][:cut]]
    assert min(shared_length(encoded[0], ids) for ids in all_encoded) == cut
    assert shared_prefix(all_encoded) == cut - 1  # the short prompt's last token still runs
    targets = [[*t, t[0]] for t in _targets(smollm2, data)]
    with _first_layer_shapes(smollm2) as seen:
        trace_batch(smollm2, prompts, LAYERS, targets, False)
    assert seen[0] == (1, cut - 1)
    _assert_same_numbers(smollm2, reference, prompts, targets)


def test_a_prefix_saving_too_little_runs_the_full_batch(smollm2):
    # Two prompts sharing 'The capital of' save 3 positions: not worth a second pass.
    encoded = [
        smollm2.tokenizer.encode(p) for p in ["The capital of France", "The capital of Peru"]
    ]
    assert shared_length(*encoded) * (len(encoded) - 1) < MIN_SAVED_POSITIONS
    assert shared_prefix(encoded) == 0


def test_shared_shots_give_every_prompt_one_block(smollm2):
    data = translation_prompts("fr", "de", shots=3, seed=5, shared_shots=True)
    blocks = {item["prompt"].rsplit("\n", 1)[0] for item in data}
    assert len(blocks) == 1
    examples = [line.split('"')[1] for line in blocks.pop().split("\n")]
    asked = [item["prompt"].rsplit("\n", 1)[1].split('"')[1] for item in data]
    assert len(examples) == 3 and not set(examples) & set(asked)  # no answer in its prompt
    everything = translation_prompts("fr", "de", shots=3, seed=5)
    assert len(data) == len(everything) - 3
    assert translation_prompts("fr", "de", shots=3, seed=5, shared_shots=True, limit=4) == data[:4]
