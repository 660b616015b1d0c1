"""Figures for papers (figure.py): SVG and PNG of the grid, color bar and chart.

On a real SmolLM2 collection: the files parse, carry the grid's top-1 tokens, follow the
widget's theme, zoom and pins, and hostile token text stays text.
"""

from __future__ import annotations

import io
import struct
import subprocess
import sys
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from matplotlib.image import imread

from logitlenskit.live.widget import LogitLensWidget
from logitlenskit.output.figure import figure_bytes, lens_figure, visible

pytestmark = pytest.mark.slow

PROMPT = "The capital of France is"
EVIL = "--><script>alert(1)</script><!--"
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def lens(smollm2):
    from logitlenskit.analyses.collect import collect_logit_lens

    return collect_logit_lens(PROMPT, smollm2, k=3)


@pytest.fixture
def widget(lens):
    return LogitLensWidget(lens)


def cell_titles(svg: bytes) -> dict[tuple[int, int], str]:
    """(layer, position) → the <title> text of that cell's group."""
    out = {}
    for group in ET.fromstring(svg).iter(f"{SVG}g"):
        gid = group.get("id", "")
        if gid.startswith("llk-cell-"):
            layer, position = gid.removeprefix("llk-cell-").split("-")
            out[int(layer), int(position)] = group.find(f"{SVG}title").text
    return out


def top1(lens, row: int, position: int) -> str:
    return visible(lens["vocab"][int(lens["topk"][row, position, 0])])


def png_size(png: bytes) -> tuple[int, int]:
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and png[12:16] == b"IHDR"
    return struct.unpack(">II", png[16:24])


def test_svg_parses_and_names_every_top1_token(widget, lens):
    svg = figure_bytes(widget, "svg")
    titles = cell_titles(svg)
    layers, n_pos = lens["layers"], len(lens["input"])
    assert set(titles) == {(layer, p) for layer in layers for p in range(n_pos)}
    for row, layer in enumerate(layers):
        for p in range(n_pos):
            assert titles[layer, p] == top1(lens, row, p)
    assert titles[layers[-1], n_pos - 1] == "\u2423Paris"  # whitespace made visible


def test_svg_glyphs_are_outlines_not_fonts(widget):
    root = ET.fromstring(figure_bytes(widget, "svg"))
    assert not list(root.iter(f"{SVG}text")) and not list(root.iter(f"{SVG}font"))
    assert len(list(root.iter(f"{SVG}use"))) > 100  # glyph outlines, placed once per letter


def test_hostile_tokens_cannot_inject_markup(lens):
    data = dict(lens)
    data["vocab"] = {i: EVIL + str(i) for i in lens["vocab"]}
    data["input"] = [EVIL] * len(lens["input"])
    svg = figure_bytes(LogitLensWidget(data, title=EVIL), "svg")
    assert b"<script" not in svg and b"<!--><" not in svg
    root = ET.fromstring(svg)  # still well-formed XML
    for element in root.iter():
        assert not element.tag.lower().endswith(("script", "foreignobject"))
        for name, value in element.attrib.items():
            assert not name.lower().startswith("on"), name
            assert "javascript:" not in value.lower()
    assert all(t.startswith(EVIL) for t in cell_titles(svg).values())  # text, kept exact


@pytest.mark.parametrize("dpi", [300, 72])
def test_png_pixels_are_size_times_dpi(widget, tmp_path, dpi):
    path = widget.save_png(tmp_path / "lens.png", dpi=dpi)
    inches = lens_figure(widget).get_size_inches()
    assert png_size(path.read_bytes()) == tuple(round(x * dpi) for x in inches)


def test_theme_sets_the_background(widget):
    corner = {}
    for theme in ("light", "dark"):
        widget.dark_mode = theme
        corner[theme] = imread(io.BytesIO(figure_bytes(widget, "png", dpi=30)))[1, 1, :3]
    assert corner["light"] == pytest.approx([1, 1, 1], abs=0.01)
    assert corner["dark"] == pytest.approx([30 / 255] * 3, abs=0.01)  # widget.css #1e1e1e
    # The browser resolves "auto" and says which theme it shows.
    dark = imread(io.BytesIO(figure_bytes(widget, "png", dpi=30, theme="light")))[1, 1, :3]
    assert dark == pytest.approx([1, 1, 1], abs=0.01)


