"""What logitlenskit promises about what goes in and what comes out (issue 9, "Trust").

Read top to bottom, this module is the list of promises; each test is one of them, stated in
its name and docstring. Sections:

* Data from outside is checked before it is shown (seed V2 JSON and version-3 payloads).
* Files are never lost (``save_html`` and the ``logitlens`` command).
* Inputs are checked up front, with one message naming the argument and the fix.
"""

from __future__ import annotations

import json
import os
import re

import numpy as np
import pytest
import torch
import traitlets

from fake_lens import collection
from logitlenskit.app import cli
from logitlenskit.app.export import save_html, to_html
from logitlenskit.base.formats import to_js_format, to_widget_payload
from logitlenskit.base.ui_state import UIStateTraits
from logitlenskit.base.validate import MAX_K, MAX_PAYLOAD_BYTES
from logitlenskit.live.widget import LogitLensWidget

PROBS_RULE = r"probabilities must be finite numbers in \[0, 1\]"


def v2_doc(**kwargs) -> dict:
    """A valid seed V2 document (6 layers, 4 positions, k = 3 unless told otherwise)."""
    return to_js_format(collection(**kwargs))


def payload(**kwargs) -> dict:
    """A valid version-3 payload, as to_widget_payload builds it."""
    return to_widget_payload(collection(**kwargs))


def with_array(data: dict, key: str, dtype: str, change) -> dict:
    """``data`` with its bytes field ``key`` decoded, changed in place by ``change``, re-encoded."""
    array = np.frombuffer(data[key], dtype).copy()
    change(array)
    return dict(data, **{key: array.tobytes()})


def first_key(doc: dict, pos: int) -> str:
    return next(iter(doc["tracked"][pos]))


# ------------------------------------------------ data from outside is checked before it is shown


@pytest.mark.parametrize(
    "bad, shown",
    [
        (float("nan"), "NaN"),
        (float("inf"), "Infinity"),
        (-0.25, "-0.25"),
        (7.0, "7.0"),
        ("0.5", "'0.5'"),
        (True, "True"),
        (None, "None"),
    ],
)
def test_v2_probability_that_is_not_a_number_in_0_1_is_refused_naming_field_and_index(bad, shown):
    """A V2 trajectory value must be a finite number in [0, 1]; the message says where."""
    doc = v2_doc()
    key = first_key(doc, 2)
    doc["tracked"][2][key][4] = bad
    message = rf"tracked\[2\]\['{key}'\]\[4\] is {shown}; {PROBS_RULE}"
    with pytest.raises(ValueError, match=message):
        LogitLensWidget(doc)


@pytest.mark.parametrize(
    "break_it, message",
    [
        (lambda d: d["tracked"][1][first_key(d, 1)].pop(), r"tracked\[1\]\[.*\] must list 6"),
        (lambda d: d["topk"][2].pop(), r"topk\[2\] must list 4 positions"),
        (lambda d: d["topk"][0][3].pop(), r"topk\[0\]\[3\] has 2 tokens but topk\[0\]\[0\] has 3"),
        (lambda d: d["tracked"].pop(), "one entry per position"),
        (lambda d: d.update(layers=[0, 1, 2, 3, 4, -5]), r"layers\[5\] is -5"),
    ],
)
def test_ragged_v2_document_is_refused(break_it, message):
    """Every V2 list has the length the document's layers and input tokens imply."""
    doc = v2_doc()
    break_it(doc)
    with pytest.raises(ValueError, match=message):
        LogitLensWidget(doc)


def test_v2_top_k_token_without_a_trajectory_is_refused():
    """Each top-k token of a position has a trajectory in that position's tracked object."""
    doc = v2_doc()
    token = doc["topk"][1][2][0]
    del doc["tracked"][2][token]
    message = r"topk\[\d\]\[2\]\[\d\] is .* no trajectory in tracked\[2\]"
    with pytest.raises(ValueError, match=message):
        LogitLensWidget(doc)


