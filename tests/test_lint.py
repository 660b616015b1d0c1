"""Lint and format: ruff over every Python file of the repository (pyproject.toml) and biome
over the frontend, the JS unit tier and the VS Code host (biome.json). A finding fails the
suite with the tool's own report; most are fixed by
``.venv/bin/ruff check --fix . && .venv/bin/ruff format .`` and ``npx biome check --write``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PATHS = ["src", "tests", "bench", "scripts"]


def _ruff(*args: str) -> subprocess.CompletedProcess[str]:
    # The ruff next to this interpreter (the venv's pinned one), not whatever is on PATH.
    ruff = Path(sys.executable).with_name("ruff")
    if not ruff.exists():
        pytest.fail(f"{ruff} is missing: install the dev extra (./dev.sh setup)")
    return subprocess.run(
        [str(ruff), *args, *PATHS], cwd=ROOT, capture_output=True, text=True, timeout=120
    )


def test_ruff_check_finds_nothing():
    result = _ruff("check", "--no-cache", "--output-format", "concise")
    assert result.returncode == 0, f"ruff check:\n{result.stdout}{result.stderr}"


def test_ruff_format_changes_nothing():
    result = _ruff("format", "--no-cache", "--check", "--diff")
    assert result.returncode == 0, f"ruff format --check:\n{result.stdout}{result.stderr}"


def test_biome_check_finds_nothing():
    # biome's own binary from node_modules (pinned in package.json), not a global one.
    biome = ROOT / "node_modules" / ".bin" / "biome"
    if not biome.exists():
        pytest.fail(f"{biome} is missing: install the frontend packages (./dev.sh setup)")
    result = subprocess.run(
        [str(biome), "check", "--colors=off", "--max-diagnostics=50"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, f"biome check:\n{result.stdout}{result.stderr}"
