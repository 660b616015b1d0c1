"""What the view must not hide (issue 23): every layer, a popup that stays on its cell, token
text that cannot reorder itself or its neighbours, a legend that says what "@13" is."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from fake_lens import payload

pytestmark = pytest.mark.browser

OUT = "#out1"


# Text that hides (item 14) ----------------------------------------------------------------

HEBREW = "\u05e9\u05dc\u05d5\u05dd"


def test_bidi_controls_are_shown_and_each_token_is_isolated(wp):
    vocab = {i: f"t{i}" for i in range(30)}
    vocab.update({0: "\u202eemoR", 1: HEBREW, 2: "a\u2066b"})
    wp.mount(payload(vocab=vocab, vocab_size=30, input_tokens=["\u202eemoR", HEBREW, "x", "y"]))
    page = wp.page
    inputs = page.locator(f"{OUT} .llk-input-text").all_text_contents()
    assert inputs[:2] == ["\\u202eemoR", HEBREW]
    cells = page.locator(f"{OUT} .llk-cell").all_text_contents()
    assert "\u202e" not in "".join(cells) and "\u2066" not in "".join(cells)
    # Each token is its own bidi island: right-to-left letters in one never move the text
    # around it (the popup title, the legend), as a <bdi> would.
    wp.cell(0, 1).click()
    for sel in [".llk-cell", ".llk-input-text", ".llk-popup-token", ".llk-popup-input"]:
        bidi = page.locator(f"{OUT} {sel}").first.evaluate("e => getComputedStyle(e).unicodeBidi")
        assert bidi in ("isolate", "plaintext"), (sel, bidi)
    # The title's Hebrew input token is drawn after "position 1", not moved before it.
    title = page.locator(f"{OUT} .llk-popup-title")
    token = title.locator(".llk-popup-input").bounding_box()
    words = title.locator("span").first.bounding_box()
    assert token["x"] >= words["x"] + words["width"] - 1


# The legend says what its position is (item 20) ------------------------------------------


def test_the_default_lines_legend_names_its_position_in_words(wp):
    wp.mount(payload(n_layers=6, n_pos=4))
    label = wp.page.locator(f"{OUT} .llk-legend-default .llk-legend-label")
    expect(label).to_have_text(re.compile(r" at position 3$"))
    assert "@" not in label.text_content()
    assert "position 3" in label.get_attribute("title")
    wp.cell(2, 1).click()
    expect(label).to_have_text(re.compile(r" at position 1$"))
