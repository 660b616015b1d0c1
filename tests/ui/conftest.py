"""Fast browser tier: the exact shipped bundle on a plain page with a fake anywidget model.

The page helpers live in tests/ui/harness.py (the benchmarks use them too); this file makes
fixtures of them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from harness import WidgetPage, start_harness_server


@pytest.fixture(scope="session")
def widget_server() -> Iterator[str]:
    """The harness page's address, for the whole test session."""
    server, url = start_harness_server()
    yield url
    server.shutdown()


@pytest.fixture
def wp(page: Any, widget_server: str) -> Iterator[WidgetPage]:
    """A fresh harness page; fails the test on any page error or dialog."""
    page.set_viewport_size({"width": 1000, "height": 900})
    helper = WidgetPage(page, widget_server)
    yield helper
    assert helper.errors == [], helper.errors
