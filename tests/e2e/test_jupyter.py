"""End to end: a real JupyterLab / Notebook 7 server, a real kernel, the real model."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

pytestmark = [pytest.mark.jupyter, pytest.mark.browser, pytest.mark.slow]

KERNEL_TIMEOUT_MS = 60_000
RUN_TIMEOUT_MS = 120_000  # the kernel imports torch and loads the model first

SLICE = [
    "from logitlenskit import LogitLensWidget, load_model\n"
    'w = LogitLensWidget(model=load_model(), prompt="The capital of France is")\n'
    "w",
]


def _last_prediction(page: Page):
    """The cell of the last position at the last layer (the model's own prediction)."""
    return page.locator(".jp-OutputArea [role=row]:has([role=gridcell])").last.locator(
        "[role=gridcell]"
    ).last


def _wait_for_kernel(page: Page) -> None:
    expect(page.get_by_text(re.compile(r"Python 3 \(ipykernel\) \| Idle"))).to_be_visible(
        timeout=KERNEL_TIMEOUT_MS
    )


def _run_all(page: Page) -> None:
    page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")


def test_slice_renders_grid_in_jupyterlab(jupyter_server, page: Page):
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    name = jupyter_server.write_notebook("slice.ipynb", SLICE)
    page.goto(jupyter_server.page(f"lab/tree/{name}"))
    _wait_for_kernel(page)
    _run_all(page)
    grid = page.locator(".jp-OutputArea [role=grid]")
    expect(grid).to_be_visible(timeout=RUN_TIMEOUT_MS)
    # SmolLM2's own next-token prediction after "The capital of France is" is " Paris".
    expect(_last_prediction(page)).to_contain_text("Paris")
    rows = page.locator(".jp-OutputArea [role=row]:has([role=gridcell])")
    expect(rows).to_have_count(5)  # SmolLM2 adds no <bos>: The, capital, of, France, is
    assert not [e for e in errors if "logitlens" in e.lower()], errors


def test_typing_a_prompt_reruns_the_model_in_the_kernel(jupyter_server, page: Page):
    name = jupyter_server.write_notebook("live.ipynb", SLICE)
    page.goto(jupyter_server.page(f"lab/tree/{name}"))
    _wait_for_kernel(page)
    _run_all(page)
    expect(_last_prediction(page)).to_contain_text("Paris", timeout=RUN_TIMEOUT_MS)
    box = page.locator(".jp-OutputArea input[aria-label='Prompt']")
    box.fill("The Eiffel Tower is located in the city of")
    box.press("Enter")
    rows = page.locator(".jp-OutputArea [role=row]:has([role=gridcell])")
    expect(rows).to_have_count(10, timeout=RUN_TIMEOUT_MS)
    expect(_last_prediction(page)).to_contain_text("Paris")
