"""Refused means rolled back (issue 23, items 12, 13 and 18).

A value the widget refuses leaves the trait as it was: set from Python it raises; set from
the browser it puts the reason in ``w.error`` and sends the old value back to the view. Browser
commands are checked before they answer, and ``collect_logit_lens`` warns about a large
collection as the widget asks first.
"""

from __future__ import annotations

import pytest

from logitlenskit import collect_logit_lens
from logitlenskit.live.widget import LogitLensWidget

pytestmark = pytest.mark.slow

PROMPT = "The capital of France is"


@pytest.fixture
def live(smollm2):
    w = LogitLensWidget(model=smollm2, prompt=PROMPT, k=3)
    yield w
    w.close()


@pytest.fixture
def sent(live, monkeypatch):
    """The state messages the widget sends to the view."""
    messages: list[dict] = []
    real = live._send

    def spy(msg, buffers=None):
        messages.append(msg)
        return real(msg, buffers)

    monkeypatch.setattr(live, "_send", spy)
    return messages


def _pushed(messages: list[dict], name: str) -> list:
    return [
        m["state"][name] for m in messages if m.get("method") == "update" and name in m["state"]
    ]


@pytest.mark.parametrize(
    "name, value, message",
    [
        ("k", 10**6, "k=1000000 is out of range"),
        ("layers", [0, 99], "layer 99 is out of range"),
        ("pins", [{"ids": [10**7], "color": "#e6194b"}], "outside the vocabulary"),
        ("prompt", "", "prompt is empty"),
    ],
)
def test_a_refused_browser_value_is_rolled_back_reported_and_pushed_back(
    live, sent, name, value, message
):
    old, data = getattr(live, name), live.data
    live.set_state({name: value})
    assert getattr(live, name) == old, "the trait keeps its value"
    assert message in live.error
    assert _pushed(sent, name)[-1:] == [old], "the view gets it back"
    assert live.wait(30) and live.data is data, "nothing reran"
    live.prompt = "A later run still works"
    assert live.error == "" and live.result["input"][0] == "A"


@pytest.mark.parametrize(
    "name, value, message",
    [
        ("k", 10**6, "k=1000000 is out of range"),
        ("layers", [0, 99], "layer 99 is out of range"),
        ("pins", [{"ids": [10**7]}], "outside the vocabulary"),
        ("prompt", "", "prompt is empty"),
    ],
)
def test_a_refused_python_value_raises_and_keeps_the_old_one(live, name, value, message):
    old, data = getattr(live, name), live.data
    with pytest.raises(ValueError, match=message):
        setattr(live, name, value)
    assert getattr(live, name) == old and live.data is data


@pytest.mark.parametrize(
    "msg, message",
    [
        ({"layer": 29, "position": 4, "token": -7}, "token -7 is not a token id"),
        ({"layer": 29, "position": 4, "token": 10**12}, "token 1000000000000 is not a token id"),
        ({"layer": 29, "position": -1, "token": None}, "position -1 is out of range"),
        ({"layer": 29, "position": 5, "token": 42}, "position 5 is out of range"),
        ({"layer": 31, "position": 0, "token": 42}, "layer 31 is not a layer"),
        ({"layer": 29, "position": 1.5, "token": 42}, "position must be a whole number"),
    ],
)
def test_select_is_checked_before_callbacks_run(live, msg, message):
    seen = []
    live.on_select(lambda *args: seen.append(args))
    answer, _ = live.select(msg, [])
    assert message in answer["error"] and seen == []


def test_generate_tokens_refuses_a_bad_seed_before_it_starts(live):
    data = live.data
    answer, _ = live.generate_tokens({"n": 3, "sample": True, "seed": 2**70}, [])
    assert "seed must be None or a whole number from 0 to 4294967295" in answer["error"]
    assert "started" not in answer and live.wait(30) and live.data is data
    with pytest.raises(ValueError, match="seed must be"):
        live.generate(3, sample=True, seed=-1)


def test_collect_logit_lens_warns_about_a_large_collection_like_the_widget(smollm2):
    prompt = " ".join(["word"] * 64)  # k=40,000 on 64 tokens: the issue's ~1 GB over all layers
    with pytest.warns(ResourceWarning, match=r"64 tokens × 2 lens rows with k=40000 .*about 82 MB"):
        collect_logit_lens(prompt, smollm2, k=40_000, layers=[0, -1])
