"""End to end: targets, metrics and studies in a real JupyterLab with a real kernel and model.

Each flow is driven as a user would (the widget's own menus, a click on the study's heatmap,
its Stop and Resume buttons) and checked on both sides: what the page shows, and what the
kernel holds, read back by running code in a scratch cell of the same notebook.
"""

from __future__ import annotations

import itertools
import json
import re
import time
from typing import Any

import pytest
from lab import FRONTENDS, KERNEL_TIMEOUT_MS, RUN_TIMEOUT_MS, cell_output, open_and_run, run_cell
from playwright.sync_api import Locator, Page, expect

pytestmark = [pytest.mark.jupyter, pytest.mark.browser, pytest.mark.slow]

LOAD = "from logitlenskit import LogitLensWidget, load_model\nmodel = load_model()\n"
# SmolLM2-135M: 30 layers; "The capital of France is" is 5 tokens (no <bos>).
LAST_LAYER, LAST_POS = 29, 4
SCRATCH = "print('ready')"  # the notebook's last cell, rewritten by `kernel` for each read
_markers = itertools.count()


# --- helpers ------------------------------------------------------------------------------


def kernel(page: Page, expr: str, setup: str = "", timeout_ms: int = RUN_TIMEOUT_MS) -> Any:
    """The JSON value of ``expr``, evaluated in the notebook's kernel after ``setup``.

    The code goes into the notebook's last cell (the scratch cell) and runs there; an
    exception in it fails the test with its traceback.
    """
    marker = f"KERNEL-{next(_markers)}"
    source = (
        "import json as _json, traceback as _tb\n"
        "try:\n"
        f"    exec({setup!r})\n"
        f"    _out = _json.dumps({expr})\n"
        "except BaseException:\n"
        "    _out = 'ERROR ' + _json.dumps(_tb.format_exc())\n"
        f"print({marker!r}, _out)"
    )
    index = page.evaluate(
        "(src) => { const nb = window.jupyterapp.shell.currentWidget.content;"
        " const i = nb.widgets.length - 1; nb.widgets[i].model.sharedModel.setSource(src);"
        " return i; }",
        source,
    )
    run_cell(page, index)
    out = cell_output(page, index)
    expect(out).to_contain_text(marker, timeout=timeout_ms)
    match = re.search(re.escape(marker) + r" (ERROR )?(.*)", out.inner_text())
    assert match, out.inner_text()
    if match.group(1):
        pytest.fail(f"the kernel raised:\n{json.loads(match.group(2))}")
    return json.loads(match.group(2))


