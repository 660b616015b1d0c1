"""The runner's progress pacing, on a fake clock (no model: the runner only needs a key)."""

from __future__ import annotations

import pytest

from logitlenskit.core import runs
from logitlenskit.core.session import Control


class _Model:
    """Stands for a model: the runner only locks on it."""


def test_progress_waits_half_a_second_then_comes_at_most_every_quarter(monkeypatch):
    clock = [100.0]
    monkeypatch.setattr(runs.time, "monotonic", lambda: clock[0])
    seen: list[float] = []
    runner = runs.Runner(_Model(), lambda busy: None, lambda f, s: seen.append(f))

    def job(control: Control) -> None:
        for t in (0.0, 0.2, 0.49, 0.5, 0.6, 0.74, 0.75, 0.9, 1.2):
            clock[0] = 100.0 + t
            control.progress(t, f"at {t}")

    runner.submit(job, lambda result: None, pytest.fail, background=False)
    assert seen == [0.5, 0.75, 1.2]
