"""The live loop in Python: traits that rerun, follow-ups, runs from the browser and from
threads, Stop, confirmation, errors. The browser side of the same loop is in tests/ui and
tests/e2e.
"""

from __future__ import annotations

import threading
import time
import warnings

import numpy as np
import pytest

from logitlenskit.core import session
from logitlenskit.live import live_methods
from logitlenskit.live import side as side_module
from logitlenskit.live.widget import LogitLensWidget

pytestmark = pytest.mark.slow

PROMPT = "The capital of France is"
PARIS = 7042


def _ids_at(w: LogitLensWidget, pos: int) -> np.ndarray:
    off = np.frombuffer(w.data["tracked_offsets"], "<i4")
    return np.frombuffer(w.data["tracked_ids"], "<i4")[off[pos] : off[pos + 1]]


def _from_browser(w: LogitLensWidget, **state) -> None:
    """Apply a state message as the frontend sends it (ipywidgets marks its keys)."""
    w.set_state(state)


@pytest.fixture
def live(smollm2):
    w = LogitLensWidget(model=smollm2, prompt=PROMPT, k=3)
    yield w
    w.stop()
    w.wait(30)


def test_k_layers_and_prompt_from_python_rerun_before_returning(live):
    live.k = 7
    assert live.result["topk"].shape[-1] == 7 and live.data["k"] == 7
    live.layers = [0, 15, -1]
    assert live.result["layers"] == [0, 15, 29] and live.data["layers"] == [0, 15, 29]
    live.prompt = "Bonjour"
    assert live.result["input"] == ["Bon", "jour"] and not live.busy
    assert live.to_v2()["meta"]["version"] == 2


def test_each_run_gets_a_new_run_id_and_tracking_keeps_it(live):
    first = live.data["run"]
    live.track([12092])
    assert live.data["run"] == first
    assert all(12092 in _ids_at(live, p) for p in range(len(live.data["input"])))
    assert live.data["vocab"]["12092"] == live.result["vocab"][12092]
    live.k = 4
    assert live.data["run"] != first


def test_a_pin_from_python_is_tracked_everywhere_and_survives_a_new_prompt(live):
    live.pins = [{"ids": [12092], "color": "#e6194b"}, {"ids": [PARIS, 3000], "color": "#3cb44b"}]
    for token in (12092, 3000):
        assert all(token in _ids_at(live, p) for p in range(len(live.data["input"])))
    live.prompt = "Hello there, my friend"
    assert all(12092 in _ids_at(live, p) for p in range(len(live.data["input"])))
    assert "12092" in live.data["vocab"], "the pin has its text, not a bare id"


def test_a_pin_pushes_its_trajectories_ahead_of_the_payload(live, monkeypatch):
    sent, data_at_send = [], []

    def send(content, buffers=None):
        sent.append((content, buffers))
        data_at_send.append(live.data)

    monkeypatch.setattr(live, "send", send)
    before = live.data
    _from_browser(live, pins=[{"ids": [12092, PARIS], "color": "#e6194b"}])
    live.wait(30)
    pushes = [(c, b) for c, b in sent if c.get("kind") == "llk-trajectories"]
    assert len(pushes) == 1
    content, buffers = pushes[0]
    assert content["run"] == live.data["run"] and content["ids"] == sorted({12092, PARIS})
    assert content["tokens"] == [live.result["vocab"][i] for i in content["ids"]]
    assert data_at_send[0] is before, "sent before the payload that also holds them"
    n_pos, n_rows = len(live.data["input"]), len(live.data["layers"])
    block = np.frombuffer(buffers[0], "<f4").reshape(n_pos, len(content["ids"]), n_rows)
    for pos in range(n_pos):  # exactly what the payload then carries
        tracked = live.result["tracked"][pos].numpy()
        for j, token in enumerate(content["ids"]):
            column = int(np.searchsorted(tracked, token))
            want = live.result["probs"][pos][:, column].numpy()
            np.testing.assert_array_equal(block[pos, j], want)


def test_track_pins_its_ids_so_their_lines_show(live):
    live.track([12092, PARIS])
    assert [pin["ids"] for pin in live.pins] == [[12092], [PARIS]], "one line each"
    for token in (12092, PARIS):
        assert all(token in _ids_at(live, p) for p in range(len(live.data["input"])))
    live.track([PARIS])  # pinned already: no second pin
    assert len(live.pins) == 2


def test_chat_puts_no_default_system_prompt_above_the_question(smollm2):
    question = "What is the capital of France?"
    w = LogitLensWidget(model=smollm2, k=2, layers=[0, -1], chat=True, prompt=question)
    text = "".join(w.result["input"])
    assert "helpful AI assistant" not in text, "SmolLM2's template injects one by default"
    assert w.result["input"].index("What") <= 8, "only role markers above the question"
    w.close()


