"""The package's shape, checked: its layers, the one module that opens traces, small files.

These are the rules of docs/extending.md's "Where code goes"; each test names the rule it
guards and the file to read when it fails.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "logitlenskit"
MAX_LINES = 500
#: The only module allowed to open an nnsight trace (or scan, or session).
CAPTURE = PACKAGE / "core" / "capture.py"


def _layers() -> list[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = config["tool"]["importlinter"]["contracts"]
    return next(c["layers"] for c in contracts if c["type"] == "layers")


def test_import_contracts_hold():
    """No module imports a layer above its own (pyproject.toml, [tool.importlinter])."""
    lint = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run(
        [str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "broken" in done.stdout and " 0 broken" in done.stdout


def test_every_subpackage_is_a_layer():
    """A new subpackage must be placed in the layers contract, or nothing checks it."""
    subpackages = {f"logitlenskit.{p.parent.name}" for p in PACKAGE.glob("*/__init__.py")}
    assert subpackages == set(_layers()), (
        "add the new subpackage to [tool.importlinter] layers in pyproject.toml: "
        f"{sorted(subpackages ^ set(_layers()))}"
    )


def test_no_module_outside_a_layer():
    """Only the package's __init__ sits at the top; every module belongs to a layer."""
    loose = sorted(p.name for p in PACKAGE.glob("*.py") if p.name != "__init__.py")
    assert not loose, f"move these modules into a layer subpackage: {loose}"


def _trace_calls(path: Path) -> list[int]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in {"trace", "scan", "session"}
    ]


def test_one_module_opens_traces():
    """Every trace goes through core/capture.py, so a readout or an edit is added once."""
    found = {
        str(p.relative_to(ROOT)): lines
        for p in PACKAGE.rglob("*.py")
        if p != CAPTURE and (lines := _trace_calls(p))
    }
    assert not found, f"open traces through logitlenskit.core.capture instead: {found}"
    assert len(_trace_calls(CAPTURE)) == 1, "capture.py opens its trace in one place (_trace)"


def _sources() -> list[Path]:
    frontend = ROOT / "frontend"
    return sorted(
        [
            *PACKAGE.rglob("*.py"),
            *frontend.rglob("*.js"),
            *frontend.rglob("*.css"),
        ]
    )


@pytest.mark.parametrize("path", _sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_file_over_500_lines(path: Path):
    """Small rooms: split a file by responsibility before it passes 500 lines."""
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{path.relative_to(ROOT)} has {lines} lines (at most {MAX_LINES})"
