"""show_logit_lens: the seed's self-contained HTML output, in a real Chromium with no network.

Each page is opened from disk with every request but the page's own file aborted, the way
nbviewer, an exported notebook or a reopened one show an output: no kernel, no widget
manager, nothing to fetch.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from IPython.display import HTML
from playwright.sync_api import Page, expect

from logitlenskit import LogitLensWidget, display_logit_lens, show_logit_lens

EVIL = "</script><img src=x onerror=alert(1)>"
COMMENT = "<!--"
# Rendering waits on the bundle's import; a busy 2-core machine can take seconds.
RENDER_MS = 20_000

# A notebook page: outputs sit inside the host's own markup and styles.
HOST_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>host</title>
<style>.host-cell {{ color: rgb(1, 2, 3); }}</style></head>
<body><div class="host-cell" id="host-text">host text</div>{outputs}</body></html>
"""


def _offline(page: Page, path: Path) -> tuple[list[str], list[str]]:
    """Open ``path`` with every other request aborted; returns (requests left, problems)."""
    page_url = path.as_uri()
    requests: list[str] = []
    problems: list[str] = []

    def gate(route):
        if route.request.url == page_url:
            route.continue_()
        else:
            requests.append(route.request.url)
            route.abort()

    page.route("**/*", gate)
    page.on("request", lambda r: r.url != page_url and requests.append(r.url))
    page.on("pageerror", lambda error: problems.append(f"pageerror: {error}"))
    page.on("console", lambda m: m.type == "error" and problems.append(f"console: {m.text}"))
    page.on("dialog", lambda d: (problems.append(f"dialog: {d.message}"), d.dismiss()))
    page.goto(page_url)
    return requests, problems


def _host(tmp_path: Path, *fragments: str) -> Path:
    path = tmp_path / f"host-{uuid.uuid4().hex[:8]}.html"
    path.write_text(HOST_PAGE.format(outputs="".join(fragments)), encoding="utf-8")
    return path


def _leaving(requests: list[str]) -> list[str]:
    # The bundle is imported from a Blob URL made in the page: that never leaves it.
    return [url for url in requests if not url.startswith("blob:")]


def test_show_logit_lens_returns_ipython_html(make_collection):
    out = show_logit_lens(make_collection(), title="seed contract")
    assert isinstance(out, HTML)
    assert out._repr_html_() == out.data
    assert out.data.count('"esm":') == 1  # the bundle is inlined once
    assert "widget-view" not in out.data  # no widget manager needed


def test_show_logit_lens_needs_the_tokenizer_for_id_only_results():
    seed_result = {"tokens": ["a"], "top_indices": [[[1]]], "top_probs": [[[0.5]]]}
    with pytest.raises(TypeError, match="pass the tokenizer"):
        show_logit_lens(seed_result)


def test_container_id_is_the_root_element_id(make_collection):
    out = show_logit_lens(make_collection(), container_id="my-lens")
    assert out.data.startswith('<div class="logitlens-static" id="my-lens">')
    with pytest.raises(ValueError, match="without whitespace"):
        show_logit_lens(make_collection(), container_id='x" onmouseover="alert(1)')
    with pytest.raises(ValueError, match="without whitespace"):
        show_logit_lens(make_collection(), container_id="")


@pytest.mark.browser
def test_output_renders_the_grid_offline(page: Page, tmp_path, make_collection):
    data = make_collection(n_layers=5, n_pos=3, input_tokens=["Alpha", "Beta", "Gamma"])
    top = data["vocab"][int(data["topk"][-1, -1, 0])]
    out = show_logit_lens(data, title="offline", container_id="lens-a")
    requests, problems = _offline(page, _host(tmp_path, out.data))
    root = page.locator("#lens-a")
    rows = root.locator("[role=row]:has([role=gridcell])")
    expect(rows).to_have_count(3, timeout=RENDER_MS)
    expect(rows.last.locator("[role=gridcell]").last).to_contain_text(top)
    for token in ("Alpha", "Beta", "Gamma"):
        expect(root.locator("[role=rowheader]", has_text=token)).to_have_count(1, timeout=RENDER_MS)
    assert _leaving(requests) == []
    assert not problems