def test_zoom_limits_the_layers_drawn(widget, lens):
    full = lens_figure(widget).get_size_inches()[0]
    widget.x_zoom = [3, 7]
    titles = cell_titles(figure_bytes(widget, "svg"))
    assert {layer for layer, _ in titles} == set(lens["layers"][3:8])
    assert lens_figure(widget).get_size_inches()[0] < full


def chart_of(widget):
    fig = lens_figure(widget)
    chart = fig.axes[-1]
    return chart, [t.get_text() for t in chart.get_legend().get_texts()]


def test_chart_shows_pins_at_the_pinned_rows(widget, lens):
    paris = int(lens["topk"][-1, -1, 0])
    n_pos = len(lens["input"])
    widget.pins = [{"ids": [paris]}]
    widget.pinned_rows = [n_pos - 1, 2]
    chart, labels = chart_of(widget)
    assert labels == [f"\u2423Paris @{n_pos - 1}", "\u2423Paris @2"]
    column = list(lens["tracked"][-1]).index(paris)
    expected = np.asarray(lens["probs"][-1])[:, column]
    assert chart.get_lines()[0].get_ydata() == pytest.approx(expected, abs=1e-6)
    assert chart.get_lines()[0].get_linestyle() == "-"  # the first row solid, then dashed
    assert [line.get_linestyle() for line in chart.get_lines()].count("--") == 1


def test_chart_without_pins_shows_the_final_prediction(widget):
    _, labels = chart_of(widget)
    assert labels == [f"\u2423Paris @{len(widget.result['input']) - 1} (prediction)"]


@pytest.mark.parametrize(
    "mode, label", [("top1", "top-1 probability"), ("entropy", "entropy (nats)"), ("none", None)]
)
def test_color_bar_names_its_units(widget, mode, label):
    widget.color_mode = mode
    fig = lens_figure(widget)
    labels = [ax.get_ylabel() for ax in fig.axes[1:-1]]  # between the grid and the chart
    assert labels == ([label] if label else [])


def test_save_and_export_choose_by_extension(widget, tmp_path):
    assert widget.export(tmp_path / "a.svg").read_bytes().startswith(b"<?xml")
    assert png_size(widget.export(tmp_path / "a.PNG", dpi=20).read_bytes())
    assert b"logitlens-state" in widget.export(tmp_path / "a.html").read_bytes()
    with pytest.raises(ValueError, match=r"\.svg, \.png, \.html"):
        widget.export(tmp_path / "a.pdf")
    with pytest.raises(ValueError, match=r"use one of \.svg$"):
        widget.save_svg(tmp_path / "b.png")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        widget.save_svg(tmp_path / "a.svg")
    before = (tmp_path / "a.svg").read_bytes()
    widget.dark_mode = "dark"
    assert widget.save_svg(tmp_path / "a.svg", overwrite=True).read_bytes() != before


def test_figure_command_answers_the_file(widget):
    answer, (data,) = widget.figure({"format": "png", "theme": "dark"}, [])
    assert answer == {"format": "png", "size": len(data)} and data[:4] == b"\x89PNG"
    answer, buffers = widget.figure({"format": "svg"}, [])
    assert buffers[0].startswith(b"<?xml") and b"<svg" in buffers[0]
    answer, buffers = widget.figure({"format": "pdf"}, [])
    assert "svg" in answer["error"] and buffers == []


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "logitlenskit.app.cli", PROMPT, *args],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_cli_writes_svg_and_png(tmp_path):
    svg, png = tmp_path / "lens.svg", tmp_path / "lens.png"
    result = run_cli(
        "--layers",
        "0:30:10,-1",
        "--figure",
        str(svg),
        "--figure",
        str(png),
        "--dpi",
        "50",
        "--theme",
        "dark",
    )
    assert result.returncode == 0, result.stderr
    titles = cell_titles(svg.read_bytes())
    assert {layer for layer, _ in titles} == {0, 10, 20, 29}
    assert titles[29, max(p for _, p in titles)] == "\u2423Paris"
    assert png_size(png.read_bytes())[0] > 100


