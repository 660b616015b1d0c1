"""The exact per-cell metrics in the browser: KL, target ranks and log-probabilities.

A payload is made here from known distributions: every expected color, tick, tooltip value
and chart point is computed from them in float64 by this file (not read back from the
payload the widget decodes), and compared with what the widget shows.
"""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np
import pytest

from cells import OUT, nice_ceil, rgba, shown_alpha, tip_rows
from logitlenskit.base.formats import to_widget_payload
from logitlenskit.base.validate import InvalidDataError, validate_payload

L, P, K, V = 6, 5, 3, 40
PARIS, LONDON, OTHER = [7, 8], [9], 12
# Pins as Python makes them for named targets, and a token that is no target.
PINS = [
    {"ids": PARIS, "color": "#e6194b", "name": " Paris"},
    {"ids": LONDON, "color": "#3cb44b", "name": " London"},
]
HEAT, NEG, KL_COLOR = (43, 108, 212), (200, 55, 45), (138, 79, 191)


def distributions(seed: int = 3) -> np.ndarray:
    """[L, P, V] lens distributions in float64, sharpening with depth; " Paris" wins late at
    the last position, " London" is its runner-up there.
    """
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(L, P, V)) * np.linspace(0.5, 3.0, L)[:, None, None]
    logits[:, -1, 7] += np.linspace(-1.0, 5.0, L)
    logits[:, -1, 9] += np.linspace(0.5, 3.5, L)
    logits[:, 2, 8] += np.linspace(2.5, -2.0, L)
    probs = np.exp(logits - logits.max(-1, keepdims=True))
    return probs / probs.sum(-1, keepdims=True)


def reference(probs: np.ndarray, targets: list[list[int]]) -> dict[str, np.ndarray]:
    """KL to the last layer, and each target's log-probability and best member's rank."""
    final = probs[-1]
    kl = (final[None] * (np.log(final[None]) - np.log(probs))).sum(-1)
    logprobs = np.stack([np.log(probs[:, :, ids].sum(-1)) for ids in targets])
    # 1-based rank of a token: one more than the number of more probable tokens.
    ranks = np.stack(
        [np.min([(probs > probs[:, :, [i]]).sum(-1) + 1 for i in ids], axis=0) for ids in targets]
    )
    return {"kl": kl, "logprobs": logprobs, "ranks": ranks}


def metrics_payload(
    probs: np.ndarray | None = None, with_metrics: bool = True
) -> tuple[dict[str, Any], np.ndarray, dict[str, np.ndarray]]:
    """A payload of ``probs`` with k=3 (every target tracked at every position)."""
    probs = distributions() if probs is None else probs
    topk = np.argsort(-probs, axis=-1, kind="stable")[..., :K].astype(np.int32)
    extra = [*PARIS, *LONDON, OTHER]
    tracked = [np.union1d(np.unique(topk[:, p]), extra).astype(np.int32) for p in range(P)]
    data = {
        "model": "metrics-model",
        "input": [" The", " capital", " is", " in", " the"],
        "input_ids": list(range(100, 100 + P)),
        "layers": list(range(L)),
        "num_layers": L,
        "topk": topk,
        "topk_probs": np.take_along_axis(probs, topk, -1).astype(np.float32),
        "tracked": tracked,
        "probs": [probs[:, p, t].astype(np.float32) for p, t in enumerate(tracked)],
        "entropy": (-(probs * np.log(probs)).sum(-1)).astype(np.float32),
        "vocab": {i: f"w{i}" for i in range(V)} | {7: " Paris", 8: "Paris", 9: " London"},
    }
    payload = to_widget_payload(data)
    ref = reference(probs, [PARIS, LONDON])
    if with_metrics:
        payload |= {
            "kl": ref["kl"].astype("<f4").tobytes(),
            "targets": [{"name": " Paris", "ids": PARIS}, {"name": " London", "ids": LONDON}],
            "target_logprobs": ref["logprobs"].astype("<f4").tobytes(),
            "target_ranks": ref["ranks"].astype("<i4").tobytes(),
        }
        validate_payload(payload)
    return payload, probs, ref


