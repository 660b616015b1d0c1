"""StudyWidget's view in Chromium: the shipped bundle on a plain page with a fake model.

The data are a fabricated but realistic study (study_page.fabricate: 50 prompts × 10
layers × 4 quantities, the last 10 prompts not computed yet). Numbers drawn are read back
from what the page shows: the band chart's paths through its own axis ticks, the heatmap's
canvas pixels through getImageData.
"""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np
import pytest
from playwright.sync_api import expect

from logitlenskit.live.study_widget import StudyWidget
from study_page import QUANTITIES, StudyPage, fabricate, study_widget

pytestmark = pytest.mark.browser

OUT = "#out1"
P_TARGET, P_ALT, RANK, ENTROPY = range(4)

VIRIDIS = ["#440154", "#472d7b", "#3b528b", "#2c728e", "#21918c", "#28ae80", "#5ec962"]
VIRIDIS += ["#addc30", "#fde725"]
DIVERGING = ["#053061", "#2166ac", "#4393c3", "#92c5de", "#d4d4d4", "#f4a582", "#d6604d"]
DIVERGING += ["#b2182b", "#67001f"]


# ------------------------------------------------------------------ helpers


def ramp(stops: list[str], t: float) -> tuple[int, int, int]:
    """The color at t along evenly spaced stops, as scale.js interpolates (sRGB, linear)."""
    rgb = [tuple(int(s[i : i + 2], 16) for i in (1, 3, 5)) for s in stops]
    x = min(1.0, max(0.0, t)) * (len(stops) - 1)
    i = min(len(stops) - 2, math.floor(x))
    f = x - i
    a, b = rgb[i], rgb[i + 1]
    return tuple(round(a[k] + (b[k] - a[k]) * f) for k in range(3))


def lut_color(stops: list[str], t255: float) -> tuple[int, int, int]:
    """The lookup table's color for a position 0..255 (rounded to the nearest entry)."""
    index = min(255, max(0, math.floor(t255 + 0.5)))
    return ramp(stops, index / 255)


def points(d: str) -> list[list[tuple[float, float]]]:
    """An SVG path's subpaths as lists of points (M starts one)."""
    subpaths: list[list[tuple[float, float]]] = []
    for cmd, x, y in re.findall(r"([MLZ])\s*(?:(-?[\d.]+)\s+(-?[\d.]+))?", d):
        if cmd == "M":
            subpaths.append([])
        if cmd != "Z":
            subpaths[-1].append((float(x), float(y)))
    return subpaths


def tick_value(text: str) -> float:
    """A tick label as a number: "25%" → 0.25, "-0.5" → -0.5, "100" → 100."""
    return float(text.rstrip("%")) / 100 if text.endswith("%") else float(text)


def y_ticks(sp: StudyPage) -> list[tuple[float, float]]:
    """(value read from the label, pixel y of its grid line) of each y tick."""
    ticks = sp.page.eval_on_selector_all(
        f"{OUT} .llks-ytick",
        "gs => gs.map(g => [g.textContent, Number(g.querySelector('line').getAttribute('y1'))])",
    )
    return [(tick_value(text), y) for text, y in ticks]


def y_axis(sp: StudyPage) -> Any:
    """A function from the chart's pixel y to a value, fitted through its tick labels."""
    ticks = y_ticks(sp)
    assert len(ticks) >= 2, ticks
    log = "(log" in sp.page.locator(f"{OUT} .llks-ytitle").text_content()
    (v0, y0), (v1, y1) = ticks[0], ticks[-1]
    if log:
        a, b = math.log10(v0), math.log10(v1)
        return lambda y: 10 ** (a + (y - y0) / (y1 - y0) * (b - a))
    return lambda y: v0 + (y - y0) / (y1 - y0) * (v1 - v0)


def x_layers(sp: StudyPage) -> dict[float, int]:
    """The chart's x of each layer column (its tick), to its index."""
    ticks = sp.page.eval_on_selector_all(
        f"{OUT} .llks-xtick", "gs => gs.map(g => [Number(g.dataset.x), Number(g.dataset.index)])"
    )
    return {x: i for x, i in ticks}


