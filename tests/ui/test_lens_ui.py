"""Lenses beyond the logit lens (issue 21), the widget's part: the lens menu (trait ``lens``,
offering ``lens_choices``), the lens's name in the title line, the popup and the cell
tooltip, both lenses named in a diff of two, and the reliability strip along the column
headers (payload ``lens_reliability``) with its legend.

Payloads are the edit tests' (a 4-layer model with sub-layer rows, through Python's own
``to_widget_payload``) with the issue's optional fields added as Python sends them; what
the strip shows is read back from the page and compared with the numbers put in.
"""

from __future__ import annotations

import math
import re
from itertools import pairwise
from typing import Any

import pytest

from cells import OUT, tip_rows
from test_edits import KINDS, LAYERS, L, payload

HOSTILE = '<img src=x onerror="window.pwned=1">'
CHOICES = [
    {"key": "logit", "name": "logit lens", "note": ""},
    {"key": "tuned", "name": "tuned lens", "note": "fitted"},
    {"key": "linear", "name": "linear shortcut", "note": "fits on first use (~2 min)"},
    {"key": "patchscope", "name": "patchscope", "note": ""},
]
NOTE = "held-out model-written text, 2,048 tokens"
# One entry per lens row (after attention, after the layer, per layer): the after-attention
# rows are not measured (null), as a fitted lens has maps for block outputs only.
KL = [
    None if k == 1 else kl for k, kl in zip(KINDS, [0, 25.0, 0, 6.2, 0, 1.62, 0, 0.0], strict=True)
]
TOP1 = [
    None if k == 1 else t for k, t in zip(KINDS, [0, 0.05, 0, 0.2, 0, 0.31, 0, 1.0], strict=True)
]
RELIABILITY = {"kl": KL, "top1": TOP1, "note": NOTE}


def lens_payload(seed: int, lens: str | None = None, rel: Any = None) -> dict[str, Any]:
    data = payload(seed)
    if lens is not None:
        data["lens"] = lens
    if rel is not None:
        data["lens_reliability"] = rel
    return data


def reliability_words(kl: float | None, top1: float | None, note: str = "") -> str:
    """The contract's wording, written out here."""
    tail = f" ({note})" if note else ""
    if kl is None and top1 is None:
        return f"reliability not measured at this row{tail}"
    a = "held-out KL not measured" if kl is None else f"held-out KL {kl:.2f} nats"
    if kl is not None and kl >= 10:
        a = f"held-out KL {kl:.1f} nats"
    b = "top-1 agreement not measured" if top1 is None else f"top-1 agreement {round(top1 * 100)}%"
    return f"{a} \u00b7 {b}{tail}"


def luminance(rgb: tuple[int, ...]) -> float:
    def lin(c: float) -> float:
        c /= 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = rgb
    return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b)


def strip(wp) -> list[dict[str, Any]]:
    """Each column header's strip cell: its lens row, title, background and boxes."""
    return wp.page.evaluate(
        """(out) => [...document.querySelectorAll(`${out} .llk-colhead`)].map((h) => {
          const s = h.querySelector(".llk-rel");
          if (!s) return null;
          const hb = h.getBoundingClientRect(), sb = s.getBoundingClientRect();
          return { l: Number(s.dataset.l), title: s.title, none: s.classList.contains("llk-rel-none"),
            bg: getComputedStyle(s).backgroundColor, image: getComputedStyle(s).backgroundImage,
            head: [hb.left, hb.right, hb.bottom], cell: [sb.left, sb.right, sb.bottom, sb.height] };
        })""",
        OUT,
    )


def rgb(css: str) -> tuple[int, ...]:
    return tuple(int(float(x)) for x in re.findall(r"[\d.]+", css)[:3])


def row_title(i: int) -> str:
    half = "after attention (before the MLP)" if KINDS[i] == 1 else "after the layer"
    return f"layer {LAYERS[i]}, {half}"


