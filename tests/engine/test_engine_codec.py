"""The int16 probability codec: error bounds over its whole range (fast, no model)."""

from __future__ import annotations

import numpy as np
import torch

from logitlenskit.core.engine import encode_probs
from logitlenskit.core.wire import decode_probs


def _roundtrip(p: np.ndarray) -> np.ndarray:
    return decode_probs(encode_probs(torch.from_numpy(np.log(p))).numpy())


def test_absolute_error_below_fidelity_bound():
    p = np.linspace(1e-4, 1.0, 400_001)
    assert np.abs(_roundtrip(p) - p).max() <= 7.9e-6


def test_relative_error_down_to_1e_6():
    p = np.logspace(-6, 0, 400_001)
    assert (np.abs(_roundtrip(p) - p) / p).max() <= 0.0091


def test_tiny_values_saturate_never_zero():
    p = np.array([1e-20, 1e-30, 1e-45])
    back = _roundtrip(p)
    assert (back > 0).all() and np.allclose(back, back[0]) and back[0] < 2e-16


def test_monotone_and_one_is_exact_enough():
    table = decode_probs(np.arange(-32768, 32768))
    assert (np.diff(table) > 0).all()
    assert abs(table[-1] - 1.0) < 1e-12
