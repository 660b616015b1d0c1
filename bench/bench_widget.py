"""Benchmark the widget's frontend in headless Chromium and print the figures.

Runs the exact bundle ``LogitLensWidget`` ships on the fast-tier test page
(tests/ui/harness.html, a fake anywidget model) and times, inside the page, from the
moment an event reaches the page until its handlers ran and layout is done (paint is not
included). Real input events come from Playwright's mouse. Each figure is the median of
several runs. First renders are also timed as a notebook user sees them: the render call
plus the two frames after it (style, layout and paint of what it built), for the version-3
payload and for a V2 JSON document of the same 80 layers × 100 positions.

    .venv/bin/python bench/bench_widget.py [--runs 7] [--only-render] [--bundle DIR]
        [--baseline DIR]

``--bundle DIR`` times another build of the frontend (a folder with widget.js and
widget.css, e.g. esbuild's output for an older commit's frontend/), for before/after tables.
``--baseline DIR`` also times the first renders of a second build in the same browser,
alternating the two render by render (the order flipped every run), so a before/after pair
shares the machine's load; a separate process per build swung ±10 ms on this 2-core VM.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests" / "ui"), str(ROOT / "tests"), str(ROOT / "src")]

from playwright.sync_api import sync_playwright  # noqa: E402

from fake_lens import collection, payload  # noqa: E402
from harness import (  # noqa: E402  (tests/ui/harness.py)
    HERE,
    WidgetPage,
    serve_files,
    start_harness_server,
    widget_state,
    wire,
)
from local_jupyter import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from logitlenskit.base.formats import to_js_format  # noqa: E402

# A capturing listener on window runs before the widget's handlers, a bubbling one after
# them; the second forces layout, so the difference is handling + style + layout.
TIMER_JS = """(type) => {
  window.__times = [];
  let t0 = 0;
  const root = document.querySelector('#out1 .llk');
  window.addEventListener(type, () => { t0 = performance.now(); }, true);
  window.addEventListener(type, () => { root.offsetHeight; window.__times.push(performance.now() - t0); });
}"""


def fresh(browser, url: str, data: dict) -> WidgetPage:
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    wp = WidgetPage(page, url)
    page.evaluate("document.getElementById('out1').style.width = '1300px'")
    wp.mount(data)  # warm-up: the first mount also compiles the bundle
    return wp


def render_ms(wp: WidgetPage, data: dict, **traits) -> float:
    state = wire(widget_state(data, **traits))
    return wp.page.evaluate("(s) => { window.llk.cleanup(); return window.llk.mount(s); }", state)


# The render call (as the harness times it: not its own unpacking of the test's base64
# buffers), then two animation frames: the second starts once the first (with the style,
# layout and paint of everything the render built) has been produced. The state reaches the
# page in an evaluate of its own: a V2 document's 5 MB DevTools message is torn down in the
# task that carried it, and that ran ~40 ms past the render call, holding back the frames
# (a Chromium trace shows it; a notebook's comm message is parsed in its own task).
STAGE_JS = "(s) => { window.__llkState = s; }"
RENDER_FRAMES_JS = """async () => {
  const s = window.__llkState;
  window.__llkState = null;
  window.llk.cleanup();
  const render = window.llk.mount(s);
  const t1 = performance.now();
  await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
  return render + performance.now() - t1;
}"""


def render_frames_ms(wp: WidgetPage, state: dict) -> float:
    """`state` as `wire(widget_state(...))` gives it, built once: a V2 one takes seconds."""
    wp.page.evaluate(STAGE_JS, state)
    return wp.page.evaluate(RENDER_FRAMES_JS)


def times(wp: WidgetPage) -> list[float]:
    return wp.page.evaluate("window.__times")


def bench_events(wp: WidgetPage) -> dict[str, list[float]]:
    page = wp.page
    out: dict[str, list[float]] = {}
    page.evaluate(TIMER_JS, "click")
    for ci, p in [(3, 5), (10, 12), (15, 4), (6, 9), (12, 2), (1, 14), (8, 7)]:  # rows in view
        wp.cell(ci, p).click()
        page.keyboard.press("Escape")
    out["cell click → popup"] = times(wp)
    page.evaluate(TIMER_JS, "pointerover")
    for ci in range(14):
        wp.cell(ci, ci % 12).hover()
    out["hover → chart update"] = times(wp)
    page.evaluate(TIMER_JS, "pointermove")
    box = page.locator("#out1 .llk-colhead >> nth=4 >> .llk-resize-col").bounding_box()
    x, y = box["x"] + 3, box["y"] + 5
    page.mouse.move(x, y)
    page.evaluate("window.__times = []")
    page.mouse.down()
    page.mouse.move(x + 120, y, steps=24)
    page.mouse.move(x - 60, y, steps=24)
    page.mouse.up()
    out["column drag step"] = times(wp)
    return out


SCROLL_JS = """async () => {
  const grid = document.querySelector('#out1 .llk-grid');
  const gaps = [];
  let last = performance.now();
  for (let i = 0; i < 60; i++) {
    grid.scrollTop += 700;
    await new Promise((r) => requestAnimationFrame(r));
    const now = performance.now();
    gaps.push(now - last);
    last = now;
  }
  return { gaps, rows: document.querySelectorAll('#out1 .llk-row').length,
           bottom: grid.scrollTop + grid.clientHeight >= grid.scrollHeight - 2 };
}"""


def interactions(wp: WidgetPage, big: dict, pins: dict, runs: int) -> list[tuple]:
    """Clicks, hovers, a column drag, and the 80 × 2,000 render and scroll."""
    rows: list[tuple[str, float, float, str]] = []
    events: dict[str, list[float]] = {}
    for _ in range(3):
        for name, ts in bench_events(wp).items():
            events.setdefault(name, []).extend(ts)
    goals = {
        "cell click → popup": "≤ 16",
        "hover → chart update": "≤ 8",
        "column drag step": "≤ 16",
    }
    for name, ts in events.items():
        rows.append((name, statistics.median(ts), max(ts), goals[name]))
    big_render = [render_ms(wp, big, **pins) for _ in range(max(3, runs // 2))]
    rows.append(
        ("first render 80 × 2,000", statistics.median(big_render), max(big_render), "no freeze")
    )
    scroll = wp.page.evaluate(SCROLL_JS)
    gaps = scroll["gaps"]
    rows.append(
        (
            "80 × 2,000 scroll: frame interval",
            statistics.median(gaps),
            max(gaps),
            f"no freeze ({scroll['rows']} rows in DOM, reached end: {scroll['bottom']})",
        )
    )
    return rows


def bundle_server(folder: Path):
    """The harness page serving the build in `folder` instead of the package's."""
    js, css = "text/javascript; charset=utf-8", "text/css; charset=utf-8"
    return serve_files(
        {
            "/": ("text/html; charset=utf-8", (HERE / "harness.html").read_bytes()),
            "/widget.js": (js, (folder / "widget.js").read_bytes()),
            "/widget.css": (css, (folder / "widget.css").read_bytes()),
        }
    )


