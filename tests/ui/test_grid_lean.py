"""A rebuild makes the rows and columns in view first; the overscan follows when idle (item 21).

The first frame of an 80 × 100 grid no longer waits for the rows below the view and the
columns beyond its left edge; once the browser is idle every row holds the columns in view
and three beyond each edge, rows extend six beyond the view, and no row is built twice.
"""

from __future__ import annotations

from fake_lens import payload

OUT = "#out1"

# Counts rows added to the grid and, per row, cells added after the row was (re)built.
WATCH = """() => {
  window.rowsAdded = 0;
  window.cellsAdded = 0;
  new MutationObserver((records) => {
    for (const r of records)
      for (const n of r.addedNodes) {
        if (n.classList?.contains('llk-row')) window.rowsAdded++;
        if (n.classList?.contains('llk-cell')) window.cellsAdded++;
      }
  }).observe(document.getElementById('out1'), { childList: true, subtree: true });
}"""

# Each row's cells' column indices in DOM order, the rows' positions, and the columns in view.
SHAPE = """() => {
  const grid = document.querySelector('#out1 .llk-grid');
  const rows = [...grid.querySelectorAll('.llk-row')];
  const heads = [...grid.querySelectorAll('.llk-colhead')];
  // The sticky input column covers the grid's left edge: a column is in view right of it.
  const left = grid.getBoundingClientRect().left + grid.clientLeft;
  const input = left + grid.querySelector('.llk-corner').offsetWidth;
  const right = left + grid.clientWidth;
  const inView = heads.filter((h) => {
    const r = h.getBoundingClientRect();
    return r.right > input && r.left < right;
  }).map((h) => +h.dataset.ci);
  // As grid.js counts them: rows under the view's top, over its full height.
  const top = Math.max(0, grid.scrollTop - grid.querySelector('.llk-head').offsetHeight);
  const rowsInView = Math.ceil((top + grid.clientHeight) / rows[0].offsetHeight);
  return {
    cells: rows.map((r) => [...r.querySelectorAll(':scope > .llk-cell')].map((c) => +c.dataset.ci)),
    ps: rows.map((r) => +r.dataset.p).sort((a, b) => a - b),
    inView,
    rowsInView,
  };
}"""


def test_the_overscan_follows_the_first_frame_without_rebuilding_a_row(wp):
    wp.page.evaluate(WATCH)
    wp.mount(payload(n_layers=80, n_pos=100, k=5))
    rows = wp.page.locator(f"{OUT} .llk-row")
    # Once idle: rows extend six beyond the view (the grid opens at the top).
    wp.page.wait_for_timeout(400)  # past the idle callback's 200 ms deadline
    shape = wp.page.evaluate(SHAPE)
    assert shape["ps"] == list(range(shape["rowsInView"] + 6))
    # Each row was built once, whatever was added to it afterwards.
    assert wp.page.evaluate("window.rowsAdded") == rows.count()
    first, last = min(shape["inView"]), max(shape["inView"])
    want = list(range(max(0, first - 3), min(80, last + 4)))
    for cells in shape["cells"]:
        # The columns in view and three beyond each edge, in column order (the final
        # layer's column, 79, is among them: the grid opens at its last layers), and after
        # them only the active cell (column 0 of row 0: the grid's one tabbable cell).
        assert cells[: len(want)] == want, cells
        assert set(cells[len(want) :]) <= {0}, cells
    assert wp.page.evaluate("window.cellsAdded") > 0  # the overscan came after the rows


def test_keyboard_focus_stays_on_its_cell_while_the_overscan_is_added(wp):
    wp.mount(payload(n_layers=80, n_pos=100, k=5))
    wp.page.wait_for_timeout(400)
    wp.cell(75, 2).click()
    wp.page.keyboard.press("Escape")  # closes the popup, focus back on the cell
    here = (
        "() => [document.activeElement.dataset.ci, document.activeElement.parentElement.dataset.p]"
    )
    assert wp.page.evaluate(here) == ["75", "2"]
    # A re-color rebuilds the rows lean; the overscan is added when idle.
    wp.set_trait("color_mode", "entropy")
    assert wp.page.evaluate(here) == ["75", "2"]
    wp.page.wait_for_timeout(400)
    assert wp.page.evaluate(here) == ["75", "2"]
    assert wp.page.locator(f'{OUT} .llk-row[data-p="2"] .llk-cell').count() > 10