def path_values(sp: StudyPage, cls: str, name: str) -> dict[int, float]:
    """{layer index: value} of a chart path's points, read back through the axes."""
    d = sp.page.locator(f'{OUT} .{cls}[data-name="{name}"]').get_attribute("d") or ""
    to_value, layer_at = y_axis(sp), x_layers(sp)
    out: dict[int, float] = {}
    for sub in points(d):
        for x, y in sub:
            out[layer_at[min(layer_at, key=lambda t: abs(t - x))]] = to_value(y)
    return out


def plot_height(sp: StudyPage) -> float:
    ys = [y for _, y in y_ticks(sp)]
    return max(ys) - min(ys)


def pixel(sp: StudyPage, layer: int, prompt: int) -> list[int]:
    """RGBA of one heatmap cell, read from the canvas."""
    return sp.page.evaluate(
        """([l, p]) => Array.from(document.querySelector('#out1 .llks-heat-canvas')
             .getContext('2d').getImageData(l, p, 1, 1).data)""",
        [layer, prompt],
    )


def cell_point(sp: StudyPage, layer: int, prompt: int, n_layers: int) -> tuple[float, float]:
    """Page coordinates of a heatmap cell's center (scrolled into view)."""
    canvas = sp.page.locator(f"{OUT} .llks-heat-canvas")
    row_h = sp.page.evaluate(
        "() => document.querySelector('#out1 .llks-heat-canvas').getBoundingClientRect().height"
    ) / sp.page.evaluate("() => document.querySelector('#out1 .llks-heat-canvas').height")
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    return box["x"] + box["width"] * (layer + 0.5) / n_layers, box["y"] + row_h * (prompt + 0.5)


# ------------------------------------------------------------------ band chart


def test_band_chart_draws_each_shown_mean_and_band_from_the_summary(sp):
    w = study_widget()
    sp.mount(w)
    _, summary = w.arrays()
    # Default: every quantity of kind probability.
    assert sp.page.locator(f"{OUT} .llks-mean").count() == 2
    assert sp.page.locator(f"{OUT} .llks-band").count() == 2
    tol = 1.5 / plot_height(sp)  # 1.5 px of the [0, 1] axis
    for q, name in [(P_TARGET, "p_target"), (P_ALT, "p_alt")]:
        drawn = path_values(sp, "llks-mean", name)
        assert sorted(drawn) == list(range(10))
        for layer, v in drawn.items():
            assert v == pytest.approx(float(summary[q, 0, layer]), abs=tol), (name, layer)
        band = points(
            sp.page.locator(f'{OUT} .llks-band[data-name="{name}"]').get_attribute("d") or ""
        )
        assert len(band) == 1 and len(band[0]) == 20  # along the top, back along the bottom
        to_value = y_axis(sp)
        top = [to_value(y) for _, y in band[0][:10]]
        bottom = [to_value(y) for _, y in band[0][10:]][::-1]
        ceiling = y_ticks(sp)[-1][0]
        for layer in range(10):
            want_hi = min(float(summary[q, 2, layer]), ceiling)  # the axis clips at its top
            assert top[layer] == pytest.approx(want_hi, abs=tol)
            assert bottom[layer] == pytest.approx(max(float(summary[q, 1, layer]), 0), abs=tol)
    assert sp.page.locator(f"{OUT} .llks-ytitle").text_content() == "probability"
    assert sp.page.locator(f"{OUT} .llks-kind-label").is_hidden()  # one kind: no select
    # The axis spans the plot: 0 on the x axis' line, the top tick at the plot's top.
    ticks = y_ticks(sp)
    baseline = float(sp.page.locator(f"{OUT} .llks-xaxis > line").get_attribute("y1"))
    assert ticks[0] == (0, baseline)
    assert ticks[-1][1] == pytest.approx(10, abs=0.1)


