"""Sub-layer rows in the view (docs/views.md, "Inside a layer"; payload ``row_kinds``).

The payload is made here from known distributions of a 4-layer model read twice per layer
(after attention ``a_n``, after the layer ``o_n``): every expected label, color, tooltip value
and chart point is computed from them in float64 by this file, and compared with what the
widget shows.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from cells import OUT, nice_ceil, rgba, shown_alpha, tip_rows
from logitlenskit.base.formats import to_widget_payload
from logitlenskit.base.validate import InvalidDataError, validate_payload

N_LAYERS, P, K, V = 4, 5, 3, 30
L = 2 * N_LAYERS
LAYERS = [n for n in range(N_LAYERS) for _ in (0, 1)]
KINDS = [1, 0] * N_LAYERS
HEAT, NEG = (43, 108, 212), (200, 55, 45)


def distributions(seed: int = 5) -> np.ndarray:
    """[L, P, V] lens distributions in float64, rows a_0, o_0, a_1, o_1, ..."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(L, P, V)) * np.linspace(0.8, 3.0, L)[:, None, None]
    logits[:, -1, 7] += np.linspace(-1.0, 5.0, L)
    probs = np.exp(logits - logits.max(-1, keepdims=True))
    return probs / probs.sum(-1, keepdims=True)


def sublayer_payload(
    probs: np.ndarray | None = None, kinds: list[int] | None = KINDS, layers: list[int] = LAYERS
) -> tuple[dict[str, Any], np.ndarray]:
    probs = distributions() if probs is None else probs
    topk = np.argsort(-probs, axis=-1, kind="stable")[..., :K].astype(np.int32)
    tracked = [np.union1d(np.unique(topk[:, p]), [7]).astype(np.int32) for p in range(P)]
    data = {
        "model": "sublayer-model",
        "input": [" The", " capital", " of", " France", " is"],
        "input_ids": list(range(100, 100 + P)),
        "layers": layers,
        "num_layers": max(layers) + 1,
        "topk": topk,
        "topk_probs": np.take_along_axis(probs, topk, -1).astype(np.float32),
        "tracked": tracked,
        "probs": [probs[:, p, t].astype(np.float32) for p, t in enumerate(tracked)],
        "vocab": {i: f"w{i}" for i in range(V)},
    }
    if kinds is not None:
        data["row_kinds"] = kinds
    payload = to_widget_payload(data)
    validate_payload(payload)
    return payload, probs


def split(probs: np.ndarray, p: int, token: int) -> tuple[np.ndarray, np.ndarray]:
    """Per layer n: the attention's part p(a_n) - p(o_{n-1}) (from 0 at layer 0) and the
    MLP's part p(o_n) - p(a_n) of `token` at position p, in float64.
    """
    t = probs[:, p, token]
    after_attn, after_layer = t[0::2], t[1::2]
    before = np.concatenate([[0.0], after_layer[:-1]])
    return after_attn - before, after_layer - after_attn


def headers(wp) -> list[dict[str, str]]:
    return wp.page.evaluate(
        """() => [...document.querySelectorAll('#out1 .llk-colhead')].map(h => ({
              text: h.textContent, title: h.title, final: h.classList.contains('llk-final')}))"""
    )


def pp(v: float) -> str:
    return f"{'+' if v > 0 else chr(0x2212)}{abs(v) * 100:.1f} pp"


@pytest.mark.browser
def test_columns_label_the_after_attention_rows_and_mark_only_the_final_output(wp):
    payload, _ = sublayer_payload()
    wp.mount(payload)
    heads = headers(wp)
    assert [h["text"] for h in heads] == [
        f"{n}\u00b7a" if kind else str(n) for n, kind in zip(LAYERS, KINDS, strict=True)
    ]
    assert heads[2]["title"] == "layer 1, after attention (before the MLP)"
    assert heads[3]["title"] == "layer 1, after the layer"
    assert [h["final"] for h in heads] == [False] * (L - 1) + [True]
    assert heads[-1]["title"] == "final layer: the model's prediction (after the layer)"
    assert heads[-2]["title"] == f"layer {N_LAYERS - 1}, after attention (before the MLP)"
    hint = wp.page.locator(f"{OUT} .llk-hint").text_content()
    assert f"all {N_LAYERS} layers (2 rows each" in hint
    # The chart's x axis shows both rows of each layer.
    ticks = wp.page.evaluate(
        "() => [...document.querySelectorAll('#out1 .llk-xtick')].map(t => t.firstChild.data)"
    )
    assert ticks == [h["text"] for h in heads]
    # The cell tooltip names the row.
    wp.cell(2, 0).hover()
    head = wp.page.locator(f"{OUT} .llk-celltip-head").text_content()
    assert head.startswith("layer 1 after attention \u00b7 position 0")