@pytest.mark.parametrize(
    "break_it, message",
    [
        (lambda d: d["input"].__setitem__(1, 17), r"input\[1\] must be a string, got 17"),
        (lambda d: d["input"].__setitem__(0, "a\udc80"), r"input\[0\] holds a lone surrogate"),
        (lambda d: d["topk"][0][0].__setitem__(0, None), r"topk\[0\]\[0\]\[0\] must be a string"),
        (lambda d: d["meta"].update(model=b"gpt2"), r"meta\['model'\] must be a string"),
    ],
)
def test_v2_token_that_is_not_valid_text_is_refused(break_it, message):
    """Tokens are strings of valid Unicode (a lone surrogate cannot be shown or saved)."""
    doc = v2_doc()
    break_it(doc)
    with pytest.raises(ValueError, match=message):
        LogitLensWidget(doc)


def test_v2_top_k_width_is_limited_so_the_browser_never_allocates_gigabytes():
    """A real k (a few hundred) is shown; a 10,000-wide cell is refused up front."""
    LogitLensWidget(v2_doc(n_layers=3, n_pos=2, k=300, vocab_size=400))
    doc = v2_doc(n_layers=3, n_pos=2)
    doc["topk"][0][0] = [f"t{i}" for i in range(10_000)]
    with pytest.raises(ValueError, match=rf"k is 10000: at most {MAX_K}"):
        LogitLensWidget(doc)


@pytest.mark.parametrize(
    "key, dtype, index, bad, message",
    [
        ("topk_probs", "<f4", 5, np.nan, r"topk_probs\[0\]\[1\]\[2\] is NaN"),
        ("topk_probs", "<f4", 0, 7.0, r"topk_probs\[0\]\[0\]\[0\] is 7.0"),
        (
            "tracked_probs",
            "<f4",
            7,
            -1.0,
            r"tracked_probs\[1\]\[1\] \(position 0, token \d+\) is -1.0",
        ),
        (
            "tracked_probs",
            "<f4",
            0,
            np.inf,
            r"tracked_probs\[0\]\[0\] \(position 0, token \d+\) is Infinity",
        ),
    ],
)
def test_payload_probability_outside_0_1_is_refused_naming_the_cell(
    key, dtype, index, bad, message
):
    """Version-3 probabilities (binary float32) are finite and in [0, 1], wherever they sit."""
    data = with_array(payload(), key, dtype, lambda a: a.__setitem__(index, bad))
    with pytest.raises(ValueError, match=rf"{message}; {PROBS_RULE}"):
        LogitLensWidget(data)


def test_payload_field_whose_byte_length_disagrees_with_l_p_k_is_refused():
    """Binary fields hold exactly the values L (layers), P (positions) and k imply."""
    data = payload()
    data["topk_ids"] = data["topk_ids"][:-4]
    message = r"topk_ids has 284 bytes, expected 288 \(int32 \[L, P, k\]"
    with pytest.raises(ValueError, match=message):
        LogitLensWidget(data)


@pytest.mark.parametrize(
    "break_it, message",
    [
        (
            lambda d: with_array(
                d, "tracked_ids", "<i4", lambda a: a.__setitem__(slice(0, 2), a[1::-1])
            ),
            "tracked_ids of position 0 must strictly increase",
        ),
        (
            lambda d: with_array(d, "tracked_ids", "<i4", lambda a: a.__setitem__(0, -3)),
            r"tracked_ids\[0\] \(position 0\) is -3; token ids must be >= 0",
        ),
        (
            lambda d: with_array(d, "topk_ids", "<i4", lambda a: a.__setitem__(4, 10_000)),
            r"topk_ids\[0\]\[1\]\[1\] is token 10000, which is not among position 1's tracked_ids",
        ),
        (
            lambda d: dict(d, vocab={k: v for k, v in list(d["vocab"].items())[1:]}),
            "vocab has no string for tracked token ids",
        ),
        (
            lambda d: with_array(d, "tracked_offsets", "<i4", lambda a: a.__setitem__(2, 0)),
            "tracked_offsets must start at 0 and never decrease",
        ),
    ],
)
def test_payload_ids_that_break_the_format_are_refused(break_it, message):
    """Tracked ids are sorted per position and in vocab; every top-k id is tracked."""
    with pytest.raises(ValueError, match=message):
        LogitLensWidget(break_it(payload(vocab_size=30)))


