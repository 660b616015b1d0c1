"""A real Jupyter server (JupyterLab + Notebook 7) on 127.0.0.1 for end-to-end tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from local_jupyter import EXPOSE_APP_ARGS, JupyterServer, running_jupyter


@pytest.fixture(scope="session")
def jupyter_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterServer]:
    """JupyterLab + Notebook 7 serving a temp folder; stopped (with kernels) after the run."""
    root = tmp_path_factory.mktemp("notebooks")
    with running_jupyter(root, root.parent / "jupyter-server.log", args=EXPOSE_APP_ARGS) as server:
        yield server
