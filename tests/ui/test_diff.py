"""The diff view (LogitLensWidget.compare; src/logitlenskit/live/compare.py): side B's payload in
``compare_data`` against side A's ``data``.

Both payloads are made here from known distributions; every expected color, value and line
is computed by this file (JSD with compare.py's ``jsd_topk`` on the top-k the widget is
sent), and compared with what the widget shows.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from cells import OUT, nice_ceil, rgba, shown_alpha, tip_rows
from harness import wire
from logitlenskit.base.formats import to_widget_payload
from logitlenskit.live.compare import jsd_topk

L, K, V = 6, 3, 30
P_A, P_B = 5, 4
TOKEN = 7
LABELS = ["base", "edited"]
HEAT, NEG, METRIC = (43, 108, 212), (200, 55, 45), (138, 79, 191)


def distributions(n_pos: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(L, n_pos, V)) * np.linspace(0.8, 3.0, L)[:, None, None]
    logits[:, :, TOKEN] += np.linspace(-1.0, 3.0, L)[:, None] * rng.uniform(0.2, 1.5, n_pos)
    probs = np.exp(logits - logits.max(-1, keepdims=True))
    return probs / probs.sum(-1, keepdims=True)


def payload(probs: np.ndarray, layers: list[int] | None = None, k: int = K) -> dict[str, Any]:
    n_pos = probs.shape[1]
    topk = np.argsort(-probs, axis=-1, kind="stable")[..., :k].astype(np.int32)
    tracked = [np.union1d(np.unique(topk[:, p]), [TOKEN]).astype(np.int32) for p in range(n_pos)]
    return to_widget_payload(
        {
            "model": "diff-model",
            "input": [f" w{p}" for p in range(n_pos)],
            "input_ids": list(range(100, 100 + n_pos)),
            "layers": layers or list(range(L)),
            "num_layers": L,
            "topk": topk,
            "topk_probs": np.take_along_axis(probs, topk, -1).astype(np.float32),
            "tracked": tracked,
            "probs": [probs[:, p, t].astype(np.float32) for p, t in enumerate(tracked)],
            "vocab": {i: f"t{i}" for i in range(V)},
        }
    )


def sides() -> tuple[dict, dict, np.ndarray, np.ndarray]:
    a, b = distributions(P_A, 1), distributions(P_B, 2)
    return payload(a), payload(b), a, b


def top(probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The top-k ids and their float32 probabilities, as the payload carries them."""
    ids = np.argsort(-probs, axis=-1, kind="stable")[..., :K]
    return ids, np.take_along_axis(probs, ids, -1).astype(np.float32).astype(np.float64)


def mount_diff(wp, **traits: Any) -> tuple[np.ndarray, np.ndarray]:
    pa, pb, a, b = sides()
    wp.mount(pa, compare_data=pb, compare_labels=LABELS, compare_prompt="side b", **traits)
    return a, b


@pytest.mark.browser
def test_the_browsers_jsd_equals_pythons(wp):
    a, b = mount_diff(wp)
    ids_a, pr_a = top(a)
    ids_b, pr_b = top(b)
    cases = [
        [
            ids_a[row, p].tolist(),
            pr_a[row, p].tolist(),
            ids_b[row, p].tolist(),
            pr_b[row, p].tolist(),
        ]
        for row in range(L)
        for p in range(P_B)
    ]
    cases += [[[1], [1.0], [2], [1.0]], [[1, 2], [0.5, 0.5], [2, 1], [0.5, 0.5]]]
    got = wp.page.evaluate(
        """async (cases) => {
            const { jsdTopk } = await import('/frontend/diff.js');
            return cases.map(([a, pa, b, pb]) => jsdTopk(a, pa, b, pb));
        }""",
        cases,
    )
    for case, value in zip(cases, got, strict=True):
        expected = jsd_topk(*(np.array(x) for x in case))
        assert value == pytest.approx(expected, abs=1e-12), case


