"""Fitted lenses (issue 21): the tuned lens and the linear shortcut as readouts, fitting,
the lens folder format (ours and the tuned-lens package's), and every refusal.

Readouts are checked through the capture core (``run_lens``) against a float64 reference
of ``h + A h + b`` (or ``A h + b``) → final norm → unembedding, here and through the strict
NDIF simulation. Fitting runs on a few hundred tokens of text so the file stays quick.
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

import pytest
import torch

from logitlenskit.analyses.lens_fit import LeastSquares, fit_lens
from logitlenskit.analyses.lens_reliability import lens_reliability
from logitlenskit.analyses.lens_resolve import resolve_lens
from logitlenskit.analyses.lens_store import FittedLens, LensMismatchError, load_lens
from logitlenskit.analyses.lens_text import read_states, weights_hash
from logitlenskit.core import lenses
from logitlenskit.core.lens import run_lens
from logitlenskit.core.lenses import LinearShortcut, TunedLens
from logitlenskit.core.options import LensOptions
from logitlenskit.core.readout import LOGIT_LENS
from logitlenskit.core.request import prepare_request

PROMPT = "The capital of France is Paris, and the capital of Germany is"
LAYERS = [2, 10, 20, 29]
DOCS = Path(__file__).resolve().parents[2] / "docs"


def _random_lens(cls: type, n: int, d: int, seed: int = 0) -> Any:
    generator = torch.Generator().manual_seed(seed)
    weight = torch.randn(n, d, d, generator=generator) * 0.02
    if cls is LinearShortcut:
        weight += torch.eye(d)
    return cls(weight, torch.randn(n, d, generator=generator) * 0.1)


def _reference(smollm2: Any, lens: Any, float64_lens: Any) -> torch.Tensor:
    hf = smollm2._model
    hidden = read_states(smollm2, torch.tensor([smollm2.tokenizer(PROMPT)["input_ids"]]))[:, 0]
    rows = []
    for layer in LAYERS:
        h = hidden[layer].double()
        mapped = h @ lens.weight[layer].double().T + lens.bias[layer].double()
        rows.append(h + mapped if lens.residual else mapped)
    return float64_lens(rows, hf.model.norm, hf.get_output_embeddings(), None)


@pytest.mark.parametrize("remote", [False, "local"])
@pytest.mark.parametrize("cls", [TunedLens, LinearShortcut])
def test_a_fitted_lens_through_the_capture_core_equals_float64(
    smollm2, cls, remote, strict_ndif, float64_lens, check_reference
):
    from nnsight import ndif

    # The capture core registers a readout's module for NDIF itself; registering it here
    # too keeps this test about the lens's numbers (and the strict simulation proves the
    # module travels by value).
    ndif.register(lenses)
    lens = _random_lens(cls, 30, 576)
    options = LensOptions(k=5, layers=LAYERS, readout=lens, remote=remote)
    data = run_lens(prepare_request(PROMPT, smollm2, options))
    check_reference(data, _reference(smollm2, lens, float64_lens))


def test_a_sub_layer_row_is_refused_by_name(smollm2):
    lens = TunedLens.identity(30, 576)
    options = LensOptions(layers=[3], sublayers=True, readout=lens)
    with pytest.raises(Exception, match=r"block outputs only.*sublayers=False"):
        run_lens(prepare_request(PROMPT, smollm2, options))


def test_a_lens_over_the_size_limit_refuses_to_travel(monkeypatch):
    lens = TunedLens.identity(4, 32)
    assert pickle.loads(pickle.dumps(lens)).weight.shape == (4, 32, 32)
    monkeypatch.setattr(lenses, "MAX_TRAVEL_BYTES", 1024)
    with pytest.raises(ValueError, match=r"over the 0 MiB that may travel with an NDIF request"):
        pickle.dumps(lens)


def test_bad_weights_are_refused_with_the_field():
    weight = torch.zeros(3, 8, 8)
    weight[1, 2, 3] = float("nan")
    with pytest.raises(ValueError, match=r"weight in x\.pt holds NaN or Inf \(first at layer 1\)"):
        TunedLens(weight, torch.zeros(3, 8), source="x.pt")
    with pytest.raises(ValueError, match="bias has shape \\(3, 7\\)"):
        TunedLens(torch.zeros(3, 8, 8), torch.zeros(3, 7))


def _doc_text() -> list[str]:
    return [(DOCS / name).read_text(encoding="utf-8")[:6000] for name in ("architecture.md",)]


def test_least_squares_equals_float64_lstsq(smollm2):
    ids = smollm2.tokenizer(_doc_text()[0])["input_ids"][:401]
    states = read_states(smollm2, torch.tensor([ids]))[:, 0, 1:]  # [L, 400, d]
    fit = LeastSquares(30, 576, ridge=1e-3)
    fit.add(states[:, :150])
    fit.add(states[:, 150:])  # sums over two batches = one pass over all tokens
    weight, bias = fit.solve()
    assert torch.equal(weight[-1], torch.eye(576)) and not bias[-1].any()
    target = states[-1].double()
    for layer in (0, 28):
        x = torch.cat([states[layer].double(), torch.ones(400, 1, dtype=torch.float64)], 1)
        # The ridge problem as ordinary least squares: sqrt(λ)·I rows under X, zeros under Y.
        penalty = torch.cat([torch.eye(576), torch.zeros(576, 1)], 1).double()
        penalty *= fit.penalty(layer) ** 0.5
        a = torch.cat([x, penalty])
        y = torch.cat([target, torch.zeros(576, 576, dtype=torch.float64)])
        want = torch.linalg.lstsq(a, y, driver="gelsd").solution
        got = torch.cat([weight[layer].T, bias[layer][None]]).double()
        error = (got - want).norm() / want.norm()
        assert error < 1e-5, f"layer {layer}: relative error {error:.2e}"


@pytest.fixture(scope="module")
def fitted(smollm2, tiny_llama) -> dict[str, FittedLens]:
    # The linear shortcut on the real model and a few hundred tokens; the tuned lens's
    # refinement (a decoder pass per layer and token, forward and backward) on the tiny
    # Llama, where it costs a tenth: the file must stay within about a minute of CPU.
    text = [(DOCS / "architecture.md").read_text(encoding="utf-8")[:3000]]
    common = dict(seq_len=64, heldout_tokens=63, seed=0)
    return {
        "linear": fit_lens(smollm2, "linear", text, **common),
        "tuned": fit_lens(
            tiny_llama, "tuned", text, steps=2, budget_s=None, batch_tokens=16, **common
        ),
    }


def test_fitting_reports_reliability_per_layer(smollm2, fitted):
    linear, tuned = fitted["linear"], fitted["tuned"]
    rel = linear.reliability
    assert set(rel) == {"logit lens", "linear shortcut"}
    assert all(len(rel[name]["kl"]) == 30 and len(rel[name]["top1"]) == 30 for name in rel)
    # The model's own output at the last layer, whatever the lens.
    assert rel["logit lens"]["kl"][-1] == pytest.approx(0.0, abs=1e-5)
    assert rel["linear shortcut"]["top1"][-1] == 1.0
    # Even on a few hundred tokens the shortcut beats the logit lens in the middle layers.
    middle = range(8, 23)
    assert sum(rel["linear shortcut"]["kl"][i] for i in middle) < sum(
        rel["logit lens"]["kl"][i] for i in middle
    )
    assert tuned.info["steps"] == 2
    t, s = tuned.reliability["tuned lens"]["kl"], tuned.reliability["linear shortcut"]["kl"]
    kept = set(tuned.info["kept_least_squares"])
    for layer in range(2):  # lower than the shortcut, or its least-squares map kept
        assert t[layer] < s[layer] or (layer in kept and t[layer] == pytest.approx(s[layer]))
    # The same numbers from the public measure, on the same held-out rows' text.
    assert lens_reliability(smollm2, linear.readout, rows=[torch.tensor([1, 2])])["tokens"] == [1]


def test_save_load_and_the_weights_hash(smollm2, fitted, tmp_path):
    lens = fitted["linear"]
    lens.save(tmp_path / "lin")
    assert isinstance(resolve_lens(str(tmp_path / "lin"), smollm2), LinearShortcut)
    with pytest.raises(ValueError, match="nor an existing lens folder"):
        resolve_lens(str(tmp_path / "nope"), smollm2)
    back = load_lens(tmp_path / "lin", smollm2)
    assert back.kind == "linear" and back.reliability == lens.reliability
    # The folder holds the tuned-lens form A - I: subtracting and adding I back rounds twice,
    # so a weight returns within two float32 ulps of its size (a diagonal near 32 moved 1.9e-6).
    torch.testing.assert_close(back.readout.weight, lens.readout.weight, atol=1e-6, rtol=2.4e-7)
    torch.testing.assert_close(back.readout.bias, lens.readout.bias)
    ours = json.loads((tmp_path / "lin" / "logitlenskit.json").read_text())
    ours["weights_hash"] = "0" * 32
    (tmp_path / "lin" / "logitlenskit.json").write_text(json.dumps(ours))
    with pytest.raises(LensMismatchError, match=r"fitted on other weights .*never applied"):
        load_lens(tmp_path / "lin", smollm2)
    assert resolve_lens(lens, smollm2) is lens.readout


def test_the_hash_follows_the_weights(tiny_llama):
    before = weights_hash(tiny_llama)
    assert weights_hash(tiny_llama) == before
    layer = tiny_llama._model.model.layers[1].mlp.up_proj.weight
    with torch.no_grad():
        layer.mul_(1.01)
        try:
            assert weights_hash(tiny_llama) != before
        finally:
            layer.div_(1.01)


def test_resolve_lens_names_what_it_accepts(smollm2, tiny_llama):
    assert resolve_lens(None, smollm2) is LOGIT_LENS
    assert resolve_lens("logit", smollm2) is LOGIT_LENS
    with pytest.raises(ValueError, match="lens='sideways' is neither a lens name"):
        resolve_lens("sideways", smollm2)
    with pytest.raises(TypeError, match=r"lens must be None, 'logit'.*got int"):
        resolve_lens(3, smollm2)
    with pytest.raises(LensMismatchError, match="width 64, this model's are 576"):
        resolve_lens(TunedLens.identity(3, 64), smollm2)
    with pytest.raises(LensMismatchError, match="maps for 3 layers, this model has 30"):
        resolve_lens(TunedLens.identity(3, 576), smollm2)


# ---------------------------------------------------------------- the tuned-lens format


def _tuned_lens_folder(folder: Path, d: int = 64, n: int = 3) -> dict[str, torch.Tensor]:
    """A folder in the tuned-lens package's format, random translators (written by hand)."""
    generator = torch.Generator().manual_seed(1)
    params = {}
    for i in range(n):
        params[f"{i}.weight"] = torch.randn(d, d, generator=generator) * 0.1
        params[f"{i}.bias"] = torch.randn(d, generator=generator) * 0.1
    folder.mkdir(parents=True, exist_ok=True)
    torch.save(params, folder / "params.pt")
    config = {"base_model_name_or_path": "tiny", "d_model": d, "num_hidden_layers": n}
    (folder / "config.json").write_text(json.dumps({**config, "bias": True}))
    return params