# 1. The lens menu ------------------------------------------------------------------------


@pytest.mark.browser
def test_the_menu_offers_the_choices_and_sets_the_lens_trait(wp):
    wp.mount(lens_payload(1), editable_prompt=True, lens="logit", lens_choices=CHOICES)
    page = wp.page
    menu = page.locator(f"{OUT} .llk-run-row .llk-lens-select")
    assert menu.is_visible()
    assert menu.locator("option").all_text_contents() == [
        "logit lens",
        "tuned lens (fitted)",
        "linear shortcut (fits on first use (~2 min))",
        "patchscope",
    ]
    assert menu.input_value() == "logit"
    saves = wp.saves()
    pings = len(wp.calls("ping"))
    menu.select_option("tuned")
    assert wp.trait("lens") == "tuned"
    assert wp.saves() > saves, "the change is synced to Python"
    assert len(wp.calls("ping")) > pings, "a ping finds out whether a kernel heard it"
    assert wp.calls("rerun") == [], "a synced trait, no command: Python reruns on the change"
    # Python's choice follows into the menu (another output, a Python call).
    wp.set_trait("lens", "patchscope")
    assert menu.input_value() == "patchscope"
    # A lens the menu does not offer is shown as it is, not replaced by the first choice.
    wp.set_trait("lens", "jacobian")
    assert menu.input_value() == "jacobian"
    assert menu.locator("option:checked").text_content() == "jacobian"


@pytest.mark.browser
@pytest.mark.parametrize(
    "traits",
    [
        {"editable_prompt": False},  # no model attached: a static page (save_html)
        {"editable_prompt": True, "experimental": False},  # no command channel
        {"editable_prompt": True, "lens_choices": []},  # nothing to choose from
        {"editable_prompt": True, "lens_choices": "tuned"},  # garbled saved state
    ],
)
def test_the_menu_is_hidden_where_it_cannot_act(wp, traits):
    traits = {"lens": "tuned", "lens_choices": CHOICES, **traits}
    experimental = traits.pop("experimental", True)
    wp.mount(lens_payload(1, "tuned lens", RELIABILITY), experimental=experimental, **traits)
    page = wp.page
    assert page.locator(f"{OUT} .llk-lens-select").is_hidden()
    # What the data says is shown all the same.
    assert page.locator(f"{OUT} .llk-lens-badge").text_content() == "tuned lens"
    assert page.locator(f"{OUT} .llk-rel").count() == L


@pytest.mark.browser
def test_the_menu_appears_once_choices_arrive_and_two_outputs_agree(wp):
    wp.mount(lens_payload(1), outputs=("out1", "out2"), editable_prompt=True, lens="logit")
    page = wp.page
    assert page.locator("#out1 .llk-lens-select").is_hidden()
    wp.set_trait("lens_choices", CHOICES)
    assert page.locator("#out1 .llk-lens-select").is_visible()
    page.locator("#out2 .llk-lens-select").select_option("linear")
    assert wp.trait("lens") == "linear"
    assert page.locator("#out1 .llk-lens-select").input_value() == "linear"


# 2. The lens named where the numbers are -------------------------------------------------


@pytest.mark.browser
def test_data_without_a_lens_is_named_the_logit_lens_everywhere(wp):
    wp.mount(lens_payload(1))
    page = wp.page
    assert page.locator(f"{OUT} .llk-lens-badge").text_content() == "logit lens"
    assert page.locator(f"{OUT} .llk-rel").count() == 0, "no reliability, no strip"
    assert page.locator(f"{OUT} .llk-rel-legend").is_hidden()
    assert tip_rows(wp, 3, 2)["logit lens"] == "no reliability data"
    # The popup names a lens once the data does (pre-issue-21 data: the badge says it).
    wp.cell(3, 2).click()
    assert page.locator(f"{OUT} .llk-popup-title .llk-popup-lens").is_hidden()
    wp.set_data(lens_payload(1, "logit lens"))
    wp.cell(3, 2).click()
    mark = page.locator(f"{OUT} .llk-popup-title .llk-popup-lens")
    assert mark.is_visible()
    assert mark.text_content() == " \u00b7 logit lens"


