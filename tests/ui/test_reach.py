"""What the view must not hide (issue 23): every layer, a popup that stays on its cell, token
text that cannot reorder itself or its neighbours, a legend that says what "@13" is."""

from __future__ import annotations

import re

import numpy as np
import pytest
from playwright.sync_api import expect

from fake_lens import payload

pytestmark = pytest.mark.browser

OUT = "#out1"


# Text that hides (item 14) ----------------------------------------------------------------

HEBREW = "\u05e9\u05dc\u05d5\u05dd"


def test_bidi_controls_are_shown_and_each_token_is_isolated(wp):
    vocab = {i: f"t{i}" for i in range(30)}
    vocab.update({0: "\u202eemoR", 1: HEBREW, 2: "a\u2066b"})
    wp.mount(payload(vocab=vocab, vocab_size=30, input_tokens=["\u202eemoR", HEBREW, "x", "y"]))
    page = wp.page
    inputs = page.locator(f"{OUT} .llk-input-text").all_text_contents()
    assert inputs[:2] == ["\\u202eemoR", HEBREW]
    cells = page.locator(f"{OUT} .llk-cell").all_text_contents()
    assert "\u202e" not in "".join(cells) and "\u2066" not in "".join(cells)
    # Each token is its own bidi island: right-to-left letters in one never move the text
    # around it (the popup title, the legend), as a <bdi> would.
    wp.cell(0, 1).click()
    for sel in [".llk-cell", ".llk-input-text", ".llk-popup-token", ".llk-popup-input"]:
        bidi = page.locator(f"{OUT} {sel}").first.evaluate("e => getComputedStyle(e).unicodeBidi")
        assert bidi in ("isolate", "plaintext"), (sel, bidi)
    # The title's Hebrew input token is drawn after "position 1", not moved before it.
    title = page.locator(f"{OUT} .llk-popup-title")
    token = title.locator(".llk-popup-input").bounding_box()
    words = title.locator("span").first.bounding_box()
    assert token["x"] >= words["x"] + words["width"] - 1


# The legend says what its position is (item 20) ------------------------------------------


def test_the_default_lines_legend_names_its_position_in_words(wp):
    wp.mount(payload(n_layers=6, n_pos=4))
    label = wp.page.locator(f"{OUT} .llk-legend-default .llk-legend-label")
    expect(label).to_have_text(re.compile(r" at position 3$"))
    assert "@" not in label.text_content()
    assert "position 3" in label.get_attribute("title")
    wp.cell(2, 1).click()
    expect(label).to_have_text(re.compile(r" at position 1$"))


# The popup stays on its cell (item 16) -------------------------------------------------------

MENU = 60  # px: a host's menu bar over the scrolling notebook, as in JupyterLab

IN_A_NOTEBOOK = """(menu) => {
  const bar = document.createElement('div');
  bar.id = 'menubar';
  Object.assign(bar.style, { position: 'fixed', top: '0', left: '0', right: '0',
    height: menu + 'px', background: '#ddd' });
  const scroller = document.createElement('div');
  scroller.id = 'notebook';
  Object.assign(scroller.style, { position: 'fixed', top: menu + 'px', left: '0', right: '0',
    bottom: '0', overflow: 'auto' });
  const above = document.createElement('div');
  above.style.height = '300px';
  const below = document.createElement('div');
  below.style.height = '3000px';
  scroller.append(above, document.getElementById('out1'), below);
  document.body.append(bar, scroller);
}"""


def scroll_notebook(wp, y: int) -> None:
    wp.page.evaluate("y => { document.getElementById('notebook').scrollTop = y; }", y)
    wp.page.wait_for_timeout(60)  # scroll events are dispatched at the next frame


def test_popup_scrolls_with_its_cell_and_never_covers_the_hosts_menu(wp):
    wp.page.evaluate(IN_A_NOTEBOOK, MENU)
    wp.mount(payload(n_layers=6, n_pos=12, k=5))
    cell = wp.cell(2, 1)
    cell.click()
    popup = wp.page.locator(f"{OUT} .llk-popup")
    expect(popup).to_be_visible()
    start = cell.bounding_box()
    gap = popup.bounding_box()["y"] - start["y"]
    # The notebook scrolls: the popup moves with its cell.
    scroll_notebook(wp, 150)
    moved = cell.bounding_box()
    assert moved["y"] == pytest.approx(start["y"] - 150, abs=1)
    assert popup.is_visible()
    assert popup.bounding_box()["y"] - moved["y"] == pytest.approx(gap, abs=1)
    assert popup.bounding_box()["x"] == pytest.approx(moved["x"], abs=1)
    # Its cell under the menu bar (scrolled out of the notebook, still inside the window):
    # the popup goes too, instead of sitting over the menus.
    top = start["y"] - MENU + start["height"] + 10
    scroll_notebook(wp, int(top))
    assert cell.bounding_box()["y"] + cell.bounding_box()["height"] < MENU
    assert cell.bounding_box()["y"] > 0
    expect(popup).to_be_hidden()


