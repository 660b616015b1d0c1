"""Figures of a run whose model output overflowed at one position: KL is drawn undefined.

The last block writes +Inf at one position (a float16 overflow): the model's output row is
invalid there, the earlier rows keep their numbers, and their KL has no reference. A KL
figure hatches those cells and titles them so, instead of drawing them as KL 0.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

import numpy as np
import pytest
from matplotlib.patches import Rectangle

from logitlenskit import LogitLensWidget
from logitlenskit.output.figure import figure_bytes, lens_figure
from overflow import POISONED, overflowed_collection

pytestmark = pytest.mark.slow

PROMPT = "The capital of France is"
SVG = "{http://www.w3.org/2000/svg}"
WHY = "KL undefined: the model's output at this position is not finite"


@pytest.fixture(scope="module")
def broken(smollm2):
    return overflowed_collection(smollm2, PROMPT)


def _hatched(fig) -> set[tuple[int, int]]:
    """(column, position) of the grid's hatched cells."""
    return {
        (int(r.get_x()), int(r.get_y()))
        for r in fig.axes[0].patches
        if isinstance(r, Rectangle) and r.get_hatch()
    }


def test_a_kl_figure_hatches_undefined_kl_and_titles_it(broken):
    w = LogitLensWidget(broken, color_mode="kl")
    n_rows = len(broken["layers"])
    fig = lens_figure(w)
    assert _hatched(fig) == {(ci, POISONED) for ci in range(n_rows - 1)}
    mesh = next(c for c in fig.axes[0].collections if hasattr(c, "get_array"))
    shown = np.ma.getmaskarray(mesh.get_array()).reshape(len(broken["input"]), -1)
    assert shown[POISONED].all(), "undefined, not drawn as a KL of 0"
    titles = {}
    for group in ET.fromstring(figure_bytes(w, "svg")).iter(f"{SVG}g"):
        gid = group.get("id", "")
        if gid.startswith("llk-cell-"):
            layer, p = gid.removeprefix("llk-cell-").split("-")
            titles[int(layer), int(p)] = group.find(f"{SVG}title").text
    assert titles[0, POISONED].endswith(WHY) and WHY not in titles[0, POISONED - 1]
    assert titles[broken["layers"][-1], POISONED] == "no value"
    # The probability modes draw those cells' own numbers: nothing hatched.
    w.color_mode = "top1"
    assert _hatched(lens_figure(w)) == set()