def test_a_language_has_the_color_study_plot_gives_it(sp):
    from logitlenskit.analyses.study_plot import quantity_color
    from logitlenskit.live.study import _quantities

    # A real study's quantities: two targets (p and rank each), a contrast, KL, entropy.
    quantities = _quantities(["Deutsch", "English"], [("Deutsch", "English")])
    values = np.random.default_rng(0).random((len(quantities), 6, 4)).astype(np.float32)
    w = StudyWidget([0, 1, 2, 3], [f"p{i}" for i in range(6)], [q.as_dict() for q in quantities])
    w.update(values=values, summary=np.nanmean(values, 1, keepdims=True).repeat(3, 1), n_done=6)
    sp.mount(w)
    for shown in (["p(Deutsch)", "p(English)"], ["p(English)"], ["rank(English)"]):
        sp.set_trait("shown", shown)
        for name in shown:
            mean = sp.page.locator(f'{OUT} .llks-mean[data-name="{name}"]')
            assert mean.get_attribute("stroke") == quantity_color(quantities, name), (shown, name)
            swatch = sp.page.locator(f'{OUT} .llks-entry[data-name="{name}"] .llks-swatch')
            python = quantity_color(quantities, name).lstrip("#")
            rgb = tuple(int(python[i : i + 2], 16) for i in (0, 2, 4))
            assert swatch.evaluate("s => getComputedStyle(s).backgroundColor") == f"rgb{rgb}"
    # One language, one color: its probability and its rank; the other language another.
    assert quantity_color(quantities, "p(English)") == quantity_color(quantities, "rank(English)")
    assert quantity_color(quantities, "p(English)") != quantity_color(quantities, "p(Deutsch)")


def test_rank_is_drawn_on_a_log_axis_with_rank_1_on_top(sp):
    w = study_widget(shown=["rank"])
    sp.mount(w)
    _, summary = w.arrays()
    assert sp.page.locator(f"{OUT} .llks-ytitle").text_content() == "rank (log scale)"
    drawn = path_values(sp, "llks-mean", "rank")
    for layer, v in drawn.items():
        assert v == pytest.approx(float(summary[RANK, 0, layer]), rel=0.05), layer
    ticks = y_ticks(sp)
    assert ticks[0][0] == 1 and ticks[0][1] == min(y for _, y in ticks)  # 1 at the top


def test_a_gap_in_the_summary_is_a_gap_in_the_line_and_the_band(sp):
    w = study_widget()
    values, summary = w.arrays()
    summary = summary.copy()
    summary[P_TARGET, :, 4] = np.nan
    w.update(values=values, summary=summary, n_done=w.n_done)
    sp.mount(w)
    d = sp.page.locator(f'{OUT} .llks-mean[data-name="p_target"]').get_attribute("d")
    assert [len(s) for s in points(d)] == [4, 5]
    band = sp.page.locator(f'{OUT} .llks-band[data-name="p_target"]').get_attribute("d")
    assert [len(s) for s in points(band)] == [8, 10]


def test_legend_click_toggles_shown_and_one_kind_per_axis(sp):
    sp.mount(study_widget())
    legend = sp.page.locator(f"{OUT} .llks-entry")
    assert legend.all_text_contents() == [q["label"] for q in QUANTITIES]
    sp.page.locator(f'{OUT} .llks-entry[data-name="p_alt"]').click()
    assert sp.trait("shown") == ["p_target"]
    expect(sp.page.locator(f"{OUT} .llks-mean")).to_have_count(1)
    assert (
        sp.page.locator(f'{OUT} .llks-entry[data-name="p_alt"]').get_attribute("aria-pressed")
        == "false"
    )
    # Turning on a quantity of another kind: the axis switches to it, a select offers both.
    sp.page.locator(f'{OUT} .llks-entry[data-name="entropy"]').click()
    assert sp.trait("shown") == ["p_target", "entropy"]
    expect(sp.page.locator(f"{OUT} .llks-ytitle")).to_have_text("entropy (nats)")
    assert sp.page.locator(f"{OUT} .llks-mean").evaluate_all(
        "ps => ps.map(p => p.dataset.name)"
    ) == ["entropy"]
    select = sp.page.locator(f"{OUT} .llks-kind")
    expect(select).to_be_visible()
    assert select.get_attribute("aria-label")
    select.select_option("probability")
    expect(sp.page.locator(f"{OUT} .llks-ytitle")).to_have_text("probability")
    assert sp.page.locator(f"{OUT} .llks-mean").evaluate_all(
        "ps => ps.map(p => p.dataset.name)"
    ) == ["p_target"]
    assert "llks-other" in (
        sp.page.locator(f'{OUT} .llks-entry[data-name="entropy"]').get_attribute("class") or ""
    )
    # The last quantity shown stays: the click changes nothing.
    sp.page.locator(f'{OUT} .llks-entry[data-name="entropy"]').click()
    assert sp.trait("shown") == ["p_target"]
    sp.page.locator(f'{OUT} .llks-entry[data-name="p_target"]').click()
    assert sp.trait("shown") == ["p_target"]
    expect(sp.page.locator(f"{OUT} .llks-chart-readout")).to_contain_text("at least one")


