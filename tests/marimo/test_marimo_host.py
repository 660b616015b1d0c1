"""The live loop in marimo (issue 23, section 4): lens_app.py in a real ``marimo run`` server,
the embedded SmolLM2 model in marimo's kernel, headless Chromium.

marimo draws anywidgets with its own host, which has no ``experimental.invoke`` (it throws
"anywidget.invoke not supported in marimo"); the widget's commands go as the same custom
messages over the model instead (frontend/channel.js). These tests hold both halves: what the
view shows, and what Python holds (printed by the app's cells).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

pytestmark = [pytest.mark.browser, pytest.mark.slow]

RUN_TIMEOUT_MS = 180_000  # a session imports torch and loads the model first
ANSWER_TIMEOUT_MS = 30_000


@pytest.fixture
def app(marimo_app, page: Page) -> Iterator[Page]:
    """The app in a fresh page (a fresh marimo session), drawn on "The capital of France is"."""
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    page.goto(marimo_app.url)
    try:
        expect(_rows(page)).to_have_count(5, timeout=RUN_TIMEOUT_MS)
    except AssertionError as exc:
        raise AssertionError(
            f"the widget did not draw in marimo: {exc}\npage: {page.inner_text('body')[:2000]}"
            f"\nmarimo's log: {marimo_app.log.read_text()[-3000:]}\npage errors: {errors}"
        ) from exc
    expect(_last_prediction(page)).to_contain_text("Paris")
    yield page
    assert errors == [], errors


def _rows(page: Page):
    return page.locator("[role=row]:has([role=gridcell])")


def _last_prediction(page: Page):
    return _rows(page).last.locator("[role=gridcell]").last


def _python_state(page: Page, expected: str) -> str:
    """Rerun the app's state cell (its button) until it shows ``expected``; returns its text.

    A command the browser sent may still be on its way to Python: click again until then.
    """
    state = page.get_by_text(re.compile(r"^STATE "))
    deadline = time.monotonic() + ANSWER_TIMEOUT_MS / 1000
    while True:
        page.get_by_role("button", name="Show Python's state").click()
        try:
            expect(state).to_contain_text(expected, timeout=2000)
            return state.inner_text()
        except AssertionError:
            if time.monotonic() > deadline:
                raise


def test_a_click_grows_the_popup_with_pythons_20_rows_and_a_pin_is_tracked(app: Page):
    words = app.get_by_text(re.compile(r"^IDS ")).inner_text().split()
    ids, fresh = words[1:21], words[22]
    assert words[21] == "FRESH" and fresh in ids

    _last_prediction(app).click()
    rows = app.locator(".llk-popup-row")
    expect(rows).to_have_count(20, timeout=ANSWER_TIMEOUT_MS)  # the browser's 5, then Python's
    assert [rows.nth(i).get_attribute("data-id") for i in range(20)] == ids
    _python_state(app, "selected=(29, 4, 7042, ' Paris')")

    # A token no top-k holds: its line needs the trajectory Python pushes (custom message
    # with a buffer) or sends with the next data. (The button click above closed the popup.)
    _last_prediction(app).click()
    expect(rows).to_have_count(20, timeout=ANSWER_TIMEOUT_MS)
    rows.locator(f"xpath=self::*[@data-id='{fresh}']").click()
    expect(app.locator(".llk-legend-pin")).to_have_count(1, timeout=ANSWER_TIMEOUT_MS)
    expect(app.locator(".llk-lines path")).to_have_count(1, timeout=ANSWER_TIMEOUT_MS)
    d = app.locator(".llk-lines path").first.get_attribute("d") or ""
    assert d.count("L") == 29 and d.count("M") == 1, d  # a point at every layer, no gap
    _python_state(app, f"pins=[[{fresh}]]")


def test_a_prompt_typed_in_the_widget_reruns_in_python(app: Page):
    box = app.locator("[aria-label=prompt]")
    box.fill("Roses are red, violets are")
    box.press("Enter")
    expect(_rows(app)).not_to_have_count(5, timeout=RUN_TIMEOUT_MS)
    state = _python_state(app, "prompt='Roses are red, violets are'")
    positions = int(re.search(r"positions=(\d+)", state).group(1))
    expect(_rows(app)).to_have_count(positions)


def test_a_python_side_change_reaches_the_view(app: Page):
    app.get_by_role("button", name="Bonjour from Python").click()  # its cell sets w.k, w.prompt
    expect(app.locator("[aria-label=k]")).to_have_value("8", timeout=ANSWER_TIMEOUT_MS)
    expect(app.locator("[aria-label=prompt]")).to_have_value("Bonjour")
    expect(_rows(app)).to_have_count(2, timeout=RUN_TIMEOUT_MS)
    _python_state(app, "prompt='Bonjour' positions=2 k=8")