def bar(wp) -> dict[str, Any]:
    page = wp.page
    return {
        "title": page.locator(f"{OUT} .llk-cbar-title").text_content(),
        "ends": page.locator(f"{OUT} .llk-cbar-end").all_text_contents(),
        "ticks": page.locator(f"{OUT} .llk-cbar-tick").all_text_contents(),
    }


def number(text: str) -> float:
    return float(text.replace("\u2212", "-").replace("+", ""))


def chart_points(wp) -> list[dict[int, float]]:
    """Each chart line's values by lens row, read back through the y axis's ticks."""
    page = wp.page
    ticks = page.evaluate(
        """() => [...document.querySelectorAll('#out1 .llk-yaxis text')]
                   .map(t => [t.textContent, Number(t.getAttribute('y'))])"""
    )
    xs = page.evaluate(
        """() => [...document.querySelectorAll('#out1 .llk-xtick')]
                   .map(t => [Number(t.dataset.l), Number(t.getAttribute('x'))])"""
    )
    (v0, y0), (v1, y1) = (number(ticks[0][0]), ticks[0][1]), (number(ticks[-1][0]), ticks[-1][1])
    lines = []
    for d in page.locator(f"{OUT} .llk-lines path").evaluate_all(
        "ps => ps.map(p => p.getAttribute('d'))"
    ):
        values = {}
        for x, y in re.findall(r"[ML]([-\d.]+) ([-\d.]+)", d):
            row = min(xs, key=lambda lx: abs(lx[1] - float(x)))[0]
            values[row] = v0 + (float(y) - y0) * (v1 - v0) / (y1 - y0)
        lines.append(values)
    return lines


def y_title(wp) -> str:
    return wp.page.locator(f"{OUT} .llk-ytitle").text_content()


# 1. Color modes --------------------------------------------------------------------------


@pytest.mark.browser
def test_kl_mode_colors_by_kl_over_the_shown_rows_in_nats_or_bits(wp):
    payload, _, ref = metrics_payload()
    kl = ref["kl"].astype(np.float32).astype(float)
    wp.mount(payload, color_mode="kl")
    top = kl.max()
    for ci, p in [(0, 0), (2, 3), (4, 4), (5, 1)]:
        color, alpha = rgba(wp, ci, p)
        assert alpha == pytest.approx(shown_alpha(kl[ci, p] / top), abs=0.011)
        if alpha:
            assert color == KL_COLOR
    shown = bar(wp)
    assert shown["title"] == "KL to final output (nats)"
    assert shown["ends"] == ["like the output", "far from it"]
    assert shown["ticks"][-1] == f"{top:.2f}"
    assert tip_rows(wp, 2, 3)["KL to output"] == f"{kl[2, 3]:.2f} nats"
    wp.page.locator(f"{OUT} .llk-cbar-unit").click()
    assert bar(wp)["title"] == "KL to final output (bits)"
    assert bar(wp)["ticks"][-1] == f"{top / math.log(2):.2f}"
    assert tip_rows(wp, 2, 3)["KL to output"] == f"{kl[2, 3] / math.log(2):.2f} bits"
    # Zoomed to the last layers, the scale is their largest KL: the colors follow.
    wp.set_trait("x_zoom", [3, 5])
    zoomed = kl[3:].max()
    _, alpha = rgba(wp, 0, 2)  # column 0 is lens row 3 now
    assert alpha == pytest.approx(shown_alpha(kl[3, 2] / zoomed), abs=0.011)
    assert bar(wp)["ticks"][-1] == f"{zoomed / math.log(2):.2f}"


