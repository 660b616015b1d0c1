"""The live loop's browser half (issue 8, docs/live-loop.md): commands through a fake
`experimental.invoke`, same-run data, cell status, and the run controls.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from playwright.sync_api import expect

from fake_lens import collection, payload
from live_data import detail_answer, full_probs, live_payload

pytestmark = pytest.mark.browser

OUT = "#out1"
NO_KERNEL = "No kernel is connected to this widget: run its cell again"
BIG = {"vocab_size": 150, "k": 3}  # enough tokens for a list of 100


def pct(text: str) -> float:
    return float(text.strip().rstrip("%")) / 100


def popup_rows(wp):
    return wp.page.locator(f"{OUT} .llk-popup-row")


def popup_ids(wp) -> list[int]:
    return [int(i) for i in popup_rows(wp).evaluate_all("rs => rs.map(r => r.dataset.id)")]


def popup_probs(wp) -> list[float]:
    return [pct(t) for t in popup_rows(wp).locator(".llk-prob").all_text_contents()]


def legend_labels(wp) -> list[str]:
    return wp.page.locator(f"{OUT} .llk-legend-pin .llk-legend-label").all_text_contents()


def expect_calls(wp, name: str, n: int) -> list[dict]:
    wp.page.wait_for_function(
        "([n, k]) => window.llk.commands.calls.filter(c => c.name === n).length >= k", arg=[name, n]
    )
    return wp.calls(name)


# Popup grows -----------------------------------------------------------------------------


def test_popup_grows_to_20_then_100_with_pythons_numbers(wp):
    wp.mount(live_payload(run=7, **BIG))
    probs = full_probs(**BIG)
    wp.cell(2, 1).click()
    assert popup_rows(wp).count() == 3  # at once, from the data
    status = wp.page.locator(f"{OUT} .llk-popup-status")
    assert status.text_content() == "loading 20\u2026"
    (call,) = expect_calls(wp, "detail", 1)
    assert call["msg"] == {"run": 7, "layer": 2, "row": 2, "position": 1, "k": 20}
    assert wp.reply("detail", *detail_answer(7, 2, 1, 20, **BIG))
    expect(popup_rows(wp)).to_have_count(20)
    order = np.argsort(-probs[2, 1], kind="stable")
    assert popup_ids(wp) == [int(i) for i in order[:20]]
    assert popup_probs(wp) == pytest.approx([float(probs[2, 1, i]) for i in order[:20]], rel=0.01)
    assert status.text_content() == ""
    more = wp.page.locator(f"{OUT} .llk-popup-more")
    assert more.text_content() == "show 100"
    more.click()
    call = expect_calls(wp, "detail", 2)[-1]
    assert call["msg"] == {"run": 7, "layer": 2, "row": 2, "position": 1, "k": 100}
    assert wp.reply("detail", *detail_answer(7, 2, 1, 100, **BIG))
    expect(popup_rows(wp)).to_have_count(100)
    assert popup_ids(wp) == [int(i) for i in order[:100]]
    assert popup_probs(wp)[60:70] == pytest.approx(
        [float(probs[2, 1, i]) for i in order[60:70]], rel=0.01, abs=6e-5
    )
    assert more.is_hidden()
    # A 100-row list scrolls inside the popup, which stays in the viewport.
    box = wp.page.locator(f"{OUT} .llk-popup").bounding_box()
    assert box["y"] + box["height"] <= 900


def test_selecting_a_cell_and_pinning_a_row_invoke_select(wp):
    wp.mount(live_payload(run=1))
    data = collection()
    wp.cell(4, 2).click()
    assert expect_calls(wp, "select", 1)[0]["msg"] == {
        "layer": 4,
        "row": 4,
        "position": 2,
        "token": None,
    }
    popup_rows(wp).nth(1).click()
    token = int(data["topk"][4, 2, 1])
    assert expect_calls(wp, "select", 2)[1]["msg"] == {
        "layer": 4,
        "row": 4,
        "position": 2,
        "token": token,
    }


def test_data_without_a_run_asks_python_for_nothing_deeper(wp):
    wp.mount(payload())
    wp.cell(2, 1).click()
    assert popup_rows(wp).count() == 3
    wp.page.wait_for_timeout(50)
    assert wp.calls("detail") == []
    assert wp.page.locator(f"{OUT} .llk-popup-more").is_hidden()


def test_a_stale_detail_answer_is_dropped(wp):
    wp.mount(live_payload(run=1, **BIG))
    wp.cell(2, 1).click()
    expect_calls(wp, "detail", 1)
    answer, buffers = detail_answer(1, 2, 1, 20, **BIG)
    assert wp.reply("detail", {**answer, "run": 0}, buffers)  # computed for another run
    status = wp.page.locator(f"{OUT} .llk-popup-status")
    expect(status).to_have_text("")
    assert popup_rows(wp).count() == 3
    # Neither its tokens' text nor their trajectories went into the data.
    tracked = set(collection(**BIG)["tracked"][1].tolist())
    untracked = next(i for i in answer["ids"] if i not in tracked)
    wp.set_trait("pins", [{"ids": [untracked], "color": "#e6194b"}])
    assert legend_labels(wp) == ["\u2026"]
    assert wp.page.locator(f"{OUT} .llk-lines path").first.get_attribute("d") == ""
    # Python's own stale answer ({error, stale: true}) is dropped without a message.
    wp.page.locator(f"{OUT} .llk-popup-more").click()
    expect_calls(wp, "detail", 2)
    assert wp.reply("detail", {"error": "stale: the data changed", "stale": True})
    expect(status).to_have_text("")
    assert popup_rows(wp).count() == 3


def test_a_failed_detail_says_why_in_the_popup(wp):
    wp.mount(live_payload(run=1))
    wp.cell(2, 1).click()
    expect_calls(wp, "detail", 1)
    assert wp.reply("detail", {"error": "RuntimeError: CUDA out of memory"})
    expect(wp.page.locator(f"{OUT} .llk-popup-status")).to_contain_text("CUDA out of memory")
    assert popup_rows(wp).count() == 3


def test_new_run_closes_the_popup_and_abandons_its_request(wp):
    wp.mount(live_payload(run=1))
    wp.cell(2, 1).click()
    expect_calls(wp, "detail", 1)
    wp.set_data(live_payload(run=2, seed=4))
    assert wp.page.locator(f"{OUT} .llk-popup").is_hidden()
    assert wp.calls("detail")[0]["state"] == "aborted"


def test_answered_trajectories_serve_hover_and_pins_at_that_position(wp):
    wp.mount(live_payload(run=1, **BIG))
    wp.cell(5, 3).click()
    expect_calls(wp, "detail", 1)
    wp.reply("detail", *detail_answer(1, 5, 3, 20, **BIG))
    expect(popup_rows(wp)).to_have_count(20)
    tracked = set(collection(**BIG)["tracked"][3].tolist())
    row = next(j for j, i in enumerate(popup_ids(wp)) if i not in tracked)
    token = popup_ids(wp)[row]
    popup_rows(wp).nth(row).hover()
    assert (wp.page.locator(f"{OUT} .llk-hover-line").get_attribute("d") or "").startswith("M")
    popup_rows(wp).nth(row).click()
    assert legend_labels(wp) == [f"tok{token}"]
    line = wp.page.locator(f"{OUT} .llk-lines path").first
    assert (line.get_attribute("d") or "").count("L") == 5  # all six layers


# Pins of untracked tokens and same-run data -------------------------------------------------


def test_pin_of_an_untracked_token_shows_its_text_and_line_after_same_run_data(wp):
    data = collection()
    everywhere = set().union(*(set(t.tolist()) for t in data["tracked"]))
    token = next(i for i in range(30) if i not in everywhere)
    wp.mount(live_payload(run=3))
    wp.cell(1, 2).click()  # a popup open across the update
    wp.set_trait("pins", [{"ids": [token], "color": "#e6194b"}])  # e.g. w.pins = ... in Python
    label = legend_labels(wp)[0]
    assert "#" not in label and str(token) not in label
    line = wp.page.locator(f"{OUT} .llk-lines path").first
    assert line.get_attribute("d") == ""
    wp.set_data(live_payload(run=3, track=(token,)))  # Python tracked it exactly
    assert legend_labels(wp) == [f"tok{token}"]
    assert (line.get_attribute("d") or "").count("L") == 5
    assert wp.page.locator(f"{OUT} .llk-popup").is_visible()


def _pushed(run: int, ids: list[int], **kw) -> tuple[dict, tuple[bytes]]:
    """What Python sends ahead of the payload after a pin: [P, n, L] exact probabilities."""
    probs = full_probs(**kw)  # [L, P, V]
    block = np.ascontiguousarray(probs[:, :, ids].transpose(1, 2, 0), dtype="<f4")
    msg = {"kind": "llk-trajectories", "run": run, "ids": ids, "tokens": [f"tok{i}" for i in ids]}
    return msg, (block.tobytes(),)


def test_pushed_trajectories_draw_a_pins_lines_before_the_data_arrives(wp):
    data = collection()
    everywhere = set().union(*(set(t.tolist()) for t in data["tracked"]))
    probs = full_probs()
    # The untracked token most probable in the last layer at position 3: a readable value.
    token = max((i for i in range(30) if i not in everywhere), key=lambda i: probs[5, 3, i])
    wp.mount(live_payload(run=3), pinned_rows=[0, 3])
    wp.set_trait("pins", [{"ids": [token], "color": "#e6194b"}])
    lines = wp.page.locator(f"{OUT} .llk-lines path:not(.llk-default-line)")
    assert [lines.nth(i).get_attribute("d") for i in range(2)] == ["", ""]
    wp.custom(*_pushed(3, [token]))
    assert legend_labels(wp) == [f"tok{token}"]
    ds = [lines.nth(i).get_attribute("d") or "" for i in range(2)]
    assert all(d.count("L") == 5 for d in ds), ds  # a whole line at each pinned row
    # The cells colored by the pin show the pushed probabilities (no data update happened).
    wp.set_trait("color_mode", "token")
    wp.set_trait("color_token", token)
    wp.cell(5, 3).hover()
    tip = wp.page.locator(f"{OUT} .llk-celltip .llk-celltip-value").all_text_contents()
    assert any(t.startswith(f"{probs[5, 3, token] * 100:.2f}%") for t in tip), tip


def test_pushed_trajectories_of_another_run_or_malformed_are_dropped(wp):
    everywhere = set().union(*(set(t.tolist()) for t in collection()["tracked"]))
    token = next(i for i in range(30) if i not in everywhere)
    wp.mount(live_payload(run=3))
    wp.set_trait("pins", [{"ids": [token], "color": "#e6194b"}])
    lines = wp.page.locator(f"{OUT} .llk-lines path:not(.llk-default-line)")
    assert lines.first.get_attribute("d") == ""
    wp.custom(*_pushed(2, [token]))  # an older run's
    msg, (block,) = _pushed(3, [token])
    wp.custom(msg, (block[:-4],))  # one float short
    wp.custom({**msg, "tokens": []}, (block,))  # no string per id
    wp.custom({"kind": "something else"})
    assert lines.first.get_attribute("d") == ""
    assert wp.errors == []


def test_a_pin_keeps_its_text_after_the_prompt_changes(wp):
    wp.mount(live_payload(run=1, **BIG))
    wp.cell(5, 3).click()
    expect_calls(wp, "detail", 1)
    wp.reply("detail", *detail_answer(1, 5, 3, 20, **BIG))
    expect(popup_rows(wp)).to_have_count(20)
    token = popup_ids(wp)[-1]
    popup_rows(wp).last.click()
    wp.set_data(live_payload(run=2, seed=9, **BIG))  # new run; Python has not tracked it yet
    assert legend_labels(wp) == [f"tok{token}"]


def test_same_run_data_keeps_popup_scroll_selection_and_focus(wp):
    wp.mount(live_payload(run=5, n_pos=40), grid_height=300)
    grid = wp.page.locator(f"{OUT} .llk-grid")
    grid.evaluate("g => { g.scrollTop = 200; }")
    wp.page.wait_for_timeout(50)
    wp.cell(3, 12).click()
    wp.page.keyboard.press("Escape")  # back on the cell, as a keyboard user
    wp.page.keyboard.press("Enter")  # opens the popup, focus on its first row
    wp.page.keyboard.press("ArrowDown")
    focused = wp.page.evaluate("document.activeElement.dataset.id")
    title = wp.page.locator(f"{OUT} .llk-popup-title").text_content()
    wp.set_data(live_payload(run=5, n_pos=40, track=(0, 1)))
    popup = wp.page.locator(f"{OUT} .llk-popup")
    assert popup.is_visible()
    assert wp.page.locator(f"{OUT} .llk-popup-title").text_content() == title
    assert grid.evaluate("g => g.scrollTop") == 200
    assert "llk-selected" in wp.cell(3, 12).get_attribute("class")
    assert wp.page.evaluate("document.activeElement.dataset.id") == focused
    assert wp.trait("selected_cell") == {"layer": 3, "position": 12}
    wp.page.keyboard.press("Escape")
    assert wp.page.evaluate("document.activeElement.parentElement.dataset.p") == "12"
    wp.set_data(live_payload(run=6, n_pos=40))
    assert popup.is_hidden()


# Cell status ---------------------------------------------------------------------------------


def status_grid(n_layers=6, n_pos=4) -> np.ndarray:
    status = np.zeros((n_layers, n_pos), np.uint8)
    status[2, 1] = 1
    status[3:, 3] = 2
    return status


def test_invalid_and_pending_cells_show_no_numbers(wp):
    wp.mount(live_payload(run=1, cell_status=status_grid()))
    invalid = wp.cell(2, 1)
    assert invalid.text_content() == "NaN"
    assert "llk-invalid" in invalid.get_attribute("class")
    assert invalid.get_attribute("title") == "the model's output here is not finite (NaN/Inf)"
    for ci in range(3, 6):
        pending = wp.cell(ci, 3)
        assert pending.text_content() == "\u2026"
        assert "llk-pending" in pending.get_attribute("class")
    bg = lambda c: c.evaluate("e => getComputedStyle(e).backgroundColor")  # noqa: E731
    assert bg(wp.cell(4, 3)) == "rgba(0, 0, 0, 0)"
    assert bg(wp.cell(0, 3)) != "rgba(0, 0, 0, 0)"
    invalid.hover()
    assert (wp.page.locator(f"{OUT} .llk-hover-line").get_attribute("d") or "") == ""
    invalid.click()
    popup = wp.page.locator(f"{OUT} .llk-popup")
    assert popup.is_visible()
    assert popup_rows(wp).count() == 0
    assert "not finite" in popup.locator(".llk-popup-note").text_content()
    assert not re.search(r"\d%", popup.text_content())
    wp.page.wait_for_timeout(50)
    assert wp.calls("detail") == []
    wp.page.keyboard.press("Escape")
    wp.cell(4, 3).click()
    assert popup_rows(wp).count() == 0
    assert "computing" in popup.locator(".llk-popup-note").text_content()


def test_pending_cells_fill_in_with_same_run_data_and_the_popup_follows(wp):
    wp.mount(live_payload(run=2, cell_status=status_grid()))
    wp.cell(4, 3).click()
    assert popup_rows(wp).count() == 0
    wp.set_data(live_payload(run=2))  # streamed in
    expect(popup_rows(wp)).to_have_count(3)
    assert wp.cell(4, 3).text_content().startswith("tok")
    assert expect_calls(wp, "detail", 1)[0]["msg"]["position"] == 3


def test_color_scales_and_lines_ignore_cells_without_numbers(wp):
    status = status_grid()
    data = live_payload(run=1, cell_status=status)
    entropy = np.frombuffer(data["entropy"], "<f4").reshape(6, 4).copy()
    entropy[2, 1] = 1e9  # garbage in an invalid cell must not flatten the scale
    data["entropy"] = entropy.astype("<f4").tobytes()
    wp.mount(data, color_mode="entropy", pins=[{"ids": [0], "color": "#e6194b"}], pinned_rows=[3])
    ok = entropy.copy()
    ok[status != 0] = 0
    layer, p = np.unravel_index(np.argmax(ok), ok.shape)
    bg = wp.cell(int(layer), int(p)).evaluate("e => getComputedStyle(e).backgroundColor")
    assert float(re.findall(r"[\d.]+", bg)[-1]) == pytest.approx(0.9, abs=0.011)
    # Row 3's line stops where its cells are pending: three points, two segments.
    d = wp.page.locator(f"{OUT} .llk-lines path").first.get_attribute("d") or ""
    assert d.count("M") <= 1 and d.count("L") <= 2


@pytest.mark.parametrize(
    ("status", "message"),
    [
        (np.zeros(23, np.uint8), '"cell_status" has 23 bytes, expected 24'),
        (np.full(24, 7, np.uint8), '"cell_status" has the unknown value 7'),
    ],
)
def test_cell_status_is_validated(wp, status, message):
    data = {**payload(), "cell_status": status.tobytes()}
    wp.mount(data)
    error = wp.page.locator(f"{OUT} .llk-message.llk-error")
    assert message in error.text_content()


# Run controls ------------------------------------------------------------------------------


def prompt_box(wp):
    return wp.page.locator(f"{OUT} .llk-prompt")


def test_prompt_box_is_multiline_enter_runs_shift_enter_adds_a_line(wp):
    wp.mount(payload(), editable_prompt=True, prompt="The capital")
    box = prompt_box(wp)
    assert box.evaluate("e => e.tagName") == "TEXTAREA"
    box.click()
    box.press("End")
    box.press("Shift+Enter")
    box.type("of France")
    assert wp.trait("prompt") == "The capital"  # nothing sent yet
    box.press("Enter")
    assert wp.trait("prompt") == "The capital\nof France"
    assert box.input_value() == "The capital\nof France"
    assert wp.saves() == 1
    assert box.evaluate("e => e.rows") == 2


def test_pasted_newlines_are_kept(wp):
    wp.page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    wp.mount(payload(), editable_prompt=True, prompt="")
    box = prompt_box(wp)
    box.focus()
    wp.page.evaluate("navigator.clipboard.writeText('line one\\nline two\\n\\tindented')")
    wp.page.keyboard.press("ControlOrMeta+V")
    assert box.input_value() == "line one\nline two\n\tindented"
    box.press("Enter")
    assert wp.trait("prompt") == "line one\nline two\n\tindented"


def test_prompt_box_follows_python_even_while_focused(wp):
    wp.mount(payload(), editable_prompt=True, prompt="first")
    box = prompt_box(wp)
    box.click()
    box.type(" typing")
    wp.set_trait("pins", [{"ids": [1], "color": "#e6194b"}])  # other traits leave the text alone
    assert box.input_value() == "first typing"
    wp.set_trait("prompt", "set from Python")
    assert box.input_value() == "set from Python"
    assert wp.page.evaluate("document.activeElement.classList.contains('llk-prompt')")


def test_enter_on_an_unchanged_prompt_reruns(wp):
    wp.mount(payload(), editable_prompt=True, prompt="again", error="ValueError: boom")
    prompt_box(wp).press("Enter")
    assert len(expect_calls(wp, "rerun", 1)) == 1
    assert wp.saves() == 0
    wp.page.locator(f"{OUT} .llk-run-btn").click()
    assert len(expect_calls(wp, "rerun", 2)) == 2
    assert wp.page.locator(f"{OUT} .llk-notice").is_hidden()


def test_busy_shows_elapsed_progress_status_and_stop(wp):
    wp.mount(payload(), editable_prompt=True, prompt="x")
    row = wp.page.locator(f"{OUT} .llk-progress")
    wp.set_trait("busy", True)
    wp.set_trait("progress", 0.4)
    wp.set_trait("status", "lens 40%")
    assert row.is_hidden()  # nothing flashes for a quick run
    expect(row).to_be_visible(timeout=2500)
    assert re.fullmatch(r"\d+ s", wp.page.locator(f"{OUT} .llk-elapsed").text_content())
    assert wp.page.locator(f"{OUT} .llk-progress-text").text_content() == "40%"
    assert wp.page.locator(f"{OUT} .llk-progress-bar").evaluate("e => e.value") == pytest.approx(
        0.4
    )
    assert wp.page.locator(f"{OUT} .llk-status").text_content() == "lens 40%"
    wp.page.locator(f"{OUT} .llk-stop").click()
    assert len(expect_calls(wp, "halt", 1)) == 1
    wp.set_trait("progress", -1)
    assert wp.page.locator(f"{OUT} .llk-progress-text").text_content() == ""
    wp.set_trait("busy", False)
    assert row.is_hidden()
    assert wp.page.evaluate("window.llk.counts().timers") == 0


def test_stop_mid_stream_shows_the_previous_run_and_keeps_the_typed_prompt_as_a_draft(wp):
    """Issue 23 item 1: Python cancels a stopped run; the box keeps what the user typed."""
    old = live_payload(run=1, n_pos=4)
    wp.mount(old, editable_prompt=True, prompt="old prompt")
    box = prompt_box(wp)
    box.fill("a much longer new prompt")
    box.press("Enter")
    assert wp.trait("prompt") == "a much longer new prompt"
    streaming = np.full((6, 9), 2, np.uint8)
    streaming[:, :2] = 0  # the first screen is in, the rest pending
    wp.set_data(live_payload(run=2, n_pos=9, cell_status=streaming))
    wp.set_trait("busy", True)
    stop = wp.page.locator(f"{OUT} .llk-stop")
    expect(stop).to_be_visible(timeout=2500)
    stop.click()
    assert len(expect_calls(wp, "halt", 1)) == 1
    # What widget.stop() sends back: the previous run, its prompt, the new one as a draft.
    wp.set_data(old)
    wp.set_trait("draft", "a much longer new prompt")
    wp.set_trait("prompt", "old prompt")
    wp.set_trait("error", "Stopped: the run was cancelled; the lens shown is the previous run's")
    wp.set_trait("busy", False)
    assert wp.page.locator(f"{OUT} .llk-pending").count() == 0, "no cell waits forever"
    assert wp.page.locator(f"{OUT} .llk-input").count() == 4, "the previous run's rows"
    assert box.input_value() == "a much longer new prompt", "the typed text is not lost"
    note = wp.page.locator(f"{OUT} .llk-draft-note")
    expect(note).to_be_visible()
    assert "not run" in note.text_content()
    # The draft look is the widget's CSS (.llk-draft), not an inline style; the note reads as
    # a note: smaller, muted, italic.
    style = "e => [getComputedStyle(e).borderTopStyle, e.style.borderStyle, e.className]"
    assert box.evaluate(style) == ["dashed", "", "llk-prompt llk-draft"]
    look = "e => [getComputedStyle(e).fontStyle, parseFloat(getComputedStyle(e).fontSize)]"
    assert note.evaluate(look)[0] == "italic"
    assert note.evaluate(look)[1] < box.evaluate(look)[1]
    wp.set_trait("pins", [{"ids": [1], "color": "#e6194b"}])  # a re-render keeps the draft
    assert box.input_value() == "a much longer new prompt" and note.is_visible()
    box.press("Enter")  # runs the draft: it differs from the prompt shown
    assert wp.trait("prompt") == "a much longer new prompt"
    wp.set_trait("draft", "")
    expect(note).to_be_hidden()
    assert box.input_value() == "a much longer new prompt"
    assert box.evaluate(style) == ["solid", "", "llk-prompt"]


def test_confirm_buttons_answer_python(wp):
    wp.mount(payload(), editable_prompt=True, prompt="x")
    box = wp.page.locator(f"{OUT} .llk-confirm")
    assert box.is_hidden()
    wp.set_trait("confirm", "This prompt has 5,000 tokens: the run may take minutes.")
    assert box.is_visible()
    assert "5,000 tokens" in box.text_content()
    box.locator(".llk-confirm-yes").click()
    assert expect_calls(wp, "answer", 1)[0]["msg"] == {"accept": True}
    box.locator(".llk-confirm-no").click()
    assert expect_calls(wp, "answer", 2)[1]["msg"] == {"accept": False}
    wp.set_trait("confirm", "")
    assert box.is_hidden()


@pytest.mark.parametrize("how", ["fails", "times out"])
def test_no_kernel_is_said_not_ignored(wp, how):
    wp.mount(payload(), editable_prompt=True, prompt="old")
    wp.answer_with("ping", "fail" if how == "fails" else None)
    box = prompt_box(wp)
    box.fill("new prompt")
    box.press("Enter")
    notice = wp.page.locator(f"{OUT} .llk-notice")
    expect(notice).to_have_text(NO_KERNEL, timeout=5000)
    # Python speaking again (a run starts) takes the message away.
    wp.set_trait("busy", True)
    assert notice.is_hidden()
    wp.set_trait("busy", False)


def test_enter_with_no_kernel_on_an_unchanged_prompt(wp):
    wp.mount(payload(), editable_prompt=True, prompt="same")
    wp.answer_with("ping", "fail")
    wp.answer_with("rerun", "fail")
    prompt_box(wp).press("Enter")
    expect(wp.page.locator(f"{OUT} .llk-notice")).to_have_text(NO_KERNEL)


def test_a_host_without_commands_says_so(wp):
    wp.mount(payload(), editable_prompt=True, prompt="old", experimental=False)
    prompt_box(wp).fill("new")
    prompt_box(wp).press("Enter")
    expect(wp.page.locator(f"{OUT} .llk-notice")).to_contain_text("cannot send commands")


def test_k_layers_and_remote_controls_write_traits(wp):
    wp.mount(
        {**payload(), "num_layers": 6},
        editable_prompt=True,
        prompt="x",
        k=3,
        layers=None,
        remote=None,
    )
    k, layers = wp.page.locator(f"{OUT} .llk-k"), wp.page.locator(f"{OUT} .llk-layers")
    msg = wp.page.locator(f"{OUT} .llk-options-msg")
    assert k.input_value() == "3" and layers.input_value() == "all"
    k.fill("8")
    k.press("Enter")
    assert wp.trait("k") == 8
    saves = wp.saves()
    for bad in ("0", "2.5", "1025"):
        k.fill(bad)
        k.press("Enter")
        assert msg.is_visible() and "k must be a whole number" in msg.text_content()
        assert wp.trait("k") == 8
    assert wp.saves() == saves
    layers.fill("0:4:2,-1")
    layers.press("Enter")
    assert msg.is_hidden()
    assert wp.trait("layers") == [0, 2, 5]
    assert layers.input_value() == "0,2,5"
    for bad in ("abc", "0:9:0", "7", "1,,2"):
        layers.fill(bad)
        layers.press("Enter")
        assert msg.is_visible() and msg.text_content().startswith("layers: ")
        assert wp.trait("layers") == [0, 2, 5]
    layers.fill("all")
    layers.press("Enter")
    assert wp.trait("layers") is None
    remote = wp.page.locator(f"{OUT} .llk-remote")
    for label, value in [
        ("NDIF", True),
        ("NDIF simulation", "local"),
        ("local", False),
        ("auto", None),
    ]:
        remote.select_option(label=label)
        assert wp.trait("remote") == value
    assert len(wp.calls("ping")) >= 6  # every change checks that a kernel hears it
    # Python's values show in the controls.
    wp.set_trait("k", 12)
    wp.set_trait("layers", [1, 2, 3, 5])
    wp.set_trait("remote", True)
    assert k.input_value() == "12"
    assert layers.input_value() == "1:4,5"
    assert remote.evaluate("e => e.selectedOptions[0].textContent") == "NDIF"


def test_run_controls_hidden_without_a_model(wp):
    wp.mount(payload(), editable_prompt=False, error="ValueError: shown anyway")
    assert wp.page.locator(f"{OUT} .llk-run").is_hidden()
    assert wp.page.locator(f"{OUT} .llk-py-error").is_visible()


def test_cleanup_with_a_request_in_flight_and_a_run_busy(wp):
    wp.mount(live_payload(run=1), editable_prompt=True, prompt="x")
    wp.cell(2, 1).click()
    expect_calls(wp, "detail", 1)
    wp.set_trait("busy", True)
    wp.page.wait_for_timeout(1100)
    assert wp.page.evaluate("window.llk.counts().timers") == 1
    wp.page.evaluate("window.llk.cleanup()")
    assert wp.page.evaluate("window.llk.counts()") == {
        "dom": 0,
        "model": 0,
        "observers": 0,
        "timers": 0,
        "frames": 0,
    }
    assert wp.calls("detail")[0]["state"] == "aborted"
    assert wp.reply("detail", *detail_answer(1, 2, 1, 20)) is False  # nothing left to answer
