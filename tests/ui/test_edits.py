"""An edited view (issue 20): the payload's ``edits``, the legend and its commands, the cells
the edits touch, the popup's "Patch into B" and the patching sweep's panel (trait ``sweep``).
The commands are widget.py's ``edit``, ``patch_cell`` and ``sweep_action``.

Payloads are made here from known distributions of a 4-layer model with sub-layer rows
(after attention ``n·a``, after the layer ``n``); which cells an edit touches is computed by
this file from the rule of the contract, and every command's body is read back from the fake
kernel.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pytest

from cells import OUT, tip_rows
from logitlenskit.base.formats import to_widget_payload

N_LAYERS, P, K, V = 4, 6, 3, 30
LAYERS = [n for n in range(N_LAYERS) for _ in (0, 1)]
KINDS = [1, 0] * N_LAYERS
L = len(LAYERS)
LABELS = ["steered \u00d74", "baseline"]
HOSTILE = '<img src=x onerror="window.pwned=1">'
HEAT, NEG = (43, 108, 212), (200, 55, 45)
STEER = {
    "kind": "steer",
    "label": "steer \u00d74",
    "layer": 2,
    "row_kind": 1,
    "from_position": 0,
    "alpha": 4.0,
}
ABLATE = {"kind": "ablate", "label": HOSTILE, "layer": 1, "row_kind": 0, "from_position": 3}


def payload(seed: int, edits: list[dict] | None = None, kinds: bool = True) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(L, P, V)) * np.linspace(0.8, 3.0, L)[:, None, None]
    probs = np.exp(logits - logits.max(-1, keepdims=True))
    probs /= probs.sum(-1, keepdims=True)
    topk = np.argsort(-probs, axis=-1, kind="stable")[..., :K].astype(np.int32)
    tracked = [np.unique(topk[:, p]).astype(np.int32) for p in range(P)]
    data = {
        "model": "edit-model",
        "input": [" The", " Eiffel", " Tower", " is", " in", " Paris"],
        "input_ids": list(range(100, 100 + P)),
        "layers": LAYERS if kinds else list(range(N_LAYERS)),
        "num_layers": N_LAYERS,
        "topk": topk if kinds else topk[1::2],
        "topk_probs": np.take_along_axis(probs, topk, -1).astype(np.float32)[
            slice(None) if kinds else slice(1, None, 2)
        ],
        "tracked": tracked,
        "probs": [
            probs[:, p, t].astype(np.float32)[slice(None) if kinds else slice(1, None, 2)]
            for p, t in enumerate(tracked)
        ],
        "vocab": {i: f"w{i}" for i in range(V)},
    }
    if kinds:
        data["row_kinds"] = KINDS
    if edits:
        data["edits"] = edits  # through Python's own check, as a collection carries them
    return to_widget_payload(data)


def mount_edited(wp, edits: list[dict] | None = None, **traits: Any) -> None:
    traits.setdefault("editable_prompt", True)
    wp.mount(
        payload(1, [STEER, ABLATE] if edits is None else edits),
        compare_data=payload(2),
        compare_labels=LABELS,
        **traits,
    )


def touched(edit: dict, layer: int, kind: int, p: int) -> bool:
    """The contract's rule (issue 20 brief), written out independently of edits.js."""
    if p < edit["from_position"]:
        return False
    if layer != edit["layer"]:
        return layer > edit["layer"]
    return edit["row_kind"] == 1 or kind == 0


def last_msg(wp, name: str) -> dict:
    calls = wp.calls(name)
    assert calls, f"no {name} command was sent"
    return calls[-1]["msg"]


