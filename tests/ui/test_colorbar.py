"""The color bar's tick labels (frontend/colorbar.js) stay readable: none overlaps another.

Issue 23 item 20 ("47k10k"): in rank mode over SmolLM2's vocabulary the widget's ticks "47k"
and "10k" sat 1 px apart and read as one; the figure's (figure.py, tests/test_figure.py) sat
on each other on a short bar. The boxes are measured in Chromium, at the harness's normal
width and at a narrow one.
"""

from __future__ import annotations

import itertools

import pytest

from cells import OUT
from fake_lens import payload

pytestmark = pytest.mark.browser


def tick_boxes(wp) -> list[dict]:
    """Each shown tick's text and its box on the page (left, right)."""
    return wp.page.locator(f"{OUT} .llk-cbar-tick").evaluate_all(
        """ts => ts.filter(t => t.getClientRects().length).map(t => {
            const r = t.getBoundingClientRect();
            return { text: t.textContent, value: Number(t.dataset.value), left: r.left,
                     right: r.right };
        })"""
    )


#: Labels closer than this read as one ("47k10k" had 1 px between them): about a space.
MIN_GAP_PX = 4


def assert_apart(boxes: list[dict]) -> None:
    """Ticks left to right, each ending at least MIN_GAP_PX before the next one starts."""
    ordered = sorted(boxes, key=lambda b: b["left"])
    for a, b in itertools.pairwise(ordered):
        gap = b["left"] - a["right"]
        assert gap >= MIN_GAP_PX, f"{a['text']!r} runs into {b['text']!r} ({gap:.1f} px): {boxes}"


@pytest.mark.parametrize("width", [1000, 560])
@pytest.mark.parametrize("max_id", [46_999, 47_122, 12_345, 160_000])
def test_rank_ticks_do_not_overlap(wp, width, max_id):
    data = payload()
    data["vocab"][str(max_id)] = "far"  # the largest id the data names sets the palest rank
    wp.page.set_viewport_size({"width": width, "height": 900})
    wp.mount(data, color_mode="rank", pins=[{"ids": [3], "color": "#e6194b"}])
    boxes = tick_boxes(wp)
    values = [b["value"] for b in boxes]
    # Both ends are kept: the palest rank (the largest) and rank 1.
    assert values[0] == max_id + 1 and values[-1] == 1
    assert len(values) >= 3
    assert_apart(boxes)
