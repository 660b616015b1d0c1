"""Benchmark StudyWidget's frontend in headless Chromium and print a markdown table.

Runs the exact bundle ``StudyWidget`` ships on its fast-tier test page
(tests/ui/harness.html?bundle=study, a fake anywidget model) with the same Chromium and launch
arguments as the tests, and times inside the page:

- first render: ``render()`` until style and layout are done (paint not included), for
  2,000 prompts × 30 layers × 4 quantities and for 200 prompts; the data are decoded from
  the wire before the clock starts, as a kernel message would have been;
- update: a new ``values`` / ``summary`` / ``n_done`` message until the view has redrawn;
- the heatmap drawing strategies on the same 2,000 × 30 numbers: one pixel per cell in
  ImageData stretched by CSS (what heatmap.js does), fillRect per run of equal colors in a
  row at devicePixelRatio 2, and ImageData at full devicePixelRatio-2 resolution.

Each figure is the median of ``--runs`` runs (at least 5).

    .venv/bin/python bench/bench_study_view.py [--runs 9]
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

from harness import wire  # noqa: E402  (tests/ui/harness.py)
from local_jupyter import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from study_page import (  # noqa: E402
    StudyPage,
    fabricate,
    start_study_server,
    study_widget,
    widget_state,
)

RENDER_JS = """(s) => {
  window.llk.cleanup();
  return window.llk.mount(s);
}"""

UPDATE_JS = """async (patch) => {
  const p = window.llk.fromWire(patch, 8);
  const root = document.querySelector('#out1 .llks');
  const t0 = performance.now();
  window.llk.model.setMany(p);
  await Promise.resolve();  // the view redraws once per burst, a microtask later
  root.offsetHeight;
  return performance.now() - t0;
}"""

# The three ways to draw N × L cells, on the same values and the same 256-color table.
STRATEGIES_JS = """({ N, L, plot, rowH, dpr, runs }) => {
  const values = new Float32Array(N * L);
  for (let i = 0; i < values.length; i++) values[i] = i % 97 === 0 ? NaN : Math.random();
  const lutBytes = new Uint8ClampedArray(256 * 4);
  for (let i = 0; i < 256; i++) lutBytes.set([i, 255 - i, (i * 7) & 255, 255], i * 4);
  const lut = new Uint32Array(lutBytes.buffer);
  const css = Array.from({ length: 256 }, (_, i) => `rgb(${i},${255 - i},${(i * 7) & 255})`);
  const index = (v) => (v * 255 + 0.5) | 0;
  const host = document.body;
  const canvas = (w, h) => {
    const c = document.createElement('canvas');
    c.width = w; c.height = h;
    c.style.width = `${plot}px`; c.style.height = `${N * rowH}px`;
    host.append(c);
    return c;
  };
  const flush = (ctx) => ctx.getImageData(0, 0, 1, 1);  // wait until the canvas has drawn
  const ways = {
    'ImageData, 1 px per cell, CSS-stretched (heatmap.js)': () => {
      const c = canvas(L, N);
      const ctx = c.getContext('2d');
      const t0 = performance.now();
      const img = ctx.createImageData(L, N);
      const out = new Uint32Array(img.data.buffer);
      for (let i = 0; i < values.length; i++) {
        const v = values[i];
        out[i] = Number.isNaN(v) ? 0 : lut[index(v)];
      }
      ctx.putImageData(img, 0, 0);
      flush(ctx);
      const t = performance.now() - t0;
      c.remove();
      return t;
    },
    [`fillRect per run of equal colors in a row, at dpr ${dpr}`]: () => {
      const c = canvas(Math.round(plot * dpr), Math.round(N * rowH * dpr));
      const ctx = c.getContext('2d');
      const t0 = performance.now();
      const cw = (plot * dpr) / L;
      const rh = rowH * dpr;
      for (let p = 0; p < N; p++) {
        let l = 0;
        while (l < L) {
          const v = values[p * L + l];
          let j = l + 1;
          if (Number.isNaN(v)) { while (j < L && Number.isNaN(values[p * L + j])) j++; l = j; continue; }
          const k = index(v);
          while (j < L && index(values[p * L + j]) === k) j++;
          ctx.fillStyle = css[k];
          ctx.fillRect(Math.round(l * cw), p * rh, Math.round(j * cw) - Math.round(l * cw), rh);
          l = j;
        }
      }
      flush(ctx);
      const t = performance.now() - t0;
      c.remove();
      return t;
    },
    [`ImageData at full resolution, dpr ${dpr}`]: () => {
      const W = Math.round(plot * dpr);
      const H = Math.round(N * rowH * dpr);
      const c = canvas(W, H);
      const ctx = c.getContext('2d');
      const t0 = performance.now();
      const img = ctx.createImageData(W, H);
      const out = new Uint32Array(img.data.buffer);
      const col = new Int32Array(W);
      for (let x = 0; x < W; x++) col[x] = Math.min(L - 1, Math.floor((x * L) / W));
      const row = new Uint32Array(W);
      for (let p = 0; p < N; p++) {
        for (let x = 0; x < W; x++) {
          const v = values[p * L + col[x]];
          row[x] = Number.isNaN(v) ? 0 : lut[index(v)];
        }
        const y0 = Math.round(p * rowH * dpr);
        const y1 = Math.round((p + 1) * rowH * dpr);
        for (let y = y0; y < y1; y++) out.set(row, y * W);
      }
      ctx.putImageData(img, 0, 0);
      flush(ctx);
      const t = performance.now() - t0;
      c.remove();
      return t;
    },
  };
  const result = {};
  for (const [name, fn] of Object.entries(ways)) {
    fn();  // warm-up
    result[name] = Array.from({ length: runs }, fn);
  }
  return result;
}"""


def machine() -> str:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{model or platform.processor() or platform.machine()}, nproc {os.cpu_count()}"


def render_ms(sp: StudyPage, state: dict, runs: int) -> list[float]:
    sp.page.evaluate(RENDER_JS, state)  # warm-up: the first mount also compiles the bundle
    return [sp.page.evaluate(RENDER_JS, state) for _ in range(runs)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()
    runs = max(5, args.runs)
    load_before = os.getloadavg()[0]
    server, url = start_study_server()
    big = study_widget(n=2000, n_layers=30, done=1500, busy=True, status="batch 60/80")
    small = study_widget(n=200, n_layers=30, done=150, busy=True, status="batch 6/8")
    rows: list[tuple[str, float, float, str]] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1000, "height": 1000})
        sp = StudyPage(page, url)
        for label, w in [("2,000", big), ("200", small)]:
            times = render_ms(sp, wire(widget_state(w)), runs)
            goal = "≤ 100" if label == "2,000" else ""
            rows.append(
                (
                    f"first render, {label} prompts × 30 layers × 4",
                    statistics.median(times),
                    max(times),
                    goal,
                )
            )
        # Updates of the big study: the next batches arrive.
        sp.page.evaluate(RENDER_JS, wire(widget_state(big)))
        updates = []
        for i in range(runs):
            done = 1500 + 25 * (i + 1)
            values, summary = fabricate(2000, 30, done, seed=i)
            big.update(values=values, summary=summary, n_done=done, status=f"batch {i}")
            patch = wire(widget_state(big, ("values", "summary", "n_done", "status")))
            updates.append(sp.page.evaluate(UPDATE_JS, patch))
        rows.append(
            (
                "update (values + summary + n_done), 2,000 × 30 × 4",
                statistics.median(updates),
                max(updates),
                "",
            )
        )
        plot = sp.page.evaluate(
            "() => document.querySelector('#out1 .llks-heat-canvas').getBoundingClientRect().width"
        )
        ways = sp.page.evaluate(
            STRATEGIES_JS, {"N": 2000, "L": 30, "plot": plot, "rowH": 1, "dpr": 2, "runs": runs}
        )
        for name, times in ways.items():
            rows.append(
                (f"heatmap draw 2,000 × 30: {name}", statistics.median(times), max(times), "")
            )
        assert sp.errors == [], sp.errors
        browser.close()
    server.shutdown()
    print(f"machine: {machine()}; {platform.platform()}")
    print(
        f"Chromium {CHROMIUM} (the tests' launch arguments); {runs} runs each; load average "
        f"{load_before:.2f} before, {os.getloadavg()[0]:.2f} after\n"
    )
    print("| measure | median ms | max ms | goal ms |")
    print("|---|---:|---:|---|")
    for name, median, worst, goal in rows:
        print(f"| {name} | {median:.1f} | {worst:.1f} | {goal} |")


if __name__ == "__main__":
    main()
