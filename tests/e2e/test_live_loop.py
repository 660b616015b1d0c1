"""End to end, the live loop in a real JupyterLab with a real kernel and the real model:
clicks and pins go to Python and come back; Python's assignments reach the widget.
"""

from __future__ import annotations

import re

import pytest
from lab import (
    OUTPUT,
    RUN_TIMEOUT_MS,
    cell_output,
    data_rows,
    last_prediction,
    open_and_run,
    run_cell,
)
from playwright.sync_api import Page, expect

pytestmark = [pytest.mark.jupyter, pytest.mark.browser, pytest.mark.slow]

SETUP = (
    "from logitlenskit import LogitLensWidget, load_model\n"
    "selections = []\n"
    'w = LogitLensWidget(model=load_model(), prompt="The capital of France is")\n'
    "w.on_select(lambda *args: selections.append(args))\n"
    "w"
)


def _printed(page: Page, index: int, label: str) -> str:
    """Run cell ``index`` and return what it printed after ``label``."""
    run_cell(page, index)
    out = cell_output(page, index)
    expect(out).to_contain_text(label, timeout=RUN_TIMEOUT_MS)
    match = re.search(re.escape(label) + r" (.*)", out.inner_text())
    assert match, out.inner_text()
    return match.group(1).strip()


def test_a_click_grows_the_popup_with_pythons_numbers_and_a_pin_is_tracked(
    jupyter_server, page: Page
):
    name = jupyter_server.write_notebook(
        "loop-click.ipynb",
        [
            SETUP,
            # Python's own answer for the cell the test clicks, and a token of its top 20 that is
            # in no position's top-k (so nothing had been collected for it).
            'answer, _ = w.detail({"run": w.data["run"], "layer": 29, "position": 4, "k": 20}, [])\n'
            "seen = set().union(*(set(t.tolist()) for t in w.result['tracked']))\n"
            "fresh = next(i for i in answer['ids'] if i not in seen)\n"
            "print('IDS', ' '.join(map(str, answer['ids'])))\n"
            "print('FRESH', fresh)",
            "print('SELECTED', selections[-1])",
            "print('TRACKED', all(fresh in t.tolist() for t in w.result['tracked']), "
            "[p['ids'] for p in w.pins])",
            "w.pinned_rows = [1, 3]",
        ],
    )
    open_and_run(page, jupyter_server, "jupyterlab", name)
    cell = last_prediction(page)
    expect(cell).to_contain_text("Paris", timeout=RUN_TIMEOUT_MS)
    ids = _printed(page, 1, "IDS").split()
    fresh = _printed(page, 1, "FRESH")

    cell.click()
    rows = page.locator(f"{OUTPUT} .llk-popup-row")
    expect(rows).to_have_count(20)  # grown from the browser's 5 to Python's 20
    assert [rows.nth(i).get_attribute("data-id") for i in range(20)] == ids
    assert _printed(page, 2, "SELECTED") == "(29, 4, 7042, ' Paris')"
    page.locator(f"{OUTPUT} .llk-popup-more").click()
    expect(rows).to_have_count(100)

    run_cell(page, 4)  # two pinned input rows: a pin draws one line per row
    rows.locator(f"xpath=self::*[@data-id='{fresh}']").click()
    legend = page.locator(f"{OUTPUT} .llk-legend-pin")
    expect(legend).to_have_count(1)
    expect(legend).not_to_contain_text("#")
    lines = page.locator(f"{OUTPUT} .llk-lines path")
    expect(lines).to_have_count(2)
    for i in range(2):  # a whole line at every pinned row: one point per layer, no gap
        d = lines.nth(i).get_attribute("d") or ""
        assert d.count("L") == 29 and d.count("M") == 1, d
    assert _printed(page, 3, "TRACKED") == f"True [[{fresh}]]"


def test_python_assignments_and_a_multi_line_prompt(jupyter_server, page: Page):
    name = jupyter_server.write_notebook(
        "loop-traits.ipynb",
        [
            SETUP,
            "w.k = 8\nw.layers = [0, 10, 29]",
            'w.prompt = "Bonjour"',
            "print('PROMPT', repr(w.prompt), len(w.result['input']))",
        ],
    )
    open_and_run(page, jupyter_server, "jupyterlab", name)  # runs every cell in turn
    # The widget shows the state of the last assignments: 3 layers, k = 8, "Bonjour".
    expect(data_rows(page)).to_have_count(2, timeout=RUN_TIMEOUT_MS)
    expect(page.locator(f"{OUTPUT} [role=columnheader]")).to_have_count(4)
    expect(page.locator(f"{OUTPUT} [aria-label=k]")).to_have_value("8")
    box = page.locator(f"{OUTPUT} [aria-label=prompt]")
    expect(box).to_have_value("Bonjour")

    box.fill("")
    box.type("Roses are red,")
    box.press("Shift+Enter")  # a new line, not a run
    box.type("violets are")
    expect(data_rows(page)).to_have_count(2)
    box.press("Enter")
    expect(data_rows(page)).to_have_count(10, timeout=RUN_TIMEOUT_MS)
    assert _printed(page, 3, "PROMPT") == "'Roses are red,\\nviolets are' 10"


def test_stop_abandons_a_long_run_and_keeps_the_view(jupyter_server, page: Page):
    name = jupyter_server.write_notebook(
        "loop-stop.ipynb",
        [
            SETUP,
            "print('STATE', w.busy, w.error.split(':')[0], len(w.result['input']))",
        ],
    )
    open_and_run(page, jupyter_server, "jupyterlab", name)
    expect(last_prediction(page)).to_contain_text("Paris", timeout=RUN_TIMEOUT_MS)
    box = page.locator(f"{OUTPUT} [aria-label=prompt]")
    box.fill("word " * 1500)
    box.press("Enter")
    stop = page.locator(f"{OUTPUT} .llk-stop")
    expect(stop).to_be_visible(timeout=10_000)  # progress shows after about a second
    expect(page.locator(f"{OUTPUT} .llk-progress")).to_contain_text("forward pass")
    stop.click()
    expect(stop).to_be_hidden(timeout=10_000)
    expect(data_rows(page)).to_have_count(5)
    expect(last_prediction(page)).to_contain_text("Paris")
    assert _printed(page, 1, "STATE") == "False Stopped 5"
    # Cancelled whole: the typed prompt stays in the box as a draft, marked as not run.
    expect(box).to_have_value("word " * 1500)
    expect(page.locator(f"{OUTPUT} .llk-draft-note")).to_be_visible()


def test_on_select_prints_below_the_cell_that_registered_it(jupyter_server, page: Page):
    """README's example: `w.on_select(lambda ...: print(...))` prints where the user sees it."""
    name = jupyter_server.write_notebook(
        "loop-print.ipynb",
        [
            "from logitlenskit import LogitLensWidget, load_model\n"
            'w = LogitLensWidget(model=load_model(), prompt="The capital of France is")\n'
            "w",
            "w.on_select(lambda layer, pos, token_id, token: print('PICKED', layer, pos, token))",
        ],
    )
    open_and_run(page, jupyter_server, "jupyterlab", name)
    cell = last_prediction(page)
    expect(cell).to_contain_text("Paris", timeout=RUN_TIMEOUT_MS)
    cell.click()
    expect(cell_output(page, 1).first).to_contain_text("PICKED 29 4 Paris", timeout=30_000)
