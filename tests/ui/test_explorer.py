"""Every interaction of the explorer (issue 4), in Chromium, against the shipped bundle."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from fake_lens import collection, payload

pytestmark = pytest.mark.browser

OUT = "#out1"


def pct(text: str) -> float:
    """'12.3%' → 0.123 (also handles exponent forms like '1.0e-2%')."""
    return float(text.strip().rstrip("%")) / 100


def drag(wp, selector: str, dx: float, dy: float, steps: int = 4) -> None:
    box = wp.page.locator(selector).first.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    wp.page.mouse.move(x, y)
    wp.page.mouse.down()
    wp.page.mouse.move(x + dx, y + dy, steps=steps)
    wp.page.mouse.up()


def hover_d(wp) -> str:
    return wp.page.locator(f"{OUT} .llk-hover-line").get_attribute("d") or ""


def legend_labels(wp, out: str = OUT) -> list[str]:
    return wp.page.locator(f"{out} .llk-legend-pin .llk-legend-label").all_text_contents()


# 1. Grid ---------------------------------------------------------------------------------


def test_grid_top1_tokens_roles_and_final_layer(wp):
    data = collection(n_layers=6, n_pos=4)
    wp.mount(payload(n_layers=6, n_pos=4))
    for p in range(4):
        for ci in range(6):
            assert wp.cell(ci, p).text_content() == f"tok{data['topk'][ci, p, 0]}"
    page = wp.page
    assert page.locator(f"{OUT} [role=grid]").count() == 1
    assert page.locator(f"{OUT} [role=row]").count() == 5  # header + 4 positions
    assert page.locator(f"{OUT} [role=gridcell]").count() == 24
    final = page.locator(f"{OUT} .llk-cell.llk-final")
    assert final.count() == 4
    assert all(el.get_attribute("data-ci") == "5" for el in final.all())
    assert page.locator(f"{OUT} .llk-colhead.llk-final").text_content() == "5"


@pytest.mark.parametrize(("num_layers", "final_column"), [(6, "5"), (12, None)])
def test_final_layer_is_marked_only_when_it_was_collected(wp, num_layers, final_column):
    """With layers 0..5 of a 12-layer model, no column is the model's prediction."""
    wp.mount({**payload(n_layers=6, n_pos=4), "num_layers": num_layers})
    heads = wp.page.locator(f"{OUT} .llk-colhead.llk-final")
    assert heads.count() == (0 if final_column is None else 1)
    if final_column is not None:
        assert heads.text_content() == final_column
    assert wp.page.locator(f"{OUT} .llk-cell.llk-final").count() == (
        0 if final_column is None else 4
    )


def test_cells_colored_by_top1_probability(wp):
    data = collection()
    wp.mount(payload())
    for ci, p in [(0, 0), (5, 3)]:
        bg = wp.cell(ci, p).evaluate("e => getComputedStyle(e).backgroundColor")
        alpha = float(re.findall(r"[\d.]+", bg)[-1])
        assert alpha == pytest.approx(
            round(float(data["topk_probs"][ci, p, 0]) * 90) / 100, abs=0.011
        )


def test_whitespace_controls_and_byte_fragments_are_visible(wp):
    vocab = {i: f"t{i}" for i in range(30)}
    vocab.update({0: " Paris", 1: "\n", 2: "\t", 3: "\ufffd", 4: "<0xE2>", 5: "", 6: "a\x07"})
    inputs = [" the", "\n", "\t", "\ufffd"]
    wp.mount(payload(vocab=vocab, input_tokens=inputs, vocab_size=30))
    page = wp.page
    texts = page.locator(f"{OUT} .llk-input-text").all_text_contents()
    assert texts == ["\u2423the", "\u21b5", "\u21e5", "\ufffd"]
    assert "llk-frag" in page.locator(f"{OUT} .llk-input-text").nth(3).get_attribute("class")
    shown = page.evaluate(
        """() => { const cells = [...document.querySelectorAll('#out1 .llk-cell')];
                   return cells.map(c => [c.textContent, c.classList.contains('llk-frag')]); }"""
    )
    for text, frag in shown:
        assert "\n" not in text and "\t" not in text and " " not in text
        assert frag == (text in ("\ufffd", "<0xE2>"))