@pytest.mark.browser
def test_the_legend_lists_each_edit_and_its_controls_send_the_right_commands(wp):
    mount_edited(wp)
    for name in ("edit", "patch_cell", "sweep_action"):
        wp.answer_with(name, {"ok": True})
    page = wp.page
    caption = page.locator(f"{OUT} .llk-edited")
    assert caption.is_visible()
    assert caption.text_content() == f"{LABELS[0]}: edited: steer \u00d74, {HOSTILE}"
    items = page.locator(f"{OUT} .llk-edits .llk-edit")
    assert items.count() == 2
    assert items.locator(".llk-edit-label").all_text_contents() == ["steer \u00d74", HOSTILE]
    assert items.locator(".llk-edit-kind").all_text_contents() == ["steer", "ablate"]
    # Only the steer has an α.
    assert items.nth(0).locator(".llk-edit-alpha").input_value() == "4"
    assert items.nth(1).locator(".llk-edit-alpha").count() == 0

    items.nth(1).locator(".llk-edit-remove").click()
    assert last_msg(wp, "edit") == {"action": "remove", "index": 1}
    alpha = items.nth(0).locator(".llk-edit-alpha")
    alpha.fill("2.5")
    alpha.press("Enter")
    assert last_msg(wp, "edit") == {"action": "alpha", "index": 0, "alpha": 2.5}
    n = len(wp.calls("edit"))
    alpha.blur()  # its change event: the value already sent is not sent again
    page.wait_for_timeout(50)
    assert len(wp.calls("edit")) == n
    alpha.fill("-1")
    alpha.dispatch_event("change")
    assert last_msg(wp, "edit") == {"action": "alpha", "index": 0, "alpha": -1}
    alpha.fill("")
    alpha.press("Enter")
    assert len(wp.calls("edit")) == n + 1, "an empty α sends nothing"
    assert "finite number" in page.locator(f"{OUT} .llk-edit-msg").text_content()
    page.locator(f"{OUT} .llk-edit-clear").click()
    assert last_msg(wp, "edit") == {"action": "clear"}

    # A refusal shows where the run bar shows refused commands.
    wp.answer_with("edit", {"error": "there is no edit 5"})
    items.nth(0).locator(".llk-edit-remove").click()
    error = page.locator(f"{OUT} .llk-py-error")
    error.wait_for(state="visible")
    assert error.text_content() == "there is no edit 5"


@pytest.mark.browser
@pytest.mark.parametrize("experimental", [True, False])
def test_a_static_page_shows_the_legend_without_controls(wp, experimental):
    mount_edited(wp, editable_prompt=False, experimental=experimental)
    page = wp.page
    assert page.locator(f"{OUT} .llk-edited").is_visible()
    assert page.locator(f"{OUT} .llk-edits .llk-edit").count() == 2
    assert page.locator(f"{OUT} .llk-edit-remove").count() == 0
    assert page.locator(f"{OUT} .llk-edit-clear").is_hidden()
    assert page.locator(f"{OUT} .llk-edit-alpha").is_disabled()
    wp.cell(3, 2).click()
    assert page.locator(f"{OUT} .llk-popup .llk-patch").is_hidden()


@pytest.mark.browser
def test_a_run_without_edits_shows_no_caption_legend_or_marks(wp):
    wp.mount(payload(1), compare_data=payload(2), editable_prompt=True)
    page = wp.page
    assert page.locator(f"{OUT} .llk-edited").is_hidden()
    assert page.locator(f"{OUT} .llk-edits").is_hidden()
    assert page.locator(f"{OUT} .llk-cell").count() > 0
    assert page.locator(f"{OUT} .llk-cell.llk-touched").count() == 0


def shown_marks(wp) -> dict[tuple[int, int], bool]:
    """Every built cell: (column, position) → whether it carries the touched mark."""
    return {
        (c["ci"], c["p"]): c["touched"]
        for c in wp.page.evaluate(
            """(out) => [...document.querySelectorAll(`${out} .llk-row .llk-cell`)].map((c) => ({
                ci: Number(c.dataset.ci), p: Number(c.closest('.llk-row').dataset.p),
                touched: c.classList.contains('llk-touched'),
                corner: getComputedStyle(c, '::after').borderRightWidth,
            }))""",
            OUT,
        )
    }


