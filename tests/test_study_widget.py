"""StudyWidget without a browser: validation, update(), Stop/Resume handlers."""

from __future__ import annotations

import gc
import weakref
from types import SimpleNamespace

import numpy as np
import pytest
import traitlets

from logitlenskit.live.study_widget import QUANTITY_KINDS, StudyWidget, check_quantities

QS = [
    {"name": "p", "kind": "probability", "label": "p(target)"},
    {"name": "r", "kind": "rank", "label": "rank"},
    {"name": "h", "kind": "entropy", "label": "entropy"},
]
LAYERS = [0, 4, 8, 12]
PROMPTS = ["a", "b", "c", "d", "e"]


def widget(**kw) -> StudyWidget:
    return StudyWidget(LAYERS, PROMPTS, QS, **kw)


def arrays(q=3, n=5, n_layers=4):
    rng = np.random.default_rng(1)
    return rng.random((q, n, n_layers)), rng.random((q, 3, n_layers))


def test_a_new_widget_has_nothing_computed():
    w = widget()
    assert w.shape == (3, 5, 4)
    assert (w.n_done, w.n_total, w.busy, w.error) == (0, 5, False, "")
    values, summary = w.arrays()
    assert values.shape == (3, 5, 4) and np.isnan(values).all()
    assert summary.shape == (3, 3, 4) and np.isnan(summary).all()
    assert w.shown == [] and w.heatmap_quantity == "" and w.selected_prompt is None
    assert w.dark_mode == "auto"
    assert "5 prompts" in repr(w)


def test_every_trait_of_the_contract_is_synced():
    names = set(widget().trait_names(sync=True))
    assert {
        "layers",
        "prompts",
        "quantities",
        "values",
        "summary",
        "n_done",
        "n_total",
        "busy",
        "status",
        "error",
        "shown",
        "heatmap_quantity",
        "selected_prompt",
        "dark_mode",
    } <= names


def test_the_bundle_is_the_study_bundle():
    state = widget().get_state()
    assert "StudyView" in state["_esm"] or "llks" in state["_esm"]
    assert ".llks" in state["_css"] and ".llk " in state["_css"] + " "


def test_a_label_defaults_to_the_name():
    assert check_quantities([{"name": "p", "kind": "kl"}]) == [
        {"name": "p", "kind": "kl", "label": "p"}
    ]


@pytest.mark.parametrize(
    ("quantities", "error", "words"),
    [
        ([*QS, {"name": "p", "kind": "kl", "label": "x"}], ValueError, ["quantities[3]", "'p'"]),
        ([{"name": "p", "kind": "logit", "label": "x"}], ValueError, ["'logit'", "probability"]),
        ([{"name": "", "kind": "kl", "label": "x"}], ValueError, ["quantities[0]['name']"]),
        ([{"name": "p", "kind": "kl", "colour": "red"}], ValueError, ["colour"]),
        (["p"], TypeError, ["quantities[0]", "dict"]),
        ([{"name": 3, "kind": "kl"}], TypeError, ["quantities[0]['name']", "int"]),
        ([{"name": "p"}], TypeError, ["quantities[0]['kind']"]),
        ("p", TypeError, ["quantities must be a list"]),
    ],
)
def test_bad_quantities_are_refused_with_a_clear_message(quantities, error, words):
    with pytest.raises(error) as info:
        StudyWidget(LAYERS, PROMPTS, quantities)
    for word in words:
        assert word in str(info.value)


def test_every_kind_is_accepted():
    qs = [{"name": k, "kind": k, "label": k} for k in QUANTITY_KINDS]
    assert [q["kind"] for q in StudyWidget(LAYERS, PROMPTS, qs).quantities] == list(QUANTITY_KINDS)


@pytest.mark.parametrize(
    ("layers", "prompts", "words"),
    [
        ([0, "1"], PROMPTS, ["layers[1]", "int"]),
        ("0,1", PROMPTS, ["layers must be a list"]),
        (LAYERS, ["a", 2], ["prompts[1]", "string"]),
        (LAYERS, "abc", ["prompts must be a list"]),
    ],
)
def test_bad_layers_or_prompts_are_refused(layers, prompts, words):
    with pytest.raises(TypeError) as info:
        StudyWidget(layers, prompts, QS)
    for word in words:
        assert word in str(info.value)


def test_update_sets_the_numbers_as_float32_bytes():
    w = widget()
    values, summary = arrays()
    values[:, 3:] = np.nan
    w.update(values=values, summary=summary, n_done=3, status="batch  2/2\n· 1.2 s")
    got_values, got_summary = w.arrays()
    np.testing.assert_array_equal(got_values, values.astype("<f4"))
    np.testing.assert_array_equal(got_summary, summary.astype("<f4"))
    assert len(w.values) == 3 * 5 * 4 * 4
    assert (w.n_done, w.status) == (3, "batch 2/2 · 1.2 s")  # one line


