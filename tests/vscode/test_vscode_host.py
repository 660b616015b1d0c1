"""LogitLensWidget (and anywidget's messaging) in VS Code's notebook widget host.

The host (conftest.py, host.js) is VS Code's webview reproduced from the npm packages VS Code
ships: AMD `define` on the page, the white `!important` wrapper, theme classes on the body,
outputs sized from a ResizeObserver, views created after the model, a real kernel.
"""

from __future__ import annotations

import json
import time

import pytest
from playwright.sync_api import Locator, expect

pytestmark = [pytest.mark.browser, pytest.mark.jupyter, pytest.mark.slow]

RENDER_TIMEOUT_MS = 30_000
# The kernel is shared by this module's tests: load the model once (the first run of a
# module imports torch and loads it, ~10 s) and make a widget from it.
MODEL = (
    "from logitlenskit import LogitLensWidget, load_model\n"
    "if 'model' not in globals():\n"
    "    model = load_model()\n"
)
FRANCE = MODEL + "w = LogitLensWidget(model=model, prompt='The capital of France is')\nw"
# Long enough that the grid fills its default height (420 px) and scrolls.
LONG_PROMPT = " ".join(["The capital of France is Paris, and the capital of Italy is Rome."] * 4)


def data_rows(output: Locator) -> Locator:
    return output.locator("[role=row]:has([role=gridcell])")


def last_prediction(output: Locator) -> Locator:
    """The last position's final-layer cell: the model's own next-token prediction."""
    return data_rows(output).last.locator("[role=gridcell]").last


def _wait_for_input_tokens(output: Locator, text: str) -> None:
    """Wait until the grid's input column spells ``text`` (visible-space marks undone)."""
    output.page.wait_for_function(
        """([out, text]) => [...out.querySelectorAll('.llk-input-text')]
             .map((e) => e.textContent).join('').replaceAll('\u2423', ' ') === text""",
        arg=[output.element_handle(), text],
        timeout=RENDER_TIMEOUT_MS,
    )


def show_france(vscode) -> Locator:
    vscode.run(FRANCE)
    output = vscode.render_last_output()
    expect(last_prediction(output)).to_contain_text("Paris", timeout=RENDER_TIMEOUT_MS)
    return output


# --- 1. AMD define on the page; the real model renders ------------------------------------


def test_renders_the_real_model_with_amd_define_on_the_page(vscode):
    assert vscode.page.evaluate("typeof define === 'function' && !!define.amd")
    assert vscode.page.evaluate("typeof requirejs === 'function' && typeof $ === 'function'")
    vscode.run(
        "from logitlenskit import LogitLensWidget, load_model\n"
        'w = LogitLensWidget(model=load_model(), prompt="The capital of France is")\n'
        "w"
    )
    output = vscode.render_last_output()
    expect(output.locator("[role=grid]")).to_be_visible(timeout=RENDER_TIMEOUT_MS)
    expect(data_rows(output)).to_have_count(5)  # SmolLM2 adds no <bos>: The … is
    expect(last_prediction(output)).to_contain_text("Paris")
    assert last_prediction(output).text_content().replace("␣", " ").strip() == "Paris"
    # The widget class came through VS Code's loader: anywidget's AMD module from the copy
    # of the kernel environment's nbextensions folder.
    assert "loadWidgetScript anywidget@" in " ".join(vscode.page.evaluate("window.vsc.log"))
    assert vscode.all_errors() == []  # (the fixture checks again at the end of every test)


# --- 2. Themes ---------------------------------------------------------------------------