@pytest.mark.browser
def test_jsd_mode_colors_each_shared_cell_by_the_divergence_of_its_top_k(wp):
    a, b = mount_diff(wp, color_mode="jsd")
    ids_a, pr_a = top(a)
    ids_b, pr_b = top(b)
    for row in range(L):
        for p in range(P_A):
            color, alpha = rgba(wp, row, p)
            if p >= P_B:
                assert alpha == 0, "only side A has this position"
                continue
            js = jsd_topk(ids_a[row, p], pr_a[row, p], ids_b[row, p], pr_b[row, p])
            assert alpha == pytest.approx(shown_alpha(js / math.log(2)), abs=0.011)
            if alpha:
                assert color == METRIC
    bar = wp.page.locator(f"{OUT} .llk-colorbar")
    title = bar.locator(".llk-cbar-title").text_content()
    assert title == "Jensen\u2013Shannon divergence of the top-k, base vs edited (nats)"
    assert bar.locator(".llk-cbar-tick").all_text_contents()[-1] == "ln 2"
    js = jsd_topk(ids_a[3, 1], pr_a[3, 1], ids_b[3, 1], pr_b[3, 1])
    assert tip_rows(wp, 3, 1)["JSD of the top-k, base vs edited"] == f"{js:.2f} nats"
    assert tip_rows(wp, 3, 4)["JSD of the top-k, base vs edited"] == "only base has this position"


@pytest.mark.browser
def test_diff_token_mode_diverges_on_the_targets_probability_a_minus_b(wp):
    a, b = mount_diff(wp, color_mode="diff_token", pins=[{"ids": [TOKEN], "color": "#e6194b"}])
    diff = a[:, :P_B, TOKEN] - b[:, :, TOKEN]
    assert (diff > 0).any() and (diff < 0).any()
    scale = min(1.0, nice_ceil(np.abs(diff).max()))
    for row in range(L):
        for p in range(P_A):
            color, alpha = rgba(wp, row, p)
            if p >= P_B:
                assert alpha == 0
                continue
            assert alpha == pytest.approx(shown_alpha(abs(diff[row, p]) / scale), abs=0.011)
            if alpha:
                assert color == (HEAT if diff[row, p] > 0 else NEG)
    bar = wp.page.locator(f"{OUT} .llk-colorbar")
    assert bar.locator(".llk-cbar-title").text_content() == (
        "p(t7): base \u2212 edited (percentage points)"
    )
    assert bar.locator(".llk-cbar-end").all_text_contents() == [
        "higher in edited",
        "higher in base",
    ]
    v = diff[4, 2] * 100
    sign = "+" if v > 0 else "\u2212"
    assert tip_rows(wp, 4, 2)["p(t7): base \u2212 edited"] == f"{sign}{abs(v):.1f} pp"


@pytest.mark.browser
def test_popup_chart_and_prompt_box_show_both_sides(wp):
    _, b = mount_diff(wp, pins=[{"ids": [TOKEN], "color": "#e6194b"}])
    page = wp.page
    # The popup lists both sides' top-k under their names.
    wp.cell(2, 1).click()
    heads = page.locator(f"{OUT} .llk-popup-side-head").all_text_contents()
    assert heads == LABELS
    ids_b, _ = top(b)
    rows_b = page.locator(f"{OUT} .llk-popup-list-b .llk-popup-row")
    assert rows_b.count() == K
    for j in range(K):
        assert rows_b.nth(j).get_attribute("data-id") == str(ids_b[2, 1, j])
    page.keyboard.press("Escape")
    # The chart: side B's line dashed beside side A's (the followed position is the last of
    # side A, which side B lacks: pin a shared row instead).
    wp.set_trait("pinned_rows", [1])
    paths = page.locator(f"{OUT} .llk-lines path")
    assert paths.count() == 2
    assert paths.nth(1).get_attribute("stroke-dasharray") == "6 3"
    assert paths.nth(1).get_attribute("class") == "llk-line-b"
    note = page.locator(f"{OUT} .llk-diff-note").text_content()
    assert "base" in note and "edited" in note and "from 4 on have only base" in note
    # Side B's prompt box: Enter sends compare_prompt.
    box = page.locator(f"{OUT} .llk-compare-prompt")
    assert box.is_visible() and box.input_value() == "side b"
    assert page.locator(f"{OUT} .llk-compare-label").text_content() == "edited:"
    box.fill("another prompt")
    box.press("Enter")
    assert wp.trait("compare_prompt") == "another prompt"
    # The modes are offered.
    for mode in ("diff_token", "jsd"):
        assert not page.locator(f"{OUT} .llk-mode option[value='{mode}']").is_disabled()