def test_repeated_input_tokens_stay_separate_rows(wp):
    wp.mount(payload(n_pos=4, input_tokens=["the", "cat", "the", "the"]))
    assert wp.page.locator(f"{OUT} .llk-input-text").all_text_contents() == [
        "the",
        "cat",
        "the",
        "the",
    ]


# 2. Stride ---------------------------------------------------------------------------------


def headers(wp) -> list[str]:
    return wp.page.locator(f"{OUT} .llk-colhead").all_text_contents()


def set_host_width(wp, px: int) -> None:
    wp.page.evaluate("w => { document.getElementById('out1').style.width = w + 'px'; }", px)
    wp.page.wait_for_timeout(100)  # ResizeObserver delivers on the next frame


def scrolls_sideways(wp) -> bool:
    return wp.page.locator(f"{OUT} .llk-grid").evaluate("g => g.scrollWidth > g.clientWidth")


def test_every_layer_is_a_column_at_any_width_and_the_grid_scrolls_sideways(wp):
    """Issue 23: a stride hid the layers where predictions change; every layer is shown."""
    wp.mount(payload(n_layers=80, n_pos=3), column_width=40)
    hint = wp.page.locator(f"{OUT} .llk-hint")
    assert headers(wp) == [str(i) for i in range(80)]
    assert "all 80 layers" in hint.text_content() and "sideways" in hint.text_content()
    assert scrolls_sideways(wp)
    set_host_width(wp, 420)
    assert headers(wp) == [str(i) for i in range(80)]
    assert scrolls_sideways(wp)
    set_host_width(wp, 4000)
    assert headers(wp) == [str(i) for i in range(80)]
    assert "all 80 layers" in hint.text_content()


# 3. Popup ----------------------------------------------------------------------------------


def test_click_cell_opens_popup_with_topk(wp):
    data = collection(k=3)
    wp.mount(payload(k=3))
    wp.cell(2, 1).click()
    popup = wp.page.locator(f"{OUT} .llk-popup")
    assert popup.is_visible()
    rows = popup.locator(".llk-popup-row")
    assert rows.count() == 3
    for j in range(3):
        assert (
            rows.nth(j).locator(".llk-popup-token").text_content() == f"tok{data['topk'][2, 1, j]}"
        )
        assert pct(rows.nth(j).locator(".llk-prob").text_content()) == pytest.approx(
            float(data["topk_probs"][2, 1, j]), rel=0.01, abs=1e-4
        )
    assert "llk-selected" in wp.cell(2, 1).get_attribute("class")


@pytest.mark.parametrize("how", ["x", "escape", "outside"])
def test_popup_closes(wp, how):
    wp.mount(payload())
    wp.cell(1, 1).click()
    popup = wp.page.locator(f"{OUT} .llk-popup")
    assert popup.is_visible()
    if how == "x":
        popup.locator(".llk-popup-close").click()
    elif how == "escape":
        wp.page.keyboard.press("Escape")
    else:
        wp.page.mouse.click(5, 880)
    assert popup.is_hidden()


def test_selected_cell_follows_the_popup_and_outlives_it(wp):
    """docs/live-loop.md: selected_cell is the cell opened last, kept after the popup closes."""
    data = payload(n_layers=6, n_pos=4)
    wp.mount(data)
    shown = [int(t) for t in wp.page.locator(f"{OUT} .llk-colhead").all_text_contents()]
    wp.cell(2, 3).click()
    assert wp.trait("selected_cell") == {"layer": shown[2], "position": 3}
    wp.page.keyboard.press("Escape")
    assert wp.trait("selected_cell") == {"layer": shown[2], "position": 3}
    wp.cell(1, 0).click()
    assert wp.trait("selected_cell") == {"layer": shown[1], "position": 0}


def test_closing_the_output_keeps_selected_cell(wp):
    wp.mount(payload(n_layers=6, n_pos=4))
    wp.cell(2, 3).click()
    wp.page.evaluate("window.llk.cleanup()")
    assert wp.trait("selected_cell") == {"layer": 2, "position": 3}