@pytest.mark.browser
def test_narrow_columns_keep_each_layers_two_rows_together(wp):
    layers = [n for n in range(12) for _ in (0, 1)]
    rng = np.random.default_rng(1)
    probs = rng.dirichlet(np.ones(V), size=(len(layers), P))
    payload, _ = sublayer_payload(probs, [1, 0] * 12, layers)
    wp.mount(payload)
    for width in (420, 560, 700):
        wp.set_trait("table_width", width)
        heads = [h["text"] for h in headers(wp)]
        assert len(heads) == len(layers), width  # every layer: the grid scrolls sideways
        assert heads[0] == "0\u00b7a" and heads[-1] == "11"
        for i, text in enumerate(heads):
            if text.endswith("\u00b7a"):
                assert heads[i + 1] == text[:-2], (width, heads)
            else:
                assert heads[i - 1] == f"{text}\u00b7a", (width, heads)
        hint = wp.page.locator(f"{OUT} .llk-hint").text_content()
        assert "2 rows each" in hint
    # The layers text and zoom still work: a zoom that cuts a pair takes in its other half.
    wp.set_trait("table_width", 0)
    wp.set_trait("x_zoom", [5, 8])
    assert [h["text"] for h in headers(wp)] == ["2\u00b7a", "2", "3\u00b7a", "3", "4\u00b7a", "4"]


@pytest.mark.browser
def test_sublayer_mode_colors_each_output_cell_by_the_part_that_moved_its_top_1_more(wp):
    payload, probs = sublayer_payload()
    wp.mount(payload, color_mode="sublayer")
    values = np.zeros((N_LAYERS, P))
    parts = {}
    for n in range(N_LAYERS):
        for p in range(P):
            top = int(np.argmax(probs[2 * n + 1, p]))
            attn, mlp = split(probs, p, top)
            parts[n, p] = (top, attn[n], mlp[n])
            values[n, p] = abs(attn[n]) if abs(attn[n]) >= abs(mlp[n]) else -abs(mlp[n])
    assert (values > 0).any() and (values < 0).any(), "both parts win somewhere"
    scale = min(1.0, nice_ceil(np.abs(values).max()))
    for n in range(N_LAYERS):
        for p in range(P):
            color, alpha = rgba(wp, 2 * n + 1, p)
            assert alpha == pytest.approx(shown_alpha(abs(values[n, p]) / scale), abs=0.011)
            if alpha:
                assert color == (HEAT if values[n, p] > 0 else NEG), (n, p)
            assert rgba(wp, 2 * n, p)[1] == 0, "after-attention cells are not colored"
    bar = wp.page.locator(f"{OUT} .llk-colorbar")
    assert (
        "which sub-layer moved the top-1 token more"
        in bar.locator(".llk-cbar-title").text_content()
    )
    assert bar.locator(".llk-cbar-end").all_text_contents() == [
        "MLP moved it more",
        "attention moved it more",
    ]
    ticks = bar.locator(".llk-cbar-tick").all_text_contents()
    assert float(ticks[0]) == float(ticks[-1]) == pytest.approx(scale * 100)
    assert ticks[2] == "0"
    # The tooltip states both parts.
    n, p = 2, 3
    top, attn, mlp = parts[n, p]
    rows = tip_rows(wp, 2 * n + 1, p)
    assert rows[f"attention's part for w{top}"] == f"{pp(attn)} (from layer {n - 1}'s output)"
    larger = "attention" if abs(attn) >= abs(mlp) else "MLP"
    assert rows[f"MLP's part for w{top}"] == f"{pp(mlp)} (larger: {larger})"
    top0, attn0, _ = parts[0, 1]
    assert tip_rows(wp, 1, 1)[f"attention's part for w{top0}"] == f"{pp(attn0)} (from 0)"
    assert "sub-layers" in tip_rows(wp, 0, 1)


@pytest.mark.browser
def test_sublayer_mode_is_disabled_without_row_kinds_which_show_as_before(wp):
    payload, _ = sublayer_payload(kinds=None, layers=list(range(L)))
    wp.mount(payload)
    option = wp.page.locator(f"{OUT} .llk-mode option[value='sublayer']")
    assert option.is_disabled()
    heads = headers(wp)
    assert [h["text"] for h in heads] == [str(n) for n in range(L)]
    assert heads[3]["title"] == "layer 3"
    assert heads[-1]["title"] == "final layer: the model's prediction"
    wp.set_trait("color_mode", "sublayer")
    assert wp.page.locator(f"{OUT} .llk-colorbar").is_hidden()
    assert rgba(wp, 3, 2)[1] == 0
    wp.set_trait("pins", [{"ids": [7], "color": "#e6194b"}])
    assert wp.page.locator(f"{OUT} .llk-markers > *").count() == 0
    payload, _ = sublayer_payload()
    wp.set_data(payload)
    assert not wp.page.locator(f"{OUT} .llk-mode option[value='sublayer']").is_disabled()


