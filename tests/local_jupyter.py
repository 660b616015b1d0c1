"""A real Jupyter server on 127.0.0.1, started and stopped by the browser tiers' fixtures.

Used by tests/e2e (JupyterLab + Notebook 7) and tests/vscode (a plain ``jupyter server``
that serves the VS Code host page as static files).
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SERVER_START_TIMEOUT_S = 60


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
                {"cell_type": "code", "execution_count": None, "id": f"c{i}",
                 "metadata": {}, "outputs": [], "source": source}
                for i, source in enumerate(cells)
            ],
            "metadata": {"kernelspec": {"display_name": "Python 3 (ipykernel)",
                                        "language": "python", "name": "python3"}},
            "nbformat": 4,
            "nbformat_minor": 5,
        }
        (self.root / name).write_text(json.dumps(notebook))
        return name


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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
            [sys.executable, "-m", app, "--no-browser", "--ip=127.0.0.1", f"--port={port}",
             f"--IdentityProvider.token={token}", "--allow-root",
             f"--ServerApp.root_dir={root}", *args],
            stdout=log_file, stderr=subprocess.STDOUT, env=os.environ.copy(),
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