def test_popup_closes_when_a_zoom_hides_its_layer(wp):
    wp.mount(payload(n_layers=12, n_pos=4))
    wp.cell(1, 2).click()
    popup = wp.page.locator(f"{OUT} .llk-popup")
    assert popup.is_visible()
    wp.set_trait("x_zoom", [6, 11])
    expect(popup).to_be_hidden()


def test_popup_stays_inside_viewport(wp):
    wp.page.set_viewport_size({"width": 700, "height": 420})
    wp.mount(payload(n_layers=12, n_pos=40), grid_height=2000)
    cell = wp.cell(11, 39)
    cell.scroll_into_view_if_needed()
    cell.click()
    box = wp.page.locator(f"{OUT} .llk-popup").bounding_box()
    assert box["x"] >= 0 and box["y"] >= 0
    assert box["x"] + box["width"] <= 700 and box["y"] + box["height"] <= 420


CORNERS_ARE_THE_POPUP = """(popup) => {
  const r = popup.getBoundingClientRect();
  return [[r.left + 3, r.top + 3], [r.right - 3, r.top + 3], [r.left + 3, r.bottom - 3],
          [r.right - 3, r.bottom - 3]].map(([x, y]) => popup.contains(document.elementFromPoint(x, y)));
}"""


def test_popup_is_not_clipped_by_a_host_that_hides_overflow(wp):
    # Notebook output areas clip what overflows them; the last row's popup reaches past it.
    wp.mount(payload(n_layers=6, n_pos=2, k=5))
    cell = wp.cell(5, 1)
    out = wp.page.locator("#out1")
    bottom = cell.bounding_box()["y"] + cell.bounding_box()["height"] - out.bounding_box()["y"]
    out.evaluate(
        "(o, h) => { o.style.overflow = 'hidden'; o.style.height = h + 'px'; }", bottom + 4
    )
    cell.click()
    popup = wp.page.locator(f"{OUT} .llk-popup")
    out = out.bounding_box()
    assert popup.bounding_box()["y"] + popup.bounding_box()["height"] > out["y"] + out["height"]
    assert popup.evaluate(CORNERS_ARE_THE_POPUP) == [True] * 4


def test_popup_without_the_popover_api_is_placed_at_its_cell(wp):
    """Older browsers: the popup falls back to absolute placement inside the widget."""
    wp.page.evaluate("delete HTMLElement.prototype.showPopover")
    # A tall grid: below the cell the popup covers no part of the chart, so it goes there.
    wp.mount(payload(n_layers=6, n_pos=40))
    cell = wp.cell(3, 1)
    cell.click()
    popup = wp.page.locator(f"{OUT} .llk-popup")
    assert popup.is_visible()
    assert popup.get_attribute("popover") is None
    box, c = popup.bounding_box(), cell.bounding_box()
    assert box["x"] == pytest.approx(c["x"], abs=1)
    assert box["y"] == pytest.approx(c["y"] + c["height"] + 2, abs=1)


def test_popup_follows_its_cell_when_the_grid_scrolls_and_closes_when_it_leaves(wp):
    wp.mount(payload(n_layers=6, n_pos=40), grid_height=300)
    cell = wp.cell(2, 3)
    cell.click()
    popup = wp.page.locator(f"{OUT} .llk-popup")
    gap = popup.bounding_box()["y"] - cell.bounding_box()["y"]
    wp.page.evaluate(f"document.querySelector('{OUT} .llk-grid').scrollTop = 20")
    wp.page.wait_for_timeout(50)  # scroll events are dispatched at the next frame
    assert popup.is_visible()
    assert popup.bounding_box()["y"] - cell.bounding_box()["y"] == pytest.approx(gap, abs=1)
    wp.page.evaluate(f"document.querySelector('{OUT} .llk-grid').scrollTop = 400")
    expect(popup).to_be_hidden()


def test_popup_still_follows_after_pinning_rebuilt_the_rows(wp):
    wp.mount(payload(n_layers=6, n_pos=40), grid_height=300)
    wp.cell(2, 3).click()
    popup = wp.page.locator(f"{OUT} .llk-popup")
    popup.locator(".llk-popup-row").first.click()  # pins: re-coloring rebuilds every row
    gap = popup.bounding_box()["y"] - wp.cell(2, 3).bounding_box()["y"]
    wp.page.evaluate(f"document.querySelector('{OUT} .llk-grid').scrollTop = 20")
    wp.page.wait_for_timeout(50)
    assert popup.is_visible()
    assert popup.bounding_box()["y"] - wp.cell(2, 3).bounding_box()["y"] == pytest.approx(
        gap, abs=1
    )