def test_detail_answers_deeper_top_k_and_refuses_stale_runs(live):
    answer, buffers = live.detail(
        {"run": live.data["run"], "layer": 29, "position": 4, "k": 20}, []
    )
    probs = np.frombuffer(buffers[0], "<f4").reshape(20, 30)
    assert answer["tokens"][0] == " Paris" and answer["ids"][0] == PARIS
    assert np.all(np.diff(probs[:, -1]) <= 0), "sorted by probability at the clicked layer"
    stale, _ = live.detail({"run": -1, "layer": 29, "position": 4, "k": 20}, [])
    assert stale.get("stale") is True
    bad, _ = live.detail({"run": live.data["run"], "layer": 29, "position": 99, "k": 20}, [])
    assert "position 99" in bad["error"]


def test_on_select_callbacks_get_the_cell_and_errors_are_reported(live):
    seen = []
    live.on_select(lambda *args: seen.append(args))
    assert live.select({"layer": 29, "position": 4, "token": None}, [])[0] == {"ok": True}
    live.select({"layer": 29, "position": 4, "token": 12092}, [])
    assert seen[0] == (29, 4, PARIS, " Paris") and seen[1][2] == 12092

    def broken(*_):
        raise KeyError("oops")

    live.on_select(broken)
    answer, _ = live.select({"layer": 29, "position": 4, "token": None}, [])
    assert answer == {"ok": True} and "KeyError" in live.error and len(seen) == 3


def test_a_browser_prompt_runs_in_the_background(live):
    busy = []
    live.observe(lambda c: busy.append(c["new"]), names="busy")
    started = time.monotonic()
    _from_browser(live, prompt="The Eiffel Tower is located in the city of")
    returned = time.monotonic() - started
    assert live.busy and returned < 0.5, "the kernel is free while the run goes on"
    assert live.wait(60)
    assert len(live.data["input"]) == 10 and busy == [True, False]


def test_the_newest_request_wins_and_superseded_results_are_never_shown(live):
    shown = []
    live.observe(lambda c: shown.append(c["new"]["input"]), names="data")
    for text in ["One two three", "Four five", "Six seven eight nine"]:
        _from_browser(live, prompt=text)
    assert live.wait(60)
    assert shown[-1] == ["Six", " seven", " eight", " nine"]
    assert all(s[0] in ("One", "Six", "Four") for s in shown)
    assert not live.busy and live.error == ""


