"""Benchmark: the live loop end to end, in a real JupyterLab page with a real kernel.

    .venv/bin/python bench/bench_loop.py [--runs 5] [--tokens 100] [--long 5000] [--no-remote]

A JupyterLab server (tests/local_jupyter.py) runs a notebook that shows a
``LogitLensWidget`` of SmolLM2 (``load_model()``) on a ``--tokens``-token prompt with
``pinned_rows = [10, 50, 99]``; Playwright drives the system Chromium with real input
events. Every figure is timed inside the page: ``performance.now()`` in a capturing listener
of the starting event (before the widget's own handlers), then a MutationObserver on the
widget that stops the clock, after a forced layout, once the expected DOM is there; so no
Playwright round trip is counted. Code for the kernel (baselines, ``w.pins = []``, ...) goes
through the notebook's kernel connection (``kernel.requestExecute``), timed in the kernel.

* click → grown popup: a click on a grid cell until its popup lists the 20 rows Python
  answers (``detail``); the popup first opens with the k rows the browser has.
* pin → lines: a click on a popup row whose token is tracked at no position (in no top-k,
  never pinned) until its line is drawn for every pinned row: ``path`` elements in the
  chart's ``.llk-lines`` with a non-empty ``d`` (a line has none where its values are
  unknown). The clicked cell is never in a pinned row, so no line can come from the
  ``detail`` answer alone: all three wait for Python's tracked data.
* Enter → new grid: Enter in the prompt box (the prompt alternates between the prompt and
  the prompt + " and", so each Enter is a new run of another length) until the grid has
  the new row count and freshly rendered rows; against ``collect_logit_lens`` of the same
  prompt and the same data (the widget's k, layers, pinned ids, targets and ``metrics``, so
  KL too) timed in the same kernel right after each Enter (so both see the same load).
* long prompt (``--long`` tokens, 0 skips): from Enter (or from "Run anyway" when the widget
  asks first) to the first rendered data rows, and to ``busy`` false; against one plain
  forward pass of the same prompt timed in the kernel; the kernel's peak RSS while it runs.
* the same clicks, pin and Enter with ``w.remote = "local"`` (nnsight's NDIF simulation,
  which reruns a trace for each follow-up).

Where the time goes: the set-up cell wraps the kernel's steps (comm messages in, with the
browser's own send time from the message header; ``start_run``, ``session.detail`` and
``session.track``; building and validating the payload; sending it) to log wall-clock
times, and the page logs when each websocket message reaches its main thread; the report
gives, per figure, the median time after the start event at which each step ended.

Jupyter, IPython and temp files go to .test-state/bench-<pid> (removed at the end unless
``--keep`` or a failure). The Python side alone is bench/bench_live.py; the browser side
on a fake model is bench/bench_widget.py.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "src")]

import psutil  # noqa: E402
from playwright.sync_api import Page, sync_playwright  # noqa: E402

from local_jupyter import CHROMIUM, CHROMIUM_ARGS, EXPOSE_APP_ARGS, isolate_state, running_jupyter  # noqa: E402

PINNED_ROWS = [10, 50, 99]
KERNEL_READY_MS = 120_000  # the kernel imports torch and loads the model first
WIDGET = ".jp-OutputArea:visible .llk"

SETUP = """\
import sys
sys.path.insert(0, __BENCH__)
import datetime, gc, json, statistics, time
import psutil, torch
from bench_live import PeakRss, prompt_of
from logitlenskit import LogitLensWidget, collect_logit_lens, load_model
from logitlenskit.live.widget import LARGE_PROMPT_TOKENS

model = load_model()
PROMPT = prompt_of(model, __TOKENS__)
VARIANTS = [PROMPT + " and", PROMPT]
collect_logit_lens(PROMPT, model)  # warm-up: the first call pays allocator growth
w = LogitLensWidget(model=model, prompt=PROMPT)
w.pinned_rows = __ROWS__
REMOTE = w.remote  # where the "local" figures run (auto: here)


def _out(**kw):
    print("@@" + json.dumps(kw))