def test_popup_stays_on_its_layer_when_the_columns_change(wp):
    wp.mount(payload(n_layers=6, n_pos=4))
    wp.cell(3, 1).click()
    title = wp.page.locator(f"{OUT} .llk-popup-title").text_content()
    wp.set_trait("column_width", 90)
    popup = wp.page.locator(f"{OUT} .llk-popup")
    assert popup.is_visible()
    assert wp.page.locator(f"{OUT} .llk-popup-title").text_content() == title
    cell = wp.cell(3, 1).bounding_box()
    assert popup.bounding_box()["x"] == pytest.approx(cell["x"], abs=1)


# 4. Hover ----------------------------------------------------------------------------------


def test_hover_cell_and_popup_row_show_trajectories(wp):
    wp.mount(payload(k=3))
    assert hover_d(wp) == ""
    wp.cell(0, 0).hover()
    first = hover_d(wp)
    assert first.startswith("M")
    wp.cell(0, 2).hover()
    assert hover_d(wp) not in ("", first)
    wp.cell(3, 2).click()
    rows = wp.page.locator(f"{OUT} .llk-popup-row")
    rows.nth(1).hover()
    second = hover_d(wp)
    rows.nth(2).hover()
    assert hover_d(wp) not in ("", second)


# 5. Pins and groups -----------------------------------------------------------------------


def test_pin_group_and_remove_from_legend(wp):
    data = collection(k=3)
    wp.mount(payload(k=3))
    p = 3
    wp.cell(5, p).click()
    rows = wp.page.locator(f"{OUT} .llk-popup-row")
    ids = [int(data["topk"][5, p, j]) for j in range(3)]
    rows.nth(0).click()
    assert [pin["ids"] for pin in wp.trait("pins")] == [[ids[0]]]
    assert legend_labels(wp) == [f"tok{ids[0]}"]
    assert wp.page.locator(f"{OUT} .llk-lines path").count() == 1
    rows.nth(1).click(modifiers=["Shift"])
    rows.nth(2).click(modifiers=["Control"])
    assert [pin["ids"] for pin in wp.trait("pins")] == [ids]
    assert legend_labels(wp) == [" + ".join(f"tok{i}" for i in ids)]
    # The group's line is the sum of its members: read it from the point tooltip.
    wp.page.keyboard.press("Escape")
    svg = wp.page.locator(f"{OUT} .llk-chart-svg")
    x = float(wp.page.locator(f"{OUT} .llk-xtick").nth(5).get_attribute("x"))
    box = svg.bounding_box()
    wp.page.mouse.move(box["x"] + x, box["y"] + 20)
    tip = wp.page.locator(f"{OUT} .llk-tooltip .llk-tip-row").first.text_content()
    pos = list(data["tracked"][p])
    expected = sum(float(data["probs"][p][5, pos.index(i)]) for i in ids)
    assert pct(tip.split(": ")[-1]) == pytest.approx(expected, rel=0.01)
    assert wp.saves() >= 3
    wp.page.locator(f"{OUT} .llk-remove-pin").click()
    assert wp.trait("pins") == []
    # Only the default line (the final prediction, never a pin) is left.
    assert wp.page.locator(f"{OUT} .llk-lines path:not(.llk-default-line)").count() == 0
    assert wp.page.locator(f"{OUT} .llk-lines path.llk-default-line").count() == 1


def test_pin_color_picker_changes_line(wp):
    wp.mount(payload(), pins=[{"ids": [1], "color": "#e6194b"}])
    wp.page.locator(f"{OUT} .llk-pin-color").fill("#00ff00")
    assert wp.trait("pins")[0]["color"] == "#00ff00"
    assert wp.page.locator(f"{OUT} .llk-lines path").first.get_attribute("stroke") == "#00ff00"