def test_shown_from_python_redraws_the_chart(sp):
    sp.mount(study_widget())
    sp.set_trait("shown", ["p_alt"])
    assert sp.page.locator(f"{OUT} .llks-mean").evaluate_all(
        "ps => ps.map(p => p.dataset.name)"
    ) == ["p_alt"]


def test_chart_hover_reads_out_every_drawn_mean(sp):
    w = study_widget()
    sp.mount(w)
    _, summary = w.arrays()
    svg = sp.page.locator(f"{OUT} .llks-chart-svg")
    box = svg.bounding_box()
    x = box["x"] + max(x_layers(sp))  # the last layer's column
    sp.page.mouse.move(x, box["y"] + 50)
    text = sp.page.locator(f"{OUT} .llks-chart-readout").text_content()
    assert text.startswith("layer 18: p(target) ")
    assert f"{summary[P_TARGET, 0, 9] * 100:.1f}"[:3] in text
    assert "95% CI" in text and "p(distractor)" in text


# ------------------------------------------------------------------ entropy strip


def test_entropy_strip_colors_each_layer_by_its_mean_entropy(sp):
    w = study_widget()
    sp.mount(w)
    _, summary = w.arrays()
    cells = sp.page.locator(f"{OUT} .llks-strip-cell")
    expect(cells).to_have_count(10)
    mean = summary[ENTROPY, 0]
    top = int(np.nanargmax(mean))
    cell = cells.nth(top)
    assert f"{mean[top]:.3f} nats" in (cell.get_attribute("title") or "")
    want = ramp(VIRIDIS, 1.0)
    assert cell.evaluate("c => getComputedStyle(c).backgroundColor") == "rgb({}, {}, {})".format(
        *want
    )
    low = int(np.nanargmin(mean))
    want_low = ramp(VIRIDIS, float(mean[low] / mean[top]))
    assert cells.nth(low).evaluate(
        "c => getComputedStyle(c).backgroundColor"
    ) == "rgb({}, {}, {})".format(*want_low)


def test_no_entropy_quantity_no_strip(sp):
    w = StudyWidget([0, 1], ["a", "b"], QUANTITIES[:1])
    sp.mount(w)
    assert sp.page.locator(f"{OUT} .llks-strip").is_hidden()


# ------------------------------------------------------------------ heatmap


def test_heatmap_pixels_follow_the_values(sp):
    w = study_widget()
    sp.mount(w)
    values, _ = w.arrays()
    canvas = sp.page.locator(f"{OUT} .llks-heat-canvas")
    assert canvas.evaluate("c => [c.width, c.height]") == [10, 50]
    assert canvas.bounding_box()["height"] == pytest.approx(50 * 12)  # 600 / 50 px rows
    hi = float(np.nanmax(values[P_TARGET]))
    for layer, prompt in [(9, 3), (5, 17), (0, 0), (7, 39)]:
        v = float(values[P_TARGET, prompt, layer])
        want = lut_color(VIRIDIS, v * 255 / hi)
        assert pixel(sp, layer, prompt) == [*want, 255], (layer, prompt, v)
    assert pixel(sp, 4, 45) == [0, 0, 0, 0]  # not computed: transparent, the background shows
    # Another quantity: rank on a log scale, rank 1 the strongest color.
    sp.page.locator(f"{OUT} .llks-heat-select").select_option("rank")
    assert sp.trait("heatmap_quantity") == "rank"
    rank_hi = max(float(np.nanmax(values[RANK])), 2)
    for layer, prompt in [(9, 3), (2, 10)]:
        v = float(values[RANK, prompt, layer])
        want = lut_color(VIRIDIS, 255 - math.log(max(v, 1)) * 255 / math.log(rank_hi))
        assert pixel(sp, layer, prompt) == [*want, 255], (layer, prompt, v)
    ends = sp.page.locator(f"{OUT} .llks-bar-end").all_text_contents()
    assert ends == [str(round(rank_hi)), "1"]