@pytest.mark.browser
def test_hostile_token_strings_stay_inert_text(page: Page, tmp_path, make_collection):
    data = make_collection(n_layers=3, n_pos=2)
    data["input"] = [EVIL, COMMENT]
    data["vocab"] = {i: f"{EVIL}{COMMENT}{i}" for i in data["vocab"]}
    out = show_logit_lens(data, title=EVIL)
    assert "</script><img" not in out.data and "<!--" not in out.data
    requests, problems = _offline(page, _host(tmp_path, out.data))
    headers = page.locator("[role=rowheader]")
    expect(headers.first).to_contain_text("<img", timeout=RENDER_MS)
    expect(headers.last).to_contain_text(COMMENT)
    expect(page.locator("[role=gridcell]").first).to_contain_text("onerror")
    assert page.locator("img").count() == 0
    assert _leaving(requests) == [] and not problems


@pytest.mark.browser
def test_two_outputs_on_one_page_both_render_and_leak_nothing(
    page: Page, tmp_path, make_collection
):
    first = show_logit_lens(make_collection(n_pos=2, seed=1), title="first").data
    second = show_logit_lens(make_collection(n_pos=4, seed=2), title="second").data
    # Baseline: the host page's own globals, with no output on it.
    _offline(page, _host(tmp_path))
    baseline = set(page.evaluate("Object.keys(window)"))
    # One output as the page's markup (nbviewer, nbconvert); one inserted the way
    # JupyterLab does it: innerHTML, then each script replaced by a fresh copy.
    requests, problems = _offline(page, _host(tmp_path, first, '<div id="late"></div>'))
    page.evaluate(
        """(html) => {
          const host = document.getElementById("late");
          host.innerHTML = html;
          for (const old of host.querySelectorAll("script")) {
            const copy = document.createElement("script");
            for (const { name, value } of old.attributes) copy.setAttribute(name, value);
            copy.textContent = old.textContent;
            old.replaceWith(copy);
          }
        }""",
        second,
    )
    roots = page.locator(".logitlens-static")
    expect(roots).to_have_count(2, timeout=RENDER_MS)
    expect(roots.nth(0).locator("[role=row]:has([role=gridcell])")).to_have_count(
        2, timeout=RENDER_MS
    )
    expect(roots.nth(1).locator("[role=row]:has([role=gridcell])")).to_have_count(
        4, timeout=RENDER_MS
    )
    assert set(page.evaluate("Object.keys(window)")) == baseline
    styles_outside = page.evaluate(
        "[...document.querySelectorAll('style')]"
        ".filter((s) => !s.closest('.logitlens-static')).length"
    )
    assert styles_outside == 1  # the host's own
    assert page.locator("#host-text").evaluate("(e) => getComputedStyle(e).color") == (
        "rgb(1, 2, 3)"
    )
    assert _leaving(requests) == [] and not problems


@pytest.mark.browser
def test_a_widget_snapshot_keeps_its_pins(page: Page, tmp_path, make_collection):
    data = make_collection(n_layers=4, n_pos=3)
    token = int(data["topk"][-1, -1, 0])
    w = LogitLensWidget(data, title="pinned")
    w.pins = [{"ids": [token], "color": "#e6194b"}]
    out = show_logit_lens(w)
    state = out.data.split('class="logitlens-static-state">', 1)[1].split("</script>", 1)[0]
    assert json.loads(state)["traits"]["pins"] == [{"ids": [token], "color": "#e6194b"}]
    requests, problems = _offline(page, _host(tmp_path, out.data))
    expect(page.locator("[role=row]:has([role=gridcell])")).to_have_count(3, timeout=RENDER_MS)
    expect(page.locator(".logitlens-static-note")).to_contain_text("changes made here stay here")
    assert _leaving(requests) == [] and not problems


def test_display_logit_lens_displays_the_html(monkeypatch, make_collection):
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda obj: shown.append(obj))
    assert display_logit_lens(make_collection(), title="shown") is None
    assert len(shown) == 1 and isinstance(shown[0], HTML)