def markers(wp) -> dict[int, tuple[str, float]]:
    return {
        int(m["l"]): (m["kind"], float(m["v"]))
        for m in wp.page.evaluate(
            """() => [...document.querySelectorAll('#out1 .llk-markers > *')].map(m => ({
                  l: m.dataset.l, v: m.dataset.v,
                  kind: m.classList.contains('llk-mark-attn') ? 'attn' : 'out'}))"""
        )
    }


@pytest.mark.browser
def test_chart_shows_both_rows_and_splits_each_layers_change(wp):
    payload, probs = sublayer_payload()
    last = P - 1
    wp.mount(payload, pins=[{"ids": [7], "color": "#e6194b"}])
    shown = markers(wp)
    assert sorted(shown) == list(range(L)), "a point at both rows of every layer"
    for row, (kind, v) in shown.items():
        assert kind == ("attn" if KINDS[row] else "out")
        assert v == pytest.approx(probs[row, last, 7], abs=1e-6)
    wp.set_trait("trajectory_metric", "delta")
    attn, mlp = split(probs, last, 7)
    shown = markers(wp)
    for n in range(N_LAYERS):
        assert shown[2 * n] == ("attn", pytest.approx(attn[n], abs=1e-6))
        assert shown[2 * n + 1] == ("out", pytest.approx(mlp[n], abs=1e-6))
    note = wp.page.locator(f"{OUT} .llk-chart-note").text_content()
    assert "attention's part" in note and "MLP's part" in note
    # The point tooltip names the part.
    tick = wp.page.locator(f"{OUT} .llk-xtick").nth(5)
    box = tick.bounding_box()
    wp.page.mouse.move(box["x"] + box["width"] / 2, box["y"] - 30)
    head = wp.page.locator(f"{OUT} .llk-tooltip .llk-tip-head").text_content()
    assert head == "layer 2: the MLP's part"


@pytest.mark.browser
def test_a_gap_in_the_layers_leaves_the_attention_part_unknown(wp):
    layers = [0, 0, 2, 2, 3, 3, 4, 4]
    payload, probs = sublayer_payload(layers=layers)
    wp.mount(payload, pins=[{"ids": [7], "color": "#e6194b"}], trajectory_metric="delta")
    shown = markers(wp)
    assert 2 not in shown, "layer 2's attention part is not known (layer 1 missing)"
    t = probs[:, P - 1, 7]
    assert shown[3][1] == pytest.approx(t[3] - t[2], abs=1e-6)
    assert shown[4][1] == pytest.approx(t[4] - t[3], abs=1e-6)
    wp.set_trait("color_mode", "sublayer")
    assert rgba(wp, 3, 1)[1] == 0, "no color without the attention part"
    top = int(np.argmax(probs[3, 1]))
    assert tip_rows(wp, 3, 1)[f"attention's part for w{top}"].startswith("not known")


BAD_KINDS = [
    ("abc", "row_kinds must be a list of integers"),
    ([1, 0, 1], "row_kinds has 3 values for 8 lens rows"),
    ([1, 0, 2, 0, 1, 0, 1, 0], "row_kinds[2] is 2; a lens row's kind is 0"),
    ([1, 0, 0, 1, 1, 0, 1, 0], "row_kinds[3] is 1 (layer 1 after attention), but the next"),
    ([1, 1, 0, 0, 1, 0, 1, 0], "row_kinds[0] is 1 (layer 0 after attention), but the next"),
    ([1, 0, 1, 0, 1, 0, 0, 1], "row_kinds[7] is 1 (layer 3 after attention), but the next"),
]


@pytest.mark.browser
def test_python_and_the_browser_refuse_bad_row_kinds_alike(wp):
    payload, _ = sublayer_payload()
    wp.mount(payload)
    for kinds, message in BAD_KINDS:
        bad = dict(payload, row_kinds=kinds)
        with pytest.raises(InvalidDataError) as err:
            validate_payload(bad)
        assert str(err.value).startswith(message)
        wp.set_data(bad)
        shown = wp.page.locator(f"{OUT} .llk-message").text_content()
        assert shown.startswith("Cannot show this data: ")
        text = shown.removeprefix("Cannot show this data: ").replace('"row_kinds"', "row_kinds")
        # The same message; a value of the wrong type is described in each language's words.
        assert text.startswith(message)
        if isinstance(kinds, list):
            assert text == str(err.value), kinds
    assert validate_payload(dict(payload, row_kinds=tuple(np.array(KINDS))))["row_kinds"] == KINDS
    with pytest.raises(InvalidDataError, match=r"row_kinds\[1\] is True"):
        validate_payload(dict(payload, row_kinds=[1, True, 1, 0, 1, 0, 1, 0]))
