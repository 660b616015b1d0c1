"""Reading values without clicking: color bar, cell tooltip, columns that fit, default line."""

from __future__ import annotations

import math
import re

import pytest

from fake_lens import collection, payload

pytestmark = pytest.mark.browser

OUT = "#out1"

OVERLAPS = """([labels, others]) => {
  const boxes = (s) => [...document.querySelectorAll(s)].map((e) => e.getBoundingClientRect());
  const hits = [];
  for (const a of boxes(labels))
    for (const b of boxes(others))
      if (a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom)
        hits.push([a.top, a.bottom, b.top, b.bottom]);
  return hits;
}"""


def shown_prob(p: float) -> str:
    """frontend/format.js formatProb for p >= 0.1% (1 decimal from 10 %, else 2)."""
    return f"{p * 100:.{1 if p >= 0.1 else 2}f}%"


def ticks(wp) -> list[str]:
    return wp.page.locator(f"{OUT} .llk-cbar-tick").all_text_contents()


def bar_title(wp) -> str:
    return wp.page.locator(f"{OUT} .llk-cbar-title").text_content()


def alpha(wp, ci: int, p: int) -> float:
    bg = wp.cell(ci, p).evaluate("e => getComputedStyle(e).backgroundColor")
    return float(re.findall(r"[\d.]+", bg)[-1])


def tip_rows(wp) -> dict[str, str]:
    tip = wp.page.locator(f"{OUT} .llk-celltip")
    assert tip.is_visible()
    labels = tip.locator(".llk-celltip-label").all_text_contents()
    values = tip.locator(".llk-celltip-value").all_text_contents()
    return dict(zip(labels, values, strict=True))


# 1. Values without clicking --------------------------------------------------------------


def test_color_bar_names_every_mode_with_units(wp):
    data = collection(k=3)
    a, b = (int(i) for i in data["topk"][5, 3, :2])
    wp.mount(payload(k=3), pins=[{"ids": [a, b], "color": "#e6194b"}], heat_color="#ff0000")
    bar = wp.page.locator(f"{OUT} .llk-colorbar")
    assert bar.is_visible()
    assert bar_title(wp) == "top-1 probability"
    assert ticks(wp) == ["0%", "25%", "50%", "75%", "100%"]
    # The ramp ends in the color a cell of intensity 1 gets (90 % of the heat color).
    ramp = wp.page.locator(f"{OUT} .llk-cbar-ramp").evaluate("e => e.style.background")
    assert "rgba(255, 0, 0, 0.9)" in ramp and "rgba(255, 0, 0, 0)" in ramp
    wp.set_trait("color_mode", "token")
    wp.set_trait("color_token", a)
    assert bar_title(wp) == f"probability of tok{a}"
    wp.set_trait("color_mode", "group")
    assert bar_title(wp) == f"summed probability of tok{a} + tok{b}"
    wp.set_trait("color_mode", "none")
    assert bar.is_hidden()


def test_entropy_color_bar_says_darker_is_more_uncertain_in_nats_or_bits(wp):
    data = collection()
    wp.mount(payload(), color_mode="entropy")
    top = float(data["entropy"].max())
    assert bar_title(wp) == "entropy (nats)"
    ends = wp.page.locator(f"{OUT} .llk-cbar-end").all_text_contents()
    assert ends == ["certain", "uncertain"]
    last = wp.page.locator(f"{OUT} .llk-cbar-tick").last
    assert float(last.get_attribute("data-value")) == pytest.approx(top, rel=1e-5)
    assert last.text_content() == f"{top:.2f}"
    # Every tick sits where a cell of that entropy gets its color.
    for tick in wp.page.locator(f"{OUT} .llk-cbar-tick").all():
        at, value = float(tick.get_attribute("data-at")), float(tick.get_attribute("data-value"))
        assert at == pytest.approx(value / top, abs=1e-6)
    layer, p = 2, 1
    assert alpha(wp, layer, p) == pytest.approx(
        round(data["entropy"][layer, p] / top * 90) / 100, abs=0.011
    )
    wp.page.locator(f"{OUT} .llk-cbar-unit").click()
    assert bar_title(wp) == "entropy (bits)"
    assert float(last.get_attribute("data-value")) == pytest.approx(top / math.log(2), rel=1e-5)
    wp.cell(layer, p).hover()
    assert tip_rows(wp)["entropy"] == f"{data['entropy'][layer, p] / math.log(2):.2f} bits"


