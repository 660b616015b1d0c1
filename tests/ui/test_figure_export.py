"""The figure export buttons: the shipped bundle asks a real Python widget for the file
(through the harness's fake `invoke`) and the browser downloads what Python drew.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from fake_lens import collection
from logitlenskit.live.widget import LogitLensWidget

pytestmark = pytest.mark.browser

OUT = "#out1"
SIGNATURES = {"svg": b"<?xml", "png": b"\x89PNG\r\n\x1a\n"}


def pending_figure_call(wp) -> dict:
    wp.page.wait_for_function(
        "() => window.llk.commands.calls.some(c => c.name === 'figure' && c.state === 'pending')"
    )
    return wp.calls("figure")[-1]


@pytest.mark.parametrize("fmt", ["svg", "png"])
def test_export_button_downloads_what_python_drew(wp, fmt):
    widget = LogitLensWidget(collection(), dark_mode="dark")
    wp.mount(widget.data, dark_mode="dark")
    button = wp.page.locator(f"{OUT} .llk-export-{fmt}")
    with wp.page.expect_download() as download:
        button.click()
        call = pending_figure_call(wp)
        assert call["msg"] == {"format": fmt, "theme": "dark"}
        expect(button).to_be_disabled()  # one export at a time
        answer, buffers = widget.figure(call["msg"], [])
        assert wp.reply("figure", answer, tuple(buffers))
    saved = download.value
    assert saved.suggested_filename == f"fake-model.{fmt}"
    data = Path(saved.path()).read_bytes()
    assert data.startswith(SIGNATURES[fmt]) and data == buffers[0]
    expect(button).to_be_enabled()


def test_auto_theme_sends_the_theme_shown(wp):
    wp.mount(collection_payload(), title="My figure: v2")
    wp.page.locator(f"{OUT} .llk-export-svg").click()
    assert pending_figure_call(wp)["msg"] == {"format": "svg", "theme": "light"}


def test_a_failed_export_says_why(wp):
    wp.mount(collection_payload())
    wp.page.locator(f"{OUT} .llk-export-png").click()
    pending_figure_call(wp)
    assert wp.reply("figure", {"error": "ValueError: the figure would have 9,000 cells"})
    expect(wp.page.locator(f"{OUT} .llk-notice")).to_have_text(
        "Figure export failed: ValueError: the figure would have 9,000 cells"
    )
    expect(wp.page.locator(f"{OUT} .llk-export-png")).to_be_enabled()


def test_no_command_channel_hides_the_buttons(wp):
    wp.mount(collection_payload(), experimental=False)
    expect(wp.page.locator(f"{OUT} .llk-export")).to_be_hidden()


def collection_payload() -> dict:
    return LogitLensWidget(collection()).data


def test_the_export_of_a_diff_draws_both_sides(wp):
    # Issue 23 item 19: the PNG of a diff dropped side B.
    import re

    labels = ["base", "edited"]
    widget = LogitLensWidget.compare(
        collection(n_pos=4), collection(n_pos=3, seed=1), labels=labels
    )
    wp.mount(widget.data, compare_data=widget.compare_data, compare_labels=labels)
    with wp.page.expect_download() as download:
        wp.page.locator(f"{OUT} .llk-export-svg").click()
        call = pending_figure_call(wp)
        answer, buffers = widget.figure(call["msg"], [])
        assert wp.reply("figure", answer, tuple(buffers))
    svg = Path(download.value.path()).read_bytes()
    side_a = set(re.findall(rb'<g id="llk-cell-(\d+-\d+)"', svg))
    side_b = set(re.findall(rb'<g id="llk-cellb-(\d+-\d+)"', svg))
    assert len(side_a) == 6 * 4 and len(side_b) == 6 * 3
