"""Shared test set-up: isolated Jupyter state, the system Chromium, the real models."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest
from fake_lens import torch_collection

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


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def pytest_configure(config: pytest.Config) -> None:
    """Keep every Jupyter, IPython and temp file of the run inside .test-state/run-<pid>.

    One folder per pytest process, so two runs in one checkout (a benchmark beside a test
    run) never delete each other's servers; folders of finished runs are removed.
    """
    STATE.mkdir(parents=True, exist_ok=True)
    for old in STATE.glob("run-*"):
        pid = old.name.removeprefix("run-")
        if not pid.isdigit() or not _alive(int(pid)):
            shutil.rmtree(old, ignore_errors=True)
    state = STATE / f"run-{os.getpid()}"
    for name, sub in {
        "JUPYTER_CONFIG_DIR": "jupyter/config",
        "JUPYTER_DATA_DIR": "jupyter/data",
        "JUPYTER_RUNTIME_DIR": "jupyter/runtime",
        "IPYTHONDIR": "ipython",
        "TMPDIR": "tmp",
    }.items():
        path = state / sub
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


@pytest.fixture
def make_collection():
    """Factory fixture for ``fake_lens.torch_collection`` (a model-free collection dict)."""
    return torch_collection