@pytest.mark.browser
def test_the_lens_and_its_reliability_in_caption_popup_and_tooltip(wp):
    wp.mount(lens_payload(1, "tuned lens", RELIABILITY))
    page = wp.page
    assert page.locator(f"{OUT} .llk-lens-badge").text_content() == "tuned lens"
    legend = page.locator(f"{OUT} .llk-rel-legend")
    assert legend.is_visible()
    assert "reliability of the tuned lens" in legend.text_content()
    assert NOTE in legend.text_content()
    assert "darker = higher held-out KL = less trustworthy" in legend.text_content()
    for i in (3, 4, 5):
        rows = tip_rows(wp, i, 1)
        assert rows["tuned lens"] == reliability_words(KL[i], TOP1[i]), i
        # The lens line comes first, right under the head that names the cell.
        labels = page.locator(f"{OUT} .llk-celltip .llk-celltip-label").all_text_contents()
        assert labels[0] == "tuned lens"
    wp.cell(5, 2).click()
    mark = page.locator(f"{OUT} .llk-popup-title .llk-popup-lens")
    assert mark.text_content() == " \u00b7 tuned lens"
    assert mark.get_attribute("title") == (
        f"tuned lens at {row_title(5)}: {reliability_words(KL[5], TOP1[5], NOTE)}"
    )


@pytest.mark.browser
def test_a_diff_of_two_lenses_names_both_sides_lenses(wp):
    wp.mount(
        lens_payload(1, "tuned lens", RELIABILITY),
        compare_data=lens_payload(2, "logit lens"),
        compare_labels=["tuned", "logit"],
    )
    page = wp.page
    assert page.locator(f"{OUT} .llk-lens-badge").text_content() == (
        "tuned: tuned lens \u00b7 logit: logit lens"
    )
    assert "(tuned)" in page.locator(f"{OUT} .llk-rel-legend").text_content()
    note = page.locator(f"{OUT} .llk-diff-note").text_content()
    assert note.startswith("Diff: tuned (tuned lens) (solid lines, the grid) against logit (logit")
    rows = tip_rows(wp, 5, 3)
    assert rows["tuned: tuned lens"] == reliability_words(KL[5], TOP1[5])
    assert rows["logit: logit lens"] == "no reliability data"
    wp.cell(5, 3).click()
    heads = page.locator(f"{OUT} .llk-popup .llk-popup-side-head").all_text_contents()
    assert heads == ["tuned (tuned lens)", "logit (logit lens)"]
    mark = page.locator(f"{OUT} .llk-popup-title .llk-popup-lens")
    assert mark.text_content() == " \u00b7 tuned lens vs logit lens"
    # One lens on both sides: plain names, one tooltip line.
    wp.set_trait("compare_data", lens_payload(2, "tuned lens", RELIABILITY))
    assert page.locator(f"{OUT} .llk-lens-badge").text_content() == "tuned lens"
    assert "tuned lens" in tip_rows(wp, 5, 3)
    wp.cell(5, 3).click()
    heads = page.locator(f"{OUT} .llk-popup .llk-popup-side-head").all_text_contents()
    assert heads == ["tuned", "logit"]


# 3. The reliability strip ----------------------------------------------------------------