@pytest.mark.browser
def test_without_side_b_the_diff_is_hidden_and_its_modes_disabled(wp):
    pa, pb, _, _ = sides()
    wp.mount(pa, pins=[{"ids": [TOKEN], "color": "#e6194b"}])
    page = wp.page
    for mode in ("diff_token", "jsd"):
        assert page.locator(f"{OUT} .llk-mode option[value='{mode}']").is_disabled()
    assert page.locator(f"{OUT} .llk-compare-box").is_hidden()
    assert page.locator(f"{OUT} .llk-diff-note").is_hidden()
    assert page.locator(f"{OUT} .llk-lines path").count() == 1
    wp.set_trait("color_mode", "jsd")
    assert page.locator(f"{OUT} .llk-colorbar").is_hidden()
    assert rgba(wp, 2, 2)[1] == 0
    # Side B arrives: the diff shows; then it goes again ({}).
    wp.page.evaluate("([k, v]) => window.llk.setWired(k, v)", ["compare_data", wire(pb)])
    assert page.locator(f"{OUT} .llk-compare-box").is_visible()
    assert not page.locator(f"{OUT} .llk-mode option[value='jsd']").is_disabled()
    assert rgba(wp, 2, 2)[1] > 0
    assert page.locator(f"{OUT} .llk-lines path").count() == 1, "side B lacks position 4"
    wp.page.evaluate("([k, v]) => window.llk.setWired(k, v)", ["compare_data", {}])
    assert page.locator(f"{OUT} .llk-compare-box").is_hidden()
    assert rgba(wp, 2, 2)[1] == 0
    # A side B with other layers cannot be compared: the note says why.
    other = payload(distributions(P_B, 3)[:5], layers=[0, 1, 2, 3, 5])
    wp.page.evaluate("([k, v]) => window.llk.setWired(k, v)", ["compare_data", wire(other)])
    note = page.locator(f"{OUT} .llk-diff-note")
    assert note.is_visible()
    assert note.text_content().startswith("Cannot compare with side B: side B has layers")
    assert page.locator(f"{OUT} .llk-mode option[value='diff_token']").is_disabled()
    assert rgba(wp, 2, 2)[1] == 0


@pytest.mark.browser
def test_the_default_line_gets_its_side_b_line_too(wp):
    pa, pb, _, _ = sides()
    wp.mount(pa, compare_data=pb, compare_labels=LABELS)
    page = wp.page
    # The followed position is side A's last (4): side B has none there.
    assert page.locator(f"{OUT} .llk-lines path").count() == 1
    wp.cell(2, 1).click()  # follow position 1, which both sides have
    page.keyboard.press("Escape")
    paths = page.locator(f"{OUT} .llk-lines path")
    assert paths.count() == 2
    assert "llk-line-b" in paths.nth(1).get_attribute("class")
    assert paths.nth(1).evaluate("e => getComputedStyle(e).strokeDasharray") == "6px, 3px"


def _path_ys(d: str) -> list[float]:
    """The y of each point of an SVG path made of M/L commands."""
    numbers = [float(x) for x in d.replace("M", " ").replace("L", " ").split()]
    return numbers[1::2]


