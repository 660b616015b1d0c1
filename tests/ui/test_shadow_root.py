"""The widget mounted inside a shadow root, as marimo draws anywidgets (issue 23).

Inside a shadow root ``document.activeElement`` is the shadow host, never the focused
element: the view must ask the element's own root (``getRootNode()``) what has focus, or it
overwrites a title being typed and drops keyboard focus whenever it rebuilds rows.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from harness import WidgetPage
from live_data import live_payload

pytestmark = pytest.mark.browser

OUT = "#out1"
# What has focus inside #out1's shadow root (document.activeElement is #out1 itself there).
FOCUSED = "document.querySelector('#out1').shadowRoot.activeElement"


@pytest.fixture
def shadow(page: Any, widget_server: str) -> Iterator[WidgetPage]:
    """The harness page with each output rendered inside an open shadow root."""
    page.set_viewport_size({"width": 1000, "height": 900})
    wp = WidgetPage(page, widget_server + "?shadow=1")
    yield wp
    assert wp.errors == [], wp.errors


def mount(wp: WidgetPage, data: dict, **traits: Any) -> None:
    """Mount ``data`` and wait for the stylesheet inside the shadow root."""
    wp.mount(data, **traits)
    assert wp.page.evaluate("document.querySelector('#out1').shadowRoot !== null")
    wp.page.wait_for_function(
        "document.querySelector('#out1').shadowRoot.querySelector('link').sheet !== null"
    )


def test_the_title_being_typed_is_kept_when_the_view_updates(shadow):
    mount(shadow, live_payload(run=1), title="old")
    title = shadow.page.locator(f"{OUT} .llk-title")
    title.fill("half-typed")  # no Enter yet: still being edited
    shadow.set_trait("busy", True)
    shadow.set_trait("title", "from python")
    assert title.input_value() == "half-typed"
    title.press("Enter")
    assert shadow.trait("title") == "half-typed"
    # Not focused: Python's title shows.
    shadow.set_trait("title", "from python")
    assert title.input_value() == "from python"


def test_keyboard_focus_stays_on_the_cell_when_rows_are_rebuilt(shadow):
    mount(shadow, live_payload(run=5, n_pos=10))
    shadow.cell(2, 3).click()
    shadow.page.keyboard.press("Escape")  # closes the popup, focus back on the cell
    cell = f"[{FOCUSED}?.dataset.ci, {FOCUSED}?.parentElement.dataset.p]"
    assert shadow.page.evaluate(cell) == ["2", "3"]
    shadow.set_data(live_payload(run=5, n_pos=10, track=(0, 1)))  # same run: rows rebuilt
    assert shadow.page.evaluate(cell) == ["2", "3"]
    shadow.page.keyboard.press("ArrowDown")
    assert shadow.page.evaluate(cell) == ["2", "4"]


def test_keyboard_focus_stays_on_the_popup_row_when_the_list_is_replaced(shadow):
    mount(shadow, live_payload(run=5, n_pos=10))
    shadow.cell(3, 4).click()
    shadow.page.keyboard.press("Escape")
    shadow.page.keyboard.press("Enter")  # opens the popup, focus on its first row
    shadow.page.keyboard.press("ArrowDown")
    focused = shadow.page.evaluate(f"{FOCUSED}?.dataset.id")
    assert focused is not None
    shadow.set_data(live_payload(run=5, n_pos=10, track=(0, 1)))
    assert shadow.page.locator(f"{OUT} .llk-popup").is_visible()
    assert shadow.page.evaluate(f"{FOCUSED}?.dataset.id") == focused
