"""A real Jupyter server on 127.0.0.1, started and stopped by the browser tiers' fixtures.

Used by tests/e2e (JupyterLab + Notebook 7), tests/vscode (a plain ``jupyter server``
that serves the VS Code host page as static files) and bench/bench_loop.py; with the local
set-up around it: the system Chromium and its flags, and per-process Jupyter state.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SERVER_START_TIMEOUT_S = 60
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
# JupyterLab and Notebook 7 put their application object on ``window.jupyterapp``, which
# the browser tiers drive (kernel status, commands, the current notebook).
EXPOSE_APP_ARGS = [
    "--LabApp.expose_app_in_browser=True",
    "--JupyterNotebookApp.expose_app_in_browser=True",
]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def isolate_state(prefix: str) -> Path:
    """Keep every Jupyter, IPython and temp file of this process in .test-state/<prefix>-<pid>.

    One folder per process, so two runs in one checkout (a benchmark beside a test run)
    never delete each other's servers; folders ``<prefix>-<pid>`` of finished processes are
    removed. Sets the environment (inherited by servers and kernels started later) and
    returns the folder.
    """
    STATE.mkdir(parents=True, exist_ok=True)
    for old in STATE.glob(f"{prefix}-*"):
        pid = old.name.removeprefix(f"{prefix}-")
        if not pid.isdigit() or not _alive(int(pid)):
            shutil.rmtree(old, ignore_errors=True)
    state = STATE / f"{prefix}-{os.getpid()}"
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
    return state


@dataclass(frozen=True)
class JupyterServer:
    """A running server: where it is and the folder it serves."""

    url: str
    token: str
    root: Path

    def page(self, path: str) -> str:
        """Address of a page of this server, with the token."""
        return f"{self.url}/{path}?token={self.token}"

    def api(self, method: str, path: str, body: Any = None) -> Any:
        """Call the REST API (``path`` after ``/api/``); returns the decoded JSON reply."""
        request = urllib.request.Request(
            f"{self.url}/api/{path}",
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as reply:
            text = reply.read()
        return json.loads(text) if text else None

    def write_notebook(self, name: str, cells: list[str]) -> str:
        """Write a notebook of code cells into the served folder; returns its name."""
        notebook = {
            "cells": [
                {
                    "cell_type": "code",
                    "execution_count": None,
                    "id": f"c{i}",
                    "metadata": {},
                    "outputs": [],
                    "source": source,
                }
                for i, source in enumerate(cells)
            ],
            "metadata": {
                "kernelspec": {
                    "display_name": "Python 3 (ipykernel)",
                    "language": "python",
                    "name": "python3",
                }
            },
            "nbformat": 4,
            "nbformat_minor": 5,
        }
        (self.root / name).write_text(json.dumps(notebook))
        return name


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stop_process_group(process: subprocess.Popen) -> None:
    """End a server started with ``start_new_session=True`` and everything it started."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _wait_until_up(url: str, token: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"jupyter server exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2):
                return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"jupyter server not up after {SERVER_START_TIMEOUT_S} s")


@contextmanager
def running_jupyter(
    root: Path, log: Path, *, app: str = "jupyterlab", args: Sequence[str] = ()
) -> Iterator[JupyterServer]:
    """Run ``python -m <app>`` serving ``root`` until the block ends (its kernels too).

    ``app`` is ``jupyterlab`` (JupyterLab + Notebook 7) or ``jupyter_server`` (API and
    static files only); ``args`` are extra command-line options; output goes to ``log``.
    """
    port, token = free_port(), secrets.token_hex(16)
    with open(log, "w") as log_file:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                app,
                "--no-browser",
                "--ip=127.0.0.1",
                f"--port={port}",
                f"--IdentityProvider.token={token}",
                "--allow-root",
                f"--ServerApp.root_dir={root}",
                *args,
            ],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env=os.environ.copy(),
            start_new_session=True,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            _wait_until_up(url, token, process)
            yield JupyterServer(url=url, token=token, root=root)
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, 9)
                process.wait()
