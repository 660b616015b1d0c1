"""Shared test set-up: isolated Jupyter state, the system Chromium, the real models."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
STATE = ROOT / ".test-state"

CHROMIUM = "/usr/bin/chromium"
# Without the background-networking flags Chromium keeps dialing Google's hosts, which this
# closed network refuses, many times a start.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def pytest_configure(config: pytest.Config) -> None:
    """Keep every Jupyter, IPython and temp file of the run inside .test-state/."""
    if STATE.exists():
        shutil.rmtree(STATE, ignore_errors=True)
    for name, sub in {
        "JUPYTER_CONFIG_DIR": "jupyter/config",
        "JUPYTER_DATA_DIR": "jupyter/data",
        "JUPYTER_RUNTIME_DIR": "jupyter/runtime",
        "IPYTHONDIR": "ipython",
        "TMPDIR": "tmp",
    }.items():
        path = STATE / sub
        path.mkdir(parents=True, exist_ok=True)
        os.environ[name] = str(path)
    os.environ["JUPYTER_PLATFORM_DIRS"] = "1"
    tempfile.tempdir = None  # forget a temp dir cached before TMPDIR moved


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict) -> dict:
    """Drive the system Chromium: Playwright cannot download its own browsers here."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install it with `apt-get install -y chromium`")
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def smollm2():
    """SmolLM2-135M-Instruct, the embedded default model (loaded once per run)."""
    from logitlenskit.models import load_model

    return load_model()


@pytest.fixture(scope="session")
def gemma3():
    """Gemma 3 270M: 262k vocabulary and final logit softcapping."""
    from logitlenskit.models import load_model

    return load_model("gemma3-270m")


def random_collection(seed: int = 0, n_layers=4, n_pos=3, k=2, vocab_size=20) -> dict:
    """A consistent collection dict (docs/data-format.md §1) drawn from random softmaxes.

    For format and display tests that need no model; the engine's own tests use real ones.
    """
    rng = np.random.default_rng(seed)
    probs = rng.dirichlet(np.full(vocab_size, 0.3), size=(n_layers, n_pos))
    topk = np.argsort(-probs, axis=-1)[..., :k]
    tracked = [np.unique(topk[:, p, :]) for p in range(n_pos)]
    return {
        "model": "random",
        "input": [f"t{p}" for p in range(n_pos)],
        "input_ids": list(range(n_pos)),
        "layers": list(range(n_layers)),
        "topk": torch.tensor(topk, dtype=torch.int32),
        "topk_probs": torch.tensor(np.take_along_axis(probs, topk, -1), dtype=torch.float32),
        "tracked": [torch.tensor(t, dtype=torch.int32) for t in tracked],
        "probs": [torch.tensor(probs[:, p, t], dtype=torch.float32)
                  for p, t in enumerate(tracked)],
        "entropy": torch.tensor(-(probs * np.log(probs)).sum(-1), dtype=torch.float32),
        "vocab": {i: f"tok{i}" for i in range(vocab_size)},
    }


@pytest.fixture
def make_collection():
    """Factory fixture for ``random_collection``."""
    return random_collection
