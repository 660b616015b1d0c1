"""The three data formats: collection dict → widget payload and → V2 JSON."""

from __future__ import annotations

import json

import numpy as np
import pytest

from logitlenskit.base.formats import to_js_format, to_widget_payload


@pytest.fixture
def data(make_collection):
    return make_collection()


def test_payload_arrays_decode_back_to_the_collection(data):
    payload = to_widget_payload(data)
    n_layers, n_pos, k = data["topk"].shape
    topk = np.frombuffer(payload["topk_ids"], "<i4").reshape(n_layers, n_pos, k)
    np.testing.assert_array_equal(topk, data["topk"].numpy())
    offsets = np.frombuffer(payload["tracked_offsets"], "<i4")
    ids = np.frombuffer(payload["tracked_ids"], "<i4")
    trajectories = np.frombuffer(payload["tracked_probs"], "<f4").reshape(-1, n_layers)
    for pos in range(n_pos):
        span = slice(offsets[pos], offsets[pos + 1])
        np.testing.assert_array_equal(ids[span], data["tracked"][pos].numpy())
        np.testing.assert_array_equal(trajectories[span].T, data["probs"][pos].numpy())
    entropy = np.frombuffer(payload["entropy"], "<f4").reshape(n_layers, n_pos)
    np.testing.assert_array_equal(entropy, data["entropy"].numpy())
    assert set(payload["vocab"]) == {str(i) for i in np.unique(ids)}


def test_payload_fills_topk_probs_from_trajectories(data):
    expected = to_widget_payload(data)["topk_probs"]
    del data["topk_probs"]
    assert to_widget_payload(data)["topk_probs"] == expected


def test_payload_json_part_is_plain_json(data):
    payload = to_widget_payload(data)
    text = {key: value for key, value in payload.items() if not isinstance(value, bytes)}
    assert json.loads(json.dumps(text)) == text


@pytest.mark.parametrize(
    "break_it, message",
    [
        (lambda d: d.pop("vocab"), "missing"),
        (lambda d: d.update(topk=d["topk"][:, :2]), "topk has shape"),
        (lambda d: d["probs"].pop(), "one entry per position"),
        (lambda d: d["probs"].__setitem__(0, d["probs"][0][:, :1]), r"probs\[0\]"),
        (lambda d: d["vocab"].pop(int(d["topk"][0, 0, 0])), "no string for token ids"),
    ],
)
def test_payload_rejects_inconsistent_data(data, break_it, message):
    break_it(data)
    with pytest.raises(ValueError, match=message):
        to_widget_payload(data)


def test_payload_sorts_tracked_ids_with_their_trajectories(data):
    """The browser binary-searches tracked ids: any order in, increasing order out."""
    reversed_data = dict(
        data, tracked=[t.flip(0) for t in data["tracked"]], probs=[p.flip(1) for p in data["probs"]]
    )
    assert to_widget_payload(reversed_data) == to_widget_payload(data)
    assert not np.array_equal(reversed_data["tracked"][0], data["tracked"][0])
    repeated = dict(
        data,
        tracked=[data["tracked"][0][[0, 0]], *data["tracked"][1:]],
        probs=[data["probs"][0][:, [0, 0]], *data["probs"][1:]],
    )
    with pytest.raises(ValueError, match="position 0 repeat an id"):
        to_widget_payload(repeated)


def test_js_format_key_means_one_id_at_every_position(data):
    data["vocab"] = {i: "\ufffd" for i in data["vocab"]}  # every id decodes alike
    js = to_js_format(data)
    key_of: dict[int, str] = {}
    for entry, ids in zip(js["tracked"], data["tracked"], strict=True):
        assert len(entry) == len(ids)
        for key, token_id in zip(entry, ids.tolist(), strict=True):
            assert key_of.setdefault(token_id, key) == key
    assert len(set(key_of.values())) == len(key_of)


def test_js_format_keeps_ids_that_share_a_string_apart(data):
    tracked0 = data["tracked"][0].tolist()
    # Two different ids that decode to the same text, like byte-fragment tokens.
    data["vocab"][tracked0[0]] = data["vocab"][tracked0[1]] = "\ufffd"
    js = to_js_format(data)
    entry = js["tracked"][0]
    assert "\ufffd" in entry and f"\ufffd#{tracked0[1]}" in entry
    assert entry["\ufffd"] != entry[f"\ufffd#{tracked0[1]}"]
    assert len(entry) == len(tracked0)
    # Top-k lists name the same keys, so each top-k string finds its own trajectory.
    topk = data["topk"].numpy()
    for li in range(topk.shape[0]):
        for j, token_id in enumerate(topk[li, 0].tolist()):
            key = js["topk"][li][0][j]
            assert key in entry
            assert entry[key][li] == pytest.approx(
                float(data["probs"][0][li, tracked0.index(token_id)]), rel=1e-4, abs=1e-12
            )


def test_js_format_keeps_small_probabilities(data):
    data["probs"][0][:, 0] = 3.2e-7
    js = to_js_format(data)
    first = next(iter(js["tracked"][0].values()))
    assert first[0] == pytest.approx(3.2e-7, rel=1e-4)


def test_js_format_matches_the_seed_layout(data):
    js = to_js_format(data)
    n_layers, n_pos, _ = data["topk"].shape
    assert js["meta"] == {"version": 2, "model": "fake-model"}
    assert len(js["topk"]) == n_layers and len(js["topk"][0]) == n_pos
    top = int(data["topk"][1, 2, 0])
    assert js["topk"][1][2][0] == data["vocab"][top]
    assert all(len(traj) == n_layers for entry in js["tracked"] for traj in entry.values())
