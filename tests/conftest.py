"""Shared test set-up: isolated Jupyter state, the system Chromium, the real models."""

from __future__ import annotations

from pathlib import Path

import pytest

from fake_lens import torch_collection
from local_jupyter import CHROMIUM, CHROMIUM_ARGS, isolate_state


def pytest_configure(config: pytest.Config) -> None:
    """Keep every Jupyter, IPython and temp file of the run inside .test-state/run-<pid>.

    One folder per pytest process, so two runs in one checkout (a benchmark beside a test
    run) never delete each other's servers; folders of finished runs are removed.
    """
    isolate_state("run")


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict) -> dict:
    """Drive the system Chromium: Playwright cannot download its own browsers here."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install it with `apt-get install -y chromium`")
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def smollm2():
    """SmolLM2-135M-Instruct, the embedded default model (loaded once per run)."""
    from logitlenskit.core.models import load_model

    return load_model()


@pytest.fixture(scope="session")
def gemma3():
    """Gemma 3 270M: 262k vocabulary and final logit softcapping."""
    from logitlenskit.core.models import load_model

    return load_model("gemma3-270m")


@pytest.fixture
def fed(smollm2):
    """How many tokens each forward pass of SmolLM2 is given while the test runs (a list)."""
    lengths: list[int] = []
    handle = smollm2._model.model.register_forward_pre_hook(
        lambda _m, args, kwargs: lengths.append(kwargs["input_ids"].shape[1]), with_kwargs=True
    )
    yield lengths
    handle.remove()


@pytest.fixture
def make_collection():
    """Factory fixture for ``fake_lens.torch_collection`` (a model-free collection dict)."""
    return torch_collection