@pytest.mark.browser
def test_rank_mode_is_exact_for_a_target_and_top_k_only_otherwise(wp):
    payload, probs, ref = metrics_payload()
    # The scale ends at the largest rank the data shows: its largest token id + 1, k + 1, or
    # an exact rank.
    max_rank = max(K + 1, max(map(int, payload["vocab"])) + 1, int(ref["ranks"].max()))
    wp.mount(payload, pins=PINS, color_mode="rank")
    ranks = ref["ranks"][0]
    assert (ranks > K).any(), "some cells have ' Paris' outside the top-k"
    for ci, p in [(0, 0), (3, 2), (5, 4), (1, 4)]:
        color, alpha = rgba(wp, ci, p)
        expected = 1 - math.log(ranks[ci, p]) / math.log(max_rank)
        assert alpha == pytest.approx(shown_alpha(expected), abs=0.011)
        assert color == HEAT
    shown = bar(wp)
    assert shown["title"] == "rank of  Paris"
    assert shown["ends"] == [f"rank {max_rank}", "top-1"]
    assert shown["ticks"] == [str(max_rank), "10", "1"]
    row, p = next(zip(*np.nonzero(ranks > K), strict=True))
    assert tip_rows(wp, int(row), int(p))["rank of  Paris"] == f"{ranks[row, p]} (exact)"
    # A group that is no target: its rank is known only inside the top-k.
    group = [OTHER, 9]
    wp.set_trait("color_group", group)
    assert bar(wp)["title"] == "rank of w12 + \u2423London (top-k only)"
    topk = np.argsort(-probs, axis=-1, kind="stable")[..., :K]
    for ci in range(L):
        for p in range(P):
            inside = [j + 1 for j in range(K) if topk[ci, p, j] in group]
            _, alpha = rgba(wp, ci, p)
            if not inside:
                assert alpha == 0, (ci, p)
            else:
                expected = 1 - math.log(inside[0]) / math.log(max_rank)
                assert alpha == pytest.approx(shown_alpha(expected), abs=0.011)


@pytest.mark.browser
def test_logprob_diff_diverges_between_target_and_foil(wp):
    payload, probs, ref = metrics_payload()
    wp.mount(payload, pins=PINS, color_mode="logprob_diff")
    diff = ref["logprobs"][0] - ref["logprobs"][1]
    scale = nice_ceil(np.abs(diff).max())
    assert (diff > 0).any() and (diff < 0).any()
    for ci, p in [(0, 0), (2, 2), (5, 4), (4, 1)]:
        color, alpha = rgba(wp, ci, p)
        assert alpha == pytest.approx(shown_alpha(abs(diff[ci, p]) / scale), abs=0.011)
        assert color == (HEAT if diff[ci, p] > 0 else NEG)
    shown = bar(wp)
    assert shown["title"] == "log p( Paris) \u2212 log p( London) (nats)"
    assert shown["ends"] == ["favors  London", "favors  Paris"]
    assert shown["ticks"][2] == "0"
    assert number(shown["ticks"][0]) == -scale and number(shown["ticks"][-1]) == scale
    value = tip_rows(wp, 5, 4)["log p( Paris) \u2212 log p( London)"]
    assert value == f"{'+' if diff[5, 4] > 0 else chr(0x2212)}{abs(diff[5, 4]):.2f} nats (exact)"
    # The foil menu offers the other pins and targets; a token that is no target is read from
    # the tracked probabilities.
    foil = wp.page.locator(f"{OUT} .llk-foil")
    assert foil.is_visible() and foil.input_value() == "9"
    wp.set_trait("pins", [*PINS, {"ids": [OTHER], "color": "#4363d8"}])
    foil.select_option(str(OTHER))
    assert wp.trait("color_foil") == [OTHER]
    other = np.log(probs[:, :, PARIS].sum(-1)) - np.log(probs[:, :, OTHER])
    scale = nice_ceil(np.abs(other).max())
    _, alpha = rgba(wp, 3, 1)
    assert alpha == pytest.approx(shown_alpha(abs(other[3, 1]) / scale), abs=0.011)
    rows = tip_rows(wp, 3, 1)
    assert rows["log p( Paris) \u2212 log p(w12)"].endswith("nats (from tracked probabilities)")
    assert number(rows["log p( Paris) \u2212 log p(w12)"].split()[0]) == pytest.approx(
        other[3, 1], abs=0.006
    )