@pytest.mark.browser
@pytest.mark.parametrize("kinds", [True, False], ids=["sublayer-rows", "layer-rows"])
def test_touched_cells_and_only_those_are_marked(wp, kinds):
    edits = [STEER, ABLATE, {**ABLATE, "label": "patch", "kind": "patch", "layer": 0}]
    edits[2]["from_position"] = 5
    layers = LAYERS if kinds else list(range(N_LAYERS))
    row_kinds = KINDS if kinds else [0] * N_LAYERS
    wp.mount(payload(1, edits, kinds=kinds), compare_data=payload(2, kinds=kinds))
    heads = wp.page.locator(f"{OUT} .llk-colhead").count()
    assert heads == len(layers), "every lens row is a column"
    marks = shown_marks(wp)
    assert len(marks) == len(layers) * P
    for (ci, p), mark in marks.items():
        want = any(touched(e, layers[ci], row_kinds[ci], p) for e in edits)
        assert mark == want, (layers[ci], row_kinds[ci], p)
    assert any(marks.values()) and not all(marks.values())
    if kinds:
        # The steer, made inside layer 2 before its after-attention point, touches 2·a; the
        # ablation of layer 1's output leaves 1·a alone from position 3 on.
        assert marks[(LAYERS.index(2), 0)] and marks[(LAYERS.index(2) + 1, 0)]
        assert not marks[(LAYERS.index(1), 3)] and marks[(LAYERS.index(1) + 1, 3)]
        assert not marks[(LAYERS.index(1) + 1, 2)], "before the ablation's position"
        assert marks[(LAYERS.index(0) + 1, 5)] and not marks[(LAYERS.index(0), 5)]
    # The cell tooltip names the edits that can have changed a cell, and only those.
    if kinds:
        rows = tip_rows(wp, LAYERS.index(1) + 1, 3)
        assert rows["changed by"] == HOSTILE
        rows = tip_rows(wp, L - 1, 5)
        assert rows["changed by"] == f"steer \u00d74, {HOSTILE}, patch"
        assert "changed by" not in tip_rows(wp, LAYERS.index(1), 2)
    # The mark is drawn (a corner), not only a class.
    width = wp.cell(L - 1 if kinds else N_LAYERS - 1, 5).evaluate(
        "c => getComputedStyle(c, '::after').borderRightWidth"
    )
    assert float(width.removesuffix("px")) > 0


@pytest.mark.browser
def test_malformed_edits_are_refused_with_a_message(wp):
    data = payload(1)
    data["edits"] = [{**STEER, "row_kind": 3}]  # past Python's checks: a saved state, say
    wp.mount(data)
    msg = wp.page.locator(f"{OUT} .llk-message")
    assert msg.is_visible()
    assert '"edits"[0].row_kind is 3' in msg.text_content()
    assert wp.page.locator(f"{OUT} .llk-cell").count() == 0, "an edited run is never unmarked"


@pytest.mark.browser
def test_the_popup_of_a_live_diff_patches_a_side_a_cell_into_b(wp):
    wp.mount(payload(1), compare_data=payload(2), editable_prompt=True)
    wp.answer_with("patch_cell", {"ok": True})
    page = wp.page
    ci = LAYERS.index(2)  # layer 2's after-attention row
    wp.cell(ci, 3).click()
    button = page.locator(f"{OUT} .llk-popup .llk-patch-btn")
    assert button.is_visible()
    assert button.text_content() == "Patch into B"
    assert page.locator(f"{OUT} .llk-popup-edited").is_hidden()
    assert page.locator(f"{OUT} .llk-patch-into").input_value() == "3"
    button.click()
    assert last_msg(wp, "patch_cell") == {"layer": 2, "position": 3, "row_kind": 1, "into": 3}
    wp.cell(ci + 1, 4).click()
    page.locator(f"{OUT} .llk-patch-into").fill("1")
    page.locator(f"{OUT} .llk-patch-into").press("Enter")
    assert last_msg(wp, "patch_cell") == {"layer": 2, "position": 4, "row_kind": 0, "into": 1}
    wp.answer_with("patch_cell", {"error": "position 9 is past side B's prompt"})
    page.locator(f"{OUT} .llk-popup .llk-patch-btn").click()
    page.locator(f"{OUT} .llk-py-error").wait_for(state="visible")
    assert page.locator(f"{OUT} .llk-py-error").text_content() == (
        "position 9 is past side B's prompt"
    )


