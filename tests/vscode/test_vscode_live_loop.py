"""The live loop (issue 8, docs/live-loop.md) in VS Code's notebook widget host.

Each flow runs the real embedded model in the module's kernel and checks both halves: what
the widget shows in the reproduced webview (conftest.py, host.js) and what Python holds.
"""

from __future__ import annotations

import json
import math
import time
from typing import Any

import pytest
from playwright.sync_api import Locator, expect

pytestmark = [pytest.mark.browser, pytest.mark.jupyter, pytest.mark.slow]

RENDER_TIMEOUT_MS = 30_000
PYTHON_TIMEOUT_S = 30.0
PROMPT = "The capital of France is"
# The kernel is shared by this module's tests: load the model once per kernel.
MODEL = (
    "import json\n"
    "import numpy as np\n"
    "from logitlenskit import LogitLensWidget, load_model\n"
    "if 'model' not in globals():\n"
    "    model = load_model()\n"
)
FRANCE = MODEL + f"w = LogitLensWidget(model=model, prompt={PROMPT!r})\nw"
LAST_LAYER, LAST_POS = 29, 4  # SmolLM2-135M: 30 layers; "The capital of France is": 5 tokens
# Visible marks the widget draws for whitespace (frontend/tokens.js).
MARKS = {"\u2423": " ", "\u21b5": "\n"}


# --- helpers ------------------------------------------------------------------------------


def py(vscode, expr: str, setup: str = "") -> Any:
    """The JSON value of a Python expression evaluated in the kernel."""
    out = vscode.run(f"{setup}\nprint(json.dumps({expr}))")
    return json.loads(out.strip().splitlines()[-1])


def wait_py(vscode, expr: str, until, timeout: float = PYTHON_TIMEOUT_S, setup: str = "") -> Any:
    """Poll a Python expression until ``until(value)``; returns the value."""
    deadline = time.monotonic() + timeout
    while True:
        value = py(vscode, expr, setup)
        if until(value):
            return value
        assert time.monotonic() < deadline, f"{expr} is still {value!r} after {timeout} s"
        vscode.page.wait_for_timeout(100)


def data_rows(output: Locator) -> Locator:
    return output.locator("[role=row]:has([role=gridcell])")


def cell(output: Locator, position: int, column: int = -1) -> Locator:
    cells = data_rows(output).nth(position).locator("[role=gridcell]")
    return cells.last if column == -1 else cells.nth(column)


def popup_rows(output: Locator) -> Locator:
    return output.locator(".llk-popup .llk-popup-row")


def popup_ids(output: Locator) -> list[int]:
    return [int(i) for i in popup_rows(output).evaluate_all("rs => rs.map(r => r.dataset.id)")]


def unmark(text: str) -> str:
    for mark, ch in MARKS.items():
        text = text.replace(mark, ch)
    return text


def input_text(output: Locator) -> str:
    """The grid's input column joined, whitespace marks undone."""
    return unmark("".join(output.locator(".llk-input-text").all_text_contents()))


def format_prob(p: float) -> str:
    """frontend/format.js formatProb, in Python."""
    if p <= 0:
        return "0%"
    if p >= 0.001:
        return f"{p * 100:.{1 if p >= 0.1 else 2}f}%"
    percent = p * 100
    if percent < 1e-4:
        return "<0.0001%"
    decimals = 1 - math.floor(math.log10(percent))  # two significant digits, no exponent
    return f"{percent:.{decimals}f}".rstrip("0").rstrip(".") + "%"


def pct(text: str) -> float:
    """A shown probability ("77.3%", "0.083%") as a fraction."""
    return float(text.strip().rstrip("%")) / 100


def show_france(vscode) -> Locator:
    vscode.run(FRANCE)
    output = vscode.render_last_output()
    expect(cell(output, LAST_POS)).to_contain_text("Paris", timeout=RENDER_TIMEOUT_MS)
    expect(data_rows(output)).to_have_count(5)
    return output