@pytest.mark.browser
def test_hovering_a_cell_draws_its_token_on_both_sides(wp):
    a, b = mount_diff(wp)
    page = wp.page
    ids_a, _ = top(a)
    topk_b, _ = top(b)
    # A cell (lens row, shared position) whose top-1 token side B tracks at that position.
    row, p = next(
        (row, p)
        for p in range(P_B)
        for row in range(L)
        if ids_a[row, p, 0] in set(topk_b[:, p].ravel()) | {TOKEN}
    )
    token = ids_a[row, p, 0]
    wp.cell(row, p).hover()
    line_a = page.locator(f"{OUT} .llk-hover-line")
    line_b = page.locator(f"{OUT} .llk-hover-line-b")
    ys_a, ys_b = _path_ys(line_a.get_attribute("d")), _path_ys(line_b.get_attribute("d"))
    assert len(ys_a) == len(ys_b) == L
    # One y scale for both: y_a − y_b = −s·(p_a − p_b) at every layer, with one s > 0.
    gaps = a[:, p, token] - b[:, p, token]
    scale = [(yb - ya) / g for ya, yb, g in zip(ys_a, ys_b, gaps, strict=True) if abs(g) > 0.02]
    assert scale and min(scale) > 0
    assert max(scale) - min(scale) <= 0.02 * max(scale)
    assert line_b.evaluate("e => getComputedStyle(e).strokeDasharray") == "1px, 3px"
    # Position 4 is side A's only: its hover has no side-B line.
    wp.cell(row, P_A - 1).hover()
    assert line_a.get_attribute("d").startswith("M")
    assert (line_b.get_attribute("d") or "") == ""


def detail_of(probs: np.ndarray, run: int, layer: int, position: int, count: int):
    """Python's ``detail`` answer for one side: its ``count`` most probable ids at the cell
    and their trajectories at that position, float32 [n, L]."""
    order = np.argsort(-probs[layer, position], kind="stable")[:count]
    ids = [int(i) for i in order]
    answer = {"run": run, "layer": layer, "position": position, "ids": ids, "tokens": []}
    answer["tokens"] = [f"t{i}" for i in ids]
    trajectories = np.ascontiguousarray(probs[:, position, order].T, dtype="<f4")
    return answer, (trajectories.tobytes(),), ids


def wait_calls(wp, name: str, n: int) -> list[dict]:
    wp.page.wait_for_function(
        "([n, k]) => window.llk.commands.calls.filter(c => c.name === n).length >= k", arg=[name, n]
    )
    return wp.calls(name)


@pytest.mark.browser
def test_side_bs_list_grows_as_side_as_does(wp):
    # Issue 23 item 19: side A grew to 20 rows from Python while side B stayed at k.
    pa, pb, a, b = sides()
    wp.mount({**pa, "run": 7}, compare_data={**pb, "run": 9}, compare_labels=LABELS)
    page = wp.page
    rows_a = page.locator(f"{OUT} .llk-popup-list:not(.llk-popup-list-b) .llk-popup-row")
    rows_b = page.locator(f"{OUT} .llk-popup-list-b .llk-popup-row")
    wp.cell(2, 1).click()
    assert rows_b.count() == K  # at once, from side B's data
    calls = wait_calls(wp, "detail", 2)
    assert [c["msg"] for c in calls] == [
        {"run": 7, "layer": 2, "row": 2, "position": 1, "k": 20},
        {"run": 9, "layer": 2, "row": 2, "position": 1, "k": 20, "side": "b"},
    ]
    answer_a, buffers_a, _ = detail_of(a, 7, 2, 1, 20)
    answer_b, buffers_b, ids_b = detail_of(b, 9, 2, 1, 20)
    assert wp.reply("detail", answer_a, buffers_a) and wp.reply("detail", answer_b, buffers_b)
    page.wait_for_function(
        "() => document.querySelectorAll('#out1 .llk-popup-list-b .llk-popup-row').length === 20"
    )
    assert rows_a.count() == 20
    assert [int(r) for r in rows_b.evaluate_all("rs => rs.map(r => r.dataset.id)")] == ids_b
    shown = rows_b.locator(".llk-prob").all_text_contents()
    want = [float(b[2, 1, i]) for i in ids_b]
    assert [float(t.rstrip("%")) / 100 for t in shown] == pytest.approx(want, rel=0.01, abs=6e-5)
    # "more" asks both sides for 100.
    page.locator(f"{OUT} .llk-popup-more").click()
    calls = wait_calls(wp, "detail", 4)
    assert [c["msg"]["k"] for c in calls[2:]] == [100, 100]
    assert calls[3]["msg"]["side"] == "b"
    # A cell past side B's prompt asks side A only.
    page.keyboard.press("Escape")
    wp.cell(2, P_A - 1).click()
    calls = wait_calls(wp, "detail", 5)
    page.wait_for_timeout(200)
    assert len(wp.calls("detail")) == 5 and "side" not in calls[4]["msg"]