# Where the time goes, in the kernel: (epoch ms, what) for comm messages in and out and
# the run, detail, track, payload and validation steps.
import logitlenskit.base.formats as _formats
import logitlenskit.core.session as _session
import logitlenskit.live.live_methods as _lm
import logitlenskit.live.side as _side
_EV = []


def _mark(what):
    _EV.append((time.time() * 1000, what))


def _wrap(owner, name, label):
    fn = getattr(owner, name)

    def wrapped(*args, **kwargs):
        _mark(label + " start")
        try:
            return fn(*args, **kwargs)
        finally:
            _mark(label + " end")

    setattr(owner, name, wrapped)


# Where each step is looked up when it runs; a run is labelled start_run, as it always was.
for _owner, _name, _label in [(_side, "run_options", "start_run"), (_session, "detail", "detail"),
                              (_session, "track", "track"), (_lm, "to_widget_payload", "to_widget_payload"),
                              (_formats, "validate_data", "validate_data")]:
    _wrap(_owner, _name, _label)
_send_state, _send, _comm_in = w.send_state, w.send, w.comm._msg_callback


def _send_state_marked(key=None):
    keys = {key} if isinstance(key, str) else set(key or ())
    what = "send data" if "data" in keys else "send state"
    _mark(what + " start")
    try:
        return _send_state(key)
    finally:
        _mark(what + " end")


def _send_marked(content, buffers=None):
    _mark("send reply start")
    try:
        return _send(content, buffers)
    finally:
        _mark("send reply end")


def _on_comm(msg):
    data = msg["content"]["data"]
    what = data.get("method", "")
    if what == "custom":
        what += " " + str(data.get("content", {}).get("name"))
    elif what in ("update", "backbone"):
        what += " " + ",".join(sorted(data.get("state", {})))
    sent = msg["header"].get("date")  # stamped by the browser when it made the message
    if isinstance(sent, str):
        sent = datetime.datetime.fromisoformat(sent.replace("Z", "+00:00"))
    if sent is not None:
        _EV.append((sent.timestamp() * 1000, "sent " + what))
    _mark("in " + what + " start")
    try:
        _comm_in(msg)
    finally:
        _mark("in " + what + " end")


w.send_state, w.send = _send_state_marked, _send_marked
w.comm.on_msg(_on_comm)
w.observe(lambda c: _mark("data set"), names="data")
w.observe(lambda c: _mark(f"busy {c['new']}"), names="busy")


def _events(since):
    out = sorted((t - since, what) for t, what in _EV if t >= since - 5)
    _EV.clear()
    _out(ev=out)


def _tracked():
    return sorted(set().union(*(set(t.tolist()) for t in w.result["tracked"])))


def _collect_ms(prompt):
    # The same data the widget collects: its k, layers, pins, targets and KL metric.
    o = w._options()
    assert not o.chat
    start = time.perf_counter()
    collect_logit_lens(prompt, model, k=o.k, layers=o.layer_list(), remote=o.remote,
                       track=w._pinned(), targets=o.targets, metrics=o.metrics,
                       sublayers=o.sublayers)
    return (time.perf_counter() - start) * 1000