def test_a_tuned_lens_package_folder_equals_its_formula(tiny_llama, tmp_path):
    params = _tuned_lens_folder(tmp_path / "tl")
    lens = load_lens(tmp_path / "tl", tiny_llama, reliability=False).readout
    hf = tiny_llama._model
    h = torch.randn(5, 64, generator=torch.Generator().manual_seed(2))
    for layer in range(2):
        # The package's translator l + 1 reads decoder layer l's output: h + W h + b.
        w, b = params[f"{layer + 1}.weight"].double(), params[f"{layer + 1}.bias"].double()
        want = h.double() + h.double() @ w.T + b
        got = lens.prepare([h], [(layer, 0)])[0]
        torch.testing.assert_close(got.double(), want, atol=1e-5, rtol=0)
    assert torch.equal(lens.prepare([h], [(2, 0)])[0], h), "the last layer is the model's output"
    del hf


def test_the_tuned_lens_package_agrees(tiny_llama, tmp_path):
    """Output equal to tuned-lens 0.2.0's own TunedLens (where that package is installed)."""
    nn_lenses = pytest.importorskip("tuned_lens.nn.lenses")
    hf = tiny_llama._model
    theirs = nn_lenses.TunedLens.from_model(hf)
    generator = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for translator in theirs.layer_translators:
            translator.weight.copy_(torch.randn(64, 64, generator=generator) * 0.1)
            translator.bias.copy_(torch.randn(64, generator=generator) * 0.1)
    theirs.save(tmp_path / "pkg")
    ours = load_lens(tmp_path / "pkg", tiny_llama, reliability=False).readout
    h = torch.randn(2, 7, 64, generator=generator)
    norm, head = hf.model.norm, hf.get_output_embeddings()
    for layer in range(3):
        want = theirs(h, layer + 1) if layer < 2 else head(norm(h))
        got = head(norm(ours.prepare([h], [(layer, 0)])[0]))
        torch.testing.assert_close(got, want, atol=1e-5, rtol=0)
    # And the package reads our folders: a fitted lens saved here loads there.
    FittedLens(ours, "tuned", weights_hash=None, model_name="tiny").save(tmp_path / "ours")
    again = nn_lenses.TunedLens.from_unembed_and_pretrained(theirs.unembed, str(tmp_path / "ours"))
    torch.testing.assert_close(again(h, 1), theirs(h, 1), atol=1e-6, rtol=0)


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda f: (f / "config.json").write_text("{not json"), "config.json is corrupt"),
        (lambda f: (f / "params.pt").write_bytes(b"\x00garbage"), "params.pt is corrupt"),
        (lambda f: _edit_config(f, d_model=32), "field '1.weight' has shape \\(64, 64\\)"),
        (lambda f: _edit_config(f, num_hidden_layers=0), "'num_hidden_layers' must be a pos"),
        (lambda f: _edit_params(f, "2.bias", float("nan")), "params.pt: field '2.bias' holds NaN"),
        (lambda f: _edit_params(f, "1.weight", None), "params.pt: field '1.weight' is missing"),
        (lambda f: (f / "params.pt").unlink(), "params.pt is missing"),
    ],
)
def test_bad_lens_files_are_refused_naming_file_and_field(tiny_llama, tmp_path, damage, message):
    folder = tmp_path / "tl"
    _tuned_lens_folder(folder)
    damage(folder)
    with pytest.raises((ValueError, FileNotFoundError), match=message):
        load_lens(folder, tiny_llama, reliability=False)


def test_a_lens_of_another_width_or_depth_is_refused(tiny_llama, tmp_path):
    _tuned_lens_folder(tmp_path / "wide", d=32)
    with pytest.raises(LensMismatchError, match="width 32, this model's are 64"):
        load_lens(tmp_path / "wide", tiny_llama, reliability=False)
    _tuned_lens_folder(tmp_path / "deep", n=5)
    with pytest.raises(LensMismatchError, match="maps for 5 layers, this model has 3"):
        load_lens(tmp_path / "deep", tiny_llama, reliability=False)


def _edit_config(folder: Path, **fields: Any) -> None:
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, **fields}))


def _edit_params(folder: Path, key: str, value: float | None) -> None:
    params = torch.load(folder / "params.pt")
    if value is None:
        del params[key]
    else:
        params[key][0] = value
    torch.save(params, folder / "params.pt")