@pytest.mark.browser
def test_the_popup_names_the_sides_by_their_current_labels(wp):
    mount_diff(wp)
    wp.cell(2, 1).click()
    page = wp.page
    assert page.locator(f"{OUT} .llk-popup-side-head").all_text_contents() == LABELS
    wp.set_trait("compare_labels", ["base", "Spain"])  # Python renamed an edited side
    assert page.locator(f"{OUT} .llk-popup-side-head").all_text_contents() == ["base", "Spain"]
    assert page.locator(f"{OUT} .llk-compare-label").text_content() == "Spain:"
    assert "Spain" in page.locator(f"{OUT} .llk-diff-note").text_content()


LONG = " internationalization"  # a long token: cut with "…", whole in the row's title


def popup_fit(wp) -> dict:
    """What overflows in the open two-sided popup: boxes wider than they show, values cut,
    tokens cut without an ellipsis or without their whole text in a title."""
    return wp.page.evaluate(
        """() => {
            const pop = document.querySelector('#out1 .llk-popup');
            const wide = (e) => e.scrollWidth > e.clientWidth + 1;
            const over = [pop, ...pop.querySelectorAll(
                '.llk-popup-sides, .llk-popup-side, .llk-popup-list')]
                .filter(wide).map((e) => e.className);
            const cut = [];
            for (const list of pop.querySelectorAll('.llk-popup-list')) {
                const box = list.getBoundingClientRect();
                for (const row of list.querySelectorAll('.llk-popup-row')) {
                    const prob = row.querySelector('.llk-prob');
                    const r = prob.getBoundingClientRect();
                    if (wide(prob) || r.right > box.right + 0.5 || r.left < box.left - 0.5)
                        cut.push(prob.textContent);
                    const token = row.querySelector('.llk-popup-token');
                    const style = getComputedStyle(token);
                    if (wide(token) && style.textOverflow !== 'ellipsis') cut.push(token.textContent);
                    if (!row.title.includes(token.textContent.replace(/\u2026$/, '')))
                        cut.push(row.title);
                }
            }
            const heads = [...pop.querySelectorAll('.llk-popup-side-head')].map((h) => ({
                text: h.textContent, title: h.title, cut: wide(h),
                ellipsis: getComputedStyle(h).textOverflow === 'ellipsis',
            }));
            const r = pop.getBoundingClientRect();
            return { over, cut, heads, left: r.left, right: r.right,
                     vw: document.documentElement.clientWidth };
        }"""
    )


@pytest.mark.browser
@pytest.mark.parametrize("width", [1000, 720])
def test_the_two_sided_popup_fits_without_scrolling_sideways(wp, width):
    # Issue 23 item 19: the two columns cut tokens and percentages and scrolled sideways.
    wp.page.set_viewport_size({"width": width, "height": 900})
    a, b = distributions(P_A, 1), distributions(P_B, 2)
    vocab = {i: f"{LONG}{i}" for i in range(V)}
    pa, pb = payload(a), payload(b)
    pa["vocab"] = {str(i): t for i, t in vocab.items()}
    pb["vocab"] = dict(pa["vocab"])
    labels = ["The capital of France is", "The capital of Italy is, famously"]
    wp.mount(pa, compare_data=pb, compare_labels=labels)
    for p in (1, 3):
        wp.cell(2, p).click()
        fit = popup_fit(wp)
        assert fit["over"] == [], f"scrolls sideways: {fit['over']}"
        assert fit["cut"] == [], f"cut: {fit['cut'][:4]}"
        assert fit["left"] >= 0 and fit["right"] <= fit["vw"]
        for head, label in zip(fit["heads"], labels, strict=True):
            assert head["title"] == label
            assert not head["cut"] or head["ellipsis"]
        wp.page.keyboard.press("Escape")