def test_signed_kinds_use_a_diverging_scale_around_zero(sp):
    n, n_layers = 6, 4
    qs = [
        {"name": "d", "kind": "delta", "label": "Δp"},
        {"name": "lpd", "kind": "logprob_diff", "label": "log p(a) − log p(b)"},
    ]
    w = StudyWidget(list(range(n_layers)), [f"p{i}" for i in range(n)], qs)
    values = np.zeros((2, n, n_layers), "<f4")
    values[0, 0, 0], values[0, 1, 1], values[0, 2, 2] = 0.5, -0.25, 0.0
    values[1] = np.linspace(-3, 2, n * n_layers).reshape(n, n_layers)
    summary = np.stack([np.stack([v.mean(0), v.mean(0) - 0.1, v.mean(0) + 0.1]) for v in values])
    w.update(values=values, summary=summary, n_done=n)
    sp.mount(w)
    assert pixel(sp, 0, 0) == [*ramp(DIVERGING, 1.0), 255]
    assert pixel(sp, 1, 1) == [*lut_color(DIVERGING, 0.25 * 255), 255]
    assert pixel(sp, 2, 2) == [*lut_color(DIVERGING, 127.5), 255]
    assert sp.page.locator(f"{OUT} .llks-bar-end").all_text_contents() == ["-50%", "50%"]
    sp.set_trait("shown", ["lpd"])
    assert sp.page.locator(f"{OUT} .llks-zero").count() == 1  # a signed axis holds 0
    drawn = path_values(sp, "llks-mean", "lpd")
    for layer, v in drawn.items():
        assert v == pytest.approx(float(summary[1, 0, layer]), abs=5 * 1.5 / plot_height(sp))


def test_heatmap_columns_align_with_the_chart_layers(sp):
    sp.mount(study_widget())
    canvas = sp.page.locator(f"{OUT} .llks-heat-canvas").bounding_box()
    svg = sp.page.locator(f"{OUT} .llks-chart-svg").bounding_box()
    for x, i in x_layers(sp).items():
        assert svg["x"] + x == pytest.approx(
            canvas["x"] + canvas["width"] * (i + 0.5) / 10, abs=0.6
        )
    strip = sp.page.locator(f"{OUT} .llks-strip-cell").nth(3).bounding_box()
    assert strip["x"] + strip["width"] / 2 == pytest.approx(
        canvas["x"] + canvas["width"] * 3.5 / 10, abs=0.6
    )


def test_clicking_a_row_selects_its_prompt_and_arrows_move_it(sp):
    sp.mount(study_widget())
    x, y = cell_point(sp, 3, 7, 10)
    sp.page.mouse.click(x, y)
    assert sp.trait("selected_prompt") == 7
    mark = sp.page.locator(f"{OUT} .llks-heat-mark")
    expect(mark).to_be_visible()
    canvas_y = sp.page.locator(f"{OUT} .llks-heat-canvas").bounding_box()["y"]
    assert mark.bounding_box()["y"] == pytest.approx(canvas_y + 7 * 12 - 1, abs=0.6)
    expect(sp.page.locator(f"{OUT} .llks-heat-readout")).to_contain_text("(selected)")
    heat = sp.page.locator(f"{OUT} .llks-heat-scroll")
    heat.focus()
    heat.press("ArrowDown")
    assert sp.trait("selected_prompt") == 8
    heat.press("ArrowUp")
    heat.press("ArrowUp")
    assert sp.trait("selected_prompt") == 6
    heat.press("End")
    assert sp.trait("selected_prompt") == 49
    heat.press("ArrowDown")
    assert sp.trait("selected_prompt") == 49
    assert mark.bounding_box()["y"] == pytest.approx(canvas_y + 49 * 12 - 1, abs=0.6)
    # Python selects a row: the mark follows.
    sp.set_trait("selected_prompt", 2)
    assert mark.bounding_box()["y"] == pytest.approx(canvas_y + 2 * 12 - 1, abs=0.6)
    assert heat.get_attribute("aria-label").startswith("heatmap of p(target): 50 prompts")