def test_cli_refuses_before_loading_the_model(tmp_path):
    (tmp_path / "old.svg").write_text("keep me")
    result = run_cli("--figure", str(tmp_path / "old.svg"))
    assert result.returncode == 2 and "add --overwrite" in result.stderr
    assert (tmp_path / "old.svg").read_text() == "keep me"
    result = run_cli("--figure", str(tmp_path / "lens.pdf"))
    assert result.returncode == 2 and "use one of .svg, .png" in result.stderr
    for bad in (result,):
        assert "Traceback" not in bad.stderr and "Loading weights" not in bad.stderr


def test_a_kl_figure_colors_by_kl_and_modes_it_cannot_draw_are_refused(smollm2):
    from logitlenskit import LogitLensWidget
    from logitlenskit.output.figure import lens_figure

    w = LogitLensWidget(model=smollm2, prompt="The capital of France is", targets=["Paris"])
    w.color_mode = "kl"
    fig = lens_figure(w)
    mesh = next(c for c in fig.axes[0].collections if hasattr(c, "get_array"))
    shown = np.ma.filled(mesh.get_array(), np.nan).reshape(5, -1)  # [P, L]
    np.testing.assert_allclose(shown, w.result["kl"].numpy().T, rtol=1e-6)
    assert "KL to final output" in " ".join(
        t.get_text() for ax in fig.axes for t in [*ax.texts, ax.yaxis.label]
    )
    for mode in ("sublayer", "jsd"):
        w.color_mode = mode
        with pytest.raises(ValueError, match="cannot draw color mode"):
            lens_figure(w)
    w.color_mode, w.trajectory_metric = "top1", "kl"
    with pytest.raises(ValueError, match="chart metric 'kl'"):
        lens_figure(w)


def test_a_delta_figure_diverges_on_the_targets_change_from_the_layer_before(smollm2):
    from matplotlib.colors import to_rgb

    from logitlenskit.base.ui_state import CELL_OPACITY

    w = LogitLensWidget(model=smollm2, prompt=PROMPT, targets=["Paris"])
    w.color_mode = "delta"
    fig = lens_figure(w)
    ids = w.pins[0]["ids"]  # the target, pinned under its name
    result = w.result
    want = np.zeros((len(result["layers"]), 5))
    for p in range(5):
        tracked = result["tracked"][p].tolist()
        t = result["probs"][p].numpy()[:, [tracked.index(i) for i in ids]].sum(1)
        want[1:, p] = np.diff(t)
    mesh = next(c for c in fig.axes[0].collections if hasattr(c, "get_array"))
    shown = np.ma.filled(mesh.get_array(), np.nan).reshape(5, -1)  # [P, L]
    np.testing.assert_allclose(shown, want.T, atol=1e-7)
    low, high = mesh.norm.vmin, mesh.norm.vmax
    assert low == -high and np.abs(want).max() <= high <= 1
    # The largest rise is the heat color at its strength, the largest fall the negative one.
    bg = np.array(to_rgb("#ffffff"))
    for value, color in ((high, w.heat_color), (low, w.negative_color)):
        ink = bg * (1 - CELL_OPACITY) + np.array(to_rgb(color)) * CELL_OPACITY
        np.testing.assert_allclose(mesh.cmap(mesh.norm(value))[:3], ink, atol=2 / 255)
    np.testing.assert_allclose(mesh.cmap(mesh.norm(0.0))[:3], bg, atol=2 / 255)
    labels = " ".join(t.get_text() for ax in fig.axes for t in [*ax.texts, ax.yaxis.label])
    assert "ΔP(Paris) from the layer before" in labels  # the pin's name


def _trajectory(result, p: int, ids) -> np.ndarray:
    tracked = result["tracked"][p].tolist()
    return result["probs"][p].numpy()[:, [tracked.index(i) for i in ids]].sum(1)


