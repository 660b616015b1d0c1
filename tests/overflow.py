"""A float16-style overflow written into a real model: +Inf in one position's last block."""

from __future__ import annotations

import warnings
from typing import Any

from logitlenskit import NonFiniteWarning, collect_logit_lens

POISONED = 2  # the position whose final block overflows


def overflow_hook(_module, _inputs, output):
    """Write +Inf into one position of the last block's output, as a float16 overflow does."""
    hidden = output[0] if isinstance(output, tuple) else output
    if hidden.shape[1] > POISONED:
        hidden[0, POISONED, 0] = float("inf")


def overflowed_collection(model: Any, prompt: str) -> dict:
    """``collect_logit_lens`` (k=3, KL) of ``prompt`` with the last block overflowing."""
    handle = model._model.model.layers[-1].register_forward_hook(overflow_hook)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NonFiniteWarning)
            return collect_logit_lens(prompt, model, k=3, metrics=True)
    finally:
        handle.remove()
