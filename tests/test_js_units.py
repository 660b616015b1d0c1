"""The frontend's pure modules hold: the `node --test` unit tier in tests/js/ passes."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_js_unit_tier_passes():
    node = shutil.which("node")
    assert node, "Node.js is missing: the JS unit tier (tests/js/) needs `node` on PATH"
    result = subprocess.run(
        [node, "--test", "tests/js/"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, f"node --test tests/js/ failed:\n{result.stdout}{result.stderr}"