def test_payload_sizes_are_limited_generously():
    """K = 300 and a 5,000-token prompt pass; k = 10,000 or a payload over the limit do not."""
    LogitLensWidget(payload(n_layers=4, n_pos=3, k=300, vocab_size=400))
    LogitLensWidget(payload(n_layers=30, n_pos=5000, k=5, vocab_size=40))
    with pytest.raises(ValueError, match="k is 10000"):
        LogitLensWidget(dict(payload(), k=10_000))
    huge = dict(payload(), input=["x"] * 100_000, layers=list(range(100)), k=MAX_K)
    with pytest.raises(ValueError, match=f"over the {MAX_PAYLOAD_BYTES // 2**20} MiB limit"):
        LogitLensWidget(huge)


def test_payload_run_and_cell_status_are_checked_and_unchecked_cells_may_hold_nan():
    """``run`` is an int; ``cell_status`` is uint8 [L, P] of 0/1/2; cells marked 1 or 2 show
    no numbers, so their probabilities are not checked.
    """
    data = payload(n_layers=6, n_pos=4, k=3)
    status = np.zeros((6, 4), np.uint8)
    status[0, 1] = 1  # invalid: the engine saw a non-finite hidden state there
    nan_cell = with_array(data, "topk_probs", "<f4", lambda a: a.__setitem__(slice(3, 6), np.nan))
    LogitLensWidget(dict(nan_cell, cell_status=status.tobytes(), run=7))
    with pytest.raises(ValueError, match=r"topk_probs\[0\]\[1\]\[0\] is NaN"):
        LogitLensWidget(dict(nan_cell, cell_status=np.zeros((6, 4), np.uint8).tobytes()))
    status[2, 3] = 3
    with pytest.raises(ValueError, match=r"cell_status\[2\]\[3\] is 3; .* 0 \(computed\), 1"):
        LogitLensWidget(dict(data, cell_status=status.tobytes()))
    with pytest.raises(ValueError, match="cell_status has 23 bytes, expected 24"):
        LogitLensWidget(dict(data, cell_status=bytes(23)))
    for bad in (-1, True, "3", 2**60):
        with pytest.raises(ValueError, match="run"):
            LogitLensWidget(dict(data, run=bad))


def test_payload_numpy_integers_are_accepted_and_sent_as_ints():
    """``k``, ``layers`` and friends may be numpy integers; the widget holds plain ints."""
    data = payload()
    data.update(
        k=np.int64(data["k"]), layers=[np.int32(x) for x in data["layers"]], run=np.int64(3)
    )
    w = LogitLensWidget(data)
    assert type(w.data["k"]) is int and {type(x) for x in w.data["layers"]} == {int}
    assert type(w.data["run"]) is int


def test_collection_with_a_nan_probability_is_not_packed_for_the_browser(make_collection):
    """A collection dict with NaN is refused by to_widget_payload and to_js_format alike."""
    data = make_collection()
    data["probs"][2][3, 0] = float("nan")
    data["topk_probs"][3, 2, :] = float("nan")
    with pytest.raises(ValueError, match=r"is NaN; " + PROBS_RULE):
        to_widget_payload(data)
    with pytest.raises(ValueError, match=r"tracked\[2\]\[.*\]\[3\] is NaN"):
        to_js_format(data)


# ----------------------------------------------------------------------- files are never lost


def test_save_html_does_not_overwrite_an_existing_file_unless_asked(tmp_path):
    """An existing file is kept (FileExistsError) unless ``overwrite=True``."""
    target = tmp_path / "lens.html"
    target.write_text("my earlier export")
    with pytest.raises(FileExistsError, match="already exists; pass overwrite=True"):
        save_html(collection(), target)
    assert target.read_text() == "my earlier export"
    save_html(collection(), target, overwrite=True)
    assert "logitlens-state" in target.read_text()


