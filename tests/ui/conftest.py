"""Fast browser tier: the exact shipped bundle on a plain page with a fake anywidget model.

The page helpers live in tests/ui/harness.py (the benchmarks use them too); this file makes
fixtures of them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from harness import HarnessPage, WidgetPage, start_harness_server
from study_page import StudyPage, start_study_server


def _served(start: Any) -> Iterator[str]:
    server, url = start()
    yield url
    server.shutdown()


def _fresh_page(kind: type[HarnessPage], page: Any, url: str, height: int) -> Iterator[Any]:
    """A fresh harness page of ``kind``; fails the test on any page error or dialog."""
    page.set_viewport_size({"width": 1000, "height": height})
    helper = kind(page, url)
    yield helper
    assert helper.errors == [], helper.errors


@pytest.fixture(scope="session")
def widget_server() -> Iterator[str]:
    """The harness page's address with the logit-lens bundle, for the whole session."""
    yield from _served(start_harness_server)


@pytest.fixture(scope="session")
def study_server() -> Iterator[str]:
    """The harness page's address with the study bundle, for the whole session."""
    yield from _served(start_study_server)


@pytest.fixture
def wp(page: Any, widget_server: str) -> Iterator[WidgetPage]:
    """A fresh page with the logit-lens widget's bundle."""
    yield from _fresh_page(WidgetPage, page, widget_server, 900)


@pytest.fixture
def sp(page: Any, study_server: str) -> Iterator[StudyPage]:
    """A fresh page with the study widget's bundle."""
    yield from _fresh_page(StudyPage, page, study_server, 1000)