"""

# Installed once in the page: the timer, and a kernel execute that returns stdout.
PAGE_JS = r"""() => {
  const widget = () => [...document.querySelectorAll('.jp-OutputArea .llk')]
    .find((e) => e.getClientRects().length > 0) ?? null;
  // Elements present when the clock is armed are marked: a check counts only new ones
  // (a closed popup keeps its rows, a re-rendered grid replaces its rows).
  const fresh = (els) => [...els].filter((e) => !e.__llkOld);
  const checks = {
    popupRows: (r, n) => () => {
      const p = r.querySelector('.llk-popup');
      return p !== null && !p.hidden && fresh(p.querySelectorAll('.llk-popup-row')).length >= n;
    },
    lines: (r, n) => () => fresh(r.querySelectorAll('.llk-lines path:not(.llk-default-line)'))
      .filter((p) => (p.getAttribute('d') ?? '') !== '').length >= n,
    rows: (r, n) => () =>
      r.querySelector('.llk-grid')?.getAttribute('aria-rowcount') === String(n + 1) &&
      fresh(r.querySelectorAll('.llk-row')).some(
        (row) => row.querySelector('.llk-cell:not(.llk-pending):not(.llk-invalid)') !== null),
    idle: (r, n) => {
      const rows = checks.rows(r, n);
      return () => rows() && r.querySelector('.llk-busy')?.hidden === true;
    },
  };
  window.__bench = {
    widget,
    /** Start the clock at the next `eventType` (capture phase); stop each mark when its
        check first holds after a DOM change. */
    arm(eventType, marks) {
      const r = widget();
      for (const e of r.querySelectorAll('.llk-popup-row, .llk-lines path, .llk-row')) e.__llkOld = true;
      const st = { t0: null, times: {} };
      const todo = marks.map(([name, kind, arg]) => [name, checks[kind](r, arg)]);
      st.done = new Promise((resolve) => {
        const obs = new MutationObserver(() => {
          if (st.t0 === null) return;
          for (let i = todo.length - 1; i >= 0; i--) {
            if (todo[i][1]()) {
              r.offsetHeight; // the DOM is there and laid out
              st.times[todo[i][0]] = performance.now() - st.t0;
              todo.splice(i, 1);
            }
          }
          if (!todo.length) {
            obs.disconnect();
            resolve({ ...st.times, t0epoch: performance.timeOrigin + st.t0 });
          }
        });
        obs.observe(r, { childList: true, subtree: true, attributes: true, characterData: true });
        window.addEventListener(eventType, () => { st.t0 = performance.now(); },
          { capture: true, once: true });
      });
      this.st = st;
    },
    wait(ms) {
      const st = this.st;
      return Promise.race([st.done, new Promise((resolve) => setTimeout(
        () => resolve({ timeout: true, started: st.t0 !== null, got: st.times }), ms))]);
    },
    async exec(code) {
      const kernel = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
      const future = kernel.requestExecute({ code, stop_on_error: true, store_history: false });
      let out = '';
      let err = '';
      future.onIOPub = (msg) => {
        const c = msg.content;
        if (msg.header.msg_type === 'stream') {
          if (c.name === 'stdout') out += c.text; else err += c.text;
        } else if (msg.header.msg_type === 'error') {
          err += `${c.ename}: ${c.evalue}\n${(c.traceback ?? []).join('\n')}`;
        }
      };
      let status = 'ok';
      try {
        status = (await future.done).content.status;
      } catch (e) {
        status = 'error';
        err += String(e);
      }
      return { out, err, status };
    },
  };
}"""

# Added before JupyterLab loads: the arrival time and size of every websocket message, so
# a timeline can say when the kernel's answer reached the page.
WS_JS = """(() => {
  const Native = window.WebSocket;
  window.__wsIn = [];
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener('message', (e) => {
        const d = e.data;
        const n = typeof d === 'string' ? d.length : (d.byteLength ?? d.size ?? 0);
        window.__wsIn.push([performance.timeOrigin + performance.now(), n]);
        if (window.__wsIn.length > 20000) window.__wsIn.splice(0, 10000);
      });
    }
  };
})()"""

ANSI = re.compile(r"\x1b\[[0-9;]*m")


# The steps between the start event and the mark, in order: (name, regex of a kernel event
# label, "ws:largest" for the largest websocket message the page received, or "page:<mark>");
# each is the first match after the previous one.
TIMELINES = {
    "grown": [
        ("detail sent", r"sent custom detail"),
        ("detail in", r"in custom detail start"),
        ("detail start", r"detail start"),
        ("detail end", r"detail end"),
        ("reply sent", r"send reply end"),
        ("reply in page", "ws:largest"),
        ("popup 20 rows", "page:grown"),
    ],
    "pin": [
        ("pins sent", r"sent update .*pins.*"),
        ("pins in", r"in update .*pins.* start"),
        ("track start", r"track start"),
        ("track end", r"track end"),
        ("payload end", r"to_widget_payload end"),
        ("validated", r"validate_data end"),
        ("data sent", r"send data end"),
        ("data in page", "ws:largest"),
        ("lines", "page:lines"),
    ],
    "enter": [
        ("prompt sent", r"sent update .*prompt.*"),
        ("prompt in", r"in update .*prompt.* start"),
        ("run start", r"start_run start"),
        ("run end", r"start_run end"),
        ("payload end", r"to_widget_payload end"),
        ("validated", r"validate_data end"),
        ("data sent", r"send data end"),
        ("data in page", "ws:largest"),
        ("rows", "page:rows"),
        ("busy false", r"busy False"),
    ],
}


class Bench:
    """The notebook page, its widget and its kernel."""

    def __init__(self, page: Page, timeout_s: float) -> None:
        self.page = page
        self.timeout_ms = int(timeout_s * 1000)
        self.widget = page.locator(WIDGET)

    def kernel(self, code: str) -> dict[str, Any]:
        """Run ``code`` in the notebook's kernel; returns what it passed to ``_out``."""
        reply = self.page.evaluate("(code) => window.__bench.exec(code)", code)
        if reply["status"] != "ok":
            raise RuntimeError(f"kernel error in {code!r}:\n{ANSI.sub('', reply['err'])}")
        found = [line[2:] for line in reply["out"].splitlines() if line.startswith("@@")]
        return json.loads(found[-1]) if found else {}

    def timed(
        self, event: str, marks: list[tuple[str, str, int]], action, timeout_ms=None
    ) -> dict[str, Any]:
        """Arm the page's clock on ``event``, do ``action()``; ms per mark, and under
        "kernel" the kernel's events since the start event (ms after it)."""
        self.page.evaluate("([e, m]) => window.__bench.arm(e, m)", [event, marks])
        action()
        times = self.page.evaluate("(ms) => window.__bench.wait(ms)", timeout_ms or self.timeout_ms)
        if times.get("timeout"):
            state = self.kernel(
                "_out(error=w.error, busy=w.busy, confirm=w.confirm, status=w.status, pins=w.pins)"
            )
            raise RuntimeError(f"{marks}: timed out ({times}); widget: {state}")
        t0 = times.pop("t0epoch")
        times["kernel"] = self.kernel(f"_events({t0!r})")["ev"]
        times["ws"] = self.page.evaluate(
            "(t0) => { const out = window.__wsIn.filter(([t]) => t >= t0 - 5)"
            ".map(([t, n]) => [t - t0, n]); window.__wsIn = []; return out; }",
            t0,
        )
        return times

    def close_popup(self) -> None:
        close = self.widget.locator(".llk-popup:not([hidden]) .llk-popup-close")
        if close.count():
            close.click()

    def show_grid(self) -> None:
        """Scroll the notebook so that the grid starts at the top of the window."""
        self.page.evaluate(
            "() => window.__bench.widget().querySelector('.llk-grid').scrollIntoView({block: 'start'})"
        )

    def visible_cells(self) -> list[tuple[int, int]]:
        """(position, column) of every grid cell fully inside the grid's scrolled view."""
        self.show_grid()
        return self.page.evaluate("""() => {
          const r = window.__bench.widget();
          const box = r.querySelector('.llk-grid').getBoundingClientRect();
          const head = r.querySelector('.llk-head').getBoundingClientRect();
          const out = [];
          for (const row of r.querySelectorAll('.llk-row')) {
            const b = row.getBoundingClientRect();
            if (b.top < head.bottom || b.bottom > box.bottom) continue;
            for (const c of row.querySelectorAll('.llk-cell')) {
              const cb = c.getBoundingClientRect();
              if (cb.left >= box.left && cb.right <= box.right && cb.bottom <= innerHeight)
                out.push([Number(row.dataset.p), Number(c.dataset.ci)]);
            }
          }
          return out;
        }""")

    def cell(self, p: int, ci: int):
        return self.widget.locator(f'.llk-row[data-p="{p}"] .llk-cell[data-ci="{ci}"]')


