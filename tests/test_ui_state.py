"""UIStateTraits: defaults, validation and link_columns (no browser)."""

from __future__ import annotations

import pytest
import traitlets

from logitlenskit.base.ui_state import UIStateTraits


class Holder(UIStateTraits):
    pass


def test_every_ui_trait_is_synced():
    names = Holder().trait_names(sync=True)
    for name in [
        "title",
        "pins",
        "pinned_rows",
        "color_mode",
        "color_token",
        "color_group",
        "color_foil",
        "heat_color",
        "entropy_color",
        "metric_color",
        "negative_color",
        "trajectory_metric",
        "chart_scale",
        "column_width",
        "input_column_width",
        "table_width",
        "chart_height",
        "grid_height",
        "x_zoom",
        "dark_mode",
        "font_size",
        "selected_cell",
    ]:
        assert name in names


def test_pins_are_normalized_and_validated():
    h = Holder()
    h.pins = [{"ids": [5, 5, 7]}, {"ids": [1], "color": "#ABCDEF"}]
    assert h.pins == [{"ids": [5, 7], "color": "#e6194b"}, {"ids": [1], "color": "#abcdef"}]
    for bad in ([{"ids": []}], [{"ids": ["x"]}], [{"ids": [1], "color": "red"}], [{"ids": [-1]}]):
        with pytest.raises(traitlets.TraitError):
            h.pins = bad


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("font_size", 100),
        ("column_width", 2),
        ("chart_height", 10_000),
        ("x_zoom", [5, 2]),
        ("x_zoom", [1]),
        ("color_mode", "rainbow"),
        ("dark_mode", "dim"),
        ("heat_color", "blue"),
        ("pinned_rows", [-1]),
        ("color_token", -3),
        ("table_width", 50),
        ("color_foil", [-1]),
        ("color_foil", "12"),
        ("metric_color", "purple"),
        ("negative_color", "#12345"),
        ("trajectory_metric", "entropy"),
    ],
)
def test_bad_values_are_rejected(name, value):
    with pytest.raises(traitlets.TraitError):
        setattr(Holder(), name, value)


def test_ids_from_numpy_and_torch_are_accepted_and_messages_name_the_trait():
    import numpy as np
    import torch

    h = Holder()
    h.pins = [{"ids": [np.int64(5), torch.tensor(7)]}]
    h.pinned_rows = [np.int32(2)]
    assert h.pins[0]["ids"] == [5, 7] and h.pinned_rows == [2]
    with pytest.raises(
        traitlets.TraitError, match="pinned_rows must hold non-negative input positions"
    ):
        h.pinned_rows = [-1]


def test_table_width_zero_means_follow_the_output():
    h = Holder(table_width=800)
    h.table_width = 0
    assert h.table_width == 0


def test_link_columns_and_unlink():
    a, b = Holder(column_width=70), Holder()
    link = a.link_columns(b)
    assert b.column_width == 70
    b.input_column_width = 150
    assert a.input_column_width == 150
    a.table_width = 900
    assert b.table_width == 900
    a.font_size = 20
    assert b.font_size == 12  # only column sizing is shared
    link.unlink()
    a.column_width = 30
    assert b.column_width == 70
    link.unlink()  # idempotent


def test_selected_cell_is_set_by_the_widget_only():
    h = Holder()
    assert h.selected_cell is None
    with pytest.raises(traitlets.TraitError, match="read-only"):
        h.selected_cell = {"layer": 3, "position": 1}
    h.set_trait("selected_cell", {"layer": 3, "position": 1})  # what a frontend update does
    assert h.selected_cell == {"layer": 3, "position": 1}
    for bad in ({"layer": 3}, {"layer": "3", "position": 1}, {"layer": 3, "position": True}):
        with pytest.raises(traitlets.TraitError, match="selected_cell"):
            h.set_trait("selected_cell", bad)


def test_metric_color_modes_and_chart_metrics_are_accepted():
    h = Holder()
    for mode in ("kl", "rank", "logprob_diff", "delta"):
        h.color_mode = mode
        assert h.color_mode == mode
    for metric in ("probability", "rank", "logprob", "delta", "kl"):
        h.trajectory_metric = metric
        assert h.trajectory_metric == metric
    h.color_foil = [7, 7, 3]
    assert h.color_foil == [7, 3]
    h.negative_color = "#ABCDEF"
    assert h.negative_color == "#abcdef"


def test_pins_may_carry_a_name():
    h = Holder()
    h.pins = [
        {"ids": [5, 6], "name": " Paris"},
        {"ids": [1], "name": None},
        {"ids": [2], "name": ""},
    ]
    assert h.pins == [
        {"ids": [5, 6], "color": "#e6194b", "name": " Paris"},
        {"ids": [1], "color": "#3cb44b"},
        {"ids": [2], "color": "#4363d8"},
    ]
    h.pins = [{"ids": [1], "name": "x" * 80}]
    with pytest.raises(traitlets.TraitError, match=r"pins\[0\]\['name'\] has 81 characters"):
        h.pins = [{"ids": [1], "name": "x" * 81}]
    with pytest.raises(traitlets.TraitError, match=r"pins\[0\]\['name'\] must be a string"):
        h.pins = [{"ids": [1], "name": 5}]
    with pytest.raises(traitlets.TraitError, match="lone surrogate"):
        h.pins = [{"ids": [1], "name": "a\udc80"}]
    with pytest.raises(traitlets.TraitError, match=r"pins\[0\] must be"):
        h.pins = [{"ids": [1], "label": "x"}]