def test_arrows_start_at_the_first_prompt_and_scroll_with_many_rows(sp):
    sp.mount(study_widget(n=1000, n_layers=6, done=1000))
    heat = sp.page.locator(f"{OUT} .llks-heat-scroll")
    assert heat.bounding_box()["height"] == pytest.approx(600, abs=1)  # 1,000 rows of 1 px
    heat.focus()
    heat.press("ArrowDown")
    assert sp.trait("selected_prompt") == 0
    heat.press("End")
    assert sp.trait("selected_prompt") == 999
    assert heat.evaluate("s => s.scrollTop + s.clientHeight >= s.scrollHeight - 1")


def test_hostile_prompt_text_is_shown_as_text(sp):
    hostile = '<img src=x onerror="window.__pwned = 1"><b>bold</b>'
    prompts = [f"prompt {i}" for i in range(12)]
    prompts[3] = hostile
    quantities = [{**QUANTITIES[0], "label": "<i>p</i>"}, *QUANTITIES[1:]]
    w = StudyWidget(list(range(5)), prompts, quantities)
    values, summary = fabricate(12, 5)
    w.update(values=values, summary=summary, n_done=12)
    sp.mount(w)
    x, y = cell_point(sp, 2, 3, 5)
    sp.page.mouse.move(x, y)
    readout = sp.page.locator(f"{OUT} .llks-heat-readout")
    expect(readout).to_contain_text(hostile)
    assert sp.page.locator(f"{OUT} .llks-heat-canvas").get_attribute("title") == hostile
    assert sp.page.locator(f"{OUT} img, {OUT} b, {OUT} i").count() == 0
    assert sp.page.locator(f"{OUT} .llks-legend").text_content().startswith("<i>p</i>")
    assert sp.page.evaluate("window.__pwned") is None


def test_hover_readout_names_prompt_layer_and_value(sp):
    w = study_widget()
    sp.mount(w)
    values, _ = w.arrays()
    x, y = cell_point(sp, 8, 11, 10)
    sp.page.mouse.move(x, y)
    text = sp.page.locator(f"{OUT} .llks-heat-readout").text_content()
    v = float(values[P_TARGET, 11, 8])
    assert text.startswith("#11 Prompt 11: The capital of country 11 is · layer 16 · p(target) ")
    assert text.endswith(f"{float(f'{v * 100:.3g}'):g}%")  # 3 significant digits
    x, y = cell_point(sp, 8, 45, 10)
    sp.page.mouse.move(x, y)
    expect(sp.page.locator(f"{OUT} .llks-heat-readout")).to_contain_text("not computed")


# ------------------------------------------------------------------ header and commands


def test_header_progress_and_status_follow_the_traits(sp):
    w = study_widget(busy=True)
    sp.mount(w)
    title = sp.page.locator(f"{OUT} .llks-title")
    expect(title).to_have_text("study: 40 / 50 prompts")
    bar = sp.page.locator(f"{OUT} .llks-progress")
    expect(bar).to_be_visible()
    assert bar.evaluate("b => [b.value, b.max]") == [40, 50]
    sp.set_trait("status", "batch 4/5 · 12.3 s")
    expect(sp.page.locator(f"{OUT} .llks-status")).to_have_text("batch 4/5 · 12.3 s")
    sp.page.evaluate("() => window.llk.setMany({n_done: 45, busy: false})")
    expect(title).to_have_text("study: 45 / 50 prompts")
    expect(bar).to_be_hidden()
    assert sp.page.locator(f"{OUT} .llks-error").is_hidden()
    sp.set_trait("error", "RuntimeError: out of memory")
    expect(sp.page.locator(f"{OUT} .llks-error")).to_have_text("RuntimeError: out of memory")


def test_the_header_says_the_count_once_through_a_real_run(sp, smollm2):
    from logitlenskit import collect_study

    study = collect_study(
        ["The capital of France is", "Rome is in", "Paris is a city in"],
        smollm2,
        {"Paris": "Paris"},
        batch_size=1,
        run=False,
    )
    w = study.show().children[0]
    states: list[dict[str, Any]] = []
    w.observe(lambda _: states.append({"status": w.status, "busy": w.busy}), "status")

    def stop_after_two(s: Any) -> None:
        if s.n_done == 2:
            s.stop()

    study.on_batch(stop_after_two)
    study.run(progress=False)
    study.run(progress=False)
    assert study.done and len(states) >= 4
    sp.mount(w)
    headline = sp.page.locator(f"{OUT} .llks-headline")
    for state in states:
        sp.page.evaluate("(p) => window.llk.setMany(p)", state)
        text = headline.text_content()
        assert len(re.findall(r"\d+\s*/\s*\d+", text)) == 1, text  # "study: 3 / 3 prompts"
        assert text.count("prompts") == 1, text