# For each probe: its text color and the color actually behind it (backgrounds composited
# up the tree, down to the opaque white wrapper), and their WCAG contrast ratio.
CONTRAST = """(root, selectors) => {
  const ctx = document.createElement('canvas').getContext('2d', {willReadFrequently: true});
  const rgba = (css) => {  // any CSS color -> [r, g, b, a] with a in 0..1
    ctx.clearRect(0, 0, 1, 1);
    ctx.fillStyle = '#000'; ctx.fillStyle = css; ctx.fillRect(0, 0, 1, 1);
    const [r, g, b, a] = ctx.getImageData(0, 0, 1, 1).data;
    return [r, g, b, a / 255];
  };
  const over = (top, below) => top.slice(0, 3).map((c, i) => c * top[3] + below[i] * (1 - top[3]))
    .concat([1]);
  const behind = (el) => {
    const layers = [];
    for (let n = el; n; n = n.parentElement) {
      const c = rgba(getComputedStyle(n).backgroundColor);
      if (c[3] > 0) layers.push(c);
      if (c[3] >= 1) break;
    }
    return layers.reverse().reduce((acc, c) => over(c, acc), [255, 255, 255, 1]);
  };
  const lum = ([r, g, b]) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const ratio = (a, b) => {
    const [hi, lo] = [lum(a), lum(b)].sort((x, y) => y - x);
    return (hi + 0.05) / (lo + 0.05);
  };
  const rootBg = rgba(getComputedStyle(root).backgroundColor);
  const probes = selectors.map((sel) => {
    const el = sel === ':root' ? root : root.querySelector(sel);
    if (!el) return {sel, missing: true};
    const bg = behind(el);
    const fg = over(rgba(getComputedStyle(el).color), bg);
    return {sel, fg: fg.map(Math.round), bg: bg.map(Math.round), ratio: ratio(fg, bg)};
  });
  return {rootBg, rootLuminance: lum(rootBg), probes};
}"""

TEXT_PROBES = [
    ":root",
    ".llk-title",
    ".llk-prompt",
    ".llk-select",
    ".llk-btn",
    ".llk-hint",
    ".llk-corner",
    ".llk-colhead",
    ".llk-input-text",
]
THEMES = {  # theme kind -> whether VS Code's UI is dark in it
    "vscode-light": False,
    "vscode-dark": True,
    "vscode-high-contrast": True,
    "vscode-high-contrast-light": False,
}


@pytest.mark.parametrize("vscode_theme", THEMES)
def test_theme_paints_an_opaque_background_with_readable_text(vscode, vscode_theme):
    output = show_france(vscode)
    root = output.locator(".llk")
    seen = root.evaluate(CONTRAST, TEXT_PROBES)
    r, g, b, alpha = seen["rootBg"]
    # The output wrapper is `background: white !important`: a widget that leaves its own
    # background transparent shows white behind text colored for the theme.
    assert alpha == 1, f"widget root background is not opaque: rgba({r}, {g}, {b}, {alpha})"
    dark = seen["rootLuminance"] < 0.2
    assert dark == THEMES[vscode_theme], (
        f"{vscode_theme}: widget background rgb({r}, {g}, {b}) does not follow the theme"
    )
    missing = [p["sel"] for p in seen["probes"] if p.get("missing")]
    assert not missing, f"probe elements not found: {missing}"
    unreadable = [p for p in seen["probes"] if p["ratio"] < 4.5]
    assert not unreadable, json.dumps(unreadable, indent=1)


# Strong cells (intensity > STRONG) once always had white text: over the light theme's white
# the default heat color at 0.77 composites to rgb(106, 152, 225), 2.9:1 with #fff. The text
# color now follows the cell's composited background (grid.js, inkOn).
@pytest.mark.parametrize("vscode_theme", THEMES)
def test_strong_heat_cells_have_readable_text(vscode, vscode_theme):
    output = show_france(vscode)
    cell = ".llk-row:last-child .llk-cell.llk-final"  # " Paris" at 0.77: a strong cell
    assert "llk-strong" in output.locator(cell).get_attribute("class")
    probe = output.locator(".llk").evaluate(CONTRAST, [cell])["probes"][0]
    assert probe["ratio"] >= 4.5, probe


def test_theme_change_at_run_time_is_followed(vscode):
    output = show_france(vscode)
    root = output.locator(".llk")
    for kind, dark in [("vscode-light", False), ("vscode-dark", True)]:
        vscode.set_theme(kind)
        seen = root.evaluate(CONTRAST, [":root"])
        assert (seen["rootLuminance"] < 0.2) == dark, (kind, seen["rootBg"])
        assert seen["probes"][0]["ratio"] >= 4.5, (kind, seen["probes"])


# --- 3. Sizing ---------------------------------------------------------------------------


def _settled_height(vscode, output: Locator) -> int:
    """Wait until the host's ResizeObserver has reported the output's current height."""
    deadline = time.monotonic() + 10
    while True:
        height = output.evaluate("e => e.offsetHeight")
        heights = vscode.heights(output)
        if heights and heights[-1] == height:
            return height
        assert time.monotonic() < deadline, f"reported {heights}, offsetHeight {height}"
        vscode.page.wait_for_timeout(50)


