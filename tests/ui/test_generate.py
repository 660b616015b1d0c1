"""Generate and watch (docs/live-loop.md, docs/data-format.md §3), the browser half: rows by
position kind, the commitment marks, the Generate controls, same-run data that grows by a
position per token, and the decoder's refusals of bad generation fields.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from playwright.sync_api import expect

from fake_lens import payload
from live_data import generation_payload
from logitlenskit.base.validate import InvalidDataError, validate_payload
from test_validate_generation import BAD

pytestmark = pytest.mark.browser

OUT = "#out1"
MUTED = {"light": "rgb(101, 109, 118)", "dark": "rgb(145, 152, 161)"}
GEN = {"light": "rgb(26, 127, 55)", "dark": "rgb(63, 185, 80)"}


def header(wp, p: int):
    return wp.page.locator(f'{OUT} .llk-row[data-p="{p}"] .llk-input')


def header_facts(wp, p: int) -> dict:
    return header(wp, p).evaluate(
        """h => {
          const text = h.querySelector('.llk-input-text');
          const hs = getComputedStyle(h), ts = getComputedStyle(text);
          return { cls: [...h.classList], title: h.title, aria: h.getAttribute('aria-label'),
                   kind: h.parentElement.dataset.kind ?? null,
                   shadow: hs.boxShadow, color: ts.color, border: ts.borderTopStyle,
                   borderColor: ts.borderTopColor };
        }"""
    )


def expect_calls(wp, name: str, n: int) -> list[dict]:
    wp.page.wait_for_function(
        "([n, k]) => window.llk.commands.calls.filter(c => c.name === n).length >= k", arg=[name, n]
    )
    return wp.calls(name)


def rows_of(data: dict, key: str) -> list[int]:
    return np.frombuffer(data[key], "<i4").tolist()


# Rows by kind ------------------------------------------------------------------------------


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_template_and_generated_rows_are_marked_in_both_themes(wp, theme):
    data = generation_payload(n_prompt=5, n_gen=2, template=(0, 1, 4))
    wp.mount(data, dark_mode=theme)
    kinds = np.frombuffer(data["position_kinds"], "u1").tolist()
    assert kinds == [1, 1, 0, 0, 1, 2, 2]
    for p, kind in enumerate(kinds):
        f = header_facts(wp, p)
        token = data["input"][p]
        if kind == 1:
            assert "llk-template" in f["cls"] and "llk-generated" not in f["cls"]
            assert f["kind"] == "template"
            assert f["aria"] == f"{token}, chat template token"
            assert "chat template token" in f["title"]
            assert f["color"] == MUTED[theme]  # muted
            assert f["border"] == "dashed" and f["borderColor"] == MUTED[theme]  # boxed
            assert f["shadow"] == "none"
        elif kind == 2:
            assert "llk-generated" in f["cls"] and "llk-template" not in f["cls"]
            assert f["kind"] == "generated"
            assert f["title"].startswith(f"{token} (position {p}, generated token; '{token}' is ")
            assert f["aria"].startswith(f"{token}, generated token; '{token}' is ")
            assert GEN[theme] in f["shadow"] and "inset" in f["shadow"]  # the left accent bar
            assert f["border"] == "none"
        else:
            assert "llk-template" not in f["cls"] and "llk-generated" not in f["cls"]
            assert f["kind"] is None and f["aria"] is None
            assert f["title"] == f"{token} (position {p}): click to pin this row"
            assert f["border"] == "none" and f["shadow"] == "none"
            assert f["color"] != MUTED[theme]
    # A pinned generated row keeps both marks.
    wp.set_trait("pinned_rows", [5])
    cls = header_facts(wp, 5)["cls"]
    assert "llk-pinned" in cls and "llk-generated" in cls


def test_data_without_generation_fields_looks_as_before(wp):
    data = payload()
    wp.mount(data)
    page = wp.page
    assert page.locator(f"{OUT} .llk-template, {OUT} .llk-generated").count() == 0
    assert page.locator(f"{OUT} .llk-commit, {OUT} .llk-entered").count() == 0
    assert page.locator(f"{OUT} .llk-row[data-kind]").count() == 0
    assert page.locator(f"{OUT} .llk-input[aria-label]").count() == 0
    assert header_facts(wp, 1)["title"] == "in1 (position 1): click to pin this row"
    # Every row still has one cell per column and nothing else.
    n_cols = page.locator(f"{OUT} .llk-colhead").count()
    counts = page.locator(f"{OUT} .llk-row").evaluate_all("rs => rs.map(r => r.children.length)")
    assert set(counts) == {n_cols + 1}


# Commitment marks --------------------------------------------------------------------------

STEP = 2  # lens row r is layer 2r: rows and layer numbers differ


def shown_rows(wp) -> list[int]:
    """The lens rows shown as columns, read from the column headers' layer numbers."""
    numbers = wp.page.locator(f"{OUT} .llk-colhead").all_text_contents()
    return [int(n) // STEP for n in numbers]


def expected_marks(cols: list[int], commit: int, entered: int) -> dict:
    """Independently of commitment.js: the first shown column at or after each row."""
    last = len(cols) - 1
    at = {r: next((i for i, c in enumerate(cols) if c >= r), None) for r in (commit, entered)}
    c_ci = at[commit] if commit >= 0 else None
    e_ci = at[entered] if entered >= 0 else None
    e_end = c_ci - 1 if c_ci is not None else last
    return {
        "llk-commit": None if c_ci is None else (c_ci, last),
        "llk-entered": None if e_ci is None or e_ci > e_end else (e_ci, e_end),
    }


def expected_text(token: str, cols: list[int], commit: int, entered: int, k: int) -> str:
    def note(row: int) -> str:
        ci = next((i for i, c in enumerate(cols) if c >= row), None)
        if ci is None:
            return " (not marked: no shown column at or after it)"
        if cols[ci] == row:
            return ""
        return f" (marked at layer {cols[ci] * STEP}, the nearest shown column at or after it)"

    first = (
        f"'{token}' is top-1 from layer {commit * STEP} on{note(commit)}"
        if commit >= 0
        else f"'{token}' is not top-1 at the last layer ({(L_MANY - 1) * STEP})"
    )
    second = (
        f"in the top-{k} from layer {entered * STEP}{note(entered)}"
        if entered >= 0
        else f"not in the top-{k} at the last layer"
    )
    return f"{first}; {second}"


def marks_in_row(wp, p: int) -> dict:
    """The marks over row p: class → (first, last) shown column, its title, and whether its
    box starts at that column's left edge and ends at the last one's right edge (the column
    headers give the edges: a row builds only the cells in view).
    """
    return wp.page.locator(f'{OUT} .llk-row[data-p="{p}"]').evaluate(
        """row => {
          const out = {};
          const cells = [...document.querySelectorAll('#out1 .llk-colhead')];
          const r = row.getBoundingClientRect();
          for (const m of row.querySelectorAll('.llk-commit, .llk-entered')) {
            const from = +m.dataset.from, to = +m.dataset.to;
            const b = m.getBoundingClientRect();
            const a = { left: cells[from].getBoundingClientRect().left, bottom: r.bottom };
            const z = cells[to].getBoundingClientRect();
            out[m.className] = { span: [from, to], title: m.title,
              fits: Math.abs(b.left - a.left) < 1.5 && Math.abs(b.right - z.right) < 1.5,
              bottom: Math.abs(b.bottom - a.bottom) < 1.5 && b.height > 0 && b.height < 6 };
          }
          return out;
        }"""
    )


L_MANY = 40
N_PROMPT = 4
# Positions 4..7 are generated; fabricated rows: some are shown columns, some not.
COMMIT = [-1, -1, -1, -1, 21, 33, -1, 39]
ENTERED = [-1, -1, -1, -1, 10, 33, 25, -1]


def test_commit_marks_sit_at_the_right_columns_over_the_predicting_row(wp):
    data = generation_payload(
        n_prompt=N_PROMPT,
        n_gen=4,
        n_layers=L_MANY,
        layer_step=STEP,
        commitment=COMMIT,
        entered=ENTERED,
    )
    wp.mount(data)
    k = data["k"]

    def check() -> None:
        cols = shown_rows(wp)
        assert cols == sorted(cols)
        # Marks only over rows whose next position is generated (3..6).
        assert wp.page.locator(f"{OUT} .llk-row[data-p='7'] .llk-commit").count() == 0
        assert wp.page.locator(f"{OUT} .llk-row[data-p='2'] .llk-entered").count() == 0
        for p in range(N_PROMPT, 8):
            want = expected_marks(cols, COMMIT[p], ENTERED[p])
            got = marks_in_row(wp, p - 1)
            assert {c: g["span"] for c, g in got.items()} == {
                c: list(s) for c, s in want.items() if s
            }, (p, cols)
            text = expected_text(data["input"][p], cols, COMMIT[p], ENTERED[p], k)
            for g in got.values():
                assert g["title"] == text
                assert g["fits"] and g["bottom"], g

    cols = shown_rows(wp)
    assert len(cols) == L_MANY  # every layer is a column (issue 23): each commit row is shown
    check()
    # A zoom moves the marks with the columns.
    wp.set_trait("x_zoom", [12, 30])
    assert shown_rows(wp)[0] == 12
    check()
    wp.set_trait("x_zoom", [22, 24])  # after the first commit row, before the second's
    assert shown_rows(wp) == [22, 23, 24]
    check()
    # Wider columns (the grid scrolls sideways) move them too.
    wp.set_trait("x_zoom", [])
    wp.set_trait("column_width", 120)
    assert len(shown_rows(wp)) == len(cols)
    check()


def test_the_tooltip_names_the_token_and_both_layers(wp):
    data = generation_payload(
        n_prompt=3, n_gen=1, n_layers=6, commitment=[-1, -1, -1, 4], entered=[-1, -1, -1, 2]
    )
    wp.mount(data)
    token = data["input"][3]
    expected = f"'{token}' is top-1 from layer 4 on; in the top-3 from layer 2"
    got = marks_in_row(wp, 2)
    assert got["llk-commit"]["title"] == expected
    assert got["llk-entered"]["title"] == expected
    assert got["llk-commit"]["span"] == [4, 5] and got["llk-entered"]["span"] == [2, 3]
    assert header_facts(wp, 3)["aria"] == f"{token}, generated token; {expected}"
    # A sampled token that never became the top-1: only the light mark, to the last column.
    data = generation_payload(
        run=2, n_prompt=3, n_gen=1, n_layers=6, commitment=[-1] * 4, entered=[-1, -1, -1, 3]
    )
    wp.set_data(data)
    got = marks_in_row(wp, 2)
    assert set(got) == {"llk-entered"} and got["llk-entered"]["span"] == [3, 5]
    assert got["llk-entered"]["title"] == (
        f"'{data['input'][3]}' is not top-1 at the last layer (5); in the top-3 from layer 3"
    )


def test_commitment_computed_from_the_data_marks_where_the_cells_turn(wp):
    """With commitment computed from the top-k (live_data), the solid mark starts exactly
    where row p - 1's cells start showing the generated token to the last column."""
    data = generation_payload(n_prompt=4, n_gen=3, n_layers=6)
    wp.mount(data)
    marked = 0
    for p, commit in enumerate(rows_of(data, "commitment")):
        if commit < 0:
            continue
        token = data["input"][p]
        cells = wp.page.locator(f'{OUT} .llk-row[data-p="{p - 1}"] .llk-cell').all_text_contents()
        assert len(cells) == 6
        assert all(t == token for t in cells[commit:])
        assert commit == 0 or cells[commit - 1] != token
        assert marks_in_row(wp, p - 1)["llk-commit"]["span"] == [commit, 5]
        marked += 1
    assert marked >= 2


# Generate controls -------------------------------------------------------------------------


def gen(wp, name: str):
    return wp.page.locator(f"{OUT} .llk-{name}")


def test_generate_invokes_the_command_with_n_sample_and_seed(wp):
    wp.mount(payload(), editable_prompt=True, prompt="The capital")
    wp.answer_with("generate_tokens", {"started": True})
    button, n, sample, seed = (gen(wp, x) for x in ("generate-btn", "gen-n", "sample", "seed"))
    assert button.text_content() == "Generate" and n.input_value() == "20"
    assert seed.is_hidden()
    button.click()
    assert expect_calls(wp, "generate_tokens", 1)[0]["msg"] == {
        "n": 20,
        "sample": False,
        "seed": None,
    }
    n.fill("5")
    sample.check()
    assert seed.is_visible()
    seed.fill("42")
    button.click()
    assert expect_calls(wp, "generate_tokens", 2)[1]["msg"] == {"n": 5, "sample": True, "seed": 42}
    seed.fill("")
    n.press("Enter")  # Enter in the tokens box generates too
    assert expect_calls(wp, "generate_tokens", 3)[2]["msg"] == {
        "n": 5,
        "sample": True,
        "seed": None,
    }
    seed.fill("7")
    sample.uncheck()
    assert seed.is_hidden()
    button.click()
    assert expect_calls(wp, "generate_tokens", 4)[3]["msg"] == {
        "n": 5,
        "sample": False,
        "seed": None,
    }
    # Out of range: a message, nothing sent.
    msg = gen(wp, "options-msg")
    for bad in ("0", "513", "2.5"):
        n.fill(bad)
        button.click()
        assert msg.is_visible() and "tokens must be a whole number from 1 to 512" in (
            msg.text_content()
        )
    sample.check()
    n.fill("3")
    seed.fill("-4")
    button.click()
    assert "seed must be empty or a whole number" in msg.text_content()
    wp.page.wait_for_timeout(50)
    assert len(wp.calls("generate_tokens")) == 4
    # Enter in the prompt still runs, never generates.
    wp.page.locator(f"{OUT} .llk-prompt").press("Enter")
    expect_calls(wp, "rerun", 1)
    assert len(wp.calls("generate_tokens")) == 4
    assert wp.trait("prompt") == "The capital"


def test_generate_after_editing_the_prompt_sets_it_first(wp):
    wp.mount(payload(), editable_prompt=True, prompt="old")
    wp.answer_with("generate_tokens", {"started": True})
    wp.page.locator(f"{OUT} .llk-prompt").fill("The capital of France is")
    gen(wp, "generate-btn").click()
    (call,) = expect_calls(wp, "generate_tokens", 1)
    assert call["msg"] == {"n": 20, "sample": False, "seed": None}
    assert wp.trait("prompt") == "The capital of France is"


def test_generate_is_disabled_while_busy_and_stop_halts(wp):
    wp.mount(payload(), editable_prompt=True, prompt="x")
    wp.answer_with("generate_tokens", {"started": True})
    button = gen(wp, "generate-btn")
    assert button.is_enabled()
    wp.set_trait("busy", True)
    assert button.is_disabled()
    gen(wp, "gen-n").press("Enter")  # nor does Enter generate while busy
    wp.page.wait_for_timeout(50)
    assert wp.calls("generate_tokens") == []
    stop = gen(wp, "stop")
    expect(stop).to_be_visible(timeout=2500)
    stop.click()
    expect_calls(wp, "halt", 1)
    wp.set_trait("busy", False)
    assert button.is_enabled()


def test_a_refused_generate_shows_in_the_error_line(wp):
    wp.mount(payload(), editable_prompt=True, prompt="x")
    wp.answer_with("generate_tokens", {"error": "ValueError: the prompt is empty"})
    error = gen(wp, "py-error")
    assert error.is_hidden()
    gen(wp, "generate-btn").click()
    expect(error).to_have_text("ValueError: the prompt is empty")
    assert gen(wp, "notice").is_hidden()
    # Python's own error wins while set; a new Run clears the refusal.
    wp.set_trait("error", "RuntimeError: later")
    expect(error).to_have_text("RuntimeError: later")
    wp.set_trait("error", "")
    expect(error).to_have_text("ValueError: the prompt is empty")
    gen(wp, "run-btn").click()
    expect(error).to_be_hidden()
    # An answer that is not {started: true} is refused too.
    wp.answer_with("generate_tokens", {"ok": True})
    gen(wp, "generate-btn").click()
    expect(error).to_contain_text('not {"started": true}')


def test_chat_box_shows_only_with_a_chat_template_and_writes_chat(wp):
    wp.mount(payload(), editable_prompt=True, prompt="x", has_chat_template=False, chat=False)
    label, box = gen(wp, "chat-label"), gen(wp, "chat")
    assert label.is_hidden()
    wp.set_trait("has_chat_template", True)
    assert label.is_visible()
    assert not box.is_checked()
    saves = wp.saves()
    box.check()
    assert wp.trait("chat") is True
    assert wp.saves() == saves + 1
    expect_calls(wp, "ping", 1)  # a trait change checks that a kernel hears it
    box.uncheck()
    assert wp.trait("chat") is False
    wp.set_trait("chat", True)  # from Python
    assert box.is_checked()
    wp.set_trait("has_chat_template", False)
    assert label.is_hidden()


def test_a_widget_state_without_the_generation_traits_hides_the_chat_box(wp):
    wp.mount(payload(), editable_prompt=True, prompt="x")
    assert gen(wp, "chat-label").is_hidden()
    assert gen(wp, "generate-btn").is_visible()


# Streaming ---------------------------------------------------------------------------------

LONG = {"n_prompt": 38, "n_gen": 4}  # 42 positions: the grid scrolls


def grid_scroll(wp) -> dict:
    return wp.page.locator(f"{OUT} .llk-grid").evaluate(
        "g => ({top: g.scrollTop, height: g.scrollHeight, view: g.clientHeight,"
        " rows: +g.getAttribute('aria-rowcount')})"
    )


def test_a_token_more_extends_the_view_keeping_popup_and_scroll(wp):
    wp.mount(generation_payload(run=3, shown=40, **LONG))
    grid = wp.page.locator(f"{OUT} .llk-grid")
    grid.evaluate("g => { g.scrollTop = 150; }")
    wp.page.wait_for_timeout(50)
    wp.cell(2, 12).click()
    popup = wp.page.locator(f"{OUT} .llk-popup")
    expect(popup).to_be_visible()
    before = grid_scroll(wp)
    assert before["rows"] == 41
    anchor = wp.cell(2, 12).bounding_box()
    data = generation_payload(run=3, shown=41, **LONG)
    wp.set_data(data)
    after = grid_scroll(wp)
    assert after["rows"] == 42
    assert after["top"] == before["top"] == 150
    assert after["height"] > before["height"]
    assert popup.is_visible()
    assert "llk-selected" in (wp.cell(2, 12).get_attribute("class") or "")
    assert wp.cell(2, 12).bounding_box() == anchor
    assert wp.page.locator(f"{OUT} .llk-message").is_hidden()
    # The new row is there: scroll down to it.
    wp.page.keyboard.press("Escape")
    grid.evaluate("g => { g.scrollTop = g.scrollHeight; }")
    expect(header(wp, 40)).to_have_text(data["input"][40])
    assert "llk-generated" in header_facts(wp, 40)["cls"]
    # Its commitment mark is over row 39 (when the token committed at all).
    if rows_of(data, "commitment")[40] >= 0 or rows_of(data, "entered_topk")[40] >= 0:
        assert marks_in_row(wp, 39)


def test_at_the_bottom_the_view_follows_the_newest_row(wp):
    wp.mount(generation_payload(run=3, shown=39, **LONG))
    grid = wp.page.locator(f"{OUT} .llk-grid")
    grid.evaluate("g => { g.scrollTop = g.scrollHeight; }")
    wp.page.wait_for_timeout(50)
    for shown in (40, 41, 42):
        data = generation_payload(run=3, shown=shown, **LONG)
        wp.set_data(data)
        s = grid_scroll(wp)
        assert s["rows"] == shown + 1
        assert s["top"] + s["view"] >= s["height"] - 1, s  # still at the bottom
        row = header(wp, shown - 1)
        expect(row).to_have_text(data["input"][shown - 1])
        box, view = row.bounding_box(), grid.bounding_box()
        assert box["y"] + box["height"] <= view["y"] + view["height"] + 1


def test_at_the_bottom_an_open_popup_holds_the_view(wp):
    """Following the newest row would scroll the popup's cell away and close it."""
    wp.mount(generation_payload(run=3, shown=40, **LONG))
    grid = wp.page.locator(f"{OUT} .llk-grid")
    grid.evaluate("g => { g.scrollTop = g.scrollHeight; }")
    wp.page.wait_for_timeout(50)
    wp.cell(3, 38).click()
    popup = wp.page.locator(f"{OUT} .llk-popup")
    expect(popup).to_be_visible()
    before = grid_scroll(wp)
    wp.set_data(generation_payload(run=3, shown=41, **LONG))
    wp.page.wait_for_timeout(50)
    after = grid_scroll(wp)
    assert after["top"] == before["top"] and after["rows"] == 42
    assert popup.is_visible()
    # Once it is closed, the next token is followed again.
    wp.page.keyboard.press("Escape")
    grid.evaluate("g => { g.scrollTop = g.scrollHeight; }")
    wp.page.wait_for_timeout(50)
    wp.set_data(generation_payload(run=3, shown=42, **LONG))
    s = grid_scroll(wp)
    assert s["top"] + s["view"] >= s["height"] - 1


def test_not_at_the_bottom_the_view_stays(wp):
    wp.mount(generation_payload(run=3, shown=40, **LONG))
    grid = wp.page.locator(f"{OUT} .llk-grid")
    grid.evaluate("g => { g.scrollTop = 60; }")
    wp.page.wait_for_timeout(50)
    wp.set_data(generation_payload(run=3, shown=41, **LONG))
    assert grid_scroll(wp)["top"] == 60


def test_the_chart_follows_the_newest_token_until_a_cell_is_opened(wp):
    """The default line is the last position's prediction: it moves with the generation."""
    wp.mount(generation_payload(run=3, n_prompt=4, n_gen=3, shown=5))
    label = wp.page.locator(f"{OUT} .llk-legend-default .llk-legend-label")
    expect(label).to_have_text(re.compile(r" at position 4$"))
    wp.set_data(generation_payload(run=3, n_prompt=4, n_gen=3, shown=6))
    expect(label).to_have_text(re.compile(r" at position 5$"))
    wp.cell(1, 2).click()
    expect(label).to_have_text(re.compile(r" at position 2$"))
    wp.set_data(generation_payload(run=3, n_prompt=4, n_gen=3, shown=7))
    expect(label).to_have_text(re.compile(r" at position 2$"))  # a clicked position stays


def test_a_new_run_with_fewer_positions_starts_afresh(wp):
    wp.mount(generation_payload(run=3, shown=40, **LONG))
    wp.cell(1, 3).click()
    expect(wp.page.locator(f"{OUT} .llk-popup")).to_be_visible()
    wp.set_data(generation_payload(run=3, shown=39, **LONG))  # the same run may not shrink
    assert wp.page.locator(f"{OUT} .llk-popup").is_hidden()
    assert grid_scroll(wp)["rows"] == 40


# Decoding ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("make", "message", "same"), [pytest.param(*c[1:], id=c[0]) for c in BAD])
def test_bad_generation_fields_are_refused_as_python_refuses_them(wp, make, message, same):
    wp.mount(payload())
    data = make()
    with pytest.raises(InvalidDataError) as info:
        validate_payload(data)
    python = str(info.value)
    wp.set_data(data)
    shown = wp.page.locator(f"{OUT} .llk-message.llk-error").text_content()
    assert shown.startswith("Cannot show this data: ")
    browser = shown.removeprefix("Cannot show this data: ")
    field = message.split("[")[0].split(" ")[0]
    assert browser.startswith(f'"{field}"'), browser
    if same:
        assert browser.replace('"', "") == python
    else:
        assert python.startswith(message)
    assert wp.page.locator(f"{OUT} .llk-cell").count() == 0


def test_every_command_the_browser_sends_is_a_python_command():
    """anywidget names a command by its Python method: `generate` is w.generate(), the
    browser's command is `generate_tokens` (channel.js's TIMEOUT_MS lists every command)."""
    from pathlib import Path

    from logitlenskit.live.study_widget import StudyWidget
    from logitlenskit.live.widget import LogitLensWidget

    source = (Path(__file__).parents[2] / "frontend" / "channel.js").read_text()
    table = source[source.index("TIMEOUT_MS = Object.freeze({") :]
    names = re.findall(r"^\s+(\w+): \d+,$", table[: table.index("});")], re.M)
    assert "generate_tokens" in names
    study = {"stop", "resume"}  # the study widget's Stop/Resume buttons; the rest the lens's
    assert study <= set(names)
    for name in names:
        owner = StudyWidget if name in study else LogitLensWidget
        assert getattr(getattr(owner, name, None), "_anywidget_command", False), name
