"""Fitting on text the model writes, and the reliability meter (issue 21).

A fit on model-written text reads every layer's states in the sampling pass itself, with
no second pass over the text. These tests check those states against a plain forward over
the written rows, that each row feeds the part of the fit it was drawn for (fitting,
validation, held out), and the meter's KL and top-1 against float64.
"""

from __future__ import annotations

import pytest
import torch

from logitlenskit.analyses.lens_fit import LeastSquares, fit_lens
from logitlenskit.analyses.lens_reliability import Meter, measure
from logitlenskit.analyses.lens_text import LensData, draw, read_states, sample_text
from logitlenskit.core.lenses import LinearShortcut
from logitlenskit.core.readout import LOGIT_LENS


def test_states_read_while_sampling_equal_a_forward_over_the_text(tiny_llama):
    # 70 rows of 96: a full batch of 64 (read in two blocks of ~4,096 tokens) and one of 6.
    blocks: list[tuple[int, int, torch.Tensor]] = []
    read = dict(seq_len=96, seed=3, batch=64)
    ids = sample_text(tiny_llama, 70 * 96, **read, on_states=lambda *block: blocks.append(block))
    assert torch.equal(ids, sample_text(tiny_llama, 70 * 96, **read))
    assert len(blocks) == 3 and {first_row for first_row, _, _ in blocks} == {0, 64}
    want = read_states(tiny_llama, ids)  # [L, rows, positions, d]
    got = torch.full_like(want, float("nan"))
    for first_row, first_position, states in blocks:
        rows = slice(first_row, first_row + states.shape[1])
        positions = slice(first_position, first_position + states.shape[2])
        assert got[:, rows, positions].isnan().all(), "a state arrived twice"
        got[:, rows, positions] = states
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-4)


def test_each_written_row_feeds_its_part_of_the_fit(tiny_llama):
    seq_len, seed, heldout = 16, 5, 30
    lens = fit_lens(
        tiny_llama,
        "linear",
        tokens=20 * seq_len,
        seq_len=seq_len,
        heldout_tokens=heldout,
        seed=seed,
    )
    rows = sample_text(tiny_llama, 20 * seq_len, seq_len=seq_len, seed=seed)
    held, _, fit = LensData.split(len(rows), seq_len, seed, heldout)
    assert lens.info["generated_text"] is True
    assert lens.info["tokens"] == len(fit) * (seq_len - 1)
    assert lens.info["heldout_tokens"] == len(held) * (seq_len - 1)
    sums = LeastSquares(3, 64)
    sums.add(read_states(tiny_llama, rows[fit])[:, :, 1:].reshape(3, -1, 64))
    weight, bias = sums.solve()
    torch.testing.assert_close(lens.readout.weight, weight, rtol=1e-3, atol=1e-4)
    torch.testing.assert_close(lens.readout.bias, bias, rtol=1e-3, atol=1e-4)
    want = measure(tiny_llama, {"lens": lens.readout}, [rows[i] for i in held])["lens"]
    got = lens.reliability["linear shortcut"]
    assert got["tokens"] == want["tokens"]
    assert got["kl"] == pytest.approx(want["kl"], rel=1e-3, abs=1e-5)


def test_draw_samples_the_softmax():
    # 600 entries (the last block padded), a third of them impossible, the rest spread over
    # six orders of magnitude; 100,000 draws against the float64 softmax by chi-square.
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(600, generator=generator) * 3
    logits[::3] = float("-inf")
    drawn = torch.cat([draw(logits.repeat(2000, 1), generator) for _ in range(50)]).flatten()
    counts = torch.bincount(drawn, minlength=600).double()
    assert counts[::3].sum() == 0, "an entry of probability 0 was drawn"
    expected = torch.softmax(logits.double(), -1) * len(drawn)
    bins = expected >= 5
    chi2 = float(((counts[bins] - expected[bins]) ** 2 / expected[bins]).sum())
    dof = int(bins.sum()) - 1
    assert chi2 < dof + 5 * (2 * dof) ** 0.5, f"chi-square {chi2:.0f} on {dof} degrees of freedom"


def test_too_little_text_to_write_is_refused(tiny_llama):
    with pytest.raises(ValueError, match="tokens must be at least 6"):
        fit_lens(tiny_llama, "linear", tokens=5)


def test_the_meter_equals_float64(tiny_llama, float64_lens):
    ids = sample_text(tiny_llama, 4 * 32, seq_len=32, seed=1)
    states = read_states(tiny_llama, ids)[:, :, 1:].reshape(3, -1, 64)  # [L, 124, d]
    generator = torch.Generator().manual_seed(2)
    shifted = LinearShortcut(
        torch.eye(64).repeat(3, 1, 1) + 0.3 * torch.randn(3, 64, 64, generator=generator),
        torch.randn(3, 64, generator=generator),
    )
    meter = Meter(tiny_llama, {"logit": LOGIT_LENS, "shifted": shifted})
    meter.add(states[:, :50])  # two batches sum to one
    meter.add(states[:, 50:])
    got = meter.result()
    hf = tiny_llama._model
    final = float64_lens([states[-1]], hf.model.norm, hf.lm_head, None)[0]
    for name, mapped in (
        ("logit", list(states)),
        (
            "shifted",
            [s @ w.T + b for s, w, b in zip(states, shifted.weight, shifted.bias, strict=True)],
        ),
    ):
        lens = float64_lens(mapped, hf.model.norm, hf.lm_head, None)
        kl = (final.exp() * (final - lens)).sum(-1).mean(-1)
        top1 = (lens.argmax(-1) == final.argmax(-1)).double().mean(-1)
        assert got[name]["kl"] == pytest.approx(kl.tolist(), rel=1e-4, abs=2e-5), name
        assert got[name]["top1"] == pytest.approx(top1.tolist(), abs=1.5 / 124), name
        assert got[name]["tokens"] == [124]
    assert got["logit"]["kl"][-1] == 0.0 and got["logit"]["top1"][-1] == 1.0
