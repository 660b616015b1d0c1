"""A live widget's life beside other users of its model (issue 23, items 2, 10, 11).

One lock per model serializes every path that runs it (a widget's background run and a
``collect_logit_lens`` in the kernel at once), ``close()`` frees a widget and its thread, and
any failure while a result is applied reaches ``w.error``.
"""

from __future__ import annotations

import gc
import sys
import threading
import time
import weakref

import numpy as np
import pytest

from logitlenskit import collect_logit_lens
from logitlenskit.core.runs import model_lock
from logitlenskit.live import live_methods
from logitlenskit.live.widget import LogitLensWidget

pytestmark = pytest.mark.slow

PROMPT = "The capital of France is"
OTHER = "The Eiffel Tower is located in the city of"


def _same_lens(a: dict, b: dict) -> None:
    assert a["input"] == b["input"]
    np.testing.assert_array_equal(np.asarray(a["topk"]), np.asarray(b["topk"]))
    np.testing.assert_allclose(np.asarray(a["topk_probs"]), np.asarray(b["topk_probs"]), atol=1e-6)


def test_a_background_run_and_collect_logit_lens_on_one_model_both_succeed(smollm2):
    long_prompt = "word " * 400  # a background run that lasts while collect runs
    want_a = collect_logit_lens(long_prompt, smollm2, k=3, layers=[0, -1])
    want_b = collect_logit_lens(OTHER, smollm2, k=3)
    w = LogitLensWidget(model=smollm2, prompt=PROMPT, k=3, layers=[0, -1])
    try:
        w.set_state({"prompt": long_prompt})  # from the browser: a worker thread runs it
        assert w.busy
        got_b = collect_logit_lens(OTHER, smollm2, k=3)  # the kernel, at the same time
        assert w.wait(120) and w.error == ""
        _same_lens(got_b, want_b)
        _same_lens(w.result, want_a)
    finally:
        w.close()


def test_closed_widgets_are_freed_and_their_threads_end(smollm2):
    gc.collect()
    baseline = threading.active_count()
    refs = []
    for i in range(4):
        w = LogitLensWidget(model=smollm2, prompt=PROMPT, k=2, layers=[0, -1])
        w.on_select(lambda *args: None)
        w.set_state({"prompt": f"Run number {i} in the background"})  # starts a worker
        assert w.wait(60)
        refs.append(weakref.ref(w))
        w.close()
        del w
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and threading.active_count() > baseline:
        time.sleep(0.05)
    gc.collect()
    assert threading.active_count() == baseline, "close() ends the widget's worker thread"
    assert [r() for r in refs] == [None] * 4, "nothing keeps a closed widget alive"


def test_close_mid_run_releases_the_model_at_once(smollm2, monkeypatch):
    monkeypatch.setattr(live_methods, "LARGE_PROMPT_TOKENS", 10**6)
    w = LogitLensWidget(model=smollm2, prompt=PROMPT, k=3)
    w.set_state({"prompt": "word " * 3000})
    deadline = time.monotonic() + 30
    while "positions" not in w.status and time.monotonic() < deadline:
        time.sleep(0.02)  # streaming the lens: the longest part of the run
    assert w.busy
    started = time.monotonic()
    w.close()
    lock = model_lock(smollm2)
    # About 0.2 s on an idle 2-core machine (a lens chunk is 512 cells); the bound leaves room
    # for a loaded one. Before close() stopped runs, the run held the model to its end.
    assert lock.acquire(timeout=2.5), "the run let go of the model"
    lock.release()
    assert time.monotonic() - started < 2.5


@pytest.mark.parametrize("background", [False, True], ids=["python", "browser"])
def test_a_failure_while_applying_a_result_reaches_error(smollm2, monkeypatch, background):
    w = LogitLensWidget(model=smollm2, prompt=PROMPT, k=3)
    before = w.data

    def broken(_source):
        raise ValueError("payload could not be built")

    monkeypatch.setattr(live_methods, "to_widget_payload", broken)
    if background:
        w.set_state({"prompt": OTHER})
        assert w.wait(60)
    else:
        w.prompt = OTHER
    assert "payload could not be built" in w.error
    assert w.data is before and w.result["input"][0] == "The" and len(w.result["input"]) == 5
    assert not w.busy
    w.close()


def test_a_failure_while_showing_a_browser_pin_reaches_error(smollm2, monkeypatch):
    w = LogitLensWidget(model=smollm2, prompt=PROMPT, k=3)
    before = w.data

    def broken(_source):
        raise ValueError("payload could not be built")

    monkeypatch.setattr(live_methods, "to_widget_payload", broken)
    w.set_state({"pins": [{"ids": [12092], "color": "#e6194b"}]})  # tracked at once (cached)
    assert "payload could not be built" in w.error and w.data is before
    w.close()


def test_a_widget_whose_arguments_were_refused_is_disposed_quietly(smollm2, monkeypatch):
    unraisable = []  # what "Exception ignored in ... __del__" would report
    monkeypatch.setattr(sys, "unraisablehook", unraisable.append)
    with pytest.raises(ValueError, match="needs a model"):
        LogitLensWidget(prompt="no model")
    with pytest.raises(ValueError, match="prompt is empty"):
        LogitLensWidget(model=smollm2, prompt="")
    gc.collect()
    assert [str(u.exc_value) for u in unraisable] == []