def test_cell_tooltip_shows_token_probability_rank_and_entropy(wp):
    data = collection(k=3)
    wp.mount(payload(k=3))
    for layer, p in [(0, 0), (3, 2), (5, 3)]:
        wp.cell(layer, p).hover()
        rows = tip_rows(wp)
        assert rows["top token"] == f"tok{data['topk'][layer, p, 0]}"
        assert (
            rows["probability"]
            == f"{shown_prob(float(data['topk_probs'][layer, p, 0]))} · rank 1 of 3"
        )
        assert rows["entropy"] == f"{data['entropy'][layer, p]:.2f} nats"
        head = wp.page.locator(f"{OUT} .llk-celltip-head").text_content()
        assert head.startswith(f"layer {layer}") and f"position {p}" in head
    # Colored by a token: its probability and rank in the hovered cell, from the payload.
    layer, p = 4, 2
    second = int(data["topk"][layer, p, 1])
    wp.set_trait("color_mode", "token")
    wp.set_trait("color_token", second)
    wp.cell(layer, p).hover()
    prob = float(data["topk_probs"][layer, p, 1])
    assert tip_rows(wp)[f"tok{second}"] == f"{shown_prob(prob)} · rank 2"
    wp.page.mouse.move(5, 880)
    assert wp.page.locator(f"{OUT} .llk-celltip").is_hidden()


# 2. Full tokens, all the width ----------------------------------------------------------


LONG = {i: f"tok{i}" for i in range(30)} | {i: " Madrid" for i in range(0, 30, 2)}
LONG |= {i: " Washingtonian" for i in range(1, 30, 4)}


def cut(wp, selector: str) -> list[str]:
    """Texts of the matched elements that overflow their box (shown with an ellipsis)."""
    return wp.page.evaluate(
        "(s) => [...document.querySelectorAll(s)].filter(e => e.scrollWidth > e.clientWidth)"
        ".map(e => e.textContent)",
        selector,
    )


@pytest.mark.parametrize("n_layers", [6, 80])
def test_final_layer_tokens_are_never_cut(wp, n_layers):
    data = collection(n_layers=n_layers, n_pos=8, vocab=LONG)
    wp.mount(payload(n_layers=n_layers, n_pos=8, vocab=LONG))
    finals = wp.page.locator(f"{OUT} .llk-cell.llk-final").all_text_contents()
    assert finals == [LONG[int(i)].replace(" ", "\u2423") for i in data["topk"][-1, :, 0]]
    assert "\u2423Washingtonian" in finals or "\u2423Madrid" in finals
    assert cut(wp, f"{OUT} .llk-cell.llk-final") == []


def test_a_cut_token_is_whole_in_the_tooltip(wp):
    wp.mount(payload(n_layers=80, n_pos=8, vocab=LONG), column_width=30)
    scroll_to_first_layers(wp)
    cells = wp.page.locator(f"{OUT} .llk-cell:not(.llk-final)")
    texts = cut(wp, f"{OUT} .llk-cell:not(.llk-final)")
    assert texts, "narrow columns cut some tokens"
    target = next(c for c in cells.all() if c.evaluate("e => e.scrollWidth > e.clientWidth"))
    target.hover()
    assert tip_rows(wp)["top token"] == target.text_content()
    assert tip_rows(wp)["top token"] in ("\u2423Madrid", "\u2423Washingtonian")


def scroll_to_first_layers(wp) -> None:
    """A grid that scrolls sideways opens at its last layers: show the first ones."""
    wp.page.evaluate(f"document.querySelector('{OUT} .llk-grid').scrollLeft = 0")
    wp.page.wait_for_timeout(60)  # the rows are rebuilt on the scroll event


def row_width(wp) -> float:
    return wp.page.locator(f'{OUT} .llk-row[data-p="0"]').evaluate(
        "r => [...r.children].reduce((w, c) => w + c.getBoundingClientRect().width, 0)"
    )


def test_zooming_widens_the_columns_to_the_output_width(wp):
    wp.mount(payload(n_layers=40, n_pos=3))
    scroll_to_first_layers(wp)
    grid = wp.page.locator(f"{OUT} .llk-grid").evaluate("g => g.clientWidth")
    full = row_width(wp)
    narrow = wp.cell(1, 0).bounding_box()["width"]
    wp.set_trait("x_zoom", [0, 9])
    assert len(wp.page.locator(f"{OUT} .llk-colhead").all()) == 10
    assert wp.cell(1, 0).bounding_box()["width"] > 1.2 * narrow
    # All 40 layers do not fit: the row is wider than the grid (it scrolls sideways); the
    # zoomed row fills the grid, less a few px of rounding and scrollbar room.
    assert full > grid
    assert grid - 30 <= row_width(wp) <= grid + 1


def test_larger_text_scales_the_columns(wp):
    wp.mount(payload(n_layers=80, n_pos=3), font_size=12)
    scroll_to_first_layers(wp)
    before = len(wp.page.locator(f"{OUT} .llk-colhead").all())
    w12 = wp.cell(1, 0).bounding_box()["width"]
    wp.page.locator(f"{OUT} .llk-font-up").click()
    wp.page.locator(f"{OUT} .llk-font-up").click()
    assert wp.trait("font_size") == 14
    assert wp.cell(1, 0).bounding_box()["width"] >= w12 * 14 / 12 - 2
    assert len(wp.page.locator(f"{OUT} .llk-colhead").all()) == before  # every layer stays


