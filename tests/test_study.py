"""Studies: batched runs equal one prompt at a time; stop, resume, tables and statistics."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from logitlenskit import collect_logit_lens, collect_study
from logitlenskit.live.study import t_quantile

pytestmark = pytest.mark.slow

PROMPTS = [
    "The capital of France is",
    "The capital of Italy is the city of",
    "In Berlin, people speak",
    "Paris is a city in",
    "The largest city in England is",
]
TARGETS = {"Paris": "Paris", "Rome": "Rome", "London": "London"}


@pytest.fixture(scope="module")
def study(smollm2):
    return collect_study(
        PROMPTS, smollm2, TARGETS, contrasts=[("Paris", "London")], batch_size=2, progress=False
    )


def test_a_batched_study_equals_each_prompt_alone(study, smollm2):
    names = [q.name for q in study.quantities]
    assert names == [
        "p(Paris)", "rank(Paris)", "p(Rome)", "rank(Rome)", "p(London)", "rank(London)",
        "log p(Paris) − log p(London)", "KL to final", "entropy",
    ]  # fmt: skip
    assert study.done and study.values.shape == (9, 5, 30)
    for i, prompt in enumerate(PROMPTS):
        alone = collect_logit_lens(prompt, smollm2, targets=TARGETS, metrics=True)
        last_lp = alone["target_logprobs"][:, :, -1].numpy()  # [T, L] at the last position
        for t in range(3):
            np.testing.assert_allclose(study.values[2 * t, i], np.exp(last_lp[t]), atol=2e-5)
            ranks = alone["target_ranks"][t, :, -1].numpy()
            assert np.mean(study.values[2 * t + 1, i] == ranks) >= 0.9  # padding may flip ties
        np.testing.assert_allclose(study.values[6, i], last_lp[0] - last_lp[2], atol=2e-3)
        np.testing.assert_allclose(study.values[7, i], alone["kl"][:, -1].numpy(), atol=2e-3)
        np.testing.assert_allclose(
            study.values[8, i], alone["entropy"][:, -1].numpy(), rtol=3e-3, atol=3e-3
        )


def test_the_tidy_table_and_the_summary(study):
    table = study.table()
    assert len(table) == 5 * 30 * 9
    assert list(table.columns) == ["prompt_index", "prompt", "layer", "quantity", "kind", "value"]
    row = table[(table.prompt_index == 3) & (table.layer == 29) & (table.quantity == "p(Paris)")]
    assert row.prompt.item() == PROMPTS[3]
    assert row.value.item() == pytest.approx(float(study.values[0, 3, 29]))
    summary = study.summary()
    got = summary[(summary.quantity == "KL to final") & (summary.layer == 10)].iloc[0]
    values = study.values[7, :, 10].astype(np.float64)
    half = t_quantile(4) * values.std(ddof=1) / np.sqrt(5)
    assert got["mean"] == pytest.approx(values.mean())
    assert (got["ci_low"], got["ci_high"]) == pytest.approx(
        (values.mean() - half, values.mean() + half)
    )
    assert got["n"] == 5


@pytest.mark.parametrize(("df", "t"), [(1, 12.7062), (2, 4.3027), (3, 3.1824), (4, 2.7764), (5, 2.5706), (7, 2.3646),
                                        (10, 2.2281), (30, 2.0423), (1000, 1.9623)])  # fmt: skip
def test_t_quantile_matches_the_table(df, t):
    assert float(t_quantile(df)) == pytest.approx(t, abs=2e-3)


def test_csv_and_parquet_hold_the_table(study, tmp_path):
    for path, read in (
        (tmp_path / "s.csv", pd.read_csv),
        (tmp_path / "s.parquet", pd.read_parquet),
    ):
        (study.to_csv if path.suffix == ".csv" else study.to_parquet)(path)
        back = read(path)
        pd.testing.assert_frame_equal(back, study.table(), check_dtype=False, rtol=1e-6)


def test_stop_and_resume_give_the_same_values(smollm2, study):
    partial = collect_study(PROMPTS, smollm2, TARGETS, contrasts=[("Paris", "London")],
                            batch_size=2, run=False)  # fmt: skip
    stops = []

    def stop_once(s):
        if not stops:
            stops.append(s.n_done)
            s.stop()

    partial.on_batch(stop_once)
    partial.run(progress=False)
    assert partial.n_done == 2 and not partial.done
    assert np.isnan(partial.values[:, 2:]).all()
    assert len(partial.table()) == 2 * 30 * 9  # only computed prompts
    partial.run(progress=False)
    assert partial.done
    np.testing.assert_allclose(partial.values, study.values, atol=1e-6)


def test_a_kernel_interrupt_keeps_finished_batches(smollm2):
    s = collect_study(PROMPTS, smollm2, {"Paris": "Paris"}, batch_size=2, run=False)

    def interrupt(study):
        if study.n_done >= 4:
            raise KeyboardInterrupt

    s.on_batch(interrupt)
    s.run(progress=False)
    assert s.n_done == 4 and not s.running
    s._on_batch.clear()
    s.resume(progress=False)
    assert s.done


def test_a_background_run_can_be_waited_for(smollm2):
    s = collect_study(PROMPTS[:3], smollm2, {"Paris": "Paris"}, batch_size=1, run=False)
    s.run(background=True, progress=False)
    with pytest.raises(RuntimeError, match="already running"):
        s.run(progress=False)
    assert s.wait(120) and s.done


def test_a_text_file_and_dicts_with_their_own_targets(smollm2, tmp_path):
    path = tmp_path / "prompts.txt"
    path.write_text("The capital of France is\n\n  \nThe capital of Italy is\n", encoding="utf-8")
    from_file = collect_study(path, smollm2, {"Paris": "Paris"}, progress=False)
    assert from_file.prompts == ["The capital of France is", "The capital of Italy is"]
    items = [
        {"prompt": "The capital of France is", "targets": {"answer": "Paris"}, "country": "FR"},
        {"prompt": "The capital of Italy is", "targets": {"answer": "Rome"}, "country": "IT"},
    ]
    s = collect_study(items, smollm2, {"the": " the"}, progress=False)
    assert [q.name for q in s.quantities][:4] == [
        "p(the)",
        "rank(the)",
        "p(answer)",
        "rank(answer)",
    ]
    # Each prompt's "answer" is its own word: France's is Paris, with Paris's probability.
    alone = collect_logit_lens(items[1]["prompt"], smollm2, targets={"a": "Rome"})
    np.testing.assert_allclose(
        s.values[2, 1], np.exp(alone["target_logprobs"][0, :, -1].numpy()), atol=2e-5
    )
    table = s.table()
    assert set(table.country) == {"FR", "IT"}


def test_a_prompt_without_a_target_gets_nan_for_it(smollm2):
    items = [
        {"prompt": "The capital of France is", "targets": {"fr": "Paris"}},
        {"prompt": "The capital of Italy is", "targets": {"it": "Rome"}},
    ]
    s = collect_study(items, smollm2, progress=False)
    assert np.isnan(s.values[0, 1]).all() and np.isnan(s.values[2, 0]).all()
    assert np.isfinite(s.values[0, 0]).all() and np.isfinite(s.values[2, 1]).all()
    assert s.summary().query("quantity == 'p(fr)'")["n"].eq(1).all()


@pytest.mark.parametrize(
    ("prompts", "kwargs", "error", "message"),
    [
        ("one prompt", {}, TypeError, "pathlib.Path"),
        ([], {}, ValueError, "no prompts"),
        ([{"text": "x"}], {}, TypeError, "'prompt' str"),
        (["a"], {"batch_size": 0}, ValueError, "batch_size"),
        (["a"], {"contrasts": [("Paris", "Nope")]}, ValueError, "two of the target names"),
        (["a"], {"layers": [99]}, ValueError, "out of range"),
        ([""], {}, ValueError, "empty"),
    ],
)
def test_bad_studies_are_refused_before_running(smollm2, prompts, kwargs, error, message):
    with pytest.raises(error, match=message):
        collect_study(prompts, smollm2, {"Paris": "Paris"}, progress=False, **kwargs)


def test_the_figure_draws_each_mean_and_its_band(study):
    fig = study.plot(["p(Paris)", "p(London)"], title="capitals")
    lines_ax, strip_ax = fig.axes[:2]
    summary = study.summary_arrays()
    drawn = [line.get_ydata() for line in lines_ax.get_lines()]
    np.testing.assert_allclose(drawn[0], summary[0, 0])
    np.testing.assert_allclose(drawn[1], summary[4, 0])
    assert len(lines_ax.collections) == 2  # one band each
    assert [t.get_text() for t in lines_ax.get_legend().get_texts()] == ["p(Paris)", "p(London)"]
    np.testing.assert_allclose(strip_ax.get_images()[0].get_array()[0], summary[8, 0])
    with pytest.raises(ValueError, match="mix kinds"):
        study.plot(["p(Paris)", "KL to final"])
    with pytest.raises(ValueError, match="unknown quantities"):
        study.plot(["p(Berlin)"])


# ------------------------------------------------------------------ files (issue 23)


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_a_table_file_is_replaced_only_with_overwrite(study, tmp_path, suffix):
    path = tmp_path / f"s{suffix}"
    save = study.to_csv if suffix == ".csv" else study.to_parquet
    save(path)
    before = path.read_bytes()
    with pytest.raises(FileExistsError, match="overwrite=True"):
        save(path)
    assert path.read_bytes() == before
    assert save(path, overwrite=True) == path


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_a_table_is_never_written_through_a_link(study, tmp_path, suffix):
    target = tmp_path / "elsewhere.txt"
    target.write_text("keep")
    link = tmp_path / f"s{suffix}"
    link.symlink_to(target)
    save = study.to_csv if suffix == ".csv" else study.to_parquet
    with pytest.raises(ValueError, match="symbolic link"):
        save(link, overwrite=True)
    assert target.read_text() == "keep"


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_a_full_disk_keeps_the_last_good_checkpoint(study, tmp_path, suffix):
    from test_files import disk_full_after

    path = tmp_path / f"s{suffix}"
    save, read = (
        (study.to_csv, pd.read_csv) if suffix == ".csv" else (study.to_parquet, pd.read_parquet)
    )
    save(path)
    good = read(path)
    with disk_full_after(path.stat().st_size // 2), pytest.raises(OSError):
        save(path, overwrite=True)
    pd.testing.assert_frame_equal(read(path), good)  # the checkpoint still reads, unchanged
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_a_table_is_never_written_into_a_fifo(study, tmp_path, suffix):
    import os
    import stat
    import threading

    fifo = tmp_path / f"s{suffix}"
    os.mkfifo(fifo)
    save = study.to_csv if suffix == ".csv" else study.to_parquet
    errors: list[BaseException] = []

    def attempt() -> None:
        try:
            save(fifo, overwrite=True)
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=attempt, daemon=True)
    thread.start()
    thread.join(30)
    if thread.is_alive():  # blocked opening the FIFO: give it a reader so the thread ends
        os.close(os.open(fifo, os.O_RDONLY | os.O_NONBLOCK))
        thread.join(5)
        pytest.fail("writing the table blocked on a FIFO")
    assert len(errors) == 1 and isinstance(errors[0], ValueError), errors
    assert "not a regular file" in str(errors[0])
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_csv_fields_that_a_spreadsheet_would_run_are_neutralized(smollm2, tmp_path):
    import csv

    items = [
        {"prompt": '=HYPERLINK("http://x.test","y") is', "note": "+cmd|' /C calc'!A0"},
        {"prompt": "-2 plus 3 is", "note": "@SUM(1,2)"},
        {"prompt": "\tThe capital of France is", "note": "\rx"},
        {"prompt": "The capital of Italy is", "note": "plain"},
    ]
    s = collect_study(items, smollm2, TARGETS, contrasts=[("Paris", "London")], progress=False)
    path = s.to_csv(tmp_path / "s.csv")
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    prompts = [dict((r["prompt_index"], r["prompt"]) for r in rows)[str(i)] for i in range(4)]
    assert prompts == [
        '\'=HYPERLINK("http://x.test","y") is',
        "'-2 plus 3 is",
        "'\tThe capital of France is",
        "The capital of Italy is",
    ]
    notes = {r["note"] for r in rows}
    assert notes == {"'+cmd|' /C calc'!A0", "'@SUM(1,2)", "'\rx", "plain"}
    values = [float(r["value"]) for r in rows if r["value"]]  # numbers stay numbers
    assert min(values) < 0
    assert not [r for r in rows if r["value"].startswith("'")]


# ------------------------------------------------------------------ inputs (issue 23)


@pytest.mark.parametrize(
    ("bad", "words"),
    [
        ("   ", "empty"),
        ("word " * 9000, "longer than the model's context"),
        ("a \ud800 b", "lone surrogate"),
    ],
)
def test_every_prompt_is_checked_before_any_runs(smollm2, bad, words):
    prompts = [PROMPTS[0]] * 40 + [bad]
    with pytest.raises(ValueError, match=rf"prompts\[40\].*{words}"):
        collect_study(prompts, smollm2, TARGETS, run=False)


# ------------------------------------------------------------------ display (issue 23)


def test_plot_displays_as_an_image_in_a_fresh_kernel(tmp_path):
    import nbformat
    from nbclient import NotebookClient

    cells = [
        "from logitlenskit import collect_study, load_model\n"
        "study = collect_study(['The capital of France is', 'Rome is in'], load_model(),\n"
        "                      {'Paris': 'Paris'}, progress=False)",
        "study.plot()",
        "fig = study.plot()\nfig",
        "import matplotlib.pyplot as plt  # the inline backend: still one image\nstudy.plot()",
    ]
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    NotebookClient(
        notebook,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    ).execute()
    for cell in notebook.cells[1:]:
        outputs = cell.outputs
        assert [o.output_type for o in outputs] == ["execute_result"], outputs  # one, no copy
        data = outputs[0]["data"]
        assert "image/png" in data, data.get("text/plain")
        png = __import__("base64").b64decode(data["image/png"])
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000


def test_a_target_has_one_color_in_every_figure(study):
    from matplotlib.colors import to_hex

    from logitlenskit.analyses.study_plot import quantity_color
    from logitlenskit.base.ui_state import PIN_PALETTE

    def colors(names):
        lines = study.plot(names).axes[0].get_lines()
        return {line.get_label(): to_hex(line.get_color()) for line in lines}

    both = colors(["p(Paris)", "p(London)"])
    assert colors(["p(London)"])["p(London)"] == both["p(London)"]
    assert colors(["rank(London)"])["rank of London"] == both["p(London)"]
    # The rule the widget's band chart uses too (tests/ui/test_study_view.py checks it there):
    # the palette entry of the quantity's place among the quantities of its kind.
    assert both["p(London)"] == quantity_color(study.quantities, "p(London)") == PIN_PALETTE[2]