def test_update_sends_one_message():
    w = widget()
    sent: list[dict] = []
    w.comm = SimpleNamespace(  # just enough of a Comm for ipywidgets to sync through it
        comm_id="c", kernel=object(), on_msg=lambda cb: None, close=lambda: None
    )
    w._send = lambda msg, buffers=None: sent.append(msg)
    values, summary = arrays()
    w.update(values=values, summary=summary, n_done=5, status="done")
    assert len(sent) == 1
    assert set(sent[0]["state"]) >= {"n_done", "status"}
    assert sorted(path[0] for path in sent[0]["buffer_paths"]) == ["summary", "values"]


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"values": np.zeros((3, 5, 3))}, ["values", "(3, 5, 3)", "[Q, N, L]", "(3, 5, 4)"]),
        ({"values": np.zeros((5, 4))}, ["values", "(5, 4)"]),
        ({"summary": np.zeros((3, 2, 4))}, ["summary", "[Q, 3, L]", "(3, 3, 4)"]),
        ({"summary": np.array([["x"]])}, ["summary", "real numbers"]),
        ({"n_done": 6}, ["n_done", "6", "n_total=5"]),
        ({"n_done": -1}, ["n_done"]),
        ({"n_done": 2.0}, ["n_done", "int"]),
        ({"status": 3}, ["status", "string"]),
    ],
)
def test_update_refuses_wrong_shapes_and_counts(change, words):
    w = widget()
    values, summary = arrays()
    args = {"values": values, "summary": summary, "n_done": 2, "status": "", **change}
    before = (w.values, w.summary, w.n_done)
    with pytest.raises(ValueError) as info:
        w.update(**args)
    for word in words:
        assert word in str(info.value)
    assert (w.values, w.summary, w.n_done) == before  # nothing half-applied


def test_ui_state_is_validated():
    w = widget()
    w.shown = ["r", "p", "r"]
    assert w.shown == ["r", "p"]
    with pytest.raises(traitlets.TraitError, match="unknown quantities"):
        w.shown = ["nope"]
    w.heatmap_quantity = "h"
    with pytest.raises(traitlets.TraitError, match="heatmap_quantity"):
        w.heatmap_quantity = "nope"
    w.selected_prompt = 4
    w.selected_prompt = None
    with pytest.raises(traitlets.TraitError, match="selected_prompt"):
        w.selected_prompt = 5
    with pytest.raises(traitlets.TraitError):
        w.dark_mode = "dim"


def test_new_prompts_reset_numbers_of_the_old_shape():
    w = widget(selected_prompt=4, shown=["h"], heatmap_quantity="h")
    w.update(values=arrays()[0], summary=arrays()[1], n_done=5)
    w.prompts = ["x", "y"]
    values, summary = w.arrays()
    assert values.shape == (3, 2, 4) and np.isnan(values).all()
    assert not np.isnan(summary).all()  # [Q, 3, L] still fits
    assert (w.n_done, w.n_total, w.selected_prompt) == (0, 2, None)
    w.quantities = QS[:1]
    assert (w.shown, w.heatmap_quantity) == ([], "")
    assert w.arrays()[1].shape == (1, 3, 4)


def test_stop_and_resume_run_their_handlers():
    w = widget()
    calls: list[str] = []
    assert w.on_stop(lambda: calls.append("stop")) is not None
    w.on_resume(lambda: calls.append("resume"))
    assert w.stop({}, []) == ({"ok": True, "handlers": 1}, [])
    assert w.resume({}, []) == ({"ok": True, "handlers": 1}, [])
    assert w.stop() == ({"ok": True, "handlers": 1}, [])  # from Python too
    assert calls == ["stop", "resume", "stop"]
    with pytest.raises(TypeError, match="callable"):
        w.on_stop("not a function")


def test_a_failing_handler_sets_error_and_never_raises(caplog):
    w = widget()
    later: list[str] = []

    def boom():
        raise RuntimeError("the model\nis gone")

    w.on_resume(boom)
    w.on_resume(lambda: later.append("ran"))
    answer, buffers = w.resume({}, [])
    assert answer == {"error": "resume failed: RuntimeError: the model is gone"}
    assert buffers == []
    assert w.error == "resume failed: RuntimeError: the model is gone"
    assert later == ["ran"]  # the other handlers still run
    assert "resume handler" in caplog.text


def test_the_commands_are_registered_with_anywidget():
    from anywidget.experimental import _ANYWIDGET_COMMANDS

    commands = getattr(StudyWidget, _ANYWIDGET_COMMANDS)
    assert {"stop", "resume"} <= set(commands)


def test_a_browser_command_message_reaches_the_handlers():
    w = widget()
    calls: list[str] = []
    w.on_stop(lambda: calls.append("stop"))
    sent: list[tuple[dict, list]] = []
    w.send = lambda content, buffers=None: sent.append((content, buffers))
    msg = {"kind": "anywidget-command", "id": "1", "name": "stop", "msg": {}}
    w._handle_custom_msg(msg, [])
    assert calls == ["stop"]
    assert sent[0][0]["response"] == {"ok": True, "handlers": 1}


def test_closed_study_widgets_are_freed():
    # anywidget watches a class's _esm/_css given as a Path, and its watcher's callback holds
    # every instance: closed study widgets were never freed (issue 23 item 11).
    refs = []
    for _ in range(3):
        w = widget()
        refs.append(weakref.ref(w))
        w.close()
        del w
    gc.collect()
    assert [r() for r in refs] == [None] * 3, "nothing keeps a closed study widget alive"