@pytest.mark.browser
def test_an_edited_sides_popup_says_so_and_a_steered_one_offers_no_patch(wp):
    mount_edited(wp)
    wp.cell(3, 2).click()
    mark = wp.page.locator(f"{OUT} .llk-popup .llk-popup-edited")
    assert mark.is_visible()
    assert mark.text_content() == f"{LABELS[0]} is edited: steer \u00d74, {HOSTILE}"
    assert wp.page.locator(f"{OUT} .llk-popup .llk-patch").is_hidden()
    # A patched side A can be patched again.
    patched = {**ABLATE, "kind": "patch", "label": "patch L1@3"}
    wp.set_data(payload(3, [patched]))
    wp.cell(3, 2).click()
    assert wp.page.locator(f"{OUT} .llk-popup .llk-patch").is_visible()
    assert wp.page.locator(f"{OUT} .llk-popup .llk-patch-btn").text_content() == (
        f"Patch into {LABELS[1]}"
    )


def sweep(**o: Any) -> dict[str, Any]:
    s = {
        "metric": "logit diff",
        "clean_label": "clean",
        "corrupt_label": "corrupt",
        "layers": [0, 1, 2],
        "positions": [0, 2, 3],
        "tokens": [" The", HOSTILE, " is"],
        "values": [[1.0, None, 3.0], [-1.0, 5.0, 2.0], [9.0, None, 1.0]],
        "clean_value": 5.0,
        "corrupt_value": 1.0,
        "done": 7,
        "total": 9,
        "running": True,
        "error": "",
    }
    s.update(o)
    return s


def cell_rgba(locator: Any) -> tuple[tuple[int, ...], float]:
    bg = locator.evaluate("e => getComputedStyle(e).backgroundColor")
    nums = [float(x) for x in re.findall(r"[\d.]+", bg)]
    return tuple(int(x) for x in nums[:3]), (nums[3] if len(nums) == 4 else 1.0)


@pytest.mark.browser
def test_the_sweep_panel_shows_values_nulls_and_progress_and_sends_its_commands(wp):
    s = sweep()
    wp.mount(payload(1), sweep=s, editable_prompt=True)
    wp.answer_with("sweep_action", {"ok": True})
    wp.answer_with("patch_cell", {"ok": True})
    page = wp.page
    panel = page.locator(f"{OUT} .llk-sweep")
    assert panel.is_visible()
    assert panel.locator(".llk-sweep-progress").text_content() == "7/9"
    assert panel.locator(".llk-sweep-token").all_text_contents()[0] == "\u2423The"
    assert panel.locator(".llk-sweep-layer").all_text_contents() == ["0", "1", "2"]
    rows = panel.locator(".llk-sweep-row")
    assert rows.count() == 1 + 3
    for j in range(3):
        for i in range(3):
            cell = panel.locator(f'.llk-sweep-cell[data-i="{i}"][data-j="{j}"]')
            v = s["values"][i][j]
            title = cell.get_attribute("title")
            where = f"layer {s['layers'][i]}, position {s['positions'][j]}"
            if v is None:
                assert title == f"{where}: not yet"
                assert "llk-sweep-pending" in cell.get_attribute("class")
                assert cell_rgba(cell)[1] == 0
                continue
            e = (v - 1.0) / (5.0 - 1.0)
            assert title.startswith(f"{where}: logit diff ")
            color, alpha = cell_rgba(cell)
            assert alpha == pytest.approx(round(min(1, abs(e)) * 90) / 100, abs=0.011)
            if alpha:
                assert color == (HEAT if e > 0 else NEG)
    assert "effect 2" in panel.locator('.llk-sweep-cell[data-i="2"][data-j="0"]').get_attribute(
        "title"
    ), "an effect past 1 is in the title"

    panel.locator(".llk-sweep-stop").click()
    assert wp.calls("halt")
    panel.locator(".llk-sweep-close").click()
    assert last_msg(wp, "sweep_action") == {"action": "close"}
    panel.locator('.llk-sweep-cell[data-i="1"][data-j="2"]').click()
    assert last_msg(wp, "patch_cell") == {"layer": 1, "position": 3}

    # Values arrive in place; the end of the run hides Stop; {} closes the panel.
    values = [row[:] for row in s["values"]]
    values[0][1] = 5.0
    wp.set_trait("sweep", sweep(values=values, done=9, running=False))
    cell = panel.locator('.llk-sweep-cell[data-i="0"][data-j="1"]')
    assert cell_rgba(cell) == (HEAT, 0.9)
    assert panel.locator(".llk-sweep-progress").text_content() == "9/9"
    assert panel.locator(".llk-sweep-stop").is_hidden()
    wp.set_trait("sweep", {})
    assert panel.is_hidden()