def python_detail(vscode, layer: int, position: int, k: int) -> dict:
    """The widget's own `detail` command answered in the kernel: ids and probs at ``layer``."""
    return py(
        vscode,
        "_d",
        setup=(
            f"_a, _b = w.detail({{'run': w._run.run_id, 'layer': {layer}, 'position': {position},"
            f" 'k': {k}}}, [])\n"
            "assert 'error' not in _a, _a\n"
            "_p = np.frombuffer(_b[0], '<f4').reshape(len(_a['ids']), -1)\n"
            f"_d = {{'ids': _a['ids'], 'tokens': _a['tokens'],"
            f" 'probs': _p[:, w._run.layers.index({layer})].tolist()}}"
        ),
    )


# --- 1. The popup grows with Python's numbers ---------------------------------------------


def test_click_grows_the_popup_to_20_then_100_with_pythons_numbers(vscode):
    output = show_france(vscode)
    target = cell(output, LAST_POS)
    assert unmark(target.text_content()).strip() == "Paris"
    target.click()
    popup = output.locator(".llk-popup")
    expect(popup).to_be_visible()
    expect(popup_rows(output)).to_have_count(20, timeout=RENDER_TIMEOUT_MS)

    want = python_detail(vscode, LAST_LAYER, LAST_POS, 20)
    assert popup_ids(output) == want["ids"]
    assert want["tokens"][0] == " Paris"
    shown = popup_rows(output).locator(".llk-prob").all_text_contents()
    assert shown[0] == format_prob(want["probs"][0]), (shown[0], want["probs"][0])
    assert shown[0] == "77.3%"
    assert [pct(t) for t in shown] == pytest.approx(want["probs"], rel=0.01, abs=6e-5)
    # selected_cell reached Python.
    assert py(vscode, "w.selected_cell") == {"layer": LAST_LAYER, "position": LAST_POS}

    more = output.locator(".llk-popup-more")
    expect(more).to_have_text("show 100")
    more.click()
    expect(popup_rows(output)).to_have_count(100, timeout=RENDER_TIMEOUT_MS)
    want = python_detail(vscode, LAST_LAYER, LAST_POS, 100)
    assert popup_ids(output) == want["ids"]
    shown = popup_rows(output).locator(".llk-prob").all_text_contents()
    assert shown[0] == format_prob(want["probs"][0])
    # (Python's trajectories of the data's tracked ids and of a deeper answer come from
    # differently batched matmuls: a last digit may round differently.)
    assert [pct(t) for t in shown] == pytest.approx(want["probs"], rel=0.01, abs=6e-5)
    expect(more).to_be_hidden()
    assert popup.is_visible()


# --- 2. Pin a token outside every top-k ---------------------------------------------------


