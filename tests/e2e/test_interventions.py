"""End to end, interventions (issue 20) in a real JupyterLab with a real kernel and SmolLM2.

Patch, steer, ablate and the patching sweep, driven as a user would (the popup's "Patch into
B", the legend's × and α box, the sweep panel's cells, × and Stop) and checked on both sides:
what the page shows and what the kernel holds. The kernel is read with execute requests on
the notebook's own kernel connection (nothing is written into the notebook).

One notebook (one kernel, one model load) serves the module's tests: a live diff ``w`` of two
prompts of equal length, and a single-prompt widget ``v`` with sub-layer rows. Each test puts
``w`` back to the plain diff first.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from lab import KERNEL_TIMEOUT_MS, RUN_TIMEOUT_MS, cell_output, open_and_run
from playwright.sync_api import Locator, Page, expect

pytestmark = [pytest.mark.jupyter, pytest.mark.browser, pytest.mark.slow]

CLEAN = "The Eiffel Tower is in the city of"  # 9 tokens in SmolLM2
CORRUPT = "The Colosseum is in the city of"  # 9 tokens too
LAYERS = [4, 12, 20, 29]
P = 9
V_LAYERS = [4, 5, 6, 29]  # v: each with its after-attention row, [4·a, 4, 5·a, 5, ...]
SETUP = (
    "import json, torch\n"
    "from logitlenskit import LogitLensWidget, load_model, patch_from\n"
    "model = load_model()\n"
    f"CLEAN, CORRUPT = {CLEAN!r}, {CORRUPT!r}\n"
    "def same_numbers(a, b):\n"
    "    '''Keys whose numbers differ between two collections (tensors and lists of them).'''\n"
    "    bad = []\n"
    "    for key in sorted(set(a) & set(b)):\n"
    "        x, y = a[key], b[key]\n"
    "        if isinstance(x, torch.Tensor):\n"
    "            ok = torch.equal(x, y)\n"
    "        elif isinstance(x, list) and x and isinstance(x[0], torch.Tensor):\n"
    "            ok = len(x) == len(y) and all(torch.equal(s, t) for s, t in zip(x, y))\n"
    "        else:\n"
    "            continue\n"
    "        if not ok:\n"
    "            bad.append(key)\n"
    "    return bad\n"
)
DIFF = f"w = LogitLensWidget.compare(CLEAN, CORRUPT, model=model, layers={LAYERS})\nw"
SUBLAYERS = f"v = LogitLensWidget(model=model, prompt=CLEAN, layers={V_LAYERS}, sublayers=True)\nv"
SWEEP = "metric='logit_diff', target=' Paris', foil=' Rome'"
_markers = itertools.count()


# --- helpers ------------------------------------------------------------------------------


class Lab:
    """The module's notebook page: its widgets' outputs and its kernel."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.errors: list[str] = []
        page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))

    @property
    def w(self) -> Locator:
        return cell_output(self.page, 1)

    @property
    def v(self) -> Locator:
        return cell_output(self.page, 2)

    def run(self, code: str, timeout_ms: int = RUN_TIMEOUT_MS) -> str:
        """Run ``code`` in the notebook's kernel; returns its stdout (fails on an exception)."""
        result = self.page.evaluate(
            """([code, ms]) => {
                const kernel = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
                const future = kernel.requestExecute({ code, store_history: false });
                let out = "", err = "";
                future.onIOPub = (msg) => {
                  const t = msg.header.msg_type, c = msg.content;
                  if (t === "stream" && c.name === "stdout") out += c.text;
                  if (t === "error") err += c.traceback.join("\\n");
                };
                return Promise.race([
                  future.done.then(() => ({ out, err })),
                  new Promise((_, no) => setTimeout(() => no(new Error(`ran over ${ms} ms`)), ms)),
                ]);
            }""",
            [code, timeout_ms],
        )
        if result["err"]:
            pytest.fail(f"the kernel raised:\n{result['err']}")
        return result["out"]

    def py(self, expr: str, setup: str = "") -> Any:
        """The JSON value of ``expr`` in the kernel, after running ``setup``."""
        marker = f"@@{next(_markers)}@@"
        out = self.run(f"{setup}\nprint({marker!r}, json.dumps({expr}))")
        line = next(x for x in out.splitlines() if x.startswith(marker))
        return json.loads(line.removeprefix(marker))

    def wait_py(self, expr: str, until, timeout_s: float = 90.0) -> Any:
        """Poll ``expr`` in the kernel until ``until(value)``; returns the value."""
        deadline = time.monotonic() + timeout_s
        while True:
            value = self.py(expr)
            if until(value):
                return value
            assert time.monotonic() < deadline, f"{expr} is still {value!r} after {timeout_s} s"
            self.page.wait_for_timeout(200)

    def idle(self, name: str = "w") -> None:
        assert self.py(f"{name}.wait(120)") is True, f"{name} is still busy"


