"""Targets, metrics and studies in VS Code's notebook widget host (conftest.py, host.js).

The study's view is an ipywidgets ``VBox`` of two anywidgets (the study, then the live lens
of a clicked prompt), so this also checks that the host renders a container's children,
including one added after the output was shown. Each flow checks both halves: what the
reproduced webview shows and what the module's kernel holds.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

import pytest
from playwright.sync_api import Locator, expect

pytestmark = [pytest.mark.browser, pytest.mark.jupyter, pytest.mark.slow]

RENDER_TIMEOUT_MS = 30_000
# The kernel is shared by this module's tests: load the model once per kernel.
MODEL = (
    "import json\n"
    "import numpy as np\n"
    "from logitlenskit import LogitLensWidget, load_model\n"
    "if 'model' not in globals():\n"
    "    model = load_model()\n"
)
LAST_LAYER, LAST_POS = 29, 4  # SmolLM2-135M: 30 layers; "The capital of France is": 5 tokens
STUDY = (
    MODEL + "from logitlenskit import collect_study, translation_prompts\n"
    'items = translation_prompts("fr", "de", tokenizer=model.tokenizer, limit=12, shots=2)\n'
    's = collect_study(items, model, contrasts=[("Deutsch", "English")], batch_size=6,'
    " progress=False)\n"
    "box = s.show()\n"
    "box"
)


# --- helpers ------------------------------------------------------------------------------


def py(vscode, expr: str, setup: str = "") -> Any:
    """The JSON value of a Python expression evaluated in the kernel."""
    out = vscode.run(f"{setup}\nprint(json.dumps({expr}))")
    return json.loads(out.strip().splitlines()[-1])


def wait_py(vscode, expr: str, until, timeout: float = 30.0) -> Any:
    """Poll a Python expression until ``until(value)``; returns the value."""
    deadline = time.monotonic() + timeout
    while True:
        value = py(vscode, expr)
        if until(value):
            return value
        assert time.monotonic() < deadline, f"{expr} is still {value!r} after {timeout} s"
        vscode.page.wait_for_timeout(100)


def shown_layers(output: Locator) -> list[int]:
    """The layer of each grid column, in order (every layer is a column; a narrow grid scrolls)."""
    return [int(t.strip()) for t in output.locator(".llk-colhead").all_text_contents()]


def grid_cell(output: Locator, layer: int, position: int) -> Locator:
    column = shown_layers(output).index(layer)
    # Rows build only the columns in view (a new grid opens at its last layers): bring the
    # column into view first, as a user scrolls to it.
    output.locator(".llk-colhead").nth(column).scroll_into_view_if_needed()
    # The scroll event and the rows' rebuild come in the next frames: read after them.
    output.evaluate(FRAMES)
    cell = output.locator(f'.llk-row[data-p="{position}"] .llk-cell[data-ci="{column}"]')
    expect(cell).to_be_attached()
    return cell


def last_prediction(output: Locator) -> Locator:
    return output.locator("[role=row]:has([role=gridcell])").last.locator("[role=gridcell]").last


FRAMES = "() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))"


def background(cell: Locator) -> tuple[tuple[int, int, int], float]:
    """A cell's computed background: its RGB and its alpha (0 = uncolored)."""
    # A row rebuilt between finding the cell and reading it leaves a detached element
    # (empty computed style): find it again.
    for _ in range(20):
        bg = cell.evaluate("e => e.isConnected ? getComputedStyle(e).backgroundColor : ''")
        if bg:
            break
        cell.page.wait_for_timeout(50)
    nums = [float(x) for x in re.findall(r"[\d.]+", bg)]
    return (int(nums[0]), int(nums[1]), int(nums[2])), (nums[3] if len(nums) == 4 else 1.0)


def shown_alpha(intensity: float) -> float:
    """frontend/color.js cellBackground: opacity 0.9 × intensity, to two decimals."""
    return round(min(1.0, max(0.0, intensity)) * 90) / 100


def luminance(rgb: tuple[int, int, int]) -> float:
    def f(v: float) -> float:
        v /= 255
        return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4

    r, g, b = rgb
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b)


def pin_labels(output: Locator) -> Locator:
    return output.locator(".llk-legend-pin .llk-legend-label")


# --- a. Targets and the KL color mode -----------------------------------------------------


