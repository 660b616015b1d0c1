"""End to end in JupyterLab: generate and watch from the run bar, and Stop mid-generation."""

from __future__ import annotations

import re

import pytest
from lab import OUTPUT, RUN_TIMEOUT_MS, cell_output, open_and_run, run_cell
from playwright.sync_api import Page, expect

pytestmark = [pytest.mark.jupyter, pytest.mark.browser, pytest.mark.slow]


def _printed(page: Page, index: int, label: str) -> str:
    run_cell(page, index)
    out = cell_output(page, index)
    expect(out).to_contain_text(label, timeout=RUN_TIMEOUT_MS)
    match = re.search(re.escape(label) + r" (.*)", out.inner_text())
    assert match, out.inner_text()
    return match.group(1).strip()


def test_generate_from_the_run_bar_marks_rows_and_stop_keeps_the_tokens(jupyter_server, page: Page):
    name = jupyter_server.write_notebook(
        "views-generate.ipynb",
        [
            "from logitlenskit import LogitLensWidget, load_model\n"
            'w = LogitLensWidget(model=load_model(), prompt="What is the capital of France?", '
            "chat=True)\nw",
            "import numpy as np\n"
            'kinds = np.frombuffer(w.data["position_kinds"], np.uint8)\n'
            "print('KINDS', int((kinds == 1).sum()), int((kinds == 2).sum()), len(w.result['input']))",
            "print('BUSY', w.busy, w.error)",
        ],
    )
    open_and_run(page, jupyter_server, "jupyterlab", name)
    grid = page.locator(f"{OUTPUT} [role=grid]")
    expect(grid).to_have_attribute("aria-rowcount", re.compile(r"\d+"), timeout=RUN_TIMEOUT_MS)
    rows_before = int(grid.get_attribute("aria-rowcount"))
    # Template tokens are drawn apart from the user's text.
    assert page.locator(f"{OUTPUT} .llk-template").count() > 0
    # The chat control shows (the model has a chat template) and is on.
    expect(page.locator(f"{OUTPUT} .llk-chat")).to_be_checked()
    page.locator(f"{OUTPUT} .llk-gen-n").fill("6")
    page.locator(f"{OUTPUT} .llk-generate-btn").click()
    expect(grid).to_have_attribute("aria-rowcount", str(rows_before + 6), timeout=RUN_TIMEOUT_MS)
    grid.evaluate("g => { g.scrollTop = g.scrollHeight; }")  # rows are virtualized
    expect(page.locator(f"{OUTPUT} .llk-generated").first).to_be_visible()
    expect(page.locator(f"{OUTPUT} .llk-commit").first).to_be_attached()
    template, generated, n_pos = _printed(page, 1, "KINDS").split()
    assert int(generated) == 6 and int(n_pos) == rows_before + 5  # the header row counts
    assert int(template) > 0


def test_stop_ends_a_generation_and_keeps_its_tokens(jupyter_server, page: Page):
    name = jupyter_server.write_notebook(
        "views-stop.ipynb",
        [
            "from logitlenskit import LogitLensWidget, load_model\n"
            'w = LogitLensWidget(model=load_model(), prompt="Once upon a time, in a land far '
            'away, there lived")\nw',
            "print('STATE', w.busy, len(w.result['input']), len(w.data['input']))",
        ],
    )
    open_and_run(page, jupyter_server, "jupyterlab", name)
    grid = page.locator(f"{OUTPUT} [role=grid]")
    expect(grid).to_have_attribute("aria-rowcount", re.compile(r"\d+"), timeout=RUN_TIMEOUT_MS)
    rows_before = int(grid.get_attribute("aria-rowcount"))
    page.locator(f"{OUTPUT} .llk-gen-n").fill("300")
    page.locator(f"{OUTPUT} .llk-generate-btn").click()
    stop = page.locator(f"{OUTPUT} .llk-stop")
    expect(stop).to_be_visible(timeout=20_000)
    expect(grid).not_to_have_attribute("aria-rowcount", str(rows_before), timeout=20_000)
    stop.click()
    expect(stop).to_be_hidden(timeout=20_000)
    busy, in_result, in_data = _printed(page, 1, "STATE").split()
    assert busy == "False" and in_result == in_data  # what Python holds is what is shown
    assert rows_before - 1 < int(in_data) < rows_before - 1 + 300
    expect(grid).to_have_attribute("aria-rowcount", str(int(in_data) + 1))


def test_sub_layer_columns_and_editing_side_b_of_a_diff(jupyter_server, page: Page):
    name = jupyter_server.write_notebook(
        "views-diff.ipynb",
        [
            "from logitlenskit import LogitLensWidget, load_model\n"
            "w = LogitLensWidget.compare('The capital of France is', 'The capital of Italy is',\n"
            "    model=load_model(), labels=['France', 'Italy'], layers=[26, 27, 28, 29],\n"
            "    sublayers=True)\nw",
            "print('SIDES', repr(w.compare_prompt), len(w.compare_data['input']), "
            "w.compare_data['row_kinds'], w.busy)",
        ],
    )
    open_and_run(page, jupyter_server, "jupyterlab", name)
    grid = page.locator(f"{OUTPUT} [role=grid]")
    expect(grid).to_have_attribute("aria-rowcount", "6", timeout=RUN_TIMEOUT_MS)
    # Each layer has an after-attention column (labelled "N·a") beside its output column.
    header = page.locator(f"{OUTPUT} [role=columnheader]")
    expect(header.filter(has_text="29·a")).to_have_count(1, timeout=RUN_TIMEOUT_MS)
    expect(header.filter(has_text=re.compile(r"^\s*29\s*$"))).to_have_count(1)
    assert (
        _printed(page, 1, "SIDES") == "'The capital of Italy is' 5 [1, 0, 1, 0, 1, 0, 1, 0] False"
    )
    # Edit side B in the widget: only side B reruns, with the new prompt.
    box = page.locator(f"{OUTPUT} [aria-label*='side B']")
    box.fill("The capital of Spain is the city of")
    box.press("Enter")
    wanted = "'The capital of Spain is the city of' 8 [1, 0, 1, 0, 1, 0, 1, 0] False"
    for _ in range(30):
        if _printed(page, 1, "SIDES") == wanted:
            break
        page.wait_for_timeout(1000)
    assert _printed(page, 1, "SIDES") == wanted
    expect(grid).to_have_attribute("aria-rowcount", re.compile(r"^(6|9)$"))