def test_pin_of_an_untracked_token_from_the_grown_popup(vscode):
    output = show_france(vscode)
    cell(output, LAST_POS).click()
    expect(popup_rows(output)).to_have_count(20, timeout=RENDER_TIMEOUT_MS)
    output.locator(".llk-popup-more").click()
    expect(popup_rows(output)).to_have_count(100, timeout=RENDER_TIMEOUT_MS)
    ids = popup_ids(output)

    # A token of the grown list that no position tracks yet (in no cell's top-k), with a
    # plain decoded text (so the legend's label is predictable).
    pick = py(
        vscode,
        "_pick",
        setup=(
            "_r = w.result\n"
            "_seen = set(_r['topk'].flatten().tolist())\n"
            "_seen |= {int(i) for t in _r['tracked'] for i in t.tolist()}\n"
            f"_cands = [i for i in {ids!r} if i not in _seen]\n"
            "from logitlenskit.live.commands import token_text as _token_text\n"
            "_text = {i: _token_text(w, i) for i in _cands}\n"
            "_plain = [i for i in _cands if _text[i].strip() and _text[i].isprintable()"
            " and '\\ufffd' not in _text[i]]\n"
            "_pick = {'id': _plain[0], 'text': _text[_plain[0]]} if _plain else None"
        ),
    )
    assert pick is not None, "every token of the grown list is already tracked somewhere"
    token, text = pick["id"], pick["text"]

    popup_rows(output).nth(ids.index(token)).click()
    label = output.locator(".llk-legend-pin .llk-legend-label")
    expect(label).to_have_count(1)
    expect(label).to_have_text(text.replace(" ", "\u2423"))
    assert label.text_content() not in (f"#{token}", "\u2026")

    # Python pinned it and tracks it exactly at every position.
    assert wait_py(vscode, "w.pins", lambda pins: len(pins) == 1)[0]["ids"] == [token]
    tracked = wait_py(vscode, f"[{token} in t.tolist() for t in w.result['tracked']]", all)
    assert tracked == [True] * 5

    # Its line at every position: compare all five rows (positions 0-3 had no popup answer,
    # so their trajectories can only come from Python's tracking). Set from Python: a row
    # pinned by a click where no pin matters also pins that row's own prediction (pins.js).
    color = py(vscode, "w.pins[0]['color']")
    vscode.run("w.pinned_rows = [0, 1, 2, 3, 4]")
    expect(output.locator(".llk-legend-row")).to_have_count(5)
    expect(label).to_have_count(1)
    lines = output.locator(f".llk-chart .llk-lines path[stroke='{color}']")
    expect(lines).to_have_count(5)
    paths = lines.evaluate_all("ps => ps.map(p => p.getAttribute('d') || '')")
    for p, d in enumerate(paths):
        assert d.startswith("M") and d.count("L") == LAST_LAYER, f"position {p}: d={d[:80]!r}"
    # A new prompt: the pin keeps its text and Python tracks it in the new run too.
    vscode.run('w.prompt = "Bonjour"')
    expect(data_rows(output)).to_have_count(2)
    expect(label).to_have_text(text.replace(" ", "\u2423"))
    assert py(vscode, f"[{token} in t.tolist() for t in w.result['tracked']]") == [True] * 2
    expect(lines).to_have_count(2)  # pinned rows 2-4 are past the new prompt's end
    paths = lines.evaluate_all("ps => ps.map(p => p.getAttribute('d') || '')")
    assert all(d.startswith("M") and d.count("L") == LAST_LAYER for d in paths), paths


# --- 3. k, layers and prompt set from Python ----------------------------------------------


def test_k_layers_and_prompt_set_from_python_are_followed(vscode):
    output = show_france(vscode)
    k_box = output.locator("[aria-label=k]")
    layers_box = output.locator("[aria-label=layers]")
    prompt_box = output.locator("[aria-label=prompt]")
    heads = output.locator(".llk-colhead")
    expect(k_box).to_have_value("5")
    expect(layers_box).to_have_value("all")
    run_0 = py(vscode, "w.data['run']")

    vscode.run("w.k = 8")  # returns once the new data is in place
    expect(k_box).to_have_value("8")
    assert py(vscode, "list(w.result['topk'].shape)") == [30, 5, 8]
    run_k = py(vscode, "w.data['run']")
    assert run_k != run_0

    vscode.run("w.layers = [0, 10, 29]")
    expect(heads).to_have_count(3)
    assert [h.strip() for h in heads.all_text_contents()] == ["0", "10", "29"]
    expect(data_rows(output)).to_have_count(5)
    expect(data_rows(output).first.locator("[role=gridcell]")).to_have_count(3)
    expect(k_box).to_have_value("8")
    expect(layers_box).to_have_value("0,10,29")
    assert py(vscode, "w.data['run']") != run_k

    vscode.run('w.prompt = "Bonjour"')
    expect(prompt_box).to_have_value("Bonjour")
    n = py(vscode, "len(w.result['input'])")
    assert n == 2
    expect(data_rows(output)).to_have_count(n)
    assert input_text(output) == "Bonjour"
    expect(heads).to_have_count(3)
    expect(k_box).to_have_value("8")
    state = py(vscode, "[w.k, w.layers, list(w.result['topk'].shape)]")
    assert state == [8, [0, 10, 29], [3, 2, 8]]