def test_a_log_ratio_figure_is_exact_for_data_targets_and_tracked_otherwise(smollm2):
    w = LogitLensWidget(model=smollm2, prompt=PROMPT, targets=["Paris", "London"])
    w.color_mode = "logprob_diff"  # target: the first pin (Paris), foil: the next (London)
    lp = w.result["target_logprobs"].numpy()
    want = (lp[0] - lp[1]).T  # [P, L]
    mesh = next(c for c in lens_figure(w).axes[0].collections if hasattr(c, "get_array"))
    bound = mesh.norm.vmax
    assert mesh.norm.vmin == -bound and np.abs(want).max() <= bound
    shown = np.ma.filled(mesh.get_array(), np.nan).reshape(5, -1)
    np.testing.assert_allclose(shown, want, atol=1e-5)
    # A foil that is no data target: both sides from the tracked trajectories.
    paris = w.pins[0]["ids"]
    w.pins = [*w.pins, {"ids": [11], "color": "#3cb44b"}]  # pinned: tracked everywhere
    w.color_foil = [11]
    got = np.ma.filled(
        next(c for c in lens_figure(w).axes[0].collections if hasattr(c, "get_array")).get_array(),
        np.nan,
    ).reshape(5, -1)
    for p in range(5):
        ratio = np.log(_trajectory(w.result, p, paris)) - np.log(_trajectory(w.result, p, [11]))
        np.testing.assert_allclose(got[p], ratio, rtol=1e-4, atol=1e-4)


def test_a_rank_figure_is_pale_in_log_rank_and_labels_its_bar_in_ranks(smollm2):
    w = LogitLensWidget(model=smollm2, prompt=PROMPT, targets=["Paris"])
    w.color_mode = "rank"
    fig = lens_figure(w)
    ranks = w.result["target_ranks"][0].numpy().T.astype(float)  # [P, L], exact
    # The widget's palest rank: the largest of k + 1, the largest id in the data + 1, and
    # the largest exact rank (frontend/lens.js maxRank).
    vocab_ids = [int(i) for i in w.data["vocab"]]
    top = max(2, w.k + 1, max(vocab_ids) + 1, int(ranks.max()))
    mesh = next(c for c in fig.axes[0].collections if hasattr(c, "get_array"))
    shown = np.ma.filled(mesh.get_array(), np.nan).reshape(5, -1)
    np.testing.assert_allclose(shown, 1 - np.log(ranks) / np.log(top), atol=1e-6)
    assert shown[ranks == 1].min() == 1.0, "rank 1 is the full color"
    bar = fig.axes[1]  # grid, color bar, chart
    labels = [t.get_text() for t in bar.get_yticklabels()]
    assert labels[0] == "1" and labels[-1] == f"{top:,}"
    assert bar.yaxis.label.get_text() == "rank of Paris (1 = top)"


def _label_boxes(fig, labels) -> list:
    renderer = fig.canvas.get_renderer()
    return [t.get_window_extent(renderer) for t in labels if t.get_visible() and t.get_text()]


def assert_no_overlap(fig, labels) -> list[str]:
    """The shown tick labels' boxes, none overlapping another; returns their texts."""
    shown = [t for t in labels if t.get_visible() and t.get_text()]
    boxes = _label_boxes(fig, shown)
    for i, a in enumerate(boxes):
        for j in range(i + 1, len(boxes)):
            b = boxes[j]
            apart = a.x1 <= b.x0 or b.x1 <= a.x0 or a.y1 <= b.y0 or b.y1 <= a.y0
            assert apart, f"{shown[i].get_text()!r} overlaps {shown[j].get_text()!r}"
    return [t.get_text() for t in shown]


