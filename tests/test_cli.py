"""The logitlens command: layer specs, the terminal table, and saving HTML / JSON."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

import pytest

from logitlenskit.app.cli import parse_layers, render_table


@pytest.mark.parametrize(
    "spec, layers",
    [("0,5,-1", [0, 5, -1]), ("0:6:2,-1", [0, 2, 4, -1]), ("3:5", [3, 4]), (":3", [0, 1, 2])],
)
def test_layer_specs(spec, layers):
    assert parse_layers(spec) == layers


@pytest.mark.parametrize("spec", ["a", "1:2:0", "1:", "1:2:3:4"])
def test_bad_layer_specs_say_what_is_accepted(spec):
    with pytest.raises(argparse.ArgumentTypeError, match="start:stop"):
        parse_layers(spec)


@pytest.mark.parametrize("width", [40, 60, 200])
def test_table_fits_the_width_and_keeps_first_and_last_layer(make_collection, width):
    data = make_collection(n_layers=30, n_pos=3)
    table = render_table(data, width)
    header, *rows = table.splitlines()
    assert len(rows) == 3
    assert all(len(row) <= width for row in rows)
    shown = [int(label[1:]) for label in header.split() if label.startswith("L")]
    assert shown[0] == 0 and shown[-1] == 29
    stride_note = "all layers" if len(shown) == 30 else "every"
    assert stride_note in header


def test_command_saves_html_and_v2_json(tmp_path):
    html, js = tmp_path / "lens.html", tmp_path / "lens.json"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "logitlenskit.app.cli",
            "The capital of France is",
            "-k",
            "3",
            "--layers",
            "0:30:10,-1",
            "--html",
            str(html),
            "--json",
            str(js),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(js.read_text())
    assert data["layers"] == [0, 10, 20, 29]
    assert data["topk"][-1][-1][0] == " Paris"
    assert "logitlens-state" in html.read_text()


def test_command_reports_bad_input_without_traceback():
    result = subprocess.run(
        [sys.executable, "-m", "logitlenskit.app.cli", "   "],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 2
    assert "error: the prompt is empty" in result.stderr and "Traceback" not in result.stderr
    assert "Loading weights" not in result.stderr  # refused before loading the model


def test_the_table_shows_control_characters_as_visible_escapes(make_collection):
    vocab = {i: f"tok{i}" for i in range(30)}
    vocab.update({i: "\x1b[2J\x07" for i in range(30) if i % 2})  # clear screen, then bell
    vocab.update({i: "a\u202eb" for i in range(30) if i % 4 == 2})  # right-to-left override
    data = make_collection(
        n_layers=4, n_pos=3, vocab=vocab, input_tokens=["\x1b]0;x\x07", "b", "c"]
    )
    table = render_table(data, 200)
    assert not [ch for ch in table if (ord(ch) < 32 and ch != "\n") or 0x7F <= ord(ch) < 0xA0]
    assert "\u202e" not in table
    assert "\\x1b" in table  # the input token, shown as the widget shows it
    shown = {vocab[int(data["topk"][i, p, 0])] for i in range(4) for p in range(3)}
    if "\x1b[2J\x07" in shown:
        assert "\\x1b[2J\\x07"[:7] in table
    if "a\u202eb" in shown:
        assert "a\\u202eb" in table


def test_no_output_is_left_behind_when_a_later_one_fails(tmp_path):
    ok = tmp_path / "ok.json"
    result = subprocess.run(
        [sys.executable, "-m", "logitlenskit.app.cli", "The capital of France is", "-k", "1",
         "--layers", "0,-1", "--json", str(ok), "--html", "/proc/version", "--overwrite"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert "--html" in result.stderr and "Traceback" not in result.stderr
    assert not ok.exists()
    assert list(tmp_path.iterdir()) == []  # no temporary either


@pytest.mark.parametrize("flag", ["--json", "--html", "--figure"])
def test_a_device_or_fifo_output_is_refused_before_the_model_loads(tmp_path, capsys, flag):
    import os

    from logitlenskit.app import cli

    fifo = tmp_path / "pipe.svg"
    os.mkfifo(fifo)
    cases = [("/dev/null", "a character device"), (str(fifo), "a FIFO")]
    for path, kind in cases[flag == "--figure" :]:  # a figure's path needs .svg or .png first
        with pytest.raises(SystemExit) as exit_info:
            cli.main(["The capital of France is", flag, path, "--overwrite"])
        assert exit_info.value.code == 2
        err = capsys.readouterr().err
        assert f"argument {flag}: {path} is {kind}" in err and "not a regular file" in err, err
        assert "Loading" not in err and "first use" not in err
    assert os.path.exists("/dev/null") and not os.path.isfile("/dev/null")
