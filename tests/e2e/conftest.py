"""A real Jupyter server (JupyterLab + Notebook 7) on 127.0.0.1 for end-to-end tests."""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest

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


def _free_port() -> int:
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


@pytest.fixture(scope="session")
def jupyter_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterServer]:
    """JupyterLab + Notebook 7 serving a temp folder; stopped (with kernels) after the run."""
    root = tmp_path_factory.mktemp("notebooks")
    port, token = _free_port(), secrets.token_hex(16)
    log = open(root.parent / "jupyter-server.log", "w")
    process = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1",
         f"--port={port}", f"--IdentityProvider.token={token}", "--allow-root",
         f"--ServerApp.root_dir={root}", "--LabApp.expose_app_in_browser=True",
         "--JupyterNotebookApp.expose_app_in_browser=True"],
        stdout=log, stderr=subprocess.STDOUT, env=os.environ.copy(),
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
        log.close()