def test_reported_height_is_nonzero_and_follows_the_widget(vscode):
    vscode.run(MODEL + f"w = LogitLensWidget(model=model, prompt={LONG_PROMPT!r})\nw")
    output = vscode.render_last_output()
    grid = output.locator(".llk-grid")
    expect(grid).to_be_visible(timeout=RENDER_TIMEOUT_MS)
    # At render() time the view is not attached yet (width 0): the columns must come from
    # the width the output has once attached, not from that 0.
    expect(output.locator(".llk-colhead")).not_to_have_count(0)
    assert output.locator(".llk-colhead").count() >= 8
    start = _settled_height(vscode, output)
    assert start > 0
    grid_start = grid.evaluate("e => e.offsetHeight")

    for grid_height in (200, 600):
        grid_before = grid.evaluate("e => e.offsetHeight")
        vscode.run(f"w.grid_height = {grid_height}")
        vscode.page.wait_for_function(  # the update reaches the view after the cell ends
            "([grid, h]) => grid.offsetHeight !== h", arg=[grid.element_handle(), grid_before]
        )
        height = _settled_height(vscode, output)
        grid_now = grid.evaluate("e => e.offsetHeight")
        assert height - start == pytest.approx(grid_now - grid_start, abs=2), (
            f"grid {grid_start}->{grid_now} px but reported output {start}->{height} px"
        )

    # The editor sizes the output container from the report: nothing of the widget is cut.
    widget_bottom = output.locator(".llk").evaluate("e => e.getBoundingClientRect().bottom")
    box_bottom = output.evaluate("e => e.parentElement.getBoundingClientRect().bottom")
    assert widget_bottom <= box_bottom + 0.5

    # Nothing sizes itself from the page: VS Code's webview height is unrelated to the output.
    before = _settled_height(vscode, output)
    vscode.page.set_viewport_size({"width": 1100, "height": 3000})
    vscode.page.wait_for_timeout(200)
    assert _settled_height(vscode, output) == before


# --- 4. Trait sync both ways -------------------------------------------------------------


def test_prompt_syncs_both_ways(vscode):
    output = show_france(vscode)
    box = output.locator("[aria-label=prompt]")
    expect(box).to_have_value("The capital of France is")

    # Python -> widget
    vscode.run('w.prompt = "Bonjour"')
    expect(box).to_have_value("Bonjour")
    _wait_for_input_tokens(output, "Bonjour")  # the grid shows the new prompt's tokens

    # widget -> Python
    box.fill("The Eiffel Tower is located in the city of")
    box.press("Enter")
    expect(data_rows(output)).to_have_count(10, timeout=RENDER_TIMEOUT_MS)
    expect(last_prediction(output)).to_contain_text("Paris")
    assert vscode.run("print(w.prompt)") == "The Eiffel Tower is located in the city of\n"


# --- 5. Custom messages with binary buffers, both ways -----------------------------------

ECHO = '''
import anywidget
from anywidget.experimental import command

class Echo(anywidget.AnyWidget):
    _esm = """
    const bytes = (b) => Array.from(new Uint8Array(b.buffer ?? b, b.byteOffset ?? 0,
                                                   b.byteLength));
    export default {
      async render({ model, el, experimental }) {
        model.on("msg:custom", (msg, buffers) => {
          if (msg.kind !== "ping") return;
          el.dataset.ping = JSON.stringify({ msg, kinds: buffers.map((b) => b.constructor.name),
                                             bytes: buffers.map(bytes) });
          model.send({ kind: "pong" }, undefined, [new Uint8Array(bytes(buffers[0])).reverse()]);
        });
        const [reply, buffers] = await experimental.invoke(
          "echo", { note: "hi" }, { buffers: [new Uint8Array([1, 2, 3, 250])] });
        el.dataset.invoke = JSON.stringify({ reply, kinds: buffers.map((b) => b.constructor.name),
                                             bytes: buffers.map(bytes) });
      },
    };
    """

    @command
    def echo(self, msg, buffers):
        return {"got": msg, "sizes": [len(b) for b in buffers]}, [bytes(buffers[0])[::-1]]

received = []
e = Echo()
e.on_msg(lambda widget, content, buffers: content.get("kind") == "pong"
         and received.append((content, [bytes(b) for b in buffers])))
e
'''