def test_pin_color_picker_previews_while_open_and_commits_when_closed(wp):
    wp.mount(payload(), pins=[{"ids": [1], "color": "#e6194b"}])
    line = wp.page.locator(f"{OUT} .llk-lines path").first
    # A picker being dragged: several `input` events on one element, then one `change`.
    still_there = wp.page.locator(f"{OUT} .llk-pin-color").evaluate("""(picker) => {
      for (const v of ["#111111", "#222222", "#00ff00"]) {
        picker.value = v;
        picker.dispatchEvent(new Event("input", { bubbles: true }));
      }
      return picker.isConnected;
    }""")
    assert still_there
    assert line.get_attribute("stroke") == "#00ff00"
    assert wp.trait("pins")[0]["color"] == "#e6194b"  # not committed while open
    wp.page.locator(f"{OUT} .llk-pin-color").dispatch_event("change")
    assert wp.trait("pins")[0]["color"] == "#00ff00"


def test_color_by_group_uses_the_sum(wp):
    data = collection(k=3)
    p, layer = 2, 4
    ids = [int(i) for i in data["topk"][layer, p, :2]]
    wp.mount(
        payload(k=3),
        pins=[{"ids": ids, "color": "#e6194b"}],
        color_mode="group",
        color_group=ids,
        heat_color="#ff0000",
    )
    bg = wp.cell(layer, p).evaluate("e => getComputedStyle(e).backgroundColor")
    alpha = float(re.findall(r"[\d.]+", bg)[-1])
    pos = list(data["tracked"][p])
    total = sum(float(data["probs"][p][layer, pos.index(i)]) for i in ids)
    assert bg.startswith("rgba(255, 0, 0")
    assert alpha == pytest.approx(round(min(1, total) * 90) / 100, abs=0.011)


def test_colored_group_follows_its_members_and_the_menu_shows_the_target(wp):
    data = collection(k=3)
    p, layer = 2, 4
    a, b, c = (int(i) for i in data["topk"][layer, p, :3])
    wp.mount(
        payload(k=3),
        pins=[{"ids": [a, b], "color": "#e6194b"}],
        color_mode="group",
        color_group=[a, b],
    )
    target = wp.page.locator(f"{OUT} .llk-target")
    assert target.input_value() == f"{a},{b}"
    wp.cell(layer, p).click()
    wp.page.locator(f"{OUT} .llk-popup-row[data-id='{c}']").click(modifiers=["Shift"])
    assert wp.trait("pins")[0]["ids"] == [a, b, c]
    assert wp.trait("color_group") == [a, b, c]
    assert target.input_value() == f"{a},{b},{c}"
    wp.page.locator(f"{OUT} .llk-remove-pin").click()
    assert wp.trait("color_group") == []
    # Token mode without a chosen token colors by the first pinned token: the menu says so.
    wp.set_trait("pins", [{"ids": [b], "color": "#3cb44b"}])
    wp.set_trait("color_mode", "token")
    assert wp.trait("color_token") is None
    assert target.input_value() == str(b)


# 6. Pinned rows ---------------------------------------------------------------------------


def test_pin_rows_autopins_and_dashes(wp):
    data = collection()
    wp.mount(payload())
    inputs = wp.page.locator(f"{OUT} .llk-input")
    inputs.nth(1).click()
    assert wp.trait("pinned_rows") == [1]
    assert [pin["ids"] for pin in wp.trait("pins")] == [[int(data["topk"][-1, 1, 0])]]
    inputs.nth(2).click()
    assert wp.trait("pinned_rows") == [1, 2]
    dashes = [
        p.get_attribute("stroke-dasharray") for p in wp.page.locator(f"{OUT} .llk-lines path").all()
    ]
    # one line per pin and row; each row has its own line style
    assert len(dashes) == 2 * len(wp.trait("pins"))
    assert len(set(dashes)) == 2
    assert wp.page.locator(f"{OUT} .llk-legend-row").count() == 2
    inputs.nth(1).click()
    assert wp.trait("pinned_rows") == [2]
    wp.page.locator(f"{OUT} .llk-remove-row").click()
    assert wp.trait("pinned_rows") == []


# 7. Chart ----------------------------------------------------------------------------------


