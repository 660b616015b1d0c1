"""The frontend's JSDoc types hold: TypeScript checks every module in strict mode."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_frontend_type_checks_clean():
    tsc = ROOT / "node_modules" / ".bin" / "tsc"
    assert tsc.exists(), "TypeScript is missing: run `npm ci` (./dev.sh test does)"
    result = subprocess.run(
        [str(tsc), "-p", "jsconfig.json"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, (
        f"tsc -p jsconfig.json found type errors:\n{result.stdout}{result.stderr}"
    )