def timeline(kind: str, t: dict[str, Any]) -> dict[str, float]:
    """ms after the start event of each step of TIMELINES[kind] found in ``t``."""
    out: dict[str, float] = {}
    now = -5.0
    for name, what in TIMELINES[kind]:
        if what.startswith("page:"):
            at = t[what[5:]]
        elif what == "ws:largest":  # the largest message the page received since
            after = [(n, -ms) for ms, n in t["ws"] if ms >= now]
            if not after:
                continue
            at = -max(after)[1]
        else:
            at = next(
                (ms for ms, label in t["kernel"] if ms >= now and re.fullmatch(what, label)), None
            )
            if at is None:
                continue
        out[name] = now = at
    return out


def candidate_cells(bench: Bench) -> list[tuple[int, int]]:
    """Cells to click, each once: middle layers (their deeper lists hold rare tokens), rows
    in view that are not pinned, spread over the grid."""
    cells = bench.visible_cells()
    cols = sorted({ci for _, ci in cells})
    middle = cols[1:-1] or cols
    positions = sorted({p for p, _ in cells if p not in PINNED_ROWS and p > 0})
    order = []
    for i in range(len(positions) * len(middle)):
        p = positions[(i * 7) % len(positions)]
        ci = middle[(i * 3 + i // len(positions)) % len(middle)]
        if (p, ci) not in order:
            order.append((p, ci))
    return order


def popup_and_pin(bench: Bench, runs: int) -> dict[str, list]:
    """Click → popup (k rows, then 20 from Python); pin of an untracked token → its lines."""
    out: dict[str, list] = {"open": [], "grown": [], "pin": [], "grown_tl": [], "pin_tl": []}
    cells = iter(candidate_cells(bench))
    done = 0
    while done < runs + 1:  # the first round is a warm-up
        bench.kernel("w.pins = []")
        bench.close_popup()
        bench.page.wait_for_function(
            "() => !window.__bench.widget().querySelector('.llk-lines path:not(.llk-default-line)')"
        )
        tracked = set(bench.kernel("_out(ids=_tracked())")["ids"])
        try:
            p, ci = next(cells)
        except StopIteration:
            raise RuntimeError("no visible cell's top 20 holds an untracked token") from None
        t = bench.timed(
            "click",
            [("open", "popupRows", 1), ("grown", "popupRows", 20)],
            lambda p=p, ci=ci: bench.cell(p, ci).click(),
        )
        ids = [
            int(x)
            for x in bench.widget.locator(".llk-popup-row").evaluate_all(
                "(rows) => rows.map((r) => r.dataset.id)"
            )
        ]
        untracked = [i for i in ids if i not in tracked]
        if done:
            out["open"].append(t["open"])
            out["grown"].append(t["grown"])
            out["grown_tl"].append(timeline("grown", t))
        if not untracked:
            continue
        row = bench.widget.locator(f'.llk-popup-row[data-id="{untracked[-1]}"] .llk-popup-token')
        t = bench.timed(
            "click", [("lines", "lines", len(PINNED_ROWS))], lambda row=row: row.click()
        )
        if done:
            out["pin"].append(t["lines"])
            out["pin_tl"].append(timeline("pin", t))
        done += 1
    bench.close_popup()
    bench.kernel("w.pins = []")
    return out


def cpu_seconds() -> dict[str, float]:
    """CPU seconds used so far by this benchmark's processes: the browser, the Jupyter
    server, the kernel (the server's children) and the rest (Playwright's driver)."""
    out = {"browser": 0.0, "server": 0.0, "kernel": 0.0, "other": 0.0}
    for proc in psutil.Process().children(recursive=True):
        try:
            cmd = " ".join(proc.cmdline())
            times = proc.cpu_times()
        except psutil.Error:
            continue
        group = (
            "browser"
            if "chrom" in cmd
            else "kernel"
            if "ipykernel" in cmd
            else "server"
            if "jupyter" in cmd
            else "other"
        )
        out[group] += times.user + times.system
    return out


def cpu_used(before: dict[str, float]) -> dict[str, float]:
    """CPU ms per process group since ``before`` (a :func:`cpu_seconds`)."""
    return {k: (v - before[k]) * 1000 for k, v in cpu_seconds().items()}


def enter_runs(bench: Bench, runs: int) -> dict[str, list]:
    """Enter in the prompt box → new grid (and → busy false), each followed by
    collect_logit_lens of the same prompt in the kernel (so both see the same load)."""
    info = bench.kernel(
        "w.pins = []\nif w.prompt != PROMPT: w.prompt = PROMPT\n"
        "_out(texts=VARIANTS, n=[len(model.tokenizer.encode(v)) for v in VARIANTS])"
    )
    texts, lengths = info["texts"], info["n"]
    if lengths[0] == lengths[1]:
        raise RuntimeError(f"the two prompts have the same length {lengths}: pick another suffix")
    box = bench.widget.locator("textarea[aria-label=prompt]")
    out: dict[str, list] = {"rows": [], "idle": [], "collect": [], "tl": [], "cpu": []}
    for i in range(runs + 1):  # the first round is a warm-up
        box.fill(texts[i % 2])
        n = lengths[i % 2]
        before = cpu_seconds()
        t = bench.timed(
            "keydown", [("rows", "rows", n), ("idle", "idle", n)], lambda: box.press("Enter")
        )
        enter_cpu = cpu_used(before)
        before = cpu_seconds()
        collect = bench.kernel(f"_out(ms=_collect_ms(VARIANTS[{i % 2}]))")["ms"]
        collect_cpu = cpu_used(before)
        if i:
            out["rows"].append(t["rows"])
            out["idle"].append(t["idle"])
            out["collect"].append(collect)
            out["tl"].append(timeline("enter", t))
            out["cpu"].append((enter_cpu, collect_cpu))
    return out


def long_prompt(bench: Bench, n_tokens: int, timeout_s: float) -> dict[str, Any]:
    """Enter (or "Run anyway") → first data rows and → busy false; forward pass; peak RSS."""
    info = bench.kernel(f"""\
w.pins = []
if w.remote != REMOTE: w.remote = REMOTE
LONG = prompt_of(model, {n_tokens})
LONG_IDS = model.tokenizer.encode(LONG)
gc.collect()
start = time.perf_counter()
with torch.no_grad():
    model._model(torch.tensor([LONG_IDS]))
forward_ms = (time.perf_counter() - start) * 1000
gc.collect()
_rss = PeakRss()
_rss.__enter__()
_out(text=LONG, n=len(LONG_IDS), forward_ms=forward_ms, confirm=len(LONG_IDS) > LARGE_PROMPT_TOKENS,
     base_gb=_rss.base / 1e9)""")
    bench.page.evaluate(
        "() => { window.__bench.widget().querySelector('.llk-grid').scrollTop = 0; }"
    )
    bench.show_grid()
    box = bench.widget.locator("textarea[aria-label=prompt]")
    box.fill(info["text"])
    n = info["n"]
    marks = [("first", "rows", n), ("done", "idle", n)]
    if info["confirm"]:
        box.press("Enter")
        yes = bench.widget.locator(".llk-confirm-yes")
        yes.wait_for(state="visible", timeout=bench.timeout_ms)
        t = bench.timed("click", marks, lambda: yes.click(), int(timeout_s * 1000))
    else:
        t = bench.timed("keydown", marks, lambda: box.press("Enter"), int(timeout_s * 1000))
    rss = bench.kernel(
        "_rss.__exit__(None, None, None)\n_out(peak_gb=_rss.peak / 1e9, extra_gb=_rss.extra_gb)"
    )
    sent = [ms for ms, label in t["kernel"] if label == "send data end"]
    runs = [ms for ms, label in t["kernel"] if label in ("start_run start", "start_run end")]
    return {
        "tokens": n,
        "forward": info["forward_ms"],
        "first": t["first"],
        "done": t["done"],
        "confirm": info["confirm"],
        "base_gb": info["base_gb"],
        "sent": sent,
        "run": runs,
        **rss,
    }


def open_notebook(page: Page, server, name: str, setup: str) -> Bench:
    """Open the notebook, run ``setup`` in its kernel, then show ``w`` (its second cell)."""
    page.add_init_script(WS_JS)
    # `reset` starts from an empty workspace (as tests/e2e/test_jupyter.py does).
    page.goto(server.page(f"lab/tree/{name}") + "&reset")
    page.wait_for_function(
        "() => window.jupyterapp?.shell?.currentWidget?.sessionContext?.session"
        "?.kernel?.status === 'idle'",
        timeout=KERNEL_READY_MS,
    )
    page.evaluate(PAGE_JS)
    bench = Bench(page, KERNEL_READY_MS / 1000)
    bench.kernel(setup)  # raises with the kernel's traceback if the set-up fails
    page.evaluate(
        "() => { const nb = window.jupyterapp.shell.currentWidget.content; nb.activeCellIndex = 1;"
        " return window.jupyterapp.commands.execute('notebook:run-cell'); }"
    )
    try:
        page.locator(f"{WIDGET} [role=gridcell]").first.wait_for(timeout=KERNEL_READY_MS)
    except Exception as exc:
        shown = page.locator(".jp-NotebookPanel:visible .jp-Cell").nth(1).inner_text()
        raise RuntimeError(f"the widget shows no grid; its cell shows:\n{shown}") from exc
    return bench


def stats(ts: list[float]) -> tuple[float, float, float]:
    return statistics.median(ts), min(ts), max(ts)


def fmt_row(figure: str, path: str, ts: list[float], against: str, goal: str) -> str:
    med, lo, hi = stats(ts)
    return f"| {figure} | {path} | {med:.0f} | {lo:.0f} | {hi:.0f} | {against} | {goal} |"


def table(path: str, pp: dict[str, list], en: dict[str, list], goals: bool) -> list[str]:
    def goal(text: str, ok: bool) -> str:
        return f"{text} {'✓' if ok else '✗'}" if goals else "—"

    collect = statistics.median(en["collect"])
    over = [r - c for r, c in zip(en["rows"], en["collect"], strict=True)]
    idle_over = [r - c for r, c in zip(en["idle"], en["collect"], strict=True)]
    return [
        fmt_row("click → popup opens (k rows)", path, pp["open"], "", "—"),
        fmt_row(
            "click → grown popup (20 rows)",
            path,
            pp["grown"],
            "",
            goal("≤ 50", statistics.median(pp["grown"]) <= 50),
        ),
        fmt_row(
            f"pin untracked → {len(PINNED_ROWS)} lines",
            path,
            pp["pin"],
            "",
            goal("≤ 100", statistics.median(pp["pin"]) <= 100),
        ),
        fmt_row(
            "Enter → new grid",
            path,
            en["rows"],
            f"collect {collect:.0f} ({min(en['collect']):.0f}–{max(en['collect']):.0f}); "
            f"Enter − collect {statistics.median(over):+.0f} "
            f"({min(over):+.0f}…{max(over):+.0f})",
            goal("≤ collect + 150", statistics.median(over) <= 150),
        ),
        fmt_row(
            "Enter → busy false",
            path,
            en["idle"],
            f"Enter − collect {statistics.median(idle_over):+.0f}",
            "—",
        ),
    ]


def timelines(path: str, pp: dict[str, list], en: dict[str, list]) -> list[str]:
    """Median ms after the start event of each step (kernel steps from its own clock)."""
    out = []
    for figure, runs in [
        ("click → grown popup", pp["grown_tl"]),
        ("pin → lines", pp["pin_tl"]),
        ("Enter → new grid", en["tl"]),
    ]:
        names = [n for n in dict.fromkeys(k for r in runs for k in r)]
        steps = [f"{n} {statistics.median([r[n] for r in runs if n in r]):.0f}" for n in names]
        out.append(f"- {figure} ({path}): " + " → ".join(steps))
    for i, what in enumerate(["Enter → busy false", "the collection baseline"]):
        cpu = {k: statistics.median([c[i][k] for c in en["cpu"]]) for k in en["cpu"][0][0]}
        used = ", ".join(f"{k} {v:.0f}" for k, v in cpu.items())
        out.append(f"- CPU ms during {what} ({path}, median): {used}")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--tokens", type=int, default=100)
    parser.add_argument("--long", type=int, default=5000, help="long prompt tokens; 0 skips")
    parser.add_argument("--no-remote", action="store_true", help="skip the NDIF simulation")
    parser.add_argument("--timeout", type=float, default=180, help="s per measured action")
    parser.add_argument("--long-timeout", type=float, default=1800, help="s for the long prompt")
    parser.add_argument("--keep", action="store_true", help="keep .test-state/bench-<pid>")
    args = parser.parse_args()
    if args.tokens <= max(PINNED_ROWS):
        parser.error(f"--tokens must exceed {max(PINNED_ROWS)} (pinned rows {PINNED_ROWS})")
    load_before = os.getloadavg()
    state = isolate_state("bench")
    notebooks = state / "notebooks"
    notebooks.mkdir(exist_ok=True)
    log = state / "jupyter-server.log"
    started = time.monotonic()
    failed = True
    lines: list[str] = []
    steps: list[str] = []
    try:
        with (
            running_jupyter(notebooks, log, args=EXPOSE_APP_ARGS) as server,
            sync_playwright() as pw,
        ):
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1600, "height": 1400})
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(f"{e}\n{e.stack}"))
            setup = (
                SETUP.replace("__BENCH__", repr(str(ROOT / "bench")))
                .replace("__TOKENS__", str(args.tokens))
                .replace("__ROWS__", str(PINNED_ROWS))
            )
            name = server.write_notebook("bench.ipynb", [setup, "w"])
            bench = open_notebook(page, server, name, setup)
            bench.timeout_ms = int(args.timeout * 1000)
            local_pp = popup_and_pin(bench, args.runs)
            local_en = enter_runs(bench, args.runs)
            lines += table("local", local_pp, local_en, goals=True)
            steps += timelines("local", local_pp, local_en)
            if not args.no_remote:
                bench.kernel('w.remote = "local"')
                ndif_pp = popup_and_pin(bench, args.runs)
                ndif_en = enter_runs(bench, args.runs)
                lines += table("NDIF simulation", ndif_pp, ndif_en, goals=False)
                steps += timelines("NDIF simulation", ndif_pp, ndif_en)
            long = long_prompt(bench, args.long, args.long_timeout) if args.long else None
            version = browser.version
            browser.close()
            blob_errors = [e for e in errors if "blob:" in e]
        failed = False
    finally:
        if failed or args.keep:
            print(f"state kept in {state} (server log {log})", file=sys.stderr)
    load_after = os.getloadavg()
    print(
        f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"load average {load_before[0]:.2f} / {load_before[1]:.2f} / {load_before[2]:.2f} "
        f"before, {load_after[0]:.2f} / {load_after[1]:.2f} / {load_after[2]:.2f} after "
        f"(1 / 5 / 15 min); Chromium {version}; {platform.platform()}; "
        f"{time.monotonic() - started:.0f} s in all"
    )
    print(
        f"\n{args.tokens}-token prompt, pinned rows {PINNED_ROWS}; median, min and max of "
        f"{args.runs} runs after one warm-up (ms, timed in the page)\n"
    )
    print("| figure | path | median | min | max | against | goal |")
    print("|---|---|---|---|---|---|---|")
    print("\n".join(lines))
    print(
        "\nwhere the time goes: median ms after the start event of each step (kernel "
        "steps by the kernel's clock; the same wall clock as the page's)"
    )
    print("\n".join(steps))
    if long:
        how = '"Run anyway"' if long["confirm"] else "Enter"
        first, done, fwd = long["first"] / 1000, long["done"] / 1000, long["forward"] / 1000
        print(
            f"\nlong prompt, {long['tokens']} tokens, from {how}, local: first data rows "
            f"{first:.1f} s against a forward pass of {fwd:.1f} s (+{first - fwd:.1f} s; "
            f"goal ≤ +3 s {'✓' if first - fwd <= 3 else '✗'}), busy false after {done:.1f} s; "
            f"kernel RSS {long['base_gb']:.2f} GB before, peak {long['peak_gb']:.2f} GB "
            f"(+{long['extra_gb']:.2f} GB)"
        )
        print(
            f"  kernel: start_run {', '.join(f'{ms / 1000:.1f}' for ms in long['run'])} s; "
            f"data sent at {', '.join(f'{ms / 1000:.1f}' for ms in long['sent'])} s"
        )
    if blob_errors:
        print("\npage errors from the widget:\n" + "\n".join(blob_errors))
    if not args.keep:
        shutil.rmtree(state, ignore_errors=True)


if __name__ == "__main__":
    main()