@pytest.mark.browser
def test_delta_mode_colors_the_change_from_the_previous_layer(wp):
    payload, probs, _ = metrics_payload()
    wp.mount(payload, pins=PINS, color_mode="delta", negative_color="#ff0000")
    p_paris = probs[:, :, PARIS].sum(-1)
    delta = p_paris[1:] - p_paris[:-1]
    scale = min(1.0, nice_ceil(np.abs(delta).max()))
    for p in range(P):
        assert rgba(wp, 0, p)[1] == 0, "no previous layer: uncolored"
    for ci, p in [(1, 4), (5, 4), (3, 2), (2, 2)]:
        color, alpha = rgba(wp, ci, p)
        d = delta[ci - 1, p]
        assert alpha == pytest.approx(shown_alpha(abs(d) / scale), abs=0.011)
        if alpha:
            assert color == (HEAT if d > 0 else (255, 0, 0))
    shown = bar(wp)
    assert shown["title"] == "change of p( Paris) from the previous layer (percentage points)"
    assert shown["ends"] == ["falling", "rising"]
    assert number(shown["ticks"][-1]) == pytest.approx(scale * 100)
    text = tip_rows(wp, 5, 4)["change of p( Paris)"]
    assert number(text.split()[0]) == pytest.approx(delta[4, 4] * 100, abs=0.06)
    assert text.endswith("pp from layer 4")


@pytest.mark.browser
def test_data_without_metrics_shows_as_before(wp):
    payload, _, _ = metrics_payload(with_metrics=False)
    wp.mount(payload, pins=PINS)
    assert "KL to output" not in tip_rows(wp, 1, 1)
    kl_option = wp.page.locator(f"{OUT} .llk-mode option[value='kl']")
    assert kl_option.is_disabled()
    wp.set_trait("color_mode", "kl")
    assert wp.page.locator(f"{OUT} .llk-colorbar").is_hidden()
    assert rgba(wp, 2, 2)[1] == 0
    # Ranks fall back to the top-k: the target's rank is not exact.
    wp.set_trait("color_mode", "rank")
    assert bar(wp)["title"].endswith("(top-k only)")
    wp.set_trait("trajectory_metric", "kl")
    assert "no KL" in wp.page.locator(f"{OUT} .llk-legend-note").text_content()


# 2. Chart metrics -------------------------------------------------------------------------


@pytest.mark.browser
def test_chart_log_probability_delta_and_kl(wp):
    payload, probs, ref = metrics_payload()
    last = P - 1
    wp.mount(payload, pins=[PINS[0], {"ids": [OTHER], "color": "#4363d8"}])
    wp.page.locator(f"{OUT} .llk-metric").select_option("logprob")
    assert wp.trait("trajectory_metric") == "logprob"
    assert y_title(wp).startswith("log")
    paris, other = chart_points(wp)
    for row in range(L):
        assert paris[row] == pytest.approx(ref["logprobs"][0, row, last], abs=0.05)
        assert other[row] == pytest.approx(math.log(probs[row, last, OTHER]), abs=0.05)
    wp.set_trait("trajectory_metric", "delta")
    paris, _ = chart_points(wp)
    assert 0 not in paris, "no previous layer"
    p_paris = probs[:, last, PARIS].sum(-1)
    for row in range(1, L):
        assert paris[row] == pytest.approx(p_paris[row] - p_paris[row - 1], abs=0.01)
    # KL: one line per pinned row, whatever is pinned.
    wp.set_trait("trajectory_metric", "kl")
    wp.set_trait("pinned_rows", [1, 3])
    lines = chart_points(wp)
    assert len(lines) == 2
    for values, p in zip(lines, [1, 3], strict=True):
        for row in range(L):
            assert values[row] == pytest.approx(ref["kl"][row, p], abs=0.02 * ref["kl"].max())
    assert y_title(wp).startswith("KL")
    note = wp.page.locator(f"{OUT} .llk-legend-note").text_content()
    assert "pins do not apply" in note