def y_labels(wp) -> list[str]:
    return wp.page.locator(f"{OUT} .llk-yaxis text").all_text_contents()


def test_chart_axes_scales_metric_tooltip(wp):
    wp.mount(payload(k=3), pins=[{"ids": [1], "color": "#e6194b"}])
    assert "probability" in wp.page.locator(f"{OUT} .llk-ytitle").text_content()
    labels = y_labels(wp)
    assert labels[0] == "0" and float(labels[-1]) in {0.1, 0.2, 0.25, 0.5, 1}
    wp.page.locator(f"{OUT} .llk-scale").select_option("log")
    assert wp.trait("chart_scale") == "log"
    assert (y_labels(wp)[-1] == "1" and "e-" in y_labels(wp)[0]) or float(y_labels(wp)[0]) < 0.1
    wp.page.locator(f"{OUT} .llk-metric").select_option("rank")
    assert wp.trait("trajectory_metric") == "rank"
    assert "rank" in wp.page.locator(f"{OUT} .llk-ytitle").text_content()
    assert y_labels(wp)[0] == "1"
    box = wp.page.locator(f"{OUT} .llk-chart-svg").bounding_box()
    wp.page.mouse.move(box["x"] + box["width"] - 30, box["y"] + 30)
    tip = wp.page.locator(f"{OUT} .llk-tooltip")
    assert tip.is_visible() and "layer" in tip.text_content()


def test_chart_columns_align_with_grid(wp):
    wp.mount(payload(n_layers=10))
    for ci in (0, 9):
        cell = wp.cell(ci, 0).bounding_box()
        tick = wp.page.locator(f"{OUT} .llk-xtick").nth(ci).bounding_box()
        assert abs((cell["x"] + cell["width"] / 2) - (tick["x"] + tick["width"] / 2)) < 3


def test_zoom_by_dragging_tick_labels(wp):
    wp.mount(payload(n_layers=10))
    ticks = wp.page.locator(f"{OUT} .llk-xtick")
    a, b = ticks.nth(2).bounding_box(), ticks.nth(6).bounding_box()
    wp.page.mouse.move(a["x"] + a["width"] / 2, a["y"] + a["height"] / 2)
    wp.page.mouse.down()
    wp.page.mouse.move(b["x"] + b["width"] / 2, b["y"] + b["height"] / 2, steps=5)
    wp.page.mouse.up()
    assert wp.trait("x_zoom") == [2, 6]
    assert headers(wp) == ["2", "3", "4", "5", "6"]
    assert "layers 2\u20136" in wp.page.locator(f"{OUT} .llk-hint").text_content()
    wp.page.locator(f"{OUT} .llk-reset-zoom").click()
    assert wp.trait("x_zoom") == []
    assert len(headers(wp)) == 10


def test_chart_height_drag(wp):
    wp.mount(payload(), chart_height=160)
    drag(wp, f"{OUT} .llk-resize-chart", 0, 60)
    assert wp.trait("chart_height") == 220
    assert wp.page.locator(f"{OUT} .llk-chart-svg").get_attribute("height") == "220"
    assert wp.saves() == 1  # synced once, at the end of the drag


# 8. Color modes -----------------------------------------------------------------------------


def cell_bg(wp, ci=0, p=0) -> str:
    return wp.cell(ci, p).evaluate("e => getComputedStyle(e).backgroundColor")


def test_color_mode_menu_and_pickers(wp):
    data = collection()
    wp.mount(payload(), pins=[{"ids": [int(data["topk"][0, 0, 0])], "color": "#e6194b"}])
    mode = wp.page.locator(f"{OUT} .llk-mode")
    mode.select_option("entropy")
    assert wp.trait("color_mode") == "entropy"
    wp.page.locator(f"{OUT} .llk-entropy-color").fill("#00ff00")
    assert wp.trait("entropy_color") == "#00ff00"
    assert cell_bg(wp).startswith("rgba(0, 255, 0")
    mode.select_option("none")
    assert cell_bg(wp) == "rgba(0, 0, 0, 0)"
    mode.select_option("token")
    assert wp.trait("color_token") == int(data["topk"][0, 0, 0])
    wp.page.locator(f"{OUT} .llk-heat-color").fill("#0000ff")
    assert wp.trait("heat_color") == "#0000ff"
    assert cell_bg(wp).startswith("rgba(0, 0, 255")
    mode.select_option("top1")
    assert wp.trait("color_mode") == "top1"