@pytest.mark.parametrize("chart_height", [60, 160])
def test_axis_labels_stay_clear_of_the_grid_after_a_plus_twice(wp, chart_height):
    wp.mount(payload(n_layers=24, n_pos=6), chart_height=chart_height, chart_scale="log")
    for _ in range(2):
        wp.page.locator(f"{OUT} .llk-font-up").click()
    assert wp.page.locator(f"{OUT} .llk-ytitle").text_content()
    hits = wp.page.evaluate(
        OVERLAPS, [f"{OUT} .llk-chart-svg text", f"{OUT} .llk-grid, {OUT} .llk-grid [role]"]
    )
    assert hits == []


def test_log_ticks_use_one_notation_and_small_probabilities_read_as_percent(wp):
    wp.mount(payload(k=3), pins=[{"ids": [1], "color": "#e6194b"}], chart_scale="log")
    labels = wp.page.locator(f"{OUT} .llk-yaxis text").all_text_contents()
    assert labels[-1] == "1" and len(labels) >= 3
    assert all(re.fullmatch(r"0\.0*1|1", t) for t in labels), labels
    shown = wp.page.evaluate(
        "() => import('/frontend/format.js').then(m => [0.0008, 0.000123, 0.5].map(m.formatProb))"
    )
    assert shown == ["0.08%", "0.012%", "50.0%"]


def test_popup_leaves_the_charts_last_layers_clear(wp):
    wp.mount(payload(n_layers=6, n_pos=4, k=5))
    wp.cell(5, 3).click()
    popup = wp.page.locator(f"{OUT} .llk-popup").bounding_box()
    chart = wp.page.locator(f"{OUT} .llk-chart-svg").bounding_box()
    last = {"x": chart["x"] + chart["width"] / 2, "right": chart["x"] + chart["width"]}
    apart_x = popup["x"] + popup["width"] <= last["x"] or popup["x"] >= last["right"]
    apart_y = (
        popup["y"] + popup["height"] <= chart["y"] or popup["y"] >= chart["y"] + chart["height"]
    )
    assert apart_x or apart_y
    cell = wp.cell(5, 3).bounding_box()
    assert not (
        popup["x"] < cell["x"] + cell["width"]
        and cell["x"] < popup["x"] + popup["width"]
        and popup["y"] < cell["y"] + cell["height"]
        and cell["y"] < popup["y"] + popup["height"]
    ), "the popup does not cover its own cell"


def test_chart_tooltip_near_the_last_layers_sits_left_of_them(wp):
    wp.mount(payload(n_layers=10), pins=[{"ids": [1], "color": "#e6194b"}])
    svg = wp.page.locator(f"{OUT} .llk-chart-svg").bounding_box()
    x = float(wp.page.locator(f"{OUT} .llk-xtick").last.get_attribute("x"))
    wp.page.mouse.move(svg["x"] + x, svg["y"] + 30)
    tip = wp.page.locator(f"{OUT} .llk-tooltip").bounding_box()
    assert tip["x"] + tip["width"] <= svg["x"] + x


# 3. The chart before anything is pinned -------------------------------------------------


def test_default_line_until_something_is_pinned(wp):
    data = collection(k=3)
    wp.mount(payload(k=3))
    last_p = 3
    line = wp.page.locator(f"{OUT} .llk-lines path.llk-default-line")
    assert line.count() == 1 and line.get_attribute("stroke-dasharray")
    token = f"tok{data['topk'][-1, last_p, 0]}"
    legend = wp.page.locator(f"{OUT} .llk-legend-default")
    assert (
        "default" in legend.text_content()
        and f"{token} at position {last_p}" in legend.text_content()
    )
    # Its values are the final prediction's probabilities at the last position.
    svg = wp.page.locator(f"{OUT} .llk-chart-svg").bounding_box()
    x = float(wp.page.locator(f"{OUT} .llk-xtick").nth(5).get_attribute("x"))
    wp.page.mouse.move(svg["x"] + x, svg["y"] + 30)
    row = wp.page.locator(f"{OUT} .llk-tooltip .llk-tip-row").first.text_content()
    assert row.endswith(shown_prob(float(data["topk_probs"][5, last_p, 0])))
    assert wp.trait("pins") == [] and wp.saves() == 0
    # Pinning replaces it; unpinning brings it back.
    wp.cell(2, 1).click()
    assert "at position 1" in wp.page.locator(f"{OUT} .llk-legend-default").text_content()
    wp.page.locator(f"{OUT} .llk-popup-row").first.click()
    assert line.count() == 0 and legend.count() == 0
    assert wp.page.locator(f"{OUT} .llk-lines path").count() == 1
    wp.page.keyboard.press("Escape")
    wp.page.locator(f"{OUT} .llk-remove-pin").click()
    assert line.count() == 1 and wp.trait("pins") == []