@pytest.mark.browser
def test_chart_rank_is_exact_for_pinned_targets(wp):
    payload, _, ref = metrics_payload()
    last = P - 1
    wp.mount(payload, pins=PINS, trajectory_metric="rank")
    assert y_title(wp) == "rank"
    labels = wp.page.locator(f"{OUT} .llk-yaxis text").all_text_contents()
    assert labels[:2] == ["1", "10"]
    ys = wp.page.evaluate(
        "() => [...document.querySelectorAll('#out1 .llk-yaxis text')].map(t => +t.getAttribute('y'))"
    )
    paths = wp.page.locator(f"{OUT} .llk-lines path").evaluate_all(
        "ps => ps.map(p => p.getAttribute('d'))"
    )
    for d, t in zip(paths, (0, 1), strict=True):
        ys_line = [float(y) for _, y in re.findall(r"[ML]([-\d.]+) ([-\d.]+)", d)]
        assert len(ys_line) == L
        # Log axis: height grows with log(rank), 1 at the top.
        ranks = [math.exp((y - ys[0]) / (ys[1] - ys[0]) * math.log(10)) for y in ys_line]
        assert ranks == pytest.approx(ref["ranks"][t, :, last].tolist(), rel=0.03)
    box = wp.page.locator(f"{OUT} .llk-chart-svg").bounding_box()
    x = float(wp.page.locator(f"{OUT} .llk-xtick").nth(0).get_attribute("x"))
    wp.page.mouse.move(box["x"] + x, box["y"] + 30)
    tip = wp.page.locator(f"{OUT} .llk-tooltip").text_content()
    assert f" Paris: #{ref['ranks'][0, 0, last]}" in tip
    # A pin that is no target knows its rank in the top-k only.
    wp.set_trait("pins", [*PINS, {"ids": [OTHER], "color": "#4363d8"}])
    assert y_title(wp) == "rank (top-k only)"


# 3. Pin names and candidates -------------------------------------------------------------


@pytest.mark.browser
def test_pin_names_show_in_the_legend_and_chart(wp):
    payload, _, _ = metrics_payload()
    wp.mount(payload, pins=[{"ids": [OTHER], "color": "#4363d8"}, *PINS])
    labels = wp.page.locator(f"{OUT} .llk-legend-pin .llk-legend-label")
    assert labels.all_text_contents() == ["w12", " Paris", " London"]
    title = " Paris: \u2423Paris + Paris: group, the sum of its tokens"
    assert labels.nth(1).get_attribute("title") == title
    wp.page.mouse.move(5, 880)
    box = wp.page.locator(f"{OUT} .llk-chart-svg").bounding_box()
    x = float(wp.page.locator(f"{OUT} .llk-xtick").nth(2).get_attribute("x"))
    wp.page.mouse.move(box["x"] + x, box["y"] + 30)
    assert " London: " in wp.page.locator(f"{OUT} .llk-tooltip").text_content()
    # Grouping another token into a named pin (the newest) makes another pin: the name goes.
    wp.cell(0, 1).click()
    row = wp.page.locator(f"{OUT} .llk-popup-row:not([data-id='9'])").first
    added = int(row.get_attribute("data-id"))
    row.click(modifiers=["Shift"])
    assert wp.trait("pins")[2] == {"ids": [9, added], "color": "#3cb44b"}
    assert wp.trait("pins")[1]["name"] == " Paris"