def alternated(pages: dict[str, WidgetPage], fn, runs: int) -> dict[str, list[float]]:
    """`fn(wp)` on each page in turn, `runs` times, the order flipped every run."""
    out: dict[str, list[float]] = {label: [] for label in pages}
    order = list(pages.items())
    for i in range(runs):
        for label, wp in order if i % 2 == 0 else order[::-1]:
            out[label].append(fn(wp))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument(
        "--only-render", action="store_true", help="time the 80 × 100 first renders only"
    )
    parser.add_argument("--bundle", type=Path, help="folder with another build's widget.js/.css")
    parser.add_argument(
        "--baseline", type=Path, help="a build whose first renders alternate with this one's"
    )
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    _server, url = bundle_server(args.bundle) if args.bundle else start_harness_server()
    small = payload(n_layers=80, n_pos=100, k=5, vocab_size=1000)
    # V2 JSON carries a trajectory per tracked token: a 60-token vocabulary keeps it ~5 MB.
    v2 = to_js_format(collection(n_layers=80, n_pos=100, k=5, vocab_size=60))
    pins = {"pins": [{"ids": [1, 2], "color": "#e6194b"}, {"ids": [3], "color": "#3cb44b"}]}
    small_state, v2_state = (wire(widget_state(d, **pins)) for d in (small, v2))
    rows: list[tuple[str, float, float, str]] = []
    base: dict[str, list[float]] = {}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        wp = fresh(browser, url, small)
        pages = {"this": wp}
        if args.baseline:
            _base_server, base_url = bundle_server(args.baseline)
            pages["baseline"] = fresh(browser, base_url, small)
        for name, fn in [
            ("first render 80 × 100", lambda w: render_ms(w, small, **pins)),
            ("first render 80 × 100 + 2 frames", lambda w: render_frames_ms(w, small_state)),
            ("  the same as a V2 document", lambda w: render_frames_ms(w, v2_state)),
        ]:
            times_ms = alternated(pages, fn, args.runs)
            ts = times_ms["this"]
            rows.append((name, statistics.median(ts), max(ts), "≤ 100"))
            if args.baseline:
                base[name] = times_ms["baseline"]
        if not args.only_render:
            render_ms(wp, small, **pins)  # the interactions run on the version-3 payload
            # collection() draws full [L, P, V] softmaxes: keep V small for 2,000 positions.
            big = payload(n_layers=80, n_pos=2000, k=5, vocab_size=100)
            rows += interactions(wp, big, pins, args.runs)
        browser.close()
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"load average {load_before:.2f} before, {os.getloadavg()[0]:.2f} after (the benchmark's own "
        f"Chromium counts); {platform.platform()}"
    )
    if base:
        print(f"baseline: {args.baseline}, alternated with this build run by run")
    extra = f" {'baseline median':>16} {'max':>8}" if base else ""
    print(f"{'figure':38} {'median ms':>10} {'max ms':>8}{extra}  goal")
    for name, med, worst, goal in rows:
        b = base.get(name)
        cells = f" {statistics.median(b):16.2f} {max(b):8.2f}" if b else " " * len(extra)
        print(f"{name:38} {med:10.2f} {worst:8.2f}{cells if base else ''}  {goal}")


if __name__ == "__main__":
    main()