def test_stop_and_resume_invoke_the_commands(sp):
    sp.mount(study_widget(busy=True))
    stop = sp.page.get_by_role("button", name="Stop the study after the current batch")
    resume = sp.page.get_by_role("button", name="Resume the study")
    expect(resume).to_be_hidden()
    stop.click()
    assert [c["name"] for c in sp.calls()] == ["stop"]
    sp.set_trait("busy", False)
    expect(stop).to_be_hidden()
    resume.click()
    assert [c["name"] for c in sp.calls()] == ["stop", "resume"]
    # Python's handler failed: the answer's error shows; a closed comm too.
    sp.answer_with("resume", {"error": "resume failed: ValueError: no model"})
    resume.click()
    expect(sp.page.locator(f"{OUT} .llks-notice")).to_have_text(
        "Resume: resume failed: ValueError: no model"
    )
    sp.answer_with("resume", "fail")
    resume.click()
    expect(sp.page.locator(f"{OUT} .llks-notice")).to_contain_text("did not reach Python")
    sp.set_trait("n_done", 50)
    expect(resume).to_be_hidden()  # nothing left to resume


def test_without_a_command_channel_the_buttons_are_disabled(sp):
    sp.mount(study_widget(busy=True), experimental=False)
    expect(sp.page.locator(f"{OUT} .llks-stop")).to_be_disabled()


# ------------------------------------------------------------------ updates, themes, cleanup


def test_the_view_follows_new_values_summary_and_n_done(sp):
    w = study_widget(done=10)
    sp.mount(w)
    assert pixel(sp, 9, 30) == [0, 0, 0, 0]
    values, summary = fabricate(50, 10, 40)
    w.update(values=values, summary=summary, n_done=40, status="batch 4/5")
    sp.push(w, "values", "summary", "n_done", "status")
    expect(sp.page.locator(f"{OUT} .llks-title")).to_have_text("study: 40 / 50 prompts")
    expect(sp.page.locator(f"{OUT} .llks-status")).to_have_text("batch 4/5")
    hi = float(np.nanmax(values[P_TARGET]))
    want = lut_color(VIRIDIS, float(values[P_TARGET, 30, 9]) * 255 / hi)
    assert pixel(sp, 9, 30) == [*want, 255]
    tol = 1.5 / plot_height(sp)
    for layer, v in path_values(sp, "llks-mean", "p_target").items():
        assert v == pytest.approx(float(summary[P_TARGET, 0, layer]), abs=tol)


def test_new_prompts_and_layers_redraw_everything(sp):
    w = study_widget()
    sp.mount(w)
    w.layers = [0, 1, 2]
    w.prompts = ["a", "b"]
    sp.push(w)
    assert sp.page.locator(f"{OUT} .llks-heat-canvas").evaluate("c => [c.width, c.height]") == [
        3,
        2,
    ]
    expect(sp.page.locator(f"{OUT} .llks-title")).to_have_text("study: 0 / 2 prompts")
    assert sp.page.locator(f"{OUT} .llks-problems").is_hidden()


def test_a_wrong_sized_buffer_is_reported_not_drawn(sp):
    sp.mount(study_widget())
    sp.set_trait("values", b"\x00" * 12)
    expect(sp.page.locator(f"{OUT} .llks-problems")).to_contain_text(
        "values has 12 bytes, expected 8000"
    )
    assert pixel(sp, 9, 3) == [0, 0, 0, 0]


def test_dark_mode(sp):
    sp.mount(study_widget(dark_mode="dark"))
    root = sp.page.locator(f"{OUT} .llks")
    assert root.evaluate("r => getComputedStyle(r).backgroundColor") == "rgb(30, 30, 30)"
    sp.set_trait("dark_mode", "light")
    assert root.evaluate("r => getComputedStyle(r).backgroundColor") == "rgb(255, 255, 255)"
    sp.set_trait("dark_mode", "auto")
    sp.page.evaluate("() => document.body.dataset.jpThemeLight = 'false'")
    assert root.evaluate("r => getComputedStyle(r).backgroundColor") == "rgb(30, 30, 30)"


