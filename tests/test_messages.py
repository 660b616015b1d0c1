"""Informational lines reach notebooks on stdout, never on stderr (which Jupyter paints red)."""

from __future__ import annotations

import logging
import queue

import pytest
from jupyter_client.manager import start_new_kernel

from logitlenskit.core import models

pytestmark = pytest.mark.slow


def _run_in_kernel(code: str, timeout: float = 300) -> dict[str, str]:
    """Run ``code`` in a fresh ipykernel; returns what it wrote, by stream name."""
    manager, client = start_new_kernel(kernel_name="python3")
    streams = {"stdout": "", "stderr": ""}
    try:
        msg_id = client.execute(code)
        while True:
            try:
                msg = client.get_iopub_msg(timeout=timeout)
            except queue.Empty:
                raise AssertionError(f"no reply in {timeout} s; so far {streams}") from None
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind == "stream":
                streams[content["name"]] += content["text"]
            elif kind == "error":
                raise AssertionError("\n".join(content["traceback"]))
            elif kind == "status" and content["execution_state"] == "idle":
                return streams
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def test_loading_a_model_in_a_notebook_says_so_on_stdout_only():
    streams = _run_in_kernel("from logitlenskit import load_model\nmodel = load_model()")
    assert "[logitlenskit] loaded SmolLM2-135M-Instruct" in streams["stdout"]
    assert streams["stderr"] == "", streams["stderr"]  # also no "Loading weights" bar


def test_outside_ipython_the_line_goes_to_stderr(capfd):
    models._say("hello from a script")
    out, err = capfd.readouterr()
    assert out == "" and "[logitlenskit] hello from a script" in err


def test_the_lines_can_be_silenced(capfd):
    models.logger.setLevel(logging.WARNING)
    try:
        models._say("not wanted")
    finally:
        models.logger.setLevel(logging.INFO)
    out, err = capfd.readouterr()
    assert "not wanted" not in out + err