def test_popup_in_a_short_window_stays_below_the_hosts_menu(wp):
    """Room neither below nor above the cell: the popup is clamped to the notebook's visible
    area, never pushed over the host's menu bar at the window's top."""
    wp.page.set_viewport_size({"width": 1000, "height": 330})
    wp.page.evaluate(IN_A_NOTEBOOK, MENU)
    wp.mount(payload(n_layers=6, n_pos=12, k=8))
    cell = wp.cell(3, 6)
    popup = wp.page.locator(f"{OUT} .llk-popup")
    for y in range(300, 700, 50):
        scroll_notebook(wp, y)
        box = cell.bounding_box()
        if box is None or box["y"] < MENU or box["y"] + box["height"] > 330:
            continue
        cell.click()
        expect(popup).to_be_visible()
        assert popup.bounding_box()["y"] >= MENU - 0.5, y
        wp.page.keyboard.press("Escape")


# Every layer is in the view (item 15) ------------------------------------------------------


def grid_reach(wp, layer: str) -> dict:
    """Scroll the grid until the column of `layer` is in view; where it and its chart tick are."""
    return wp.page.evaluate(
        """(layer) => {
      const grid = document.querySelector('#out1 .llk-grid');
      const head = [...grid.querySelectorAll('.llk-colhead')].find((h) => h.textContent === layer);
      head.scrollIntoView({ block: 'nearest', inline: 'nearest' });
      const g = grid.getBoundingClientRect();
      const h = head.getBoundingClientRect();
      const ci = Number(head.dataset.ci);
      const row = [...document.querySelectorAll('#out1 .llk-xtick')][ci];
      const tick = row && row.firstChild.textContent === layer ? row : null;
      const t = tick ? tick.getBoundingClientRect() : null;
      return { grid: [g.left, g.right], head: [h.left, h.right],
               tick: t ? (t.left + t.right) / 2 : null, scrolled: grid.scrollLeft };
    }""",
        layer,
    )


def test_at_950_px_every_one_of_30_layers_is_a_column_and_layer_28_is_reachable(wp):
    wp.page.evaluate("document.getElementById('out1').style.width = '950px'")
    wp.mount(payload(n_layers=30, n_pos=8))
    heads = wp.page.locator(f"{OUT} .llk-colhead").all_text_contents()
    assert heads == [str(i) for i in range(30)]
    hint = wp.page.locator(f"{OUT} .llk-hint").text_content()
    assert "all 30 layers" in hint and "of 30" not in hint
    reach = grid_reach(wp, "28")
    assert reach["scrolled"] > 0  # the widget scrolls sideways; the page does not
    assert reach["grid"][0] <= reach["head"][0] and reach["head"][1] <= reach["grid"][1] + 0.5
    # The chart follows the grid: layer 28's tick stays over layer 28's column.
    wp.page.wait_for_timeout(60)
    reach = grid_reach(wp, "28")
    assert reach["head"][0] <= reach["tick"] <= reach["head"][1]
    # Its cells open their popup where they are.
    cell = wp.cell(28, 7)
    cell.click()
    popup = wp.page.locator(f"{OUT} .llk-popup")
    expect(popup).to_be_visible()
    box, c = popup.bounding_box(), cell.bounding_box()
    assert box["x"] <= c["x"] + c["width"] and box["x"] + box["width"] >= c["x"]
    page_width = wp.page.evaluate("document.documentElement.scrollWidth")
    assert page_width <= wp.page.viewport_size["width"]
    # A zoom to a few layers fits: the grid's sideways scroll goes, and the chart with it.
    wp.page.keyboard.press("Escape")
    wp.set_trait("x_zoom", [0, 5])
    wp.page.wait_for_timeout(60)
    reach = grid_reach(wp, "2")
    assert reach["scrolled"] == 0
    assert reach["head"][0] <= reach["tick"] <= reach["head"][1]


def test_sublayer_rows_show_every_layer_too(wp):
    from test_sublayers import V, sublayer_payload

    layers = [n for n in range(30) for _ in (0, 1)]
    probs = np.random.default_rng(2).dirichlet(np.ones(V), size=(len(layers), 5))
    data, _ = sublayer_payload(probs, [1, 0] * 30, layers)
    wp.page.evaluate("document.getElementById('out1').style.width = '950px'")
    wp.mount(data)
    heads = wp.page.locator(f"{OUT} .llk-colhead").all_text_contents()
    assert heads == [f"{n}{a}" for n in range(30) for a in ("\u00b7a", "")]
    reach = grid_reach(wp, "28")
    assert reach["grid"][0] <= reach["head"][0] and reach["head"][1] <= reach["grid"][1] + 0.5