@pytest.mark.browser
def test_best_at_any_layer_lists_the_positions_tokens_by_their_peak(wp):
    payload, probs, _ = metrics_payload()
    p = 2
    wp.mount(payload)
    wp.cell(1, p).click()
    best = wp.page.locator(f"{OUT} .llk-popup-best")
    assert best.is_visible()
    best.locator("summary").click()
    rows = best.locator(".llk-best-row")
    tracked = np.frombuffer(payload["tracked_ids"], "<i4")
    off = np.frombuffer(payload["tracked_offsets"], "<i4")
    ids = tracked[off[p] : off[p + 1]]
    peak = probs[:, p, ids].astype(np.float32).max(0)
    order = sorted(range(len(ids)), key=lambda i: (-peak[i], ids[i]))[:10]
    assert [int(r.get_attribute("data-id")) for r in rows.all()] == [int(ids[i]) for i in order]
    layers = [int(probs[:, p, ids[i]].astype(np.float32).argmax()) for i in order]
    assert rows.locator(".llk-best-layer").all_text_contents() == [f"@{lay}" for lay in layers]
    # Token 8 ("Paris") is likely early at this position only: suggested, and pinned by a click.
    assert 8 in [int(ids[i]) for i in order]
    wp.page.locator(f"{OUT} .llk-best-row[data-id='8']").click()
    assert wp.trait("pins") == [{"ids": [8], "color": "#e6194b"}]


# 4. Python validation (no browser) --------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"kl": np.full((L, P), np.nan, "<f4").tobytes()}, r"kl\[0\]\[0\] is NaN; KL divergences"),
        ({"kl": np.full((L, P), -0.5, "<f4").tobytes()}, r"kl\[0\]\[0\] is -0\.5"),
        ({"kl": bytes(8)}, r"kl has 8 bytes, expected 120"),
        (
            {"target_logprobs": np.full((2, L, P), 0.5, "<f4").tobytes()},
            r"target_logprobs\[0\]\[0\]\[0\] is 0\.5",
        ),
        (
            {"target_ranks": np.zeros((2, L, P), "<i4").tobytes()},
            r"target_ranks\[0\]\[0\]\[0\] is 0; ranks",
        ),
        ({"target_ranks": None}, r"target_ranks is missing"),
        ({"targets": None}, r"target_logprobs is given without targets"),
        (
            {"targets": [{"name": "a", "ids": [1]}, {"name": "a", "ids": [2]}]},
            r"targets\[1\]\['name'\] 'a' is also",
        ),
        (
            {"targets": [{"name": "", "ids": [1]}, {"name": "b", "ids": [2]}]},
            r"targets\[0\]\['name'\] is empty",
        ),
        (
            {"targets": [{"name": "a", "ids": []}, {"name": "b", "ids": [2]}]},
            r"targets\[0\]\['ids'\] is empty",
        ),
        (
            {"targets": [{"name": "a", "ids": [-1]}, {"name": "b", "ids": [2]}]},
            r"targets\[0\]\['ids'\]\[0\] is -1",
        ),
        (
            {"targets": [{"name": "a\udc80", "ids": [1]}, {"name": "b", "ids": [2]}]},
            "lone surrogate",
        ),
        ({"targets": [{"name": "a", "ids": [1]}]}, r"target_logprobs has 240 bytes, expected 120"),
        ({"targets": "Paris"}, r"targets must be a list"),
    ],
)
def test_python_refuses_bad_metrics(change, message):
    payload, _, _ = metrics_payload()
    with pytest.raises(InvalidDataError, match=message):
        validate_payload(payload | change)


def test_python_accepts_infinite_log_probabilities_and_flagged_cells():
    payload, _, ref = metrics_payload()
    logprobs = ref["logprobs"].astype("<f4")
    logprobs[0, 0, 0] = -np.inf
    validate_payload(payload | {"target_logprobs": logprobs.tobytes()})
    status = np.zeros((L, P), np.uint8)
    status[2, 3] = 1
    kl = ref["kl"].astype("<f4")
    kl[2, 3] = np.nan
    logprobs[:, 2, 3] = np.nan
    ranks = ref["ranks"].astype("<i4")
    ranks[:, 2, 3] = 0
    validate_payload(
        payload
        | {
            "cell_status": status.tobytes(),
            "kl": kl.tobytes(),
            "target_logprobs": logprobs.tobytes(),
            "target_ranks": ranks.tobytes(),
        }
    )
