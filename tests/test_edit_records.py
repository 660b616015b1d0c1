"""An edited run says so everywhere its data goes: payload, V2 JSON, figures, the command line.

Edit records are data from outside too (saved files, a browser), so each malformed one is
refused with its index and field named.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from logitlenskit import InvalidDataError, to_js_format, to_widget_payload
from logitlenskit.app.cli_edits import parse_edit
from logitlenskit.base.edit_records import check_edit_records, edits_caption
from logitlenskit.base.v2_checks import validate_v2
from logitlenskit.output.figure_data import _from_collection
from logitlenskit.output.figure_text import _title

STEER = {
    "kind": "steer",
    "label": "steer L2 ×4",
    "layer": 2,
    "row_kind": 0,
    "from_position": 0,
    "alpha": 4.0,
}


def _edited(make_collection, records):
    data = make_collection()
    data["edits"] = records
    return data


def test_records_travel_into_the_payload_and_the_v2_json(make_collection):
    data = _edited(make_collection, [STEER])
    assert to_widget_payload(data)["edits"] == [STEER]
    assert to_js_format(data)["meta"]["edits"] == [STEER]
    assert "edits" not in to_js_format(make_collection())["meta"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"kind": "nudge"}, r"edits\[0\]\['kind'\] is 'nudge'"),
        ({"label": ""}, r"edits\[0\]\['label'\] must be 1\.\.200 characters"),
        ({"label": "x" * 201}, r"must be 1\.\.200 characters, got 201"),
        ({"label": 7}, r"edits\[0\]\['label'\] must be a string"),
        ({"layer": -1}, r"edits\[0\]\['layer'\] is -1"),
        ({"layer": 2.5}, r"edits\[0\]\['layer'\] must be an integer"),
        ({"row_kind": 2}, r"edits\[0\]\['row_kind'\] is 2"),
        ({"alpha": float("nan")}, r"edits\[0\]\['alpha'\] is NaN"),
        ({"alpha": True}, r"edits\[0\]\['alpha'\] must be a number"),
        ({"part": "neurons"}, r"edits\[0\]\['part'\] is 'neurons'"),
        ({"heads": []}, r"edits\[0\]\['heads'\] must be a non-empty list"),
    ],
)
def test_a_malformed_record_is_refused_naming_its_field(make_collection, change, message):
    with pytest.raises(InvalidDataError, match=message):
        to_widget_payload(_edited(make_collection, [{**STEER, **change}]))


def test_records_past_the_run_are_refused():
    with pytest.raises(InvalidDataError, match=r"from_position'\] is 9, past the run's 4"):
        check_edit_records([{**STEER, "from_position": 9}], n_layers=30, n_positions=4)
    with pytest.raises(InvalidDataError, match=r"layer'\] is 40, past the model's 30 layers"):
        check_edit_records([{**STEER, "layer": 40}], n_layers=30, n_positions=4)
    with pytest.raises(InvalidDataError, match="edits must be a list"):
        check_edit_records({"kind": "steer"})


def test_a_v2_file_with_a_bad_record_is_refused(make_collection):
    doc = to_js_format(_edited(make_collection, [STEER]))
    doc["meta"]["edits"][0]["kind"] = "nudge"
    with pytest.raises(InvalidDataError, match="kind"):
        validate_v2(doc)


def test_a_figure_title_names_the_edits(make_collection):
    lens = _from_collection(_edited(make_collection, [STEER]))

    class State:
        title = "Paris"

    assert _title(State(), lens) == "Paris — edited: steer L2 ×4"
    assert _title(State(), _from_collection(make_collection())) == "Paris"
    assert edits_caption([]) == ""


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("nudge:1:2", "the kind must be steer, ablate or patch"),
        ("steer:1:abc: Paris", "ALPHA must be a number, got 'abc'"),
        ("steer:1:2", "write steer:LAYER:ALPHA:TOKEN"),
        ("ablate:1:neurons", "write ablate:LAYER:attention"),
        ("ablate:1:heads", "write ablate:LAYER:attention"),
        ("patch:1:x:some prompt", "POSITION must be a number"),
        ("patch:1:2:", "write patch:LAYER:POSITION:SOURCE PROMPT"),
    ],
)
def test_edit_specs_are_parsed_before_the_model_loads(spec, message):
    with pytest.raises(ValueError, match=message):
        parse_edit(spec)


def test_free_text_keeps_its_colons():
    assert parse_edit("patch:3:1:a: b").fields == (1, "a: b")
    assert parse_edit("steer:3:-2.5:#99").fields == (-2.5, 99)
    assert parse_edit("ablate:3:heads:0,4").fields == ("heads", (0, 4))


def test_the_command_line_runs_an_edit_and_its_json_says_so(tmp_path):
    out = tmp_path / "lens.json"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "logitlenskit.app.cli",
            "The Colosseum is in the city of",
            "--layers",
            "20,-1",
            "--edit",
            "steer:12:60: Paris",
            "--json",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    meta = json.loads(out.read_text())["meta"]
    assert meta["edits"][0]["label"] == "steer L12 toward ' Paris' ×60"
    bad = subprocess.run(
        [sys.executable, "-m", "logitlenskit.app.cli", "Hi", "--edit", "steer:99:1: Paris"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert bad.returncode == 2 and "layer 99 is out of range" in bad.stderr
    assert "Traceback" not in bad.stderr