def test_the_keyboard_reaches_the_last_layers_and_the_popup_leaves_with_its_column(wp):
    wp.page.evaluate("document.getElementById('out1').style.width = '950px'")
    wp.mount(payload(n_layers=30, n_pos=8))
    # The grid opens at its last layers: start from the first ones.
    wp.page.evaluate(f"document.querySelector('{OUT} .llk-grid').scrollLeft = 0")
    wp.cell(0, 2).click()
    wp.page.keyboard.press("Escape")
    wp.page.keyboard.press("End")  # the row's last column: layer 29
    grid = wp.page.locator(f"{OUT} .llk-grid").bounding_box()
    cell = wp.cell(29, 2).bounding_box()
    assert cell["x"] + cell["width"] <= grid["x"] + grid["width"] + 0.5
    wp.page.keyboard.press("Enter")
    popup = wp.page.locator(f"{OUT} .llk-popup")
    expect(popup).to_be_visible()
    # Scrolled back to the first layers, the cell is out of the grid's view: the popup goes.
    wp.page.evaluate(f"document.querySelector('{OUT} .llk-grid').scrollLeft = 0")
    expect(popup).to_be_hidden()


# A first render builds each row once, with only the columns in view (item 21) ---------------

COUNT_ROWS = """() => {
  window.rowsAdded = 0;
  new MutationObserver((records) => {
    for (const r of records)
      for (const n of r.addedNodes) if (n.classList?.contains('llk-row')) window.rowsAdded++;
  }).observe(document.getElementById('out1'), { childList: true, subtree: true });
}"""


def test_a_first_render_builds_each_row_once_with_the_columns_in_view(wp):
    wp.page.evaluate(COUNT_ROWS)
    wp.mount(payload(n_layers=80, n_pos=100, k=5))
    wp.page.wait_for_timeout(50)  # the observer reports after the render's task
    # Read both in one task: the idle overscan may add rows between two separate reads.
    added, present = wp.page.evaluate(
        "() => [window.rowsAdded, document.querySelectorAll('#out1 .llk-row').length]"
    )
    assert added == present
    rows = wp.page.locator(f"{OUT} .llk-row")
    cells = rows.first.locator(".llk-cell").count()
    assert len(wp.page.locator(f"{OUT} .llk-colhead").all()) == 80
    assert cells < 40  # the ~20 columns in view, a few beyond, and the final layer's


# A new grid opens at its last layers (item 15 follow-up) ----------------------------------

IN_VIEW = """(layer) => {
  const grid = document.querySelector('#out1 .llk-grid');
  const head = [...grid.querySelectorAll('.llk-colhead')].find((h) => h.textContent === layer);
  const input = grid.querySelector('.llk-corner').offsetWidth;
  const g = grid.getBoundingClientRect();
  const h = head.getBoundingClientRect();
  // The sticky input column covers the grid's left edge: a column is in view right of it.
  const left = g.left + grid.clientLeft + input;
  return left - 0.5 <= h.left && h.right <= g.left + grid.clientLeft + grid.clientWidth + 0.5;
}"""


def grid_scroll(wp) -> float:
    return wp.page.evaluate(f"document.querySelector('{OUT} .llk-grid').scrollLeft")


def test_a_new_grid_opens_at_its_last_layers_and_same_layers_data_keeps_the_scroll(wp):
    wp.page.evaluate("document.getElementById('out1').style.width = '950px'")
    wp.mount(payload(n_layers=30, n_pos=8))
    # No scrolling: the answer's layer (28) and the model's output (29) are in view.
    assert wp.page.evaluate(IN_VIEW, "28") and wp.page.evaluate(IN_VIEW, "29")
    assert not wp.page.evaluate(IN_VIEW, "0")
    hint = wp.page.locator(f"{OUT} .llk-hint").text_content()
    assert "earlier layers" in hint and "left" in hint, hint
    # The chart opens shifted with it: layer 29's tick is over layer 29's column.
    wp.page.wait_for_timeout(60)
    reach = grid_reach(wp, "29")
    assert reach["head"][0] <= reach["tick"] <= reach["head"][1]
    # Layer 0 is reached by scrolling left, and the chart follows.
    wp.page.mouse.move(400, wp.page.locator(f"{OUT} .llk-grid").bounding_box()["y"] + 40)
    for _ in range(20):
        wp.page.mouse.wheel(-200, 0)
    wp.page.wait_for_timeout(200)
    assert grid_scroll(wp) == 0
    assert wp.page.evaluate(IN_VIEW, "0") and not wp.page.evaluate(IN_VIEW, "29")
    reach = grid_reach(wp, "0")
    assert reach["head"][0] <= reach["tick"] <= reach["head"][1]
    # The user scrolls to the middle; a new prompt with the same layers keeps that scroll.
    wp.page.evaluate(f"document.querySelector('{OUT} .llk-grid').scrollLeft = 300")
    wp.page.wait_for_timeout(60)
    kept = grid_scroll(wp)
    assert kept == pytest.approx(300, abs=1)
    wp.set_data(payload(n_layers=30, n_pos=5, seed=3))
    wp.page.wait_for_timeout(60)
    assert grid_scroll(wp) == pytest.approx(kept, abs=1)
    # A run whose layers changed is a new grid: it opens at its end again.
    wp.set_data(payload(n_layers=26, n_pos=5))
    wp.page.wait_for_timeout(60)
    assert wp.page.evaluate(IN_VIEW, "25") and not wp.page.evaluate(IN_VIEW, "0")
