"""Driving a real JupyterLab / Notebook 7 page: open a notebook, run cells, find the widget."""

from __future__ import annotations

from playwright.sync_api import Page

KERNEL_TIMEOUT_MS = 60_000
RUN_TIMEOUT_MS = 120_000  # the kernel imports torch and loads the model first
# Both front ends are JupyterLab applications: the same app API, different page paths.
FRONTENDS = {"jupyterlab": "lab/tree", "notebook7": "notebooks"}

SLICE = [
    "from logitlenskit import LogitLensWidget, load_model\n"
    'w = LogitLensWidget(model=load_model(), prompt="The capital of France is")\n'
    "w",
]


def open_and_run(page: Page, server, frontend: str, name: str) -> None:
    # `reset` starts from an empty workspace, so notebooks of earlier tests stay closed.
    page.goto(server.page(f"{FRONTENDS[frontend]}/{name}") + "&reset")
    # A status-bar "Idle" can show before the kernel's session is attached; ask the app.
    page.wait_for_function(
        "() => window.jupyterapp?.shell?.currentWidget?.sessionContext?.session"
        "?.kernel?.status === 'idle'",
        timeout=KERNEL_TIMEOUT_MS,
    )
    page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")


# JupyterLab reopens earlier notebooks of the session as background tabs: look only at
# the output of the notebook on screen.
OUTPUT = ".jp-OutputArea:visible"


def data_rows(page: Page):
    return page.locator(f"{OUTPUT} [role=row]:has([role=gridcell])")


def last_prediction(page: Page):
    """The cell of the last position at the last layer: the model's own prediction."""
    return data_rows(page).last.locator("[role=gridcell]").last


def run_cell(page: Page, index: int) -> None:
    page.evaluate(
        "(i) => { const nb = window.jupyterapp.shell.currentWidget.content;"
        " nb.activeCellIndex = i; return window.jupyterapp.commands.execute('notebook:run-cell'); }",
        index,
    )


def cell_output(page: Page, index: int):
    return page.locator(".jp-NotebookPanel:visible .jp-Cell").nth(index).locator(".jp-OutputArea")