def test_runs_from_many_threads_are_serialized(live, smollm2):
    other = LogitLensWidget(model=smollm2, prompt="Hi", k=2)  # same model, other widget
    errors = []

    def hammer(w, text):
        try:
            w.prompt = text
        except Exception as exc:
            errors.append(exc)

    threads = [
        threading.Thread(target=hammer, args=(w, f"{w.k} counting {i}"))
        for i in range(4)
        for w in (live, other)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors and live.error == "" and other.error == ""
    assert live.wait(30) and other.wait(30) and not live.busy and not other.busy
    for w in (live, other):  # data, prompt and error describe the same request
        assert "".join(w.data["input"]) == w.prompt


def test_stop_abandons_the_run_and_keeps_the_view(live, monkeypatch):
    monkeypatch.setattr(live_methods, "LARGE_PROMPT_TOKENS", 10**6)
    before = live.data
    _from_browser(live, prompt="word " * 1500)
    time.sleep(0.3)
    assert live.busy
    answer, _ = live.halt({}, [])
    assert answer == {"stopped": True}
    assert live.wait(10), "the run stops at the next layer, not at its end"
    assert live.data == before and "Stopped" in live.error and not live.busy


def _stop_while_streaming(w: LogitLensWidget, monkeypatch, prompt: str) -> None:
    """Start ``prompt`` from the browser and press Stop once its first screen is shown."""
    monkeypatch.setattr(live_methods, "LARGE_PROMPT_TOKENS", 10**6)
    monkeypatch.setattr(session, "BLOCK", 64)
    real = session.lens_reduce

    def slow_reduce(*args, **kwargs):  # real numbers, slow enough to press Stop mid-stream
        time.sleep(0.3)
        return real(*args, **kwargs)

    monkeypatch.setattr(session, "lens_reduce", slow_reduce)
    streamed = []
    w.observe(lambda c: streamed.append("cell_status" in c["new"]), names="data")
    _from_browser(w, prompt=prompt)
    deadline = time.monotonic() + 120
    while not any(streamed) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert any(streamed) and w.busy, "the first screen is shown, the rest pending"
    assert w.halt({}, [])[0] == {"stopped": True}
    assert w.wait(10) and not w.busy


def test_stop_while_a_long_prompt_streams_cancels_it_whole(live, monkeypatch):
    live.layers = [0, -1]
    data, before = live.data, live.result
    long_prompt = "word " * 600
    _stop_while_streaming(live, monkeypatch, long_prompt)
    assert live.data == data and live.result["input"] == before["input"]
    for key in ("topk", "topk_probs", "entropy"):
        np.testing.assert_array_equal(live.result[key].numpy(), before[key].numpy())
    assert live.prompt == PROMPT and live.draft == long_prompt, "the typed text waits, not run"
    assert "previous run" in live.error
    live.prompt = "Hello"
    assert live.draft == "" and live.result["input"] == ["Hello"]


def test_stop_before_a_first_run_finished_shows_no_data_not_zeros(smollm2, monkeypatch):
    w = LogitLensWidget(model=smollm2, k=3, layers=[0, -1])
    _stop_while_streaming(w, monkeypatch, "word " * 600)
    assert w.result is None and w.data == {} and w.prompt == ""
    assert w.draft.startswith("word word") and "no lens to show yet" in w.error
    w.close()


def test_a_large_browser_run_asks_first(live, monkeypatch):
    monkeypatch.setattr(live_methods, "LARGE_PROMPT_TOKENS", 5)
    before = live.data
    _from_browser(live, prompt="This prompt has more than five tokens in it")
    assert "Run anyway?" in live.confirm and not live.busy and live.data == before
    live.answer({"accept": False}, [])
    assert live.confirm == "" and live.data == before
    _from_browser(live, prompt="Another prompt that has more than five tokens")
    live.answer({"accept": True}, [])
    assert live.wait(60) and live.data["input"][0] == "Another"


def test_a_large_python_run_warns(live, monkeypatch):
    monkeypatch.setattr(live_methods, "LARGE_PROMPT_TOKENS", 5)
    with pytest.warns(ResourceWarning, match="This run is large"):
        live.prompt = "This prompt has more than five tokens in it"
    assert live.data["input"][0] == "This"


def test_errors_are_one_line_and_clear_when_a_new_run_starts(live, monkeypatch):
    def deep_failure(*_args, **_kwargs):
        raise RuntimeError("CUDA out of memory.\n  Tried to allocate 2 GiB")

    monkeypatch.setattr(side_module, "run_options", deep_failure)
    live.prompt = "Anything"
    assert live.error == "RuntimeError: CUDA out of memory. Tried to allocate 2 GiB"
    monkeypatch.undo()
    live.prompt = "Anything else"
    assert live.error == ""


def test_rerun_after_a_failure_runs_the_unchanged_prompt(live, monkeypatch):
    calls = []
    real = side_module.run_options

    def flaky(*args, **kwargs):
        calls.append(kwargs["prompt"] if "prompt" in kwargs else args[1])
        if len(calls) == 1:
            raise ConnectionError("NDIF unreachable")
        return real(*args, **kwargs)

    monkeypatch.setattr(side_module, "run_options", flaky)
    live.prompt = "Try again"
    assert "ConnectionError" in live.error
    live.rerun({}, [])
    assert live.wait(60) and live.error == "" and calls == ["Try again", "Try again"]


def test_a_long_prompt_shows_its_first_screen_before_the_rest(live, monkeypatch):
    monkeypatch.setattr(session, "BLOCK", 40)
    monkeypatch.setattr(session, "FIRST_BLOCK", 16)
    statuses = []
    live.observe(lambda c: statuses.append(c["new"].get("cell_status")), names="data")
    live.prompt = " ".join(["The quick brown fox jumps over the lazy dog."] * 10)
    first = np.frombuffer(statuses[0], np.uint8).reshape(30, -1)
    assert (first[:, :16] == 0).all() and (first[:, 16:] == 2).all()
    assert statuses[-1] is None, "complete data has no pending cells"


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"k": 0}, "k=0 is out of range"),
        ({"k": 2.5}, "k must be an int"),
        ({"layers": "0:3"}, "layers must be a list"),
        ({"layers": []}, "layers is empty"),
        ({"remote": "cloud"}, "remote must be"),
    ],
)
def test_widget_arguments_are_checked_when_made(smollm2, kwargs, message):
    with pytest.raises((TypeError, ValueError), match=message):
        LogitLensWidget(model=smollm2, **kwargs)


def test_numpy_ints_are_ints_and_a_lone_surrogate_is_named(smollm2):
    assert LogitLensWidget(model=smollm2, k=np.int64(3)).k == 3
    with pytest.raises(ValueError, match="lone surrogate"):
        LogitLensWidget(model=smollm2, prompt="bad \ud800 text")


def test_warnings_from_a_run_do_not_escape_as_errors(live):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        live.prompt = "Plain text"
    assert live.error == ""