def test_color_by_token_from_popup(wp):
    data = collection(k=3)
    wp.mount(payload(k=3))
    wp.cell(1, 1).click()
    wp.page.locator(f"{OUT} .llk-popup-row").nth(2).locator(".llk-color-by").click()
    assert wp.trait("color_mode") == "token"
    assert wp.trait("color_token") == int(data["topk"][1, 1, 2])


# 9. Resizing and scrolling ------------------------------------------------------------------


def test_column_and_input_width_drags(wp):
    wp.mount(payload(n_layers=6), column_width=50, input_column_width=100)
    drag(wp, f"{OUT} .llk-colhead >> nth=0 >> .llk-resize-col", 30, 0)
    assert wp.trait("column_width") == 80
    # column_width is the narrowest a column gets: space left over widens the columns.
    assert wp.cell(0, 0).bounding_box()["width"] >= 80 - 1
    drag(wp, f"{OUT} .llk-resize-input", -40, 0)
    assert wp.trait("input_column_width") == 60


def test_table_width_drag(wp):
    wp.mount(payload(n_layers=40), column_width=40)
    before = len(headers(wp))
    drag(wp, f"{OUT} .llk-resize-table", -400, 0)
    assert 450 <= wp.trait("table_width") <= 520
    assert len(headers(wp)) == before and scrolls_sideways(wp)  # every layer stays
    assert headers(wp)[-1] == "39"


def test_long_prompt_scrolls_vertically_and_virtualizes(wp):
    wp.mount(payload(n_layers=4, n_pos=500), grid_height=300)
    grid = wp.page.locator(f"{OUT} .llk-grid")
    assert grid.evaluate("g => g.scrollHeight > g.clientHeight + 1000")
    assert wp.page.locator(f"{OUT} .llk-row").count() < 60
    grid.evaluate("g => { g.scrollTop = g.scrollHeight; }")
    wp.page.wait_for_timeout(50)
    assert wp.page.locator(f'{OUT} .llk-row[data-p="499"]').is_visible()
    assert wp.page.locator(f"{OUT} .llk-row").count() < 60


# 10. Title, theme, font ---------------------------------------------------------------------


def test_title_inline_edit(wp):
    wp.mount(payload(), title="old")
    title = wp.page.locator(f"{OUT} .llk-title")
    title.fill("A new title")
    title.press("Enter")
    assert wp.trait("title") == "A new title"
    title.fill("discarded")
    title.press("Escape")
    assert wp.trait("title") == "A new title" and title.input_value() == "A new title"


@pytest.mark.parametrize(
    ("body", "mode", "dark"),
    [
        ("", "auto", False),
        ("jl-dark", "auto", True),
        ("vscode-dark", "auto", True),
        ("jl-dark", "light", False),
        ("", "dark", True),
    ],
)
def test_dark_mode(wp, body, mode, dark):
    if body == "jl-dark":
        wp.page.evaluate("document.body.dataset.jpThemeLight = 'false'")
    elif body == "vscode-dark":
        wp.page.evaluate("document.body.classList.add('vscode-dark')")
    wp.mount(payload(), dark_mode=mode)
    bg = wp.page.locator(f"{OUT} .llk").evaluate("e => getComputedStyle(e).backgroundColor")
    assert (bg == "rgb(30, 30, 30)") == dark


def test_theme_menu_and_font_size(wp):
    wp.mount(payload(), font_size=12)
    wp.page.locator(f"{OUT} .llk-theme").select_option("dark")
    assert wp.trait("dark_mode") == "dark"
    h12 = wp.cell(0, 0).bounding_box()["height"]
    wp.page.locator(f"{OUT} .llk-font-up").click()
    wp.page.locator(f"{OUT} .llk-font-up").click()
    assert wp.trait("font_size") == 14
    assert wp.page.locator(f"{OUT} .llk").evaluate("e => getComputedStyle(e).fontSize") == "14px"
    assert wp.cell(0, 0).bounding_box()["height"] > h12


