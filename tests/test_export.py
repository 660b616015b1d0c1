"""Standalone HTML export, opened from disk in a real Chromium with no kernel."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from logitlenskit.app.export import save_html, to_html
from logitlenskit.live.widget import LogitLensWidget

pytestmark = pytest.mark.browser

EVIL = "</script><img src=x onerror=alert(1)>"


def _open(page: Page, path) -> list[str]:
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"pageerror: {error}"))
    page.on(
        "dialog", lambda dialog: (problems.append(f"dialog: {dialog.message}"), dialog.dismiss())
    )
    page.goto(path.as_uri())
    return problems


def test_exported_page_renders_the_grid_offline(page: Page, tmp_path, make_collection):
    data = make_collection(n_layers=5, n_pos=3)
    top = data["vocab"][int(data["topk"][-1, -1, 0])]
    problems = _open(page, save_html(data, tmp_path / "lens.html", title="export test"))
    rows = page.locator("[role=row]:has([role=gridcell])")
    expect(rows).to_have_count(3)
    expect(rows.last.locator("[role=gridcell]").last).to_contain_text(top)
    assert page.title() == "export test"
    assert not problems


def test_hostile_token_strings_stay_text(page: Page, tmp_path, make_collection):
    data = make_collection(n_layers=3, n_pos=2)
    data["input"][0] = EVIL
    data["vocab"] = {i: EVIL + str(i) for i in data["vocab"]}
    html = to_html(data, title=EVIL)
    assert "</script><img" not in html  # the state block cannot be closed early
    path = tmp_path / "evil.html"
    path.write_text(html, encoding="utf-8")
    problems = _open(page, path)
    expect(page.locator("[role=rowheader]").first).to_contain_text("<img")
    assert page.locator("img").count() == 0
    assert page.title() == EVIL
    assert not problems


def test_export_keeps_ui_state_and_makes_the_prompt_read_only(make_collection):
    w = LogitLensWidget(make_collection(), title="mine", chart_height=222)
    w.editable_prompt = True
    html = to_html(w)
    assert '"chart_height":222' in html and '"title":"mine"' in html
    assert '"editable_prompt":false' in html