def test_custom_messages_with_buffers_both_ways(vscode):
    vscode.run(ECHO)
    output = vscode.render_last_output()
    el = output.locator("[data-invoke]")
    expect(el).to_have_count(1, timeout=RENDER_TIMEOUT_MS)
    # JS -> Python -> JS: anywidget's experimental.invoke with a buffer each way.
    invoked = json.loads(el.get_attribute("data-invoke"))
    assert invoked == {
        "reply": {"got": {"note": "hi"}, "sizes": [4]},
        "kinds": ["DataView"],
        "bytes": [[250, 3, 2, 1]],
    }
    # Python -> JS: a custom message with a buffer; JS answers with one.
    vscode.run('e.send({"kind": "ping"}, [b"\\x00\\x01\\xff"])')
    expect(output.locator("[data-ping]")).to_have_count(1)
    ping = json.loads(output.locator("[data-ping]").get_attribute("data-ping"))
    assert ping == {"msg": {"kind": "ping"}, "kinds": ["DataView"], "bytes": [[0, 1, 255]]}
    deadline = time.monotonic() + 10
    while (seen := vscode.run("print(repr(received))").strip()) == "[]":
        assert time.monotonic() < deadline, "the widget's message never reached Python"
        vscode.page.wait_for_timeout(100)
    assert seen == repr([({"kind": "pong"}, [b"\xff\x01\x00"])])


# --- 6. Views created late, and created again --------------------------------------------


def test_view_created_late_and_view_recreated_render(vscode):
    vscode.run(FRANCE)
    data = vscode.last_widget
    # VS Code renders an output when it scrolls into view, maybe long after the model came
    # (anywidget's model start-up guard is 2 s).
    vscode.page.wait_for_timeout(2500)
    first = vscode.render(data)
    expect(last_prediction(first)).to_contain_text("Paris", timeout=RENDER_TIMEOUT_MS)

    vscode.dispose(first)
    expect(first).to_have_count(0)
    assert vscode.page.locator(".llk").count() == 0
    again = vscode.render(data)
    expect(last_prediction(again)).to_contain_text("Paris", timeout=RENDER_TIMEOUT_MS)
    # The new view is live: a change from Python reaches it (and nothing of the disposed
    # view throws on the way).
    vscode.run('w.prompt = "Bonjour"')
    expect(again.locator("[aria-label=prompt]")).to_have_value("Bonjour")


# --- 7. Popup placement -----------------------------------------------------------------

CORNERS_ARE_THE_POPUP = """(popup) => {
  const r = popup.getBoundingClientRect();
  return [[r.left + 3, r.top + 3], [r.right - 3, r.top + 3], [r.left + 3, r.bottom - 3],
          [r.right - 3, r.bottom - 3]].map(([x, y]) => popup.contains(document.elementFromPoint(x, y)));
}"""

# VS Code's webview reaches far past the visible editor (and absolutely placed cells), so
# an output low in the notebook sits thousands of px down the page; a page scrolled by
# script (or by a click scrolling an element into view) offsets it again.
GEOMETRIES = {
    "low-in-a-tall-webview": {"viewport": 3000, "top": 2300, "scroll": 0},
    "scrolled-page": {"viewport": 900, "top": 2600, "scroll": 2200},
}


@pytest.mark.parametrize("geometry", GEOMETRIES)
def test_popup_is_placed_at_its_cell_low_in_a_tall_page(vscode, geometry):
    g = GEOMETRIES[geometry]
    vscode.page.set_viewport_size({"width": 1100, "height": g["viewport"]})
    vscode.run(FRANCE)
    output = vscode.render_last_output(top=g["top"])
    expect(last_prediction(output)).to_contain_text("Paris", timeout=RENDER_TIMEOUT_MS)
    vscode.page.evaluate("(y) => { document.scrollingElement.scrollTop = y; }", g["scroll"])
    cells = data_rows(output).last.locator("[role=gridcell]")
    cell = cells.nth(cells.count() // 2)  # not at an edge, where the popup is clamped
    cell.click()
    popup = output.locator(".llk-popup")
    expect(popup).to_be_visible()
    c, p = cell.bounding_box(), popup.bounding_box()
    below = abs(p["y"] - (c["y"] + c["height"])) <= 4
    above = abs(p["y"] + p["height"] - c["y"]) <= 4
    assert below or above, f"popup at {p}, its cell at {c}"
    assert abs(p["x"] - c["x"]) <= 2, f"popup at {p}, its cell at {c}"
    assert popup.evaluate(CORNERS_ARE_THE_POPUP) == [True] * 4