def test_named_targets_pin_and_kl_is_chosen_in_the_widgets_menu(vscode):
    vscode.run(
        MODEL + 'w = LogitLensWidget(model=model, prompt="The capital of France is",'
        ' targets={"answer": "Paris", "foil": "London"})\nw'
    )
    output = vscode.render_last_output()
    expect(last_prediction(output)).to_contain_text("Paris", timeout=RENDER_TIMEOUT_MS)
    expect(pin_labels(output)).to_have_text(["answer", "foil"])
    assert py(vscode, "[p.get('name') for p in w.pins]") == ["answer", "foil"]

    mode = output.locator(".llk-mode")
    mode.select_option("kl")
    title = output.locator(".llk-cbar-title")
    expect(title).to_contain_text("KL")
    expect(title).to_contain_text("nats")
    assert wait_py(vscode, "w.color_mode", lambda m: m != "top1", timeout=10) == "kl"

    layers = shown_layers(output)
    assert layers[-1] == LAST_LAYER, layers
    kl = py(
        vscode,
        "np.frombuffer(w.data['kl'], '<f4').reshape(len(w.data['layers']), -1).tolist()",
    )
    color = py(vscode, "w.metric_color")
    top = max(max(kl[layer]) for layer in layers)  # the scale: the shown columns' largest
    for p in range(LAST_POS + 1):
        rgb, alpha = background(grid_cell(output, LAST_LAYER, p))
        assert alpha == 0, f"final layer, position {p}: {rgb} at alpha {alpha}, not uncolored"
    for layer, p in [(0, LAST_POS), (layers[len(layers) // 2], LAST_POS)]:
        rgb, alpha = background(grid_cell(output, layer, p))
        assert alpha == pytest.approx(shown_alpha(kl[layer][p] / top), abs=0.011), (layer, p)
        assert alpha > 0 and "#{:02x}{:02x}{:02x}".format(*rgb) == color.lower()


# --- b. A study, and the live lens of a clicked prompt ------------------------------------


@pytest.mark.parametrize("vscode_theme", ["vscode-dark", "vscode-light"])
def test_a_study_renders_and_a_click_opens_the_prompts_lens(vscode, vscode_theme):
    vscode.page.set_viewport_size({"width": 1100, "height": 1600})  # room for both widgets
    vscode.run(STUDY)
    output = vscode.render_last_output()
    study = output.locator(".llks")
    expect(study.locator(".llks-title")).to_have_text(
        "study: 12 / 12 prompts", timeout=RENDER_TIMEOUT_MS
    )
    expect(study.locator(".llks-stop")).to_be_hidden()
    means = study.locator(".llks-chart .llks-mean")
    expect(means).to_have_count(2)  # p(Deutsch), p(English)
    for d in means.evaluate_all("ps => ps.map(p => p.getAttribute('d') || '')"):
        assert d.startswith("M") and d.count("L") == LAST_LAYER, d[:80]
    canvas = study.locator(".llks-heat-canvas")
    expect(canvas).to_be_visible()
    assert canvas.evaluate("c => [c.height, c.width]") == [12, 30]
    # The theme: an opaque background of the theme's kind (the host's wrapper is white).
    bg = study.evaluate("e => getComputedStyle(e.closest('.llk')).backgroundColor")
    nums = [float(x) for x in re.findall(r"[\d.]+", bg)]
    assert len(nums) == 3 or nums[3] == 1, f"study background {bg} is not opaque"
    dark = luminance(tuple(int(x) for x in nums[:3])) < 0.2
    assert dark == (vscode_theme == "vscode-dark"), f"{vscode_theme}: background {bg}"
    assert output.locator("[role=grid]").count() == 0

    # Click prompt 3's row: the canvas's box and its row height (one canvas pixel per cell).
    rows, columns = canvas.evaluate("c => [c.height, c.width]")
    box = canvas.bounding_box()
    x = box["x"] + box["width"] * 10.5 / columns
    y = box["y"] + box["height"] / rows * 3.5
    vscode.page.mouse.move(x, y)
    expect(study.locator(".llks-readout-index")).to_have_text("#3 ")
    moved = canvas.bounding_box()["y"] - box["y"]
    assert abs(moved) < 1, f"hovering moved the heatmap {moved:+.1f} px under the pointer"
    vscode.page.mouse.click(x, y)
    grid = output.locator("[role=grid]")
    expect(grid).to_be_visible(timeout=RENDER_TIMEOUT_MS)
    assert wait_py(vscode, "box.children[0].selected_prompt", lambda v: v is not None) == 3
    assert py(vscode, 'box.children[1].prompt == items[3]["prompt"]') is True
    n_tokens = py(vscode, "len(box.children[1].result['input'])")
    expect(grid).to_have_attribute("aria-rowcount", str(n_tokens + 1))
    expect(pin_labels(output)).to_have_text(["Deutsch", "English"], timeout=RENDER_TIMEOUT_MS)
    study_box = study.bounding_box()
    assert grid.bounding_box()["y"] >= study_box["y"] + study_box["height"] - 1
    # The host sized the output for both widgets (VS Code sizes the cell from offsetHeight).
    lens = output.locator(".llk:not(.llks)")
    vscode.page.wait_for_timeout(300)
    height = vscode.heights(output)[-1]
    lens_box = lens.bounding_box()
    assert height >= lens_box["y"] + lens_box["height"] - output.bounding_box()["y"] - 1, (
        height,
        lens_box,
    )