# --- 4. A multi-line prompt typed in the box ----------------------------------------------


def test_multi_line_prompt_typed_in_the_box(vscode):
    output = show_france(vscode)
    box = output.locator("[aria-label=prompt]")
    box.fill("The capital of France is Paris.")
    box.press("End")
    box.press("Shift+Enter")  # a new line, no run
    box.press_sequentially("The capital of Italy is")
    text = "The capital of France is Paris.\nThe capital of Italy is"
    expect(box).to_have_value(text)
    assert py(vscode, "w.prompt") == PROMPT  # Shift+Enter ran nothing
    box.press("Enter")
    assert wait_py(vscode, "w.prompt", lambda p: p != PROMPT) == text
    assert py(vscode, "w.wait(60)") is True
    n = py(vscode, "len(w.result['input'])")
    assert n == 13  # SmolLM2: ... Paris . \n The ... is
    expect(data_rows(output)).to_have_count(n, timeout=RENDER_TIMEOUT_MS)
    assert input_text(output) == text
    expect(box).to_have_value(text)  # Enter added no line


# --- 5. Stop a long run -------------------------------------------------------------------


def test_stop_abandons_a_long_run_and_keeps_the_view(vscode):
    output = show_france(vscode)
    long_prompt = "word " * 1500  # ~1,500 tokens: below the 2,000 that asks first
    box = output.locator("[aria-label=prompt]")
    box.fill(long_prompt)
    box.press("Enter")
    progress = output.locator(".llk-progress")
    expect(progress).to_be_visible(timeout=RENDER_TIMEOUT_MS)  # after ~1 s of a busy run
    assert py(vscode, "w.busy") is True
    output.locator(".llk-stop").click()
    stopped_at = time.monotonic()
    wait_py(vscode, "w.busy", lambda busy: busy is False, timeout=10)
    took = time.monotonic() - stopped_at
    assert took < 3, f"busy stayed true {took:.1f} s after Stop"
    assert py(vscode, "w.error").startswith("Stopped")
    expect(output.locator(".llk-py-error")).to_contain_text("Stopped")
    expect(progress).to_be_hidden()
    # The old view stays, in the widget and in Python.
    assert py(vscode, "w.result['input']") == ["The", " capital", " of", " France", " is"]
    expect(data_rows(output)).to_have_count(5)
    expect(cell(output, LAST_POS)).to_contain_text("Paris")
    assert input_text(output) == PROMPT
    # Nothing of the abandoned run shows up later.
    vscode.page.wait_for_timeout(1500)
    assert py(vscode, "[w.busy, len(w.result['input'])]") == [False, 5]
    expect(data_rows(output)).to_have_count(5)


# --- 6. on_select callbacks ---------------------------------------------------------------


def test_on_select_callback_fires_with_the_clicked_cell(vscode):
    output = show_france(vscode)
    paris = py(
        vscode,
        "_ids",
        setup=(
            "selected = []\n"
            "w.on_select(lambda *args: selected.append(list(args)))\n"
            "_ids = model.tokenizer.encode(' Paris', add_special_tokens=False)"
        ),
    )
    assert len(paris) == 1
    cell(output, LAST_POS).click()
    calls = wait_py(vscode, "selected", lambda s: len(s) >= 1)
    assert calls == [[LAST_LAYER, LAST_POS, paris[0], " Paris"]]
    # A token picked in the popup is a selection too.
    expect(popup_rows(output)).to_have_count(20, timeout=RENDER_TIMEOUT_MS)
    row = popup_rows(output).nth(1)
    token = int(row.get_attribute("data-id"))
    text = py(
        vscode,
        "_t",
        setup=f"from logitlenskit.live.commands import token_text\n_t = token_text(w, {token})",
    )
    row.click()
    calls = wait_py(vscode, "selected", lambda s: len(s) >= 2)
    assert calls[1] == [LAST_LAYER, LAST_POS, token, text]