def cell(out: Locator, ci: int, p: int) -> Locator:
    """Side A's grid cell of lens column ``ci`` at position ``p``."""
    return out.locator(f'.llk-row[data-p="{p}"] .llk-cell[data-ci="{ci}"]')


def marks(out: Locator) -> dict[tuple[int, int], bool]:
    """Every built grid cell: (column, position) → whether it carries the touched mark."""
    cells = out.evaluate(
        """(o) => [...o.querySelectorAll('.llk-row .llk-cell')].map((c) => [
            Number(c.dataset.ci), Number(c.closest('.llk-row').dataset.p),
            c.classList.contains('llk-touched'),
        ])"""
    )
    return {(ci, p): t for ci, p, t in cells}


def corner_width(cell_: Locator) -> float:
    """The touched mark's corner, as drawn (0: no corner)."""
    width = cell_.evaluate("c => getComputedStyle(c, '::after').borderRightWidth")
    return float(width.removesuffix("px") or 0)


def edits_of(lab: Lab, name: str = "w") -> list:
    return lab.py(
        f"[[type(e).__name__, e.site[0], getattr(e, 'position', None)] for e in {name}.edits]"
    )


def back_to_the_diff(lab: Lab) -> None:
    """Put ``w`` back to the plain diff of CLEAN and CORRUPT, no sweep (the tests share it)."""
    lab.run("w.stop(); w.wait(120); w.clear_edits(); w.sweep = {}; w.wait(120)")
    assert lab.py("[w.prompt, w.compare_prompt, len(w.edits), w.busy]") == [
        CLEAN,
        CORRUPT,
        0,
        False,
    ]
    expect(lab.w.locator(".llk-edits")).to_be_hidden()
    expect(lab.w.locator(".llk-sweep")).to_be_hidden()


