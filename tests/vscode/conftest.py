"""VS Code host tier: VS Code's notebook widget host reproduced in Chromium (see README.md).

A plain ``jupyter server`` serves the host page (built into .test-state/ at the start of the
session) as static files, plus the API and a real kernel. Each test gets ``vscode``: a fresh
host page on that kernel, with helpers to run code and render widget outputs.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from local_jupyter import JupyterServer, running_jupyter

HERE = Path(__file__).parent
ROOT = HERE.parent.parent
HOST_DIR = "vscode-host"  # served at /static/vscode-host/
RUN_TIMEOUT_MS = 180_000  # the first cell of a kernel imports torch and loads the model


class KernelError(AssertionError):
    """Code run in the kernel raised; the message holds the traceback."""


@pytest.fixture(scope="session")
def vscode_static(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Build the host page into a git-ignored folder; returns the folder to serve."""
    if not (ROOT / "node_modules" / "@vscode" / "jupyter-ipywidgets8").is_dir():
        pytest.fail("the VS Code host needs the npm devDependencies: run `npm ci`")
    static = tmp_path_factory.mktemp("vscode-static")
    out = static / HOST_DIR
    subprocess.run(["node", str(HERE / "build_host.mjs"), str(out)], check=True, cwd=ROOT)
    shutil.copy(HERE / "host.html", out / "index.html")
    shutil.copy(HERE / "host.js", out / "host.js")
    # VS Code copies the kernel environment's nbextensions folder and loads widget modules
    # (anywidget's AMD build among them) from that copy with require.js.
    shutil.copytree(Path(sys.prefix) / "share" / "jupyter" / "nbextensions", out / "nbextensions")
    return static


@pytest.fixture(scope="session")
def vscode_server(
    tmp_path_factory: pytest.TempPathFactory, vscode_static: Path
) -> Iterator[JupyterServer]:
    """A plain Jupyter server that also serves the host page; stopped after the run."""
    root = tmp_path_factory.mktemp("vscode-root")
    with running_jupyter(
        root,
        root.parent / "vscode-server.log",
        app="jupyter_server",
        args=[f"--ServerApp.extra_static_paths={[str(vscode_static)]}"],
    ) as server:
        yield server


@pytest.fixture(scope="module")
def vscode_kernel(vscode_server: JupyterServer) -> Iterator[str]:
    """A kernel shared by a module's tests (state carries over between them); its id."""
    kernel_id = vscode_server.api("POST", "kernels", {"name": "python3"})["id"]
    yield kernel_id
    vscode_server.api("DELETE", f"kernels/{kernel_id}")


class VSCodeHost:
    """One host page connected to the module's kernel: run code, render outputs, read them.

    ``errors`` collects page errors, unhandled rejections, widget load failures and console
    errors; the ``vscode`` fixture fails the test when any remain at its end.
    """

    def __init__(self, page: Any, server: JupyterServer, kernel_id: str, theme: str) -> None:
        self.page = page
        self.errors: list[str] = []
        self._outputs: list[str] = []  # output ids in render order
        self._widgets: list[dict] = []  # widget-view data of the last run
        page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}\n{exc.stack}"))
        page.on("console", self._on_console)
        page.on("dialog", lambda d: (self.errors.append(f"dialog: {d.message}"), d.dismiss()))
        page.goto(
            f"{server.url}/static/{HOST_DIR}/index.html?token={server.token}"
            f"&kernel={kernel_id}&theme={theme}"
        )
        page.wait_for_function("window.vscReady === true", timeout=60_000)

    def _on_console(self, msg: Any) -> None:
        if msg.type == "error":
            self.errors.append(f"console.error: {msg.text}")

    def all_errors(self) -> list[str]:
        """Errors seen by Playwright plus those the page recorded itself."""
        return self.errors + self.page.evaluate("window.vsc.errors")

    def run(self, code: str, timeout_ms: int = RUN_TIMEOUT_MS) -> str:
        """Run ``code`` in the kernel like a notebook cell; returns its stdout.

        Raises KernelError when the code raises. Widget outputs it displays become the
        ones ``render_last_output`` renders.
        """
        result = self.page.evaluate(
            """([code, ms]) => Promise.race([
                 window.vsc.run(code),
                 new Promise((_, no) => setTimeout(() => no(new Error(`cell ran over ${ms} ms`)), ms)),
               ])""",
            [code, timeout_ms],
        )
        if result["error"]:
            raise KernelError(f"{result['error']}\n--- stderr ---\n{result['stderr']}")
        self._widgets = result["widgets"]
        return result["stdout"]

    def render_last_output(self, *, top: int | None = None) -> Any:
        """Render the last widget output of the last ``run`` into a new cell output.

        ``top``: place the cell at this many px from the top of the page (default: below
        the previous outputs). Returns the Locator of the output (``div.output``).
        """
        assert self._widgets, "the last run displayed no widget"
        return self.render(self._widgets[-1], top=top)

    def render(self, widget_data: dict, *, top: int | None = None) -> Any:
        """Render a widget-view output (``{"model_id": ..., ...}``); returns its Locator."""
        output_id = self.page.evaluate(
            "([data, top]) => window.vsc.render(data, {top})", [widget_data, top]
        )
        self._outputs.append(output_id)
        return self.page.locator(f"#{output_id}")

    @property
    def output(self) -> Any:
        """Locator of the most recently rendered output."""
        assert self._outputs, "nothing rendered yet"
        return self.page.locator(f"#{self._outputs[-1]}")

    @property
    def last_widget(self) -> dict:
        """The widget-view data (model_id, version) of the last run's last widget."""
        assert self._widgets, "the last run displayed no widget"
        return self._widgets[-1]

    def dispose(self, output: Any) -> None:
        """Dispose an output's widget view and remove the output, as closing it does."""
        self.page.evaluate("(id) => window.vsc.dispose(id)", output.get_attribute("id"))

    def heights(self, output: Any) -> list[int]:
        """Every offsetHeight the host's ResizeObserver reported for ``output``, in order."""
        return self.page.evaluate(
            "(id) => window.vsc.heights[id] ?? []", output.get_attribute("id")
        )

    def set_theme(self, kind: str) -> None:
        """Switch the body's theme class and --vscode-* variables, as VS Code does live."""
        self.page.evaluate("(k) => window.vsc.setTheme(k)", kind)


@pytest.fixture
def vscode_theme() -> str:
    """Theme kind the host page opens with; override (or parametrize) to change it."""
    return "vscode-dark"


@pytest.fixture
def vscode(
    page: Any, vscode_server: JupyterServer, vscode_kernel: str, vscode_theme: str
) -> Iterator[VSCodeHost]:
    """A fresh VS Code host page on the module's kernel; fails the test on any page error."""
    page.set_viewport_size({"width": 1100, "height": 900})
    host = VSCodeHost(page, vscode_server, vscode_kernel, vscode_theme)
    yield host
    errors = host.all_errors()
    assert errors == [], "\n\n".join(errors)
