"""The README's first command, `./dev.sh demo`, run as the README says: it opens JupyterLab on
notebooks/demo.ipynb, for root as for anyone else, with nothing on stderr but JupyterLab's own
log and dev.sh's "[dev]" lines, and (with no terminal) without launching a browser.

Set-up steps are stamped, so on a set-up checkout this starts no install: it rebuilds the
bundle (under a second) and starts the server.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from local_jupyter import ROOT, free_port, stop_process_group

pytestmark = [pytest.mark.jupyter]

START_TIMEOUT_S = 120  # the bundle build, then JupyterLab's start on two busy cores
# A record of JupyterLab's log starts "[I 2026-12-06 12:54:31.910 ServerApp] ..." (info,
# warning, critical); its multi-line records (the URLs to open) go on with indented lines.
LOG_RECORD = re.compile(r"^\[[IWC] \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+ \w+\]")
DEV_LINE = re.compile(r"^(\x1b\[1m)?\[dev\] ")


@dataclass
class Demo:
    """A running `./dev.sh demo`: its address, token and captured stderr."""

    url: str
    token: str
    process: subprocess.Popen
    stderr: Path

    def get(self, path: str) -> tuple[int, str, bytes]:
        """GET a path of the server with the token: (status, content type, body)."""
        request = urllib.request.Request(
            f"{self.url}/{path}", headers={"Authorization": f"token {self.token}"}
        )
        with urllib.request.urlopen(request, timeout=30) as reply:
            return reply.status, reply.headers.get("Content-Type", ""), reply.read()


def _wait_until_serving(demo: Demo) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if demo.process.poll() is not None:
            pytest.fail(
                f"./dev.sh demo exited with {demo.process.returncode} before serving:\n"
                + demo.stderr.read_text()[-4000:]
            )
        try:
            demo.get("api/status")
            return
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"./dev.sh demo not serving after {START_TIMEOUT_S} s:\n{demo.stderr.read_text()}")


def _require_fresh_setup() -> None:
    """Fail fast, rather than let dev.sh reinstall (minutes) inside a bounded test.

    dev.sh stamps each set-up step with the sha256 of its input (``cat FILE | sha256sum``).
    """
    for step, source in {"python": "pyproject.toml", "node": "package-lock.json"}.items():
        stamp = ROOT / ".venv" / ".stamps" / step
        digest = hashlib.sha256((ROOT / source).read_bytes()).hexdigest()
        if not stamp.exists() or stamp.read_text().split()[0] != digest:
            pytest.fail(f"{source} changed since the last set-up: run `./dev.sh setup` first")


@contextmanager
def running_demo(tmp: Path, env: dict[str, str]) -> Iterator[Demo]:
    """Run `./dev.sh demo` on a free port with a known token until the block ends."""
    _require_fresh_setup()
    port, token = free_port(), secrets.token_hex(16)
    stderr = tmp / "demo-stderr.log"
    with open(stderr, "w") as err, open(tmp / "demo-stdout.log", "w") as out:
        process = subprocess.Popen(
            [str(ROOT / "dev.sh"), "demo", f"--port={port}", f"--IdentityProvider.token={token}"],
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            env=env,
            start_new_session=True,
        )
    demo = Demo(url=f"http://127.0.0.1:{port}", token=token, process=process, stderr=stderr)
    try:
        _wait_until_serving(demo)
        yield demo
    finally:
        stop_process_group(process)


def _foreign_lines(stderr: str) -> list[str]:
    """Lines of stderr that are neither JupyterLab's log records nor dev.sh's own."""
    foreign, in_record = [], False
    for line in stderr.splitlines():
        if LOG_RECORD.match(line) or DEV_LINE.match(line):
            in_record = True
        elif in_record and (not line.strip() or line[0].isspace()):
            continue  # the rest of a multi-line log record
        else:
            in_record = False
            foreign.append(line)
    return foreign


def test_dev_sh_demo_serves_the_demo_notebook_with_a_clean_log(tmp_path: Path):
    # A browser launcher that only leaves a mark: with no terminal, none may be launched.
    marker = tmp_path / "browser-opened"
    browser = tmp_path / "browser.sh"
    browser.write_text(f'#!/bin/sh\necho "$@" > {marker}\n')
    browser.chmod(0o755)
    env = {**os.environ, "BROWSER": str(browser)}

    with running_demo(tmp_path, env) as demo:
        # JupyterLab serves the folder of the file it was given: notebooks/.
        status, kind, body = demo.get("api/contents/demo.ipynb")
        assert status == 200 and kind.startswith("application/json")
        notebook = json.loads(body)
        assert notebook["type"] == "notebook" and notebook["path"] == "demo.ipynb"
        sources = "".join("".join(c["source"]) for c in notebook["content"]["cells"])
        assert "LogitLensWidget" in sources

        status, kind, body = demo.get("lab/tree/demo.ipynb")
        assert status == 200 and kind.startswith("text/html")
        assert b"JupyterLab" in body

        time.sleep(2)  # JupyterLab launches its browser from a thread right after starting
        assert not marker.exists(), f"./dev.sh demo opened a browser: {marker.read_text()}"

    log = demo.stderr.read_text()
    assert any(LOG_RECORD.match(line) for line in log.splitlines()), log
    assert _foreign_lines(log) == [], "stderr holds more than JupyterLab's log:\n" + log[-6000:]