@pytest.mark.browser
def test_the_strip_has_one_cell_per_lens_row_with_its_numbers_and_nulls_marked(wp):
    wp.mount(lens_payload(1, "tuned lens", RELIABILITY))
    cells = strip(wp)
    assert len(cells) == L
    assert [c["l"] for c in cells] == list(range(L))
    for i, c in enumerate(cells):
        assert c["title"] == (
            f"{row_title(i)}, tuned lens: {reliability_words(KL[i], TOP1[i], NOTE)}"
        ), i
        # Aligned with its column: inside the header, along its bottom edge.
        hl, hr, hb = c["head"]
        sl, sr, sb, sh = c["cell"]
        assert hl <= sl < sr <= hr and abs(sb - hb) <= 2 and 2 <= sh <= 6, c
        if KL[i] is None:
            assert c["none"] and "repeating-linear-gradient" in c["image"], i
        else:
            assert not c["none"] and c["image"] == "none", i
    colored = [(KL[i], rgb(c["bg"])) for i, c in enumerate(cells) if KL[i] is not None]
    by_kl = sorted(colored)
    # The scale's ends (viridis reversed) and darker as the KL grows.
    assert dict(colored)[0] == (253, 231, 37)
    assert by_kl[-1][1] == (68, 1, 84), "KL from 20 nats on is the darkest"
    lums = [luminance(c) for _, c in by_kl]
    assert all(a > b for a, b in pairwise(lums)), by_kl


@pytest.mark.browser
def test_the_strip_follows_new_data_and_zoom_and_goes_without_reliability(wp):
    wp.mount(lens_payload(1, "tuned lens", RELIABILITY))
    page = wp.page
    tall = page.evaluate(f"document.querySelector('{OUT} .llk-corner').offsetHeight")
    wp.set_trait("x_zoom", [2, 5])
    assert [c["l"] for c in strip(wp)] == [2, 3, 4, 5]
    wp.set_trait("x_zoom", [])
    wp.set_data(lens_payload(3, "linear shortcut"))
    assert page.locator(f"{OUT} .llk-rel").count() == 0
    assert page.locator(f"{OUT} .llk-rel-legend").is_hidden()
    assert page.locator(f"{OUT} .llk-lens-badge").text_content() == "linear shortcut"
    shorter = page.evaluate(f"document.querySelector('{OUT} .llk-corner').offsetHeight")
    assert shorter < tall, "the header is only taller while it holds a strip"
    # The rows start under the header either way: the first row is fully visible.
    first = wp.cell(0, 0).bounding_box()
    head = page.locator(f"{OUT} .llk-head").bounding_box()
    assert first["y"] >= head["y"] + head["height"] - 1


@pytest.mark.browser
def test_the_logit_lens_shows_its_strip_too(wp):
    rel = {"kl": [19.8] * L, "top1": [0.05] * L, "note": ""}
    wp.mount(lens_payload(1, "logit lens", rel))
    cells = strip(wp)
    assert len(cells) == L
    assert len({c["bg"] for c in cells}) == 1, "one KL, one color"
    assert luminance(rgb(cells[0]["bg"])) < 0.05, "19.8 nats is near the darkest"
    assert (
        "reliability of the logit lens" in wp.page.locator(f"{OUT} .llk-rel-legend").text_content()
    )


@pytest.mark.browser
def test_a_diff_of_two_lenses_shows_side_bs_strip_above_side_as(wp):
    logit = {"kl": [19.8] * L, "top1": [0.05] * L, "note": ""}
    wp.mount(
        lens_payload(1, "tuned lens", RELIABILITY),
        compare_data=lens_payload(2, "logit lens", logit),
        compare_labels=["tuned", "logit"],
    )
    page = wp.page
    heads = page.locator(f"{OUT} .llk-colhead")
    assert heads.count() == L
    for i in range(L):
        a = heads.nth(i).locator(".llk-rel:not(.llk-rel-b)")
        b = heads.nth(i).locator(".llk-rel.llk-rel-b")
        assert a.get_attribute("title").endswith(reliability_words(KL[i], TOP1[i], NOTE))
        assert b.get_attribute("title") == (
            f"{row_title(i)}, logit lens: {reliability_words(19.8, 0.05)}"
        )
        box_a, box_b, head = a.bounding_box(), b.bounding_box(), heads.nth(i).bounding_box()
        assert box_b["y"] + box_b["height"] <= box_a["y"] + 0.5, "B's strip sits above A's"
        assert box_b["y"] >= head["y"] + 10, "under the layer label, inside the header"
    # The rows start under the taller header.
    first, head = wp.cell(0, 0).bounding_box(), page.locator(f"{OUT} .llk-head").bounding_box()
    assert first["y"] >= head["y"] + head["height"] - 1
    # Side B without reliability, or the same lens on both sides: one strip.
    wp.set_trait("compare_data", lens_payload(2, "logit lens"))
    assert page.locator(f"{OUT} .llk-rel-b").count() == 0
    assert page.locator(f"{OUT} .llk-rel").count() == L
    wp.set_trait("compare_data", lens_payload(2, "tuned lens", RELIABILITY))
    assert page.locator(f"{OUT} .llk-rel-b").count() == 0


