"""End to end: a real JupyterLab / Notebook 7 server, a real kernel, the real model."""

from __future__ import annotations

import pytest
from lab import (
    FRONTENDS,
    KERNEL_TIMEOUT_MS,
    OUTPUT,
    RUN_TIMEOUT_MS,
    SLICE,
    cell_output,
    data_rows,
    last_prediction,
    open_and_run,
    run_cell,
)
from playwright.sync_api import Page, expect

pytestmark = [pytest.mark.jupyter, pytest.mark.browser, pytest.mark.slow]


@pytest.mark.parametrize("frontend", FRONTENDS)
def test_slice_renders_the_grid(jupyter_server, page: Page, frontend):
    errors: list[str] = []
    # anywidget imports our bundle from a blob: URL, so our errors carry it in their stack;
    # Notebook 7 itself logs a few unrelated errors of its own.
    page.on("pageerror", lambda error: errors.append(f"{error}\n{error.stack}"))
    name = jupyter_server.write_notebook(f"slice-{frontend}.ipynb", SLICE)
    open_and_run(page, jupyter_server, frontend, name)
    expect(page.locator(f"{OUTPUT} [role=grid]")).to_be_visible(timeout=RUN_TIMEOUT_MS)
    expect(data_rows(page)).to_have_count(5)  # SmolLM2 adds no <bos>: The … is
    # SmolLM2's own next-token prediction after "The capital of France is" is " Paris".
    expect(last_prediction(page)).to_contain_text("Paris")
    assert not [e for e in errors if "blob:" in e], errors


def test_typing_a_prompt_reruns_the_model_in_the_kernel(jupyter_server, page: Page):
    name = jupyter_server.write_notebook("live.ipynb", SLICE)
    open_and_run(page, jupyter_server, "jupyterlab", name)
    expect(last_prediction(page)).to_contain_text("Paris", timeout=RUN_TIMEOUT_MS)
    box = page.locator(f"{OUTPUT} [aria-label=prompt]")
    box.fill("The Eiffel Tower is located in the city of")
    box.press("Enter")  # JupyterLab swallows `change` on Enter; the widget listens to keydown
    expect(data_rows(page)).to_have_count(10, timeout=RUN_TIMEOUT_MS)
    expect(last_prediction(page)).to_contain_text("Paris")


# Every corner of the popup must be the popup itself on screen: an output area or a cell
# that clips overflow would hide part of it, or an overlapping panel would cover it.
POPUP_FULLY_VISIBLE = """(popup) => {
  const r = popup.getBoundingClientRect();
  const inset = 3;
  const corners = [[r.left + inset, r.top + inset], [r.right - inset, r.top + inset],
                   [r.left + inset, r.bottom - inset], [r.right - inset, r.bottom - inset]];
  return corners.map(([x, y]) => {
    const hit = document.elementFromPoint(x, y);
    return hit !== null && popup.contains(hit);
  });
}"""


@pytest.mark.parametrize("frontend", FRONTENDS)
def test_popup_of_the_last_row_is_not_clipped_by_the_notebook(jupyter_server, page: Page, frontend):
    name = jupyter_server.write_notebook(f"popup-{frontend}.ipynb", SLICE)
    open_and_run(page, jupyter_server, frontend, name)
    cell = last_prediction(page)
    expect(cell).to_contain_text("Paris", timeout=RUN_TIMEOUT_MS)
    cell.click()
    popup = page.locator(f"{OUTPUT} .llk-popup")
    expect(popup).to_be_visible()
    # It opens with the k=5 the browser has, then grows to the 20 that Python computed.
    expect(popup.locator(".llk-popup-row")).to_have_count(20)
    assert popup.evaluate(POPUP_FULLY_VISIBLE) == [True] * 4


def test_ui_state_syncs_both_ways_and_survives_reopening(jupyter_server, page: Page):
    name = jupyter_server.write_notebook(
        "state.ipynb",
        [
            SLICE[0],
            "print('PINS', w.pins, 'SELECTED', w.selected_cell)",
            "w.pins = []\nw.title = 'set from Python'",
        ],
    )
    open_and_run(page, jupyter_server, "jupyterlab", name)
    cell = last_prediction(page)
    expect(cell).to_contain_text("Paris", timeout=RUN_TIMEOUT_MS)
    # Browser → kernel: pin the top token from the popup, then read w.pins in Python.
    cell.click()
    expect(page.locator(f"{OUTPUT} .llk-popup-row")).to_have_count(20)  # grown: stable rows
    row = page.locator(f"{OUTPUT} .llk-popup-row").first
    token_id = row.get_attribute("data-id")
    row.click()
    pins = page.locator(f"{OUTPUT} .llk-legend-pin")
    expect(pins).to_have_count(1)
    run_cell(page, 1)
    expect(cell_output(page, 1)).to_contain_text(f"PINS [{{'ids': [{token_id}]")
    # SmolLM2 has 30 layers; the clicked cell is the last layer at the last of 5 positions.
    expect(cell_output(page, 1)).to_contain_text("SELECTED {'layer': 29, 'position': 4}")
    # Saved, closed and opened again, the view comes back from the kernel with its pin.
    page.evaluate("window.jupyterapp.commands.execute('docmanager:save')")
    page.evaluate("window.jupyterapp.shell.currentWidget.close()")
    page.evaluate(f"window.jupyterapp.commands.execute('docmanager:open', {{ path: '{name}' }})")
    expect(last_prediction(page)).to_contain_text("Paris", timeout=KERNEL_TIMEOUT_MS)
    expect(pins).to_have_count(1)
    # Kernel → browser: traits set in Python change the widget on screen.
    run_cell(page, 2)
    expect(page.locator(f"{OUTPUT} .llk-title")).to_have_value("set from Python")
    expect(pins).to_have_count(0)