def wait_kernel(page: Page, expr: str, until, timeout_s: float = 90.0) -> Any:
    """Poll ``expr`` in the kernel until ``until(value)``; returns the value."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = kernel(page, expr)
        if until(value):
            return value
        assert time.monotonic() < deadline, f"{expr} is still {value!r} after {timeout_s} s"
        page.wait_for_timeout(300)


def open_notebook(page: Page, server, name: str) -> None:
    """Open a notebook in JupyterLab and wait for its kernel, running no cell."""
    page.goto(server.page(f"{FRONTENDS['jupyterlab']}/{name}") + "&reset")
    page.wait_for_function(
        "() => window.jupyterapp?.shell?.currentWidget?.sessionContext?.session"
        "?.kernel?.status === 'idle'",
        timeout=KERNEL_TIMEOUT_MS,
    )


def shown_layers(out: Locator) -> list[int]:
    """The layer of each grid column, in order (every layer is a column; a narrow grid scrolls)."""
    return [int(t.strip()) for t in out.locator(".llk-colhead").all_text_contents()]


def grid_cell(out: Locator, layer: int, position: int) -> Locator:
    """The grid cell of a layer (one of ``shown_layers``) at an input position."""
    column = shown_layers(out).index(layer)
    # Rows build only the columns in view (a new grid opens at its last layers): bring the
    # column into view first, as a user scrolls to it.
    out.locator(".llk-colhead").nth(column).scroll_into_view_if_needed()
    # The scroll event and the rows' rebuild come in the next frames: read after them.
    out.evaluate(FRAMES)
    cell = out.locator(f'.llk-row[data-p="{position}"] .llk-cell[data-ci="{column}"]')
    expect(cell).to_be_attached()
    return cell


def last_prediction(out: Locator) -> Locator:
    """The last position's final-layer cell: the model's own prediction."""
    return out.locator("[role=row]:has([role=gridcell])").last.locator("[role=gridcell]").last


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


def hex_rgb(color: str) -> tuple[int, int, int]:
    return tuple(int(color[i : i + 2], 16) for i in (1, 3, 5))


def shown_alpha(intensity: float) -> float:
    """frontend/color.js cellBackground: opacity 0.9 × intensity, to two decimals."""
    return round(min(1.0, max(0.0, intensity)) * 90) / 100


def pin_labels(out: Locator) -> Locator:
    return out.locator(".llk-legend-pin .llk-legend-label")


def study_ready(out: Locator, total: int) -> None:
    """Wait until the study view says all ``total`` prompts are computed and it is idle."""
    title = out.locator(".llks-title")
    expect(title).to_have_text(f"study: {total} / {total} prompts", timeout=RUN_TIMEOUT_MS)
    expect(out.locator(".llks-stop")).to_be_hidden()
    expect(out.locator(".llks-progress")).to_be_hidden()


def click_heatmap_row(page: Page, out: Locator, prompt: int, layer_column: int = 0) -> None:
    """Point at the heatmap row of ``prompt`` (at one layer column), then click it there.

    The point comes from the canvas's box and its row height (box height / canvas rows, one
    canvas pixel per cell). As a user does, the pointer rests on the row first (the readout
    then names the prompt) and clicks where it is: the heatmap must not move under it.
    """
    canvas = out.locator(".llks-heat-canvas")
    canvas.scroll_into_view_if_needed()
    rows, columns = canvas.evaluate("c => [c.height, c.width]")
    box = canvas.bounding_box()
    assert box is not None and rows > prompt
    row_h = box["height"] / rows
    x = box["x"] + box["width"] * (layer_column + 0.5) / columns
    y = box["y"] + row_h * (prompt + 0.5)
    page.mouse.move(x, y)
    expect(out.locator(".llks-readout-index")).to_have_text(f"#{prompt} ")
    page.wait_for_timeout(200)  # a layout change and the scroll anchoring that follows it
    moved = canvas.bounding_box()["y"] - box["y"]
    assert abs(moved) < 1, (
        f"hovering prompt {prompt}'s row moved the heatmap {moved:+.1f} px under the pointer "
        f"(readout now {out.locator('.llks-heat-readout').bounding_box()['height']:.0f} px "
        "high): a click there selects another prompt"
    )
    page.mouse.click(x, y)


# --- a. Targets and metrics in the live widget ---------------------------------------------


def test_named_targets_pin_and_the_kl_and_rank_color_modes(jupyter_server, page: Page):
    name = jupyter_server.write_notebook(
        "targets-metrics.ipynb",
        [
            LOAD + 'w = LogitLensWidget(model=model, prompt="The capital of France is",'
            ' targets={"answer": "Paris", "foil": "London"})\nw',
            SCRATCH,
        ],
    )
    open_and_run(page, jupyter_server, "jupyterlab", name)
    out = cell_output(page, 0)
    expect(last_prediction(out)).to_contain_text("Paris", timeout=RUN_TIMEOUT_MS)
    layers = shown_layers(out)
    assert layers[0] == 0 and layers[-1] == LAST_LAYER, layers
    # The targets are pinned under their names, in the legend as in Python.
    expect(pin_labels(out)).to_have_text(["answer", "foil"])
    pins = kernel(page, "[[p.get('name'), p['ids']] for p in w.pins]")
    targets = kernel(page, "[[t['name'], t['ids']] for t in w.targets]")
    assert pins == targets and [n for n, _ in pins] == ["answer", "foil"]
    paris = kernel(page, "model.tokenizer.encode(' Paris', add_special_tokens=False)")
    assert paris[0] in pins[0][1]

    # KL, chosen in the widget's own color menu.
    mode = out.locator(".llk-mode")
    expect(mode).to_have_value("top1")
    mode.select_option("kl")
    title = out.locator(".llk-cbar-title")
    expect(title).to_contain_text("KL")
    expect(title).to_contain_text("nats")
    assert wait_kernel(page, "w.color_mode", lambda m: m != "top1", timeout_s=10) == "kl"

    # The kernel's own KL (float32 [L, P] in the payload) against the shades on the page.
    kl = kernel(
        page,
        "_kl.tolist()",
        setup="import numpy as np\n"
        "_kl = np.frombuffer(w.data['kl'], '<f4').reshape(len(w.data['layers']), -1)",
    )
    color = hex_rgb(kernel(page, "w.metric_color"))
    top = max(max(kl[layer]) for layer in layers)  # the scale: the shown columns' largest
    assert top > 1, kl
    for p in range(LAST_POS + 1):
        assert kl[LAST_LAYER][p] == 0
        rgb, alpha = background(grid_cell(out, LAST_LAYER, p))
        assert alpha == 0, f"final layer, position {p}: {rgb} at alpha {alpha}, not uncolored"
    middle = layers[len(layers) // 2]
    for layer, p in [(0, LAST_POS), (middle, LAST_POS), (layers[2], 1)]:
        rgb, alpha = background(grid_cell(out, layer, p))
        assert alpha > 0, f"layer {layer}, position {p} is uncolored (KL {kl[layer][p]:.2f})"
        assert alpha == pytest.approx(shown_alpha(kl[layer][p] / top), abs=0.011)
        assert rgb == color

    # Python → widget: rank of the first target.
    kernel(page, "w.color_mode", setup='w.color_mode = "rank"')
    expect(mode).to_have_value("rank")
    expect(title).to_have_text("rank of answer")
    rgb, alpha = background(grid_cell(out, LAST_LAYER, LAST_POS))  # " Paris" is top-1 there
    assert alpha == pytest.approx(0.9, abs=0.011)


# --- b. A study end to end ----------------------------------------------------------------

STUDY = (
    LOAD + "from logitlenskit import collect_study, translation_prompts\n"
    'items = translation_prompts("fr", "de", tokenizer=model.tokenizer, limit=12, shots=2)\n'
    's = collect_study(items, model, contrasts=[("Deutsch", "English")], batch_size=6)\n'
    "box = s.show()\n"
    "box"
)


def test_a_study_renders_and_a_heatmap_row_opens_its_live_lens(jupyter_server, page: Page):
    name = jupyter_server.write_notebook("study.ipynb", [STUDY, SCRATCH])
    open_and_run(page, jupyter_server, "jupyterlab", name)
    out = cell_output(page, 0)
    study_ready(out, 12)
    # The band chart: one mean line per probability quantity, through every layer.
    means = out.locator(".llks-chart .llks-mean")
    expect(means).to_have_count(2)  # p(Deutsch), p(English)
    for d in means.evaluate_all("ps => ps.map(p => p.getAttribute('d') || '')"):
        assert d.startswith("M") and d.count("L") == LAST_LAYER, d[:80]
    assert out.locator(".llks-chart .llks-band").count() == 2
    canvas = out.locator(".llks-heat-canvas")
    expect(canvas).to_be_visible()
    assert canvas.evaluate("c => [c.height, c.width]") == [12, 30]
    state = kernel(page, "[len(items), s.n_done, s.done, [q.name for q in s.quantities]]")
    assert state[:3] == [12, 12, True]
    assert "log p(Deutsch) − log p(English)" in state[3]
    assert out.locator("[role=grid]").count() == 0  # no lens until a prompt is clicked

    click_heatmap_row(page, out, 3, layer_column=10)
    expect(out.locator(".llks-heat-readout")).to_contain_text("(selected)")
    expect(out.locator(".llks-readout-index")).to_have_text("#3 ")
    grid = out.locator("[role=grid]")
    expect(grid).to_be_visible(timeout=RUN_TIMEOUT_MS)
    chosen = wait_kernel(
        page, "box.children[0].selected_prompt", lambda v: v is not None, timeout_s=10
    )
    assert chosen == 3
    assert kernel(page, 'box.children[1].prompt == items[3]["prompt"]') is True
    assert kernel(page, "len(box.children)") == 2
    # Below the study view, in the same output.
    study_box = out.locator(".llks").bounding_box()
    assert grid.bounding_box()["y"] >= study_box["y"] + study_box["height"] - 1
    # The prompt's targets are pinned in the lens, under their names.
    expect(pin_labels(out)).to_have_text(["Deutsch", "English"], timeout=RUN_TIMEOUT_MS)
    n_tokens = kernel(page, "len(box.children[1].result['input'])")
    expect(grid).to_have_attribute("aria-rowcount", str(n_tokens + 1))  # + the header row
    assert kernel(page, "[p.get('name') for p in box.children[1].pins]") == [
        "Deutsch",
        "English",
    ]


# --- c. Stop and Resume from the widget ---------------------------------------------------


def test_stop_and_resume_a_background_study_from_its_buttons(jupyter_server, page: Page):
    name = jupyter_server.write_notebook(
        "study-stop.ipynb",
        [
            LOAD + "from logitlenskit import collect_study, translation_prompts\n"
            'items = translation_prompts("fr", "de", tokenizer=model.tokenizer, limit=24,'
            " shots=2)\n"
            "s = collect_study(items, model, batch_size=4, run=False)\n"
            "box = s.show()\n"
            "box",
            "s.run(background=True)",
            SCRATCH,
        ],
    )
    # The set-up first: the study starts once its view is on the page.
    open_notebook(page, jupyter_server, name)
    run_cell(page, 0)
    out = cell_output(page, 0)
    title = out.locator(".llks-title")
    expect(title).to_have_text("study: 0 / 24 prompts", timeout=RUN_TIMEOUT_MS)
    assert kernel(page, "[len(s), s.n_done, s.running]") == [24, 0, False]
    resume = out.locator(".llks-resume")
    expect(resume).to_be_visible()  # prompts are left and nothing runs

    run_cell(page, 1)
    stop = out.locator(".llks-stop")
    expect(stop).to_be_visible(timeout=30_000)
    expect(out.locator(".llks-progress")).to_be_visible()
    stop.click()
    assert kernel(page, "s.wait(60)") is True
    done, total, running = kernel(page, "[s.n_done, len(s), s.running]")
    assert done < total and not running, (done, total)
    assert done % 4 == 0  # whole batches only
    expect(stop).to_be_hidden()
    expect(out.locator(".llks-progress")).to_be_hidden()
    expect(title).to_have_text(f"study: {done} / 24 prompts")
    expect(out.locator(".llks-status")).to_contain_text("stopped")
    # The computed prompts are kept: their heatmap rows are drawn, the others are not yet.
    assert kernel(
        page, "int(np.isfinite(s.values[0, :, 0]).sum())", setup="import numpy as np"
    ) == (done)

    expect(resume).to_be_visible()
    resume.click()
    assert wait_kernel(page, "s.done", bool, timeout_s=120) is True
    assert kernel(page, "s.wait(30)") is True
    study_ready(out, 24)
    expect(resume).to_be_hidden()
    assert kernel(
        page, "[s.n_done, s.error, bool(np.isfinite(s.values).all())]", setup="import numpy as np"
    ) == [24, "", True]
