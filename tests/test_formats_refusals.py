"""Outside collection dicts are refused, never coerced: each bad value is named with its path.

A fractional id read as another token, a cell status that wraps into another status, a
string read as a probability or None shown as the token "None" would all put on screen
something the model did not produce. Every public entry point that takes a collection dict
refuses them the same way.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from logitlenskit import InvalidDataError, LogitLensWidget, show_logit_lens
from logitlenskit.base.formats import to_js_format, to_widget_payload


def _fractional_topk(data):
    topk = data["topk"].astype(np.float64)
    topk[0, 3, 1] += 0.7
    data["topk"] = topk


def _huge_topk(data):
    topk = data["topk"].astype(np.int64)
    topk[1, 2, 0] += 2**32  # wraps to the same token in int32
    data["topk"] = topk


def _huge_tracked(data):
    data["tracked"][1] = data["tracked"][1].astype(np.int64) + np.int64(2**32)


def _fractional_tracked(data):
    data["tracked"][2] = data["tracked"][2].astype(np.float64) + 0.5


def _string_prob(data):
    probs = data["probs"][0].tolist()
    probs[3][1] = "0.25"
    data["probs"][0] = probs


def _string_topk_prob(data):
    probs = data["topk_probs"].tolist()
    probs[2][1][0] = "0.5"
    data["topk_probs"] = probs


def _bool_prob(data):
    probs = data["probs"][1].tolist()
    probs[0][0] = True
    data["probs"][1] = probs


def _set(key, index, value):
    def edit(data):
        values = list(data[key])
        values[index] = value
        data[key] = values

    edit.__name__ = f"{key}_{value!r}"
    return edit


def _status_257(data):
    status = np.zeros((6, 4), np.int64)
    status[2, 1] = 257  # uint8 would wrap it to 1, "invalid"
    data["cell_status"] = status


def _string_entropy(data):
    entropy = data["entropy"].astype(object)
    entropy[0, 0] = "1.5"
    data["entropy"] = entropy


CASES = [
    (_fractional_topk, "topk[0][3][1] is 216.7, not an integer"),
    (_huge_topk, r"topk\[1\]\[2\]\[0\] is 4294967\d+; token ids must be from 0 to 2147483647"),
    (_huge_tracked, r"tracked\[1\]\[0\] is 4294967\d+; token ids must be from 0 to 2147483647"),
    (_fractional_tracked, r"tracked\[2\]\[0\] is \d+\.5, not an integer"),
    (_string_prob, "probs[0][3][1] is '0.25', not a number"),
    (_string_topk_prob, "topk_probs[2][1][0] is '0.5', not a number"),
    (_bool_prob, "probs[1][0][0] is True, not a number"),
    (_set("layers", 2, 2.5), "layers[2] is 2.5, not an integer"),
    (_set("layers", 1, True), "layers[1] is True, not an integer"),
    (_set("input", 3, None), "input[3] must be a string, got None"),
    (_set("input_ids", 0, 100.5), "input_ids[0] is 100.5, not an integer"),
    (_status_257, r"cell_status\[2\]\[1\] is 257; it must be from 0 to 2"),
    (_string_entropy, "entropy[0][0] is '1.5', not a number"),
]


@pytest.fixture
def data():
    from fake_lens import collection

    data = collection(n_layers=6, n_pos=4, k=3, vocab_size=300)
    # Ids large enough that a fraction is visible: topk[0][3][1] becomes 216.7.
    data["topk"] = data["topk"].copy()
    data["topk"][0, 3, 1] = 216
    data["tracked"] = [np.unique(data["topk"][:, p]).astype(np.int32) for p in range(4)]
    data["probs"] = [np.full((6, len(t)), 0.01, np.float32) for t in data["tracked"]]
    data["topk_probs"] = np.full(data["topk"].shape, 0.01, np.float32)
    return data


NOT_IN_V2 = {"entropy", "topk_probs", "input_ids"}
ENTRY_POINTS = {
    "to_widget_payload": to_widget_payload,
    "LogitLensWidget": lambda data: LogitLensWidget(data),
    "show_logit_lens": show_logit_lens,
    "to_js_format": to_js_format,
}


def test_the_fixture_is_accepted_everywhere(data):
    for convert in ENTRY_POINTS.values():
        convert(data)


def test_whole_numbers_in_any_container_are_accepted(data):
    import torch

    data["input_ids"] = torch.tensor(data["input_ids"])
    data["layers"] = np.arange(6, dtype=np.int16)
    data["topk"] = torch.from_numpy(data["topk"].astype(np.float32))  # 216.0 is 216
    data["cell_status"] = [[0] * 4 for _ in range(6)]
    payload = to_widget_payload(data)
    assert payload["input_ids"] == [100, 101, 102, 103] and payload["layers"] == list(range(6))
    assert np.frombuffer(payload["topk_ids"], "<i4")[(3 * 3 + 1)] == 216


@pytest.mark.parametrize("entry", sorted(ENTRY_POINTS))
@pytest.mark.parametrize(("edit", "message"), CASES, ids=[c[0].__name__ for c in CASES])
def test_a_coercible_value_is_refused_with_its_path(data, entry, edit, message):
    if entry == "to_js_format" and message.split("[")[0] in NOT_IN_V2:
        entry = "to_widget_payload"  # V2 JSON does not carry the field: nothing to refuse
    edit(data)
    pattern = message if "\\" in message else re.escape(message)
    with pytest.raises(InvalidDataError, match=pattern):
        ENTRY_POINTS[entry](data)
