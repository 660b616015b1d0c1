"""Reading grid cells back from the page: their color, their tooltip, the color scale.

Shared by the browser tests of the color modes (test_metrics.py, test_sublayers.py,
test_diff.py), which compute what a cell should show and compare it with what it shows.
"""

from __future__ import annotations

import math
import re
from typing import Any

OUT = "#out1"


def nice_ceil(v: float) -> float:
    """The smallest of 1, 2, 2.5, 5 x 10^n that is >= v (1 for v <= 0), as color.js rounds."""
    if v <= 0:
        return 1.0
    e = math.floor(math.log10(v))
    return next(m * 10.0**e for m in (1, 2, 2.5, 5, 10) if m * 10.0**e >= v * (1 - 1e-9))


def shown_alpha(intensity: float) -> float:
    """color.js: opacity 0.9 x intensity, rounded to 2 decimals."""
    return round(min(1.0, max(0.0, intensity)) * 90) / 100


def rgba(wp: Any, ci: int, p: int) -> tuple[tuple[int, ...], float]:
    """A cell's computed background: (r, g, b) and alpha."""
    bg = wp.cell(ci, p).evaluate("e => getComputedStyle(e).backgroundColor")
    nums = [float(x) for x in re.findall(r"[\d.]+", bg)]
    return tuple(int(x) for x in nums[:3]), (nums[3] if len(nums) == 4 else 1.0)


def tip_rows(wp: Any, ci: int, p: int) -> dict[str, str]:
    """Hover a cell; its tooltip's rows as {label: value}."""
    wp.cell(ci, p).hover()
    tip = wp.page.locator(f"{OUT} .llk-celltip")
    labels = tip.locator(".llk-celltip-label").all_text_contents()
    return dict(zip(labels, tip.locator(".llk-celltip-value").all_text_contents(), strict=True))
