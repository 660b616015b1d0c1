"""scripts/screenshot.py renders the explorer on a real model and saves a sensible PNG."""

from __future__ import annotations

import struct
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from a PNG's header (signature, then the IHDR chunk)."""
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG file"
    assert head[12:16] == b"IHDR", "PNG without an IHDR chunk first"
    return struct.unpack(">II", head[16:24])


def test_screenshot_script_writes_a_png_of_the_explorer(tmp_path):
    out = tmp_path / "shot.png"
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "screenshot.py"), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    width, height = png_size(out)
    # The grid of 30 layer columns, the chart and the legend: wide and some hundreds tall.
    assert 1200 <= width <= 4000 and 400 <= height <= 3000, (width, height)
    assert out.stat().st_size > 20_000  # a blank or failed render compresses to far less


def test_the_committed_screenshot_is_a_png():
    width, height = png_size(ROOT / "docs" / "screenshot.png")
    assert width >= 800 and height >= 300