@pytest.mark.browser
def test_a_malformed_sweep_says_why_and_an_errored_one_shows_its_error(wp):
    wp.mount(payload(1), sweep=sweep(values=[[1.0]]), editable_prompt=True)
    panel = wp.page.locator(f"{OUT} .llk-sweep")
    assert panel.is_visible()
    assert "Cannot show the sweep" in panel.locator(".llk-sweep-error").text_content()
    wp.set_trait("sweep", sweep(error="NDIF refused the batch", running=False))
    assert panel.locator(".llk-sweep-error").text_content() == "NDIF refused the batch"
    assert panel.locator(".llk-sweep-cell").count() == 9


@pytest.mark.browser
def test_a_static_sweep_has_no_buttons_and_ignores_clicks(wp):
    wp.mount(payload(1), sweep=sweep(), editable_prompt=False)
    panel = wp.page.locator(f"{OUT} .llk-sweep")
    assert panel.locator(".llk-sweep-stop").is_hidden()
    assert panel.locator(".llk-sweep-close").is_hidden()
    panel.locator('.llk-sweep-cell[data-i="1"][data-j="2"]').click()
    assert wp.calls("patch_cell") == []


@pytest.mark.browser
def test_hostile_labels_and_tokens_stay_text(wp):
    mount_edited(wp, sweep=sweep(clean_label=HOSTILE, metric=HOSTILE))
    wp.cell(3, 2).click()
    page = wp.page
    assert page.locator(f"{OUT} img").count() == 0
    assert page.evaluate("window.pwned") is None
    assert HOSTILE in page.locator(f"{OUT} .llk-sweep-title").text_content()


@pytest.mark.browser
def test_cleanup_removes_the_edit_views_listeners(wp):
    mount_edited(wp, sweep=sweep())
    wp.answer_with("edit", {"ok": True})
    wp.cell(3, 2).click()
    wp.page.locator(f"{OUT} .llk-edit-remove").first.click()
    wp.cleanup()
    assert wp.counts() == {"dom": 0, "model": 0, "observers": 0, "timers": 0, "frames": 0}


def test_the_reference_rule_is_the_contracts():
    """The file's own reference, against hand-checked cases (so a wrong reference fails)."""
    e = {"layer": 2, "row_kind": 0, "from_position": 1}
    assert touched(e, 2, 0, 1) and not touched(e, 2, 1, 1) and not touched(e, 2, 0, 0)
    assert touched({**e, "row_kind": 1}, 2, 1, 1) and touched(e, 3, 1, 1)
    assert not touched(e, 1, 0, 5)