def test_failed_export_leaves_the_previous_file_intact(tmp_path):
    """Content that cannot be encoded is refused before the target is touched."""
    target = tmp_path / "lens.html"
    target.write_text("my earlier export")
    with pytest.raises(ValueError, match="title holds a lone surrogate"):
        save_html(collection(), target, title="caf\udce9", overwrite=True)
    assert target.read_text() == "my earlier export"
    assert os.listdir(tmp_path) == ["lens.html"]


def test_export_that_fails_while_writing_leaves_the_old_file_and_no_temporary(
    tmp_path, monkeypatch
):
    """The page goes to a temporary file that is renamed over the target only once complete."""
    target = tmp_path / "lens.html"
    target.write_text("my earlier export")

    def disk_full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OSError, match="No space left"):
        save_html(collection(), target, overwrite=True)
    assert target.read_text() == "my earlier export"
    assert os.listdir(tmp_path) == ["lens.html"]


def test_save_html_never_writes_through_a_symlink(tmp_path):
    """A link at the target path is refused, even with overwrite=True; its target is kept."""
    precious = tmp_path / "notes.txt"
    precious.write_text("keep me")
    link = tmp_path / "lens.html"
    link.symlink_to(precious)
    with pytest.raises(ValueError, match="is a symbolic link"):
        save_html(collection(), link, overwrite=True)
    assert precious.read_text() == "keep me" and link.is_symlink()


def test_nan_never_reaches_an_exported_page():
    """A page whose state JSON held NaN would render blank (JSON.parse fails): refused."""
    doc = v2_doc()
    doc["tracked"][0][first_key(doc, 0)][0] = float("nan")
    with pytest.raises(ValueError, match=r"tracked\[0\]\[.*\]\[0\] is NaN"):
        to_html(doc)
    page = to_html(v2_doc())
    block = page.split('id="logitlens-state">', 1)[1].split("</script>", 1)[0]

    def not_json(constant: str):
        raise AssertionError(f"the page's state holds {constant}")

    json.loads(block, parse_constant=not_json)  # what the page's JSON.parse will accept


class ModelLoaded(Exception):  # noqa: N818 (a signal that the checks passed, not an error)
    """Raised by a stand-in for load_model: the command got past its argument checks."""


@pytest.fixture
def no_model(monkeypatch):
    """Make any model load fail loudly, so a check that comes too late is caught."""
    import logitlenskit.core.models

    def load_model(*args, **kwargs):
        raise ModelLoaded("the model was loaded before the arguments were checked")

    monkeypatch.setattr(logitlenskit.core.models, "load_model", load_model)


def run_cli(argv: list[str], capsys) -> str:
    """Run the command in-process; returns its stderr after it exits with status 2."""
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    assert exit_info.value.code == 2
    return capsys.readouterr().err


def test_cli_checks_output_paths_before_loading_the_model(tmp_path, no_model, capsys):
    """Existing files, missing folders, folders and links are refused first, each by name."""
    existing = tmp_path / "old.html"
    existing.write_text("keep")
    link = tmp_path / "link.json"
    link.symlink_to(existing)
    cases = {
        ("--html", str(existing)): "argument --html: .* already exists; add --overwrite",
        (
            "--json",
            str(tmp_path / "missing" / "x.json"),
        ): "argument --json: the folder .* does not exist",
        ("--html", str(tmp_path)): "argument --html: .* is a folder",
        ("--json", str(link)): "argument --json: .* is a symbolic link",
    }
    for (flag, path), message in cases.items():
        err = run_cli(["The capital of France is", flag, path], capsys)
        assert any(line.startswith("logitlens: error: ") for line in err.splitlines())
        assert re.search(message, err), err
    assert existing.read_text() == "keep"


@pytest.mark.parametrize(
    "args, message",
    [
        (["-k", "0"], "argument -k: got 0; ask for 1 to"),
        (["-k", "100000"], "argument -k: got 100000"),
        (["--layers", "5:3"], "argument --layers: layer spec '5:3' selects no layers"),
        (["--layers", ","], "argument --layers: layer spec ',' names no layers"),
        (["--layers", "0:1000000000"], "argument --layers: .* selects over"),
        (["--title", "a\udc80"], "argument --title holds a lone surrogate"),
    ],
)
def test_cli_refuses_bad_arguments_before_loading_the_model(args, message, no_model, capsys):
    """-k, --layers and --title are checked with one message naming the argument and the fix."""
    err = run_cli(["The capital of France is", *args], capsys)
    assert re.search(message, err), err


