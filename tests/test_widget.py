"""LogitLensWidget on the Python side: data normalization and the prompt → rerun loop."""

from __future__ import annotations

import numpy as np
import pytest

from logitlenskit.base.formats import to_js_format
from logitlenskit.live import side as side_module
from logitlenskit.live import widget as widget_module
from logitlenskit.live.widget import BundleMissingError, LogitLensWidget

PROMPT = "The capital of France is"


@pytest.fixture(scope="module")
def live(smollm2):
    return LogitLensWidget(model=smollm2, prompt=PROMPT, k=3)


def _top1_last(payload: dict) -> str:
    n_layers, n_pos, k = len(payload["layers"]), len(payload["input"]), payload["k"]
    topk = np.frombuffer(payload["topk_ids"], "<i4").reshape(n_layers, n_pos, k)
    return payload["vocab"][str(topk[-1, -1, 0])]


def test_model_and_prompt_fill_the_payload(live, smollm2):
    data = live.data
    assert data["version"] == 3
    assert data["input"] == ["The", " capital", " of", " France", " is"]
    assert data["layers"] == list(range(smollm2.num_layers))
    assert data["k"] == 3
    assert data["num_layers"] == smollm2.num_layers  # the view marks the real final layer
    assert _top1_last(data) == " Paris"
    assert live.editable_prompt and not live.busy and live.error == ""


def test_setting_prompt_from_python_reruns(smollm2):
    w = LogitLensWidget(model=smollm2, prompt=PROMPT)
    states: list[bool] = []
    w.observe(lambda change: states.append(change["new"]), names="busy")
    w.prompt = "The Eiffel Tower is located in the city of"
    assert states == [True, False]
    assert len(w.data["input"]) == 10
    assert w.error == ""


def test_new_data_clears_the_selected_cell(smollm2):
    w = LogitLensWidget(model=smollm2, prompt=PROMPT)
    w.set_state({"selected_cell": {"layer": 29, "position": 4}})  # as the browser sends it
    assert w.selected_cell == {"layer": 29, "position": 4}
    w.prompt = "Hi"
    assert w.selected_cell is None


def test_bad_prompt_keeps_the_view_and_says_why(smollm2):
    w = LogitLensWidget(model=smollm2, prompt=PROMPT)
    before = w.data
    w.prompt = "   "
    assert "empty" in w.error.lower()
    assert w.data == before
    w.prompt = PROMPT + " Paris"
    assert w.error == ""  # a good prompt clears the message


def test_failed_run_keeps_the_view_and_says_why(smollm2, monkeypatch):
    """Not only bad prompts: an NDIF or memory failure must show in the widget too."""
    w = LogitLensWidget(model=smollm2, prompt=PROMPT)
    before = w.data

    def outage(*args, **kwargs):
        raise RuntimeError("NDIF is unreachable")

    monkeypatch.setattr(side_module, "run_options", outage)
    w.prompt = "Something else"
    assert w.error == "RuntimeError: NDIF is unreachable"
    assert w.data == before and not w.busy


def test_v2_json_is_accepted_as_is(smollm2):
    from logitlenskit import collect_logit_lens

    v2 = to_js_format(collect_logit_lens(PROMPT, smollm2, k=2))
    assert LogitLensWidget(v2).data == v2


def test_unrecognized_data_is_refused():
    with pytest.raises(ValueError, match="unrecognized logit-lens data"):
        LogitLensWidget({"cells": []})


def test_v2_like_data_with_a_broken_meta_is_refused_readably():
    with pytest.raises(ValueError, match="unrecognized logit-lens data"):
        LogitLensWidget({"meta": None, "input": ["a"]})


def test_prompt_without_model_is_refused():
    with pytest.raises(ValueError, match="needs a model"):
        LogitLensWidget(prompt=PROMPT)


def test_missing_bundle_says_how_to_build(tmp_path, monkeypatch):
    monkeypatch.setattr(widget_module, "STATIC", tmp_path)
    with pytest.raises(BundleMissingError, match="npm run build"):
        widget_module._bundle_file("widget.js")


def test_shipped_bundle_is_one_self_contained_module():
    esm = LogitLensWidget().get_state()["_esm"]
    # anywidget imports the ESM from a Blob URL, where relative imports cannot resolve.
    assert not [
        line
        for line in esm.splitlines()
        if line.lstrip().startswith("import ") and " from " in line
    ]
    assert "export" in esm


def test_text_repr_says_what_it_shows_and_how_to_keep_it(make_collection):
    # The output's text/plain: what a reopened notebook without widget state, or a viewer
    # without widgets, shows instead of the grid.
    data = make_collection(n_layers=6, n_pos=4)
    for w in (LogitLensWidget(data), LogitLensWidget(to_js_format(data))):
        text = w._repr_mimebundle_()[0]["text/plain"]
        assert text.startswith(f"LogitLensWidget(model={data['model']!r}, 4 positions × 6 layers)")
        assert "Save Widget State Automatically" in text and "show_logit_lens(w)" in text
    assert "no data yet" in repr(LogitLensWidget())
