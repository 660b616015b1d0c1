"""Property-based tier: V2 documents, payloads and the probability codec, by hypothesis.

* Any well-formed V2 document or payload is accepted; breaking any one value is refused
  with a message that names that value's exact place.
* The probability codec (``engine.encode_probs`` / ``decode_probs``) keeps its documented
  error bound everywhere, including its edges: p = 0 (log-prob -inf), p = 1, subnormal p,
  and log-probs a rounding error above 0.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from fake_lens import collection
from logitlenskit.base.formats import to_widget_payload
from logitlenskit.base.validate import InvalidDataError, validate_payload, validate_v2
from logitlenskit.core.engine import CODE_LINEAR, encode_probs
from logitlenskit.core.wire import code_error_bound, decode_probs

PROPERTY = settings(
    max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)

# Token text as tokenizers produce it: any Unicode but lone surrogates (which are refused).
TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=8)
PROB = st.floats(0.0, 1.0, allow_subnormal=True) | st.sampled_from([0, 1, 5e-324, 1e-45])
# The decoded value of the lowest code: smaller probabilities saturate there, never at 0.
FLOOR = float(decode_probs(np.array([-32768]))[0])


@st.composite
def v2_documents(draw) -> dict:
    """Well-formed seed V2 documents: every top-k token of a position is tracked there."""
    n_layers, n_pos, k = draw(st.integers(1, 4)), draw(st.integers(1, 4)), draw(st.integers(1, 3))
    tokens = draw(st.lists(TEXT, min_size=k, max_size=k + 4, unique=True))
    tracked, topk = [], [[None] * n_pos for _ in range(n_layers)]
    for pos in range(n_pos):
        entry = {t: draw(st.lists(PROB, min_size=n_layers, max_size=n_layers)) for t in tokens}
        tracked.append(entry)
        for layer in range(n_layers):
            topk[layer][pos] = draw(st.lists(st.sampled_from(tokens), min_size=k, max_size=k))
    return {
        "meta": {"version": 2, "model": draw(TEXT)},
        "input": draw(st.lists(TEXT, min_size=n_pos, max_size=n_pos)),
        "layers": draw(st.lists(st.integers(0, 200), min_size=n_layers, max_size=n_layers)),
        "topk": topk,
        "tracked": tracked,
    }


BAD_PROBS = [
    float("nan"),
    float("inf"),
    float("-inf"),
    -1e-9,
    -0.5,
    1.0000001,
    7.0,
    "0.5",
    None,
    True,
    [0.5],
]


@PROPERTY
@given(v2_documents())
def test_well_formed_v2_documents_are_accepted(doc):
    assert validate_v2(doc) == doc


@PROPERTY
@given(v2_documents(), st.data(), st.sampled_from(BAD_PROBS))
def test_one_bad_v2_probability_is_refused_and_located(doc, data, bad):
    pos = data.draw(st.integers(0, len(doc["tracked"]) - 1))
    key = data.draw(st.sampled_from(sorted(doc["tracked"][pos])))
    layer = data.draw(st.integers(0, len(doc["layers"]) - 1))
    doc["tracked"][pos][key][layer] = bad
    with pytest.raises(InvalidDataError) as info:
        validate_v2(doc)
    assert str(info.value).startswith(f"tracked[{pos}][{key!r}][{layer}] is ")
    assert str(info.value).endswith("probabilities must be finite numbers in [0, 1]")


@PROPERTY
@given(v2_documents(), st.data())
def test_v2_trajectory_of_the_wrong_length_is_refused_and_located(doc, data):
    pos = data.draw(st.integers(0, len(doc["tracked"]) - 1))
    key = data.draw(st.sampled_from(sorted(doc["tracked"][pos])))
    doc["tracked"][pos][key] = doc["tracked"][pos][key] + data.draw(st.lists(PROB, min_size=1))
    with pytest.raises(InvalidDataError, match=re.escape(f"tracked[{pos}][{key!r}] must list")):
        validate_v2(doc)


@st.composite
def payloads(draw) -> dict:
    """Payloads built by to_widget_payload from random collections."""
    n_layers, n_pos = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    vocab_size = draw(st.integers(3, 40))
    k = draw(st.integers(1, vocab_size))
    return to_widget_payload(
        collection(
            n_layers=n_layers,
            n_pos=n_pos,
            k=k,
            vocab_size=vocab_size,
            seed=draw(st.integers(0, 99)),
        )
    )


@PROPERTY
@given(payloads(), st.data(), st.sampled_from([np.nan, np.inf, -np.inf, -1e-3, 1.5, 3e38]))
def test_one_bad_payload_probability_is_refused_and_located(payload, data, bad):
    key = data.draw(st.sampled_from(["topk_probs", "tracked_probs"]))
    values = np.frombuffer(payload[key], "<f4").copy()
    index = data.draw(st.integers(0, values.size - 1))
    values[index] = bad
    n_layers, n_pos, k = len(payload["layers"]), len(payload["input"]), payload["k"]
    shape = (n_layers, n_pos, k) if key == "topk_probs" else (values.size // n_layers, n_layers)
    where = "".join(f"[{i}]" for i in np.unravel_index(index, shape))
    with pytest.raises(InvalidDataError) as info:
        validate_payload(dict(payload, **{key: values.tobytes()}))
    assert str(info.value).startswith(f"{key}{where}")


@PROPERTY
@given(payloads(), st.data())
def test_payload_with_a_field_cut_short_is_refused_naming_the_field(payload, data):
    key = data.draw(
        st.sampled_from(
            ["topk_ids", "topk_probs", "tracked_offsets", "tracked_ids", "tracked_probs", "entropy"]
        )
    )
    cut = data.draw(st.integers(1, len(payload[key])))
    with pytest.raises(InvalidDataError, match=f"^{key} has {len(payload[key]) - cut} bytes"):
        validate_payload(dict(payload, **{key: payload[key][:-cut]}))


# ------------------------------------------------------------------ the probability codec


def roundtrip(log_probs) -> np.ndarray:
    return decode_probs(encode_probs(torch.as_tensor(log_probs, dtype=torch.float64)).numpy())


def test_codec_edges():
    """P = 0 saturates at the floor (never 0), p = 1 is exact, nothing decodes above 1."""
    tiny = [-math.inf, math.log(5e-324), math.log(1e-45), math.log(1e-300), -1e4]
    assert np.all(roundtrip(tiny) == FLOOR) and 0 < FLOOR < 2e-16
    assert roundtrip([0.0])[0] == 1.0
    # A log-softmax can round a hair above 0; the code saturates at 1 instead of wrapping.
    assert np.all(roundtrip([1e-7, 1e-3, math.inf]) == 1.0)
    table = decode_probs(np.arange(-32768, 32768))
    assert np.all(np.diff(table) > 0) and table[0] == FLOOR and table[-1] == 1.0


@PROPERTY
@given(st.lists(st.floats(-800, 0), min_size=2, max_size=2))
def test_codec_is_monotonic(pair):
    low, high = sorted(pair)
    codes = encode_probs(torch.tensor([low, high], dtype=torch.float64))
    assert codes[0] <= codes[1]


@PROPERTY
@given(st.floats(-60.0, 0.0))
def test_codec_absolute_error_stays_under_the_fidelity_bound(log_p):
    """|decoded - p| <= 0.5 / CODE_LINEAR (< 1e-5) at every p, float32 inputs included."""
    p = math.exp(log_p)
    for dtype in (torch.float64, torch.float32):
        decoded = decode_probs(encode_probs(torch.tensor([log_p], dtype=dtype)).numpy())[0]
        exact = math.exp(float(torch.tensor(log_p, dtype=dtype)))
        assert abs(decoded - max(exact, FLOOR)) <= 0.5 / CODE_LINEAR * (1 + 1e-9) + (
            abs(exact - p) if dtype is torch.float32 else 0
        )


@PROPERTY
@given(st.floats(math.log(FLOOR) + 0.01, 0.0))
@example(math.log(6.212766050250376e-13))  # found by a dense sweep; see the test below
def test_codec_error_stays_within_code_error_bound(log_p):
    """``code_error_bound(p)`` bounds the decoding error at p, as its docstring says."""
    p = math.exp(log_p)
    assume(p >= FLOOR)
    assert abs(roundtrip([log_p])[0] - p) <= code_error_bound(p)


def test_codec_error_bound_holds_on_a_dense_sweep():
    """Every p on a 1e6-point log grid over [floor, 1] decodes within code_error_bound(p)."""
    p = np.geomspace(FLOOR * 1.01, 1.0, 1_000_001)
    error = np.abs(roundtrip(np.log(p)) - p)
    bound = np.array([code_error_bound(x) for x in p])
    worst = int(np.argmax(error / bound))
    assert error[worst] <= bound[worst], (
        f"{int((error > bound).sum())} of {p.size} probabilities decode outside "
        f"code_error_bound; worst p={p[worst]!r}: error {error[worst]:.4g} > bound "
        f"{bound[worst]:.4g} ({error[worst] / bound[worst] - 1:.2%} over)"
    )