# 11. Keyboard -------------------------------------------------------------------------------


def test_keyboard_navigation_popup_and_pin(wp):
    data = collection()
    wp.mount(payload())
    wp.cell(0, 0).focus()
    for key in ["ArrowRight", "ArrowRight", "ArrowDown", "ArrowLeft"]:
        wp.page.keyboard.press(key)
    focused = wp.page.evaluate(
        "() => [document.activeElement.dataset.ci, document.activeElement.parentElement.dataset.p]"
    )
    assert focused == ["1", "1"]
    assert wp.cell(1, 1).get_attribute("tabindex") == "0"
    assert wp.cell(0, 0).get_attribute("tabindex") == "-1"
    wp.page.keyboard.press("Enter")
    assert wp.page.locator(f"{OUT} .llk-popup").is_visible()
    wp.page.keyboard.press("ArrowDown")
    wp.page.keyboard.press("Enter")
    assert [p["ids"] for p in wp.trait("pins")] == [[int(data["topk"][1, 1, 1])]]
    wp.page.keyboard.press("Escape")
    assert wp.page.locator(f"{OUT} .llk-popup").is_hidden()
    assert wp.page.evaluate("document.activeElement.dataset.ci") == "1"


def test_keyboard_focus_survives_scrolling_the_focused_row_away(wp):
    wp.mount(payload(n_layers=6, n_pos=200), grid_height=300)
    wp.cell(2, 1).click()
    wp.page.keyboard.press("Escape")  # closes the popup, focus back on the cell
    wp.page.evaluate(f"document.querySelector('{OUT} .llk-grid').scrollTop = 3000")
    wp.page.wait_for_timeout(50)
    in_grid = f"document.querySelector('{OUT} .llk-grid').contains(document.activeElement)"
    assert wp.page.evaluate(in_grid)
    wp.page.keyboard.press("ArrowDown")  # scrolls back to the active cell, one row down
    focused = wp.page.evaluate(
        "() => [document.activeElement.dataset.ci, document.activeElement.parentElement.dataset.p]"
    )
    assert focused == ["2", "2"]


# 12. State from Python, prompt, busy, error -------------------------------------------------


def test_traits_set_from_python_update_the_view(wp):
    wp.mount(payload(n_layers=10))
    wp.set_trait("pins", [{"ids": [3, 4], "color": "#123456"}])
    assert legend_labels(wp) == ["tok3 + tok4"]
    wp.set_trait("x_zoom", [1, 3])
    assert headers(wp) == ["1", "2", "3"]
    wp.set_trait("column_width", 90)
    assert wp.cell(0, 0).bounding_box()["width"] >= 90 - 1
    wp.set_trait("title", "from python")
    assert wp.page.locator(f"{OUT} .llk-title").input_value() == "from python"


def test_prompt_enter_busy_and_error(wp):
    wp.mount(payload(), editable_prompt=True, prompt="The capital")
    box = wp.page.locator(f"{OUT} .llk-prompt")
    assert box.input_value() == "The capital"
    box.fill("The capital of France is")
    box.press("Enter")
    assert wp.trait("prompt") == "The capital of France is"
    assert wp.saves() == 1
    assert wp.page.locator(f"{OUT} .llk-busy").is_hidden()
    wp.set_trait("busy", True)
    assert wp.page.locator(f"{OUT} .llk-busy").is_visible()
    wp.set_trait("error", "the prompt is empty")
    assert wp.page.locator(f"{OUT} .llk-py-error").text_content() == "the prompt is empty"


def test_prompt_hidden_when_not_editable(wp):
    wp.mount(payload(), editable_prompt=False)
    assert wp.page.locator(f"{OUT} .llk-prompt").is_hidden()


def test_new_data_replaces_the_view(wp):
    wp.mount(payload(n_layers=4, n_pos=2))
    wp.cell(0, 0).click()
    wp.set_data(payload(n_layers=6, n_pos=5, seed=3))
    assert wp.page.locator(f"{OUT} .llk-popup").is_hidden()
    assert len(headers(wp)) == 6
    assert wp.page.locator(f"{OUT} .llk-row").count() == 5