@pytest.mark.parametrize("prompt", [PROMPT, "Paris"])
def test_rank_color_bar_ticks_do_not_overlap(smollm2, prompt):
    # Issue 23 item 20: with SmolLM2's 49k vocabulary the palest rank's tick sat on 10,000's.
    w = LogitLensWidget(model=smollm2, prompt=prompt, targets=["Paris"])
    w.color_mode = "rank"
    fig = lens_figure(w)
    fig.canvas.draw()
    bar = fig.axes[1]
    texts = assert_no_overlap(fig, bar.get_yticklabels())
    top = max(2, w.k + 1, max(int(i) for i in w.data["vocab"]) + 1)
    assert texts[0] == "1" and texts[-1].replace(",", "").isdigit()
    assert int(texts[-1].replace(",", "")) >= top, "the palest rank keeps its tick"
    assert len(texts) >= (3 if prompt == PROMPT else 2)  # a one-row bar has room for two


def mesh_values(ax) -> np.ndarray:
    mesh = next(c for c in ax.collections if hasattr(c, "get_array"))
    return mesh, np.ma.filled(mesh.get_array(), np.nan)


def test_a_diff_figure_draws_both_sides(smollm2):
    # Issue 23 item 19: a PNG of a diff drew side A only.
    b_prompt = "The capital of Italy is the city of"
    w = LogitLensWidget.compare(
        PROMPT, b_prompt, model=smollm2, labels=["France", "Italy"], targets=["Paris"]
    )
    assert w.wait(120)
    w.pinned_rows = [3]
    a, b = w.result, w.compare_result
    svg = figure_bytes(w, "svg")
    root = ET.fromstring(svg)
    titles = {}
    for group in root.iter(f"{SVG}g"):
        if group.get("id", "").startswith("llk-cell"):
            titles[group.get("id")] = group.find(f"{SVG}title").text
    for side, prefix in ((a, "llk-cell-"), (b, "llk-cellb-")):
        for row, layer in enumerate(side["layers"]):
            for p in range(len(side["input"])):
                assert titles[f"{prefix}{layer}-{p}"] == top1(side, row, p)
    assert len(titles) == 30 * (5 + 8)
    fig = lens_figure(w)
    grid_a, grid_b = fig.axes[0], fig.axes[1]
    texts = " ".join(t.get_text() for t in fig.texts)
    assert "France" in texts and "Italy" in texts, "each grid is headed by its side's name"
    (_, shown_a), (_, shown_b) = mesh_values(grid_a), mesh_values(grid_b)
    np.testing.assert_allclose(shown_a.reshape(5, -1), a["topk_probs"][:, :, 0].numpy().T)
    np.testing.assert_allclose(shown_b.reshape(8, -1), b["topk_probs"][:, :, 0].numpy().T)
    # The chart: the pin at the pinned row on both sides, side B dashed and named.
    chart = fig.axes[-1]
    lines = {line.get_label(): line for line in chart.get_lines() if line.get_label()[0] != "_"}
    (label_a,) = [k for k in lines if k.endswith("(France)")]
    (label_b,) = [k for k in lines if k.endswith("(Italy)")]
    assert lines[label_a].get_linestyle() != lines[label_b].get_linestyle()
    paris = w.pins[0]["ids"]
    np.testing.assert_allclose(lines[label_b].get_ydata(), _trajectory(b, 3, paris), atol=1e-6)
    np.testing.assert_allclose(lines[label_a].get_ydata(), _trajectory(a, 3, paris), atol=1e-6)
    png = figure_bytes(w, "png", dpi=100)
    width, height = png_size(png)
    w_in, h_in = fig.get_size_inches()
    assert (width, height) == (round(w_in * 100), round(h_in * 100))


def test_a_diff_figure_shares_one_color_scale_and_refuses_the_diff_modes(smollm2):
    w = LogitLensWidget.compare(PROMPT, "Paris is the capital of", model=smollm2)
    assert w.wait(120)
    w.color_mode = "entropy"
    fig = lens_figure(w)
    (mesh_a, shown_a), (mesh_b, shown_b) = mesh_values(fig.axes[0]), mesh_values(fig.axes[1])
    assert mesh_a.norm.vmax == mesh_b.norm.vmax == max(np.nanmax(shown_a), np.nanmax(shown_b))
    for mode in ("diff_token", "jsd"):
        w.color_mode = mode
        with pytest.raises(ValueError, match="both sides"):
            lens_figure(w)