@pytest.mark.parametrize("offset", [0, 3])
def test_unaligned_and_unpadded_buffers(sp, offset):
    w = study_widget()
    sp.mount(w, offset=offset)
    values, _ = w.arrays()
    hi = float(np.nanmax(values[P_TARGET]))
    want = lut_color(VIRIDIS, float(values[P_TARGET, 3, 9]) * 255 / hi)
    assert pixel(sp, 9, 3) == [*want, 255]


def test_cleanup_removes_every_listener_and_the_element(sp):
    sp.mount(study_widget(busy=True), outputs=("out1", "out2"))
    assert sp.counts()["dom"] > 0
    assert sp.counts()["observers"] == 2
    sp.page.evaluate(
        """() => { window.__kept = ['canvas', 'scroll', 'entry', 'stop'].map((c) =>
             document.querySelector('#out1 .llks-' + (c === 'canvas' ? 'heat-canvas'
               : c === 'scroll' ? 'heat-scroll' : c))); }"""
    )
    sp.page.locator(f"{OUT} .llks-heat-canvas").hover()
    sp.cleanup()
    assert sp.counts() == {"dom": 0, "model": 0, "observers": 0, "timers": 0, "frames": 0}
    assert sp.page.evaluate("() => document.querySelector('#out1').childElementCount") == 0
    assert sp.page.evaluate("() => document.querySelector('#out2').childElementCount") == 0
    # Events on the detached elements and model changes do nothing now.
    sp.page.evaluate(
        """() => {
          const [canvas, scroll, entry, stop] = window.__kept;
          canvas.dispatchEvent(new MouseEvent('click', { clientX: 5, clientY: 5, bubbles: true }));
          scroll.dispatchEvent(new KeyboardEvent('keydown', { key: 'ArrowDown', bubbles: true }));
          entry.click();
          stop.click();
        }"""
    )
    sp.page.evaluate("() => window.llk.setMany({n_done: 3, shown: ['p_alt']})")
    assert sp.trait("selected_prompt") is None
    assert sp.trait("shown") == ["p_alt"]
    assert sp.calls() == []
    assert sp.page.evaluate("window.llk.model.saves.length") == 0


def test_cleanup_with_a_command_in_flight(sp):
    sp.mount(study_widget(busy=True))
    sp.answer_with("stop", None)  # held: no answer comes
    sp.page.locator(f"{OUT} .llks-stop").click()
    assert sp.calls("stop")[0]["state"] == "pending"
    sp.cleanup()
    assert sp.calls("stop")[0]["state"] == "aborted"
    assert sp.counts() == {"dom": 0, "model": 0, "observers": 0, "timers": 0, "frames": 0}


def test_two_outputs_share_the_model(sp):
    sp.mount(study_widget(), outputs=("out1", "out2"))
    x, y = cell_point(sp, 1, 4, 10)
    sp.page.mouse.click(x, y)
    expect(sp.page.locator("#out2 .llks-heat-mark")).to_be_visible()
    sp.page.locator('#out2 .llks-entry[data-name="p_alt"]').click()
    expect(sp.page.locator(f"{OUT} .llks-mean")).to_have_count(1)


def test_a_multi_line_prompt_keeps_the_readout_on_one_line(sp):
    # A readout that grew a line per line break moved the heatmap under the pointer in
    # JupyterLab (its scroll re-anchors), so a click opened another prompt.
    prompts = [
        f'Français: "mot {i}" - Deutsch: "Wort {i}"\nFrançais: "x" - Deutsch: "' for i in range(12)
    ]
    w = StudyWidget(list(range(5)), prompts, QUANTITIES)
    values, summary = fabricate(12, 5)
    w.update(values=values, summary=summary, n_done=12)
    sp.mount(w)
    readout = sp.page.locator(f"{OUT} .llks-heat-readout")
    before = readout.bounding_box()["height"]
    canvas_y = sp.page.locator(f"{OUT} .llks-heat-canvas").bounding_box()["y"]
    x, y = cell_point(sp, 2, 3, 5)
    sp.page.mouse.move(x, y)
    expect(readout).to_contain_text('Wort 3" ↵ Français')
    assert readout.bounding_box()["height"] == before
    assert sp.page.locator(f"{OUT} .llks-heat-canvas").bounding_box()["y"] == canvas_y