def test_cli_refuses_one_file_for_both_outputs(tmp_path, no_model, capsys):
    """--html and --json cannot name the same file (one would silently replace the other)."""
    same = str(tmp_path / "lens.out")
    err = run_cli(["x", "--html", same, "--json", same], capsys)
    assert "--html and --json name the same file" in err


def test_cli_writes_json_atomically_and_refuses_nan(tmp_path, monkeypatch, capsys):
    """The command writes through the atomic writer; data with NaN leaves no file behind."""
    import logitlenskit.analyses.collect
    import logitlenskit.core.models

    data = collection()
    data["probs"][0][0, 0] = np.nan
    monkeypatch.setattr(logitlenskit.core.models, "load_model", lambda *a, **k: object())
    monkeypatch.setattr(logitlenskit.analyses.collect, "collect_logit_lens", lambda *a, **k: data)
    target = tmp_path / "lens.json"
    assert cli.main(["x", "--json", str(target)]) == 2
    assert "is NaN; probabilities must be finite" in capsys.readouterr().err
    assert not target.exists()
    data["probs"][0][0, 0] = 0.5
    assert cli.main(["x", "--json", str(target)]) == 0
    assert json.loads(target.read_text())["meta"]["version"] == 2


# ------------------------------------------------------------- inputs are checked up front


class Holder(UIStateTraits):
    pass


def test_hex_colors_must_match_exactly():
    """'#rrggbb' and nothing more: a trailing newline would reach the page's CSS."""
    for bad in ("#aabbcc\n", "#aabbcc ", " #aabbcc"):
        with pytest.raises(traitlets.TraitError, match="heat_color must be a color like '#1f"):
            Holder(heat_color=bad)
        with pytest.raises(traitlets.TraitError, match=r"pins\[0\]\['color'\]"):
            Holder(pins=[{"ids": [1], "color": bad}])


def test_numpy_and_torch_integers_are_accepted_where_ints_are():
    """Sizes and ids take numpy and torch integers (and store plain ints)."""
    h = Holder(
        column_width=torch.tensor(60),
        font_size=np.int16(14),
        color_token=np.int64(3),
        x_zoom=[np.int64(1), torch.tensor(4)],
    )
    assert (h.column_width, h.font_size, h.color_token, h.x_zoom) == (60, 14, 3, [1, 4])
    assert {type(v) for v in (h.column_width, h.font_size, h.color_token, *h.x_zoom)} == {int}


def test_bools_are_refused_where_ints_are():
    """``True`` is not a size or an id (Python would read it as 1)."""
    with pytest.raises(traitlets.TraitError, match="color_token must be an integer, got True"):
        Holder(color_token=True)
    with pytest.raises(traitlets.TraitError, match="x_zoom must hold non-negative lens rows"):
        Holder(x_zoom=[False, True])


def test_title_with_a_lone_surrogate_is_refused_clearly():
    """A title that cannot be sent to the browser or saved is refused when it is set."""
    message = r"title holds a lone surrogate '\\udc80' at character 3"
    with pytest.raises(traitlets.TraitError, match=message):
        Holder(title="caf\udc80")


def test_pin_with_an_unknown_key_is_refused_not_silently_dropped():
    """A misspelt 'colour' would otherwise be dropped and the pin get another color."""
    message = r"pins\[0\] must be \{'ids': \[token ids\], 'color'"
    with pytest.raises(traitlets.TraitError, match=message):
        Holder(pins=[{"ids": [1], "colour": "#ff0000"}])


def test_size_messages_name_the_trait_the_range_and_the_unit():
    """A size out of range says which trait, which range and in what unit."""
    with pytest.raises(
        traitlets.TraitError, match=r"table_width must be between 200 and 10000 CSS pixels \(or 0"
    ):
        Holder(table_width=50)
    message = r"column_width must be an integer, got '60' \(str\)"
    with pytest.raises(traitlets.TraitError, match=message):
        Holder(column_width="60")
