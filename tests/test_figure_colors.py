"""Figures' color rules (figure_colors.py) against the widget's color modes, and figures of a
collection dict, read as it is (figure_data.py), against figures of its payload.

Model-free: fake lens data only.
"""

from __future__ import annotations

import numpy as np
import pytest

from fake_lens import collection
from logitlenskit.base import formats
from logitlenskit.base.formats import to_widget_payload
from logitlenskit.base.ui_state import COLOR_MODES, UIStateTraits
from logitlenskit.base.validate import InvalidDataError
from logitlenskit.live.widget import LogitLensWidget
from logitlenskit.output import figure_colors
from logitlenskit.output.figure import figure_bytes, lens_figure
from logitlenskit.output.figure_colors import FIGURE_COLOR_RULES, REFUSED_COLOR_MODES
from logitlenskit.output.figure_data import _from_collection, _from_payload

RULES_FILE = "src/logitlenskit/output/figure_colors.py"
L, P = 6, 4


def test_every_color_mode_has_a_figure_rule_or_a_refusal():
    for mode in COLOR_MODES:
        ruled, refused = mode in FIGURE_COLOR_RULES, mode in REFUSED_COLOR_MODES
        assert ruled or refused, (
            f"color mode {mode!r} (ui_state.COLOR_MODES) has no figure rule: add how figures "
            f"color it to FIGURE_COLOR_RULES in {RULES_FILE}, or list it in REFUSED_COLOR_MODES "
            "there with the reason figures refuse it"
        )
        assert not (ruled and refused), f"{mode!r} is both drawn and refused in {RULES_FILE}"
    stale = (set(FIGURE_COLOR_RULES) | set(REFUSED_COLOR_MODES)) - set(COLOR_MODES)
    assert not stale, f"{RULES_FILE} has rules for modes the widget lacks: {sorted(stale)}"


def test_every_rule_names_a_color_trait_and_a_known_scale():
    state = UIStateTraits()
    for mode, rule in FIGURE_COLOR_RULES.items():
        assert isinstance(getattr(state, rule.color), str), f"{mode}: no trait {rule.color}"
        assert rule.scale in ("unit", "data", "diverging", "rank"), f"{mode}: {rule.scale}"
        assert rule.target in (None, "token", "group", "target"), f"{mode}: {rule.target}"
    for mode, reason in REFUSED_COLOR_MODES.items():
        assert reason.strip(), f"{mode} is refused without a reason"


def test_refused_modes_say_why_and_a_mode_without_a_rule_names_the_file(monkeypatch):
    data = collection()
    for mode, reason in REFUSED_COLOR_MODES.items():
        with pytest.raises(ValueError, match=f"cannot draw color mode '{mode}'") as error:
            lens_figure(LogitLensWidget(data, color_mode=mode))
        assert reason in str(error.value)
    # A mode added to COLOR_MODES and nowhere here is refused, never drawn uncolored.
    monkeypatch.delitem(FIGURE_COLOR_RULES, "entropy")
    with pytest.raises(ValueError, match="'entropy': it has no rule in " + RULES_FILE):
        lens_figure(LogitLensWidget(data, color_mode="entropy"))


def rich_collection() -> dict:
    """A fake collection with the metric fields, two targets and one invalid cell."""
    data = collection(n_layers=L, n_pos=P, k=3)
    rng = np.random.default_rng(1)
    data["kl"] = np.abs(rng.normal(size=(L, P))).astype(np.float32)
    data["kl"][-1] = 0
    top = data["topk"][-1, 0]
    data["targets"] = [{"name": "A", "ids": [int(top[0])]}, {"name": "B", "ids": [int(top[1])]}]
    wanted = {int(top[0]), int(top[1])}
    for p in range(P):  # every target id is tracked at every position
        old = data["tracked"][p].tolist()
        ids = sorted(set(old) | wanted)
        probs = rng.uniform(0, 0.01, (L, len(ids))).astype(np.float32)
        for j, t in enumerate(ids):
            if t in old:
                probs[:, j] = data["probs"][p][:, old.index(t)]
        data["tracked"][p], data["probs"][p] = np.array(ids, np.int32), probs
    data["target_logprobs"] = -np.abs(rng.normal(size=(2, L, P))).astype(np.float32)
    data["target_ranks"] = rng.integers(1, 500, size=(2, L, P)).astype(np.int32)
    data["invalid"] = np.zeros((L, P), bool)
    data["invalid"][2, 1] = True
    return data


def test_a_collection_is_read_as_it_is_and_equals_its_payload(monkeypatch):
    data = rich_collection()
    direct, packed = _from_collection(data), _from_payload(to_widget_payload(data))
    computed = direct.status == 0
    assert (direct.status == packed.status).all() and not computed.all()
    for name in ("topk_ids", "topk_probs"):
        np.testing.assert_array_equal(
            getattr(direct, name)[computed], getattr(packed, name)[computed]
        )
    for name in ("entropy", "kl"):
        np.testing.assert_array_equal(
            getattr(direct, name)[computed], getattr(packed, name)[computed]
        )
    for name in ("target_logprobs", "target_ranks"):
        np.testing.assert_array_equal(
            getattr(direct, name)[:, computed], getattr(packed, name)[:, computed]
        )
    assert direct.vocab == packed.vocab and direct.targets == packed.targets
    assert (direct.max_rank, direct.final_row) == (packed.max_rank, packed.final_row)
    for p in range(P):
        np.testing.assert_array_equal(direct.tracked[p], packed.tracked[p])
        ok = computed[:, p]
        np.testing.assert_array_equal(direct.probs[p][ok], packed.probs[p][ok])
    # The same figure, with no payload made on the way.
    expected = figure_bytes(to_widget_payload(data), "svg")

    def no_payload(_data):
        raise AssertionError("a figure of a collection dict packed it into a payload")

    monkeypatch.setattr(formats, "to_widget_payload", no_payload)
    assert figure_bytes(data, "svg") == expected


@pytest.mark.parametrize("mode", sorted(FIGURE_COLOR_RULES))
def test_each_drawn_mode_colors_a_collection_as_its_payload(mode, monkeypatch):
    data = rich_collection()
    state = UIStateTraits(color_mode=mode)
    state.pins = [{"ids": data["targets"][0]["ids"], "color": "#e6194b"}]
    direct = figure_colors._intensity(_from_collection(data), state)
    packed = figure_colors._intensity(_from_payload(to_widget_payload(data)), state)
    if mode == "none":
        assert direct is None and packed is None
    else:
        np.testing.assert_allclose(direct, packed, rtol=1e-6, equal_nan=True)


def test_a_collection_that_breaks_the_format_is_refused_as_the_widget_refuses_it():
    data = rich_collection()
    data["probs"][1] = data["probs"][1].copy()
    data["probs"][1][0, 0] = np.nan  # a computed cell
    with pytest.raises(InvalidDataError) as widget_error:
        to_widget_payload(data)
    with pytest.raises(InvalidDataError) as figure_error:
        lens_figure(data)
    assert str(figure_error.value) == str(widget_error.value)
    data = rich_collection()
    data["topk"] = data["topk"][:, :2]
    with pytest.raises(ValueError, match="topk has shape"):
        lens_figure(data)