@pytest.fixture(scope="module")
def lab(browser, jupyter_server) -> Iterator[Lab]:
    """The notebook open in JupyterLab with its cells run: the diff ``w`` and ``v``."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    lab = Lab(page)
    name = jupyter_server.write_notebook("interventions.ipynb", [SETUP, DIFF, SUBLAYERS])
    open_and_run(page, jupyter_server, "jupyterlab", name)
    page.wait_for_function(
        "() => window.jupyterapp?.shell?.currentWidget?.sessionContext?.session?.kernel",
        timeout=KERNEL_TIMEOUT_MS,
    )
    for out in (lab.w, lab.v):
        expect(out.locator(".llk-row .llk-cell").first).to_be_visible(timeout=RUN_TIMEOUT_MS)
    lab.idle("w")
    lab.idle("v")
    yield lab
    context.close()


@pytest.fixture
def fresh(lab: Lab) -> Iterator[Lab]:
    """``lab`` with ``w`` the plain diff; fails the test on a page error."""
    back_to_the_diff(lab)
    before = len(lab.errors)
    yield lab
    assert lab.errors[before:] == []


# --- 1. Patch from the popup --------------------------------------------------------------


def test_patch_into_b_from_the_popup_marks_the_cone_and_x_goes_back(fresh: Lab):
    lab, out = fresh, fresh.w
    layer, position = 12, 3
    ci = LAYERS.index(layer)
    cell(out, ci, position).click()
    button = out.locator(".llk-popup .llk-patch-btn")
    expect(button).to_be_visible()
    expect(button).to_have_text("Patch into B")
    expect(out.locator(".llk-popup .llk-patch-into")).to_have_value(str(position))
    button.click()

    # Python holds one patch of A's state at (12, 3) into B's position 3, and shows B.
    lab.wait_py("len(w.edits)", lambda n: n == 1)
    lab.idle()
    assert edits_of(lab) == [["Patch", layer, position]]
    assert lab.py(
        "[w.prompt, w.compare_prompt]",
    ) == [CORRUPT, CORRUPT]
    # The state written is CLEAN's own at that cell (the patch comes from side A).
    assert lab.py("torch.equal(w.edits[0].vector, patch_from(model, CLEAN, 12, 3).vector)"), (
        "the patched state is not side A's"
    )
    label = lab.py("w.data['edits'][0]['label']")
    # Outside the cone (layers < 12, positions < 3), patched B is B, bit for bit.
    assert lab.py(
        "[torch.equal(w.result['topk_probs'][0], w.compare_result['topk_probs'][0]),"
        " torch.equal(w.result['topk_probs'][:, :3], w.compare_result['topk_probs'][:, :3]),"
        " torch.equal(w.result['topk_probs'][1:, 3:], w.compare_result['topk_probs'][1:, 3:])]"
    ) == [True, True, False]

    # The legend names the patch; the caption says the run is edited.
    items = out.locator(".llk-edits .llk-edit")
    expect(items).to_have_count(1)
    expect(items.locator(".llk-edit-kind")).to_have_text("patch")
    expect(items.locator(".llk-edit-label")).to_have_text(label)
    expect(out.locator(".llk-edited")).to_be_visible()
    expect(out.locator(".llk-edited")).to_contain_text(label[:20])
    # Exactly the cells at layers ≥ 12 and positions ≥ 3 carry the mark.
    expect(out.locator(".llk-cell.llk-touched")).to_have_count(
        sum(1 for lay in LAYERS for p in range(P) if lay >= layer and p >= position)
    )
    shown = marks(out)
    assert len(shown) == len(LAYERS) * P
    for (c, p), mark in shown.items():
        assert mark == (LAYERS[c] >= layer and p >= position), (LAYERS[c], p)
    assert corner_width(cell(out, LAYERS.index(29), P - 1)) > 0
    assert corner_width(cell(out, LAYERS.index(4), P - 1)) == 0
    assert corner_width(cell(out, ci, position - 1)) == 0

    # × in the legend: back to the diff of A and B.
    items.locator(".llk-edit-remove").click()
    lab.wait_py("len(w.edits)", lambda n: n == 0)
    lab.idle()
    assert lab.py("[w.prompt, w.compare_prompt, w.compare_labels, 'edits' in w.data]") == [
        CLEAN,
        CORRUPT,
        ["A", "B"],
        False,
    ]
    expect(out.locator(".llk-edits")).to_be_hidden()
    expect(out.locator(".llk-edited")).to_be_hidden()
    expect(out.locator(".llk-cell.llk-touched")).to_have_count(0)


# --- 2. Steer from Python, α from the legend ----------------------------------------------


def test_steer_from_python_and_alpha_zero_from_the_legend_is_the_baseline(fresh: Lab):
    lab, out = fresh, fresh.w
    lab.run("w.steer(12, ' Paris', 40.0)")
    lab.idle()
    assert edits_of(lab) == [["Steer", 12, None]]
    assert lab.py("[w.prompt, w.compare_prompt, w.compare_labels[1]]") == [
        CLEAN,
        CLEAN,
        "baseline",
    ]
    assert lab.py("same_numbers(w.result, w.compare_result) != []"), "α 40 changed nothing"
    items = out.locator(".llk-edits .llk-edit")
    expect(items).to_have_count(1)
    expect(items.locator(".llk-edit-kind")).to_have_text("steer")
    alpha = items.locator(".llk-edit-alpha")
    expect(alpha).to_have_value("40")
    expect(alpha).to_be_enabled()
    # A steer after layer 12 at every position: layers ≥ 12, all positions.
    shown = marks(out)
    assert len(shown) == len(LAYERS) * P
    for (c, p), mark in shown.items():
        assert mark == (LAYERS[c] >= 12), (LAYERS[c], p)

    run_before = lab.py("w.data['run']")
    alpha.fill("0")
    alpha.press("Enter")
    lab.wait_py("w.edits[0].alpha", lambda a: a == 0)
    lab.wait_py("w.data['run']", lambda run: run != run_before)
    lab.idle()
    assert lab.py("[w.data['edits'][0]['alpha'], len(w.edits)]") == [0.0, 1]
    # α = 0 is the baseline, bit for bit: every number of side A is side B's.
    assert lab.py("same_numbers(w.result, w.compare_result)") == []
    assert lab.py("sorted(k for k in w.result if isinstance(w.result[k], torch.Tensor))"), (
        "nothing compared"
    )
    expect(alpha).to_have_value("0")
    expect(out.locator(".llk-edit-msg")).to_be_hidden()
    expect(out.locator(".llk-py-error")).to_be_hidden()


def test_the_steer_label_follows_an_alpha_typed_in_the_legend(fresh: Lab):
    lab, out = fresh, fresh.w
    lab.run("w.steer(12, ' Paris', 40.0)")
    lab.idle()
    alpha = out.locator(".llk-edits .llk-edit-alpha")
    expect(alpha).to_have_value("40")
    alpha.fill("2")
    alpha.press("Enter")
    lab.wait_py("w.data['edits'][0]['alpha']", lambda a: a == 2)
    label = lab.py("w.data['edits'][0]['label']")
    assert "\u00d740" not in label and "\u00d72" in label, label
    expect(out.locator(".llk-edits .llk-edit-label")).to_contain_text("\u00d72")


# --- 3. Ablate with sub-layer rows --------------------------------------------------------


def test_ablating_an_mlp_with_sublayer_rows_shows_the_legend_and_marks(lab: Lab):
    out = lab.v
    before = len(lab.errors)
    lab.run("v.clear_edits(); v.ablate(5, 'mlp')")
    lab.idle("v")
    assert edits_of(lab, "v") == [["Ablate", 5, None]]
    kinds = lab.py("v.data['row_kinds']")
    layers = lab.py("v.data['layers']")
    assert layers == [x for x in V_LAYERS for _ in (0, 1)] and kinds == [1, 0] * len(V_LAYERS)
    # Where it happens: layer 5's after-attention row is unchanged, its output row changes.
    a_row, out_row = layers.index(5), layers.index(5) + 1
    assert lab.py(
        f"[torch.equal(v.result['topk_probs'][:{out_row}], v.compare_result['topk_probs'][:{out_row}]),"
        f" torch.equal(v.result['topk_probs'][{out_row}], v.compare_result['topk_probs'][{out_row}])]"
    ) == [True, False]

    items = out.locator(".llk-edits .llk-edit")
    expect(items).to_have_count(1)
    expect(items.locator(".llk-edit-kind")).to_have_text("ablate")
    expect(items.locator(".llk-edit-label")).to_have_text("zero-ablate L5 mlp")
    assert items.locator(".llk-edit-alpha").count() == 0
    expect(out.locator(".llk-edited")).to_contain_text("zero-ablate L5 mlp")
    expect(out.locator(".llk-colhead").filter(has_text="5\u00b7a")).to_have_count(1)
    n_positions = lab.py("len(v.result['input'])")
    expect(out.locator(".llk-cell.llk-touched")).to_have_count(
        sum(1 for c in range(len(layers)) if c > a_row) * n_positions
    )
    shown = marks(out)
    assert len(shown) == len(layers) * n_positions
    for (c, p), mark in shown.items():
        # The MLP's output enters layer 5's output row and every later row, not 5·a.
        assert mark == (layers[c] > 5 or (layers[c] == 5 and kinds[c] == 0)), (layers[c], p)
    assert corner_width(cell(out, out_row, 0)) > 0
    assert corner_width(cell(out, a_row, 0)) == 0

    # An ablated side's popup says so, and offers no patch (it is no state of a prompt B).
    cell(out, out_row, n_positions - 1).click()
    expect(out.locator(".llk-popup .llk-popup-edited")).to_contain_text("zero-ablate L5 mlp")
    expect(out.locator(".llk-popup .llk-patch")).to_be_hidden()
    lab.run("v.clear_edits()")
    lab.idle("v")
    expect(out.locator(".llk-edits")).to_be_hidden()
    expect(out.locator(".llk-cell.llk-touched")).to_have_count(0)
    assert lab.errors[before:] == []


# --- 4. The patching sweep ----------------------------------------------------------------


def test_a_sweep_fills_the_panel_a_click_patches_and_x_closes_it(fresh: Lab):
    lab, out = fresh, fresh.w
    sweep_layers = [0, 10, 20, 29]
    lab.run(f"w.sweep_patches({SWEEP}, layers={sweep_layers})")
    panel = out.locator(".llk-sweep")
    expect(panel).to_be_visible(timeout=RUN_TIMEOUT_MS)
    total = len(sweep_layers) * P
    progress = panel.locator(".llk-sweep-progress")
    expect(progress).to_have_text(f"{total}/{total}", timeout=RUN_TIMEOUT_MS)
    lab.idle()
    state = lab.py(
        "{k: w.sweep[k] for k in ('done', 'total', 'running', 'error', 'layers', 'positions')}"
    )
    assert state == {
        "done": total,
        "total": total,
        "running": False,
        "error": "",
        "layers": sweep_layers,
        "positions": list(range(P)),
    }
    expect(panel.locator(".llk-sweep-stop")).to_be_hidden()
    expect(panel.locator(".llk-sweep-cell")).to_have_count(total)
    expect(panel.locator(".llk-sweep-pending")).to_have_count(0)
    expect(panel.locator(".llk-sweep-layer")).to_have_text([str(x) for x in sweep_layers])
    # The panel shows Python's values: each cell's title carries its value.
    values = lab.py("w.sweep['values']")
    titles = panel.locator(".llk-sweep-cell").evaluate_all(
        "cs => cs.map(c => [Number(c.dataset.i), Number(c.dataset.j), c.title])"
    )
    assert len(titles) == total
    for i, j, title in titles:
        assert title.startswith(f"layer {sweep_layers[i]}, position {j}: log p"), title
        v = values[i][j]
        shown = title.split(": ", 1)[1].split(";")[0].rsplit(" ", 1)[1].replace("\u2212", "-")
        assert float(shown) == pytest.approx(v, rel=0.006), (i, j, title, v)  # 3 digits
    # Position 0 ("The") is the same state in both prompts: its patches change nothing. The
    # last layer's state at the last position is the whole output: it restores A's value.
    effect = lab.py("w.sweep_result.normalized().tolist()")
    assert [row[0] for row in effect] == pytest.approx([0] * len(sweep_layers), abs=1e-3)
    assert effect[-1][P - 1] == pytest.approx(1, abs=1e-3)

    # A click on a cell opens that patched run.
    i, j = sweep_layers.index(20), 3
    panel.locator(f'.llk-sweep-cell[data-i="{i}"][data-j="{j}"]').click()
    lab.wait_py("len(w.edits)", lambda n: n == 1)
    lab.idle()
    assert edits_of(lab) == [["Patch", 20, 3]]
    assert lab.py("[w.prompt, w.compare_prompt]") == [CORRUPT, CORRUPT]
    expect(out.locator(".llk-edits .llk-edit-kind")).to_have_text("patch")

    # × closes the panel (and Python's sweep trait is empty).
    panel.locator(".llk-sweep-close").click()
    lab.wait_py("w.sweep", lambda s: s == {})
    expect(panel).to_be_hidden()
    assert edits_of(lab) == [["Patch", 20, 3]], "closing the sweep keeps the patch"


def test_stop_ends_a_running_sweep_with_cells_not_yet_computed(fresh: Lab):
    lab, out = fresh, fresh.w
    # Every layer, small batches: minutes of work, of which the first batch is enough.
    lab.run(f"w.sweep_patches({SWEEP}, batch_size=6)")
    panel = out.locator(".llk-sweep")
    stop = panel.locator(".llk-sweep-stop")
    expect(stop).to_be_visible(timeout=RUN_TIMEOUT_MS)
    total = 30 * P
    lab.wait_py("w.sweep.get('done', 0)", lambda done: done > 0)
    expect(panel.locator(".llk-sweep-progress")).not_to_have_text(f"0/{total}")
    stop.click()
    state = lab.wait_py(
        "{k: w.sweep.get(k) for k in ('done', 'total', 'running')}",
        lambda s: s["running"] is False,
        timeout_s=30,
    )
    lab.idle()
    done = state["done"]
    assert state["total"] == total and 0 < done < total, state
    values = lab.py("w.sweep['values']")
    assert sum(v is None for row in values for v in row) == total - done
    # The panel: Stop gone, the count where it stopped, the rest marked as not yet computed.
    expect(stop).to_be_hidden()
    expect(panel.locator(".llk-sweep-progress")).to_have_text(f"{done}/{total}")
    pending = panel.locator(".llk-sweep-pending")
    expect(pending).to_have_count(total - done)
    assert pending.last.get_attribute("title").endswith(": not yet")
    assert lab.py("w.busy") is False
    # Nothing more arrives after the stop.
    lab.page.wait_for_timeout(1500)
    assert lab.py("w.sweep['done']") == done


def test_a_sweep_stopped_by_the_halt_command_leaves_a_stopped_result(fresh: Lab):
    lab = fresh
    lab.run(f"w.sweep_patches({SWEEP}, batch_size=6)")
    lab.wait_py("w.sweep.get('done', 0)", lambda done: done > 0)
    assert lab.py("w.halt({}, [])[0]") == {"stopped": True}
    lab.idle()
    state = lab.py("[w.sweep['running'], w.sweep['done'], w.sweep['total']]")
    assert state[0] is False and 0 < state[1] < state[2], state
    assert lab.py("[w.sweep_result.running, w.sweep_result.done]") == [False, state[1]]
