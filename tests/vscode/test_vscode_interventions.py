"""Interventions (issue 20) in VS Code's notebook widget host, with the real SmolLM2.

The popup's "Patch into B" (command ``patch_cell``), the legend's × and α box (``edit``)
travel over the reproduced renderer's comm (conftest.py, host.js) to the module's kernel;
each flow checks what the webview shows and what Python holds.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from playwright.sync_api import Locator, expect

pytestmark = [pytest.mark.browser, pytest.mark.jupyter, pytest.mark.slow]

RENDER_TIMEOUT_MS = 60_000
CLEAN = "The Eiffel Tower is in the city of"  # 9 tokens in SmolLM2, as is CORRUPT
CORRUPT = "The Colosseum is in the city of"
LAYERS = [4, 12, 20, 29]
P = 9
# The kernel is shared by this module's tests: load the model once per kernel.
SETUP = (
    "import json, torch\n"
    "from logitlenskit import LogitLensWidget, load_model, patch_from\n"
    "if 'model' not in globals():\n"
    "    model = load_model()\n"
    f"CLEAN, CORRUPT = {CLEAN!r}, {CORRUPT!r}\n"
)
DIFF = SETUP + f"w = LogitLensWidget.compare(CLEAN, CORRUPT, model=model, layers={LAYERS})\nw"


def py(vscode, expr: str, setup: str = "") -> Any:
    """The JSON value of a Python expression evaluated in the kernel."""
    out = vscode.run(f"{setup}\nprint(json.dumps({expr}))")
    return json.loads(out.strip().splitlines()[-1])


def wait_py(vscode, expr: str, until, timeout: float = 60.0) -> Any:
    """Poll a Python expression until ``until(value)``; returns the value."""
    deadline = time.monotonic() + timeout
    while True:
        value = py(vscode, expr)
        if until(value):
            return value
        assert time.monotonic() < deadline, f"{expr} is still {value!r} after {timeout} s"
        vscode.page.wait_for_timeout(100)


def idle(vscode) -> None:
    assert py(vscode, "w.wait(120)") is True, "the widget is still busy"


def cell(output: Locator, ci: int, p: int) -> Locator:
    """Side A's grid cell of lens column ``ci`` at position ``p``."""
    return output.locator(f'.llk-row[data-p="{p}"] .llk-cell[data-ci="{ci}"]')


def marks(output: Locator) -> dict[tuple[int, int], bool]:
    """Every built grid cell: (column, position) → whether it carries the touched mark."""
    cells = output.evaluate(
        """(o) => [...o.querySelectorAll('.llk-row .llk-cell')].map((c) => [
            Number(c.dataset.ci), Number(c.closest('.llk-row').dataset.p),
            c.classList.contains('llk-touched'),
        ])"""
    )
    return {(ci, p): t for ci, p, t in cells}


def edits_of(vscode) -> list:
    return py(
        vscode, "[[type(e).__name__, e.site[0], getattr(e, 'position', None)] for e in w.edits]"
    )


def show_diff(vscode) -> Locator:
    vscode.run(DIFF)
    output = vscode.render_last_output()
    expect(cell(output, len(LAYERS) - 1, P - 1)).to_be_visible(timeout=RENDER_TIMEOUT_MS)
    idle(vscode)
    return output


def test_patch_into_b_from_the_popup_and_x_in_the_legend(vscode):
    output = show_diff(vscode)
    layer, position = 12, 3
    cell(output, LAYERS.index(layer), position).click()
    button = output.locator(".llk-popup .llk-patch-btn")
    expect(button).to_be_visible()
    expect(button).to_have_text("Patch into B")
    button.click()

    wait_py(vscode, "len(w.edits)", lambda n: n == 1)
    idle(vscode)
    assert edits_of(vscode) == [["Patch", layer, position]]
    assert py(vscode, "[w.prompt, w.compare_prompt]") == [CORRUPT, CORRUPT]
    assert py(vscode, "torch.equal(w.edits[0].vector, patch_from(model, CLEAN, 12, 3).vector)")
    label = py(vscode, "w.data['edits'][0]['label']")
    items = output.locator(".llk-edits .llk-edit")
    expect(items).to_have_count(1)
    expect(items.locator(".llk-edit-label")).to_have_text(label)
    expect(output.locator(".llk-edited")).to_be_visible()
    expect(output.locator(".llk-cell.llk-touched")).to_have_count(
        sum(1 for lay in LAYERS for p in range(P) if lay >= layer and p >= position)
    )
    shown = marks(output)
    assert len(shown) == len(LAYERS) * P
    for (c, p), mark in shown.items():
        assert mark == (LAYERS[c] >= layer and p >= position), (LAYERS[c], p)

    items.locator(".llk-edit-remove").click()
    wait_py(vscode, "len(w.edits)", lambda n: n == 0)
    idle(vscode)
    assert py(vscode, "[w.prompt, w.compare_prompt, w.compare_labels]") == [
        CLEAN,
        CORRUPT,
        ["A", "B"],
    ]
    expect(output.locator(".llk-edits")).to_be_hidden()
    expect(output.locator(".llk-cell.llk-touched")).to_have_count(0)


def test_alpha_zero_typed_in_the_legend_is_the_baseline(vscode):
    output = show_diff(vscode)
    vscode.run("w.steer(12, ' Paris', 40.0)")
    idle(vscode)
    alpha = output.locator(".llk-edits .llk-edit-alpha")
    expect(alpha).to_have_value("40")
    assert (
        py(vscode, "torch.equal(w.result['topk_probs'], w.compare_result['topk_probs'])") is False
    )
    run_before = py(vscode, "w.data['run']")

    alpha.fill("0")
    alpha.press("Enter")
    wait_py(vscode, "w.edits[0].alpha", lambda a: a == 0)
    wait_py(vscode, "w.data['run']", lambda run: run != run_before)
    idle(vscode)
    assert py(vscode, "[w.data['edits'][0]['alpha'], w.prompt, w.compare_prompt]") == [
        0.0,
        CLEAN,
        CLEAN,
    ]
    # α = 0 is the baseline, bit for bit, for every tensor (and list of tensors) of the run.
    differ = py(
        vscode,
        "_bad",
        setup=(
            "_a, _b = w.result, w.compare_result\n"
            "_bad = []\n"
            "for _k in sorted(set(_a) & set(_b)):\n"
            "    _x, _y = _a[_k], _b[_k]\n"
            "    if isinstance(_x, torch.Tensor) and not torch.equal(_x, _y):\n"
            "        _bad.append(_k)\n"
            "    elif isinstance(_x, list) and _x and isinstance(_x[0], torch.Tensor):\n"
            "        if len(_x) != len(_y) or not all(torch.equal(s, t) for s, t in zip(_x, _y)):\n"
            "            _bad.append(_k)"
        ),
    )
    assert differ == []
    expect(alpha).to_have_value("0")
    expect(output.locator(".llk-py-error")).to_be_hidden()
    vscode.run("w.clear_edits()")
    expect(output.locator(".llk-edits")).to_be_hidden()