# 4. Malformed and hostile input ----------------------------------------------------------


@pytest.mark.browser
@pytest.mark.parametrize(
    ("rel", "why"),
    [
        (
            {"kl": [1.0] * (L - 1), "top1": TOP1, "note": ""},
            f'"lens_reliability".kl has {L - 1} entries for {L} lens rows',
        ),
        ({"kl": [-1.0] * L, "top1": TOP1, "note": ""}, '"lens_reliability".kl[0] is -1'),
        ({"kl": KL, "top1": [2.0] * L, "note": ""}, '"lens_reliability".top1[0] is 2'),
        ({"kl": KL, "top1": TOP1, "note": 7}, '"lens_reliability".note is 7'),
    ],
)
def test_malformed_reliability_is_refused_with_the_field_named(wp, rel, why):
    wp.mount(lens_payload(1, "tuned lens", rel))
    message = wp.page.locator(f"{OUT} .llk-message")
    assert message.is_visible()
    assert message.text_content().startswith("Cannot show this data: ")
    assert why in message.text_content()
    assert wp.page.locator(f"{OUT} .llk-cell").count() == 0, "never shown unmarked"


@pytest.mark.browser
def test_hostile_lens_names_and_notes_stay_text(wp):
    rel = {**RELIABILITY, "note": HOSTILE}
    choices = [{"key": "x", "name": HOSTILE, "note": HOSTILE}, *CHOICES]
    wp.mount(
        lens_payload(1, HOSTILE, rel),
        compare_data=lens_payload(2, "logit lens"),
        editable_prompt=True,
        lens="x",
        lens_choices=choices,
    )
    page = wp.page
    wp.cell(5, 2).hover()
    wp.cell(5, 2).click()
    assert page.locator(f"{OUT} img").count() == 0
    assert page.evaluate("window.pwned") is None
    assert HOSTILE in page.locator(f"{OUT} .llk-lens-badge").text_content()
    assert HOSTILE in page.locator(f"{OUT} .llk-rel-legend").text_content()
    assert HOSTILE in page.locator(f"{OUT} .llk-popup-lens").text_content()
    assert page.locator(f"{OUT} .llk-lens-select option").first.text_content() == (
        f"{HOSTILE} ({HOSTILE})"
    )


@pytest.mark.browser
def test_cleanup_removes_the_lens_views_listeners(wp):
    wp.mount(
        lens_payload(1, "tuned lens", RELIABILITY),
        editable_prompt=True,
        lens="logit",
        lens_choices=CHOICES,
    )
    wp.page.locator(f"{OUT} .llk-lens-select").select_option("tuned")
    wp.cell(3, 2).click()
    wp.cleanup()
    assert wp.counts() == {"dom": 0, "model": 0, "observers": 0, "timers": 0, "frames": 0}


def test_the_reference_wording_is_the_contracts():
    """The file's own reference, against the brief's example (so a wrong reference fails)."""
    assert reliability_words(1.62, 0.31, "note") == (
        "held-out KL 1.62 nats \u00b7 top-1 agreement 31% (note)"
    )
    assert math.isclose(luminance((255, 255, 255)), 1.0)
