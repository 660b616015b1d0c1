"""Which lens made the data, and its reliability: carried, checked, shown in titles.

A fitted lens's per-layer reliability becomes the data's per-row ``lens_reliability``
(after-attention rows have none); malformed fields from outside are refused by name.
"""

from __future__ import annotations

import pytest
import torch

from logitlenskit import InvalidDataError, collect_logit_lens, to_widget_payload
from logitlenskit.analyses.lens_store import FittedLens
from logitlenskit.analyses.lens_text import weights_hash
from logitlenskit.base.lens_fields import check_reliability, rows_reliability
from logitlenskit.core.lenses import LinearShortcut
from logitlenskit.output.figure_data import _from_collection
from logitlenskit.output.figure_text import _title


def _fitted(smollm2) -> FittedLens:
    n, d = 30, 576
    shortcut = LinearShortcut(torch.eye(d).repeat(n, 1, 1), torch.zeros(n, d))
    per_layer = {
        "kl": [float(20 - i / 2) for i in range(n)],
        "top1": [i / n for i in range(n)],
        "tokens": [1234],
    }
    return FittedLens(
        shortcut,
        "linear",
        weights_hash=weights_hash(smollm2),
        model_name="SmolLM2",
        reliability={shortcut.name: per_layer},
    )


def test_a_fitted_lens_brings_its_reliability_per_row(smollm2):
    data = collect_logit_lens(
        "The capital of France is", smollm2, layers=[4, 29], lens=_fitted(smollm2)
    )
    assert data["lens"] == "linear shortcut"
    assert data["lens_reliability"] == {
        "kl": [18.0, 5.5],
        "top1": [4 / 30, 29 / 30],
        "note": "held-out text, 1,234 tokens",
    }
    payload = to_widget_payload(data)
    assert payload["lens"] == "linear shortcut"
    assert payload["lens_reliability"]["kl"] == [18.0, 5.5]


def test_after_attention_rows_have_no_reliability():
    fields = rows_reliability({"kl": [1.0, 2.0], "top1": [0.5, 0.6]}, [1, 1], [1, 0], "x")
    assert fields == {"kl": [None, 2.0], "top1": [None, 0.6], "note": "x"}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"kl": [1.0], "top1": [0.5, 0.5]}, r"lens_reliability\['kl'\] must be a list of 2"),
        ({"kl": [1.0, -1.0], "top1": [0.5, 0.5]}, r"\['kl'\]\[1\] is -1.0"),
        ({"kl": [1.0, float("nan")], "top1": [0.5, 0.5]}, r"\['kl'\]\[1\] is NaN"),
        ({"kl": [1.0, 1.0], "top1": [0.5, 1.5]}, r"\['top1'\]\[1\] is 1.5"),
        ({"kl": [1.0, "a"], "top1": [0.5, 0.5]}, r"\['kl'\]\[1\] must be a number or null"),
        ([1, 2], "lens_reliability must be a dict"),
    ],
)
def test_malformed_reliability_is_refused_by_name(value, message):
    with pytest.raises(InvalidDataError, match=message):
        check_reliability(value, 2)


def test_the_lens_is_named_in_figure_titles_and_bad_names_refused(make_collection):
    data = make_collection()
    data["lens"] = "tuned lens"

    class State:
        title = "Paris"

    assert _title(State(), _from_collection(data)) == "Paris — tuned lens"
    data["lens"] = "x" * 101
    with pytest.raises(InvalidDataError, match=r"lens must be a name of 1\.\.100 characters"):
        to_widget_payload(data)


def test_a_study_reads_its_prompts_with_the_lens(smollm2):
    from logitlenskit import collect_study

    prompts = ["The capital of France is", "The capital of Italy is"]
    plain = collect_study(prompts, smollm2, {"Paris": " Paris"}, layers=[4, 29], progress=False)
    fitted = _fitted(smollm2)
    shifted = collect_study(
        prompts, smollm2, {"Paris": " Paris"}, layers=[4, 29], progress=False, lens=fitted
    )
    assert shifted.readout is fitted.readout
    # The identity shortcut decodes every state as the logit lens does.
    assert abs(shifted.values - plain.values).max() < 1e-4
    with pytest.raises(ValueError, match="a Patchscope runs a forward pass per cell"):
        collect_study(prompts, smollm2, {"Paris": " Paris"}, lens="patchscope", run=False)


def test_the_command_line_names_its_lens():
    import subprocess
    import sys

    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "logitlenskit.app.cli",
            "The Colosseum is in",
            "--layers",
            "29",
            "--lens",
            "patchscope",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == "lens: patchscope"
