"""marimo host tier: a real ``marimo run`` server on 127.0.0.1 serving lens_app.py.

marimo renders anywidgets itself (no Jupyter, no ipywidgets manager in the page): its own
model object, its own comm over a websocket, its own kernel per browser session. Each test
opens the app in a fresh page, which starts a fresh session that runs the notebook.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from local_jupyter import free_port, stop_process_group

HERE = Path(__file__).parent
APP = HERE / "lens_app.py"
START_TIMEOUT_S = 60


@dataclass(frozen=True)
class MarimoServer:
    """A running ``marimo run``: its address and its log (stdout and stderr)."""

    url: str
    log: Path


def _wait_until_up(url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"marimo exited with {process.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2):
                return
        except OSError:
            time.sleep(0.3)
    pytest.fail(f"marimo not up after {START_TIMEOUT_S} s:\n{log.read_text()}")


@pytest.fixture(scope="session")
def marimo_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MarimoServer]:
    """``marimo run lens_app.py`` headless, without a token, until the session ends."""
    work = tmp_path_factory.mktemp("marimo")
    log = work / "marimo.log"
    port = free_port()
    # marimo reads and writes its config under $XDG_CONFIG_HOME: keep it in the run's state.
    env = {**os.environ, "XDG_CONFIG_HOME": str(work / "config")}
    with open(log, "w") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "marimo",
                "run",
                str(APP),
                "--headless",
                "--no-token",
                "--host=127.0.0.1",
                f"--port={port}",
            ],
            cwd=work,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(url, process, log)
        yield MarimoServer(url=url, log=log)
    finally:
        stop_process_group(process)
