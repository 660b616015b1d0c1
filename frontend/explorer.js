// Wires the views to the model and to Python: decodes data, lays out columns for the
// element's width, re-renders only what a trait change affects, and turns the views'
// callbacks into trait patches (pins.js) and commands (channel.js). Per-output view state
// (hover, open popup, the position the chart follows) stays here or in the views; everything
// worth saving is a trait.

import { el } from "./dom.js";
import { decode, typed } from "./decode.js";
import { chartColumns } from "./layout.js";
import { sameLayers } from "./colwindow.js";
import { Grid } from "./grid.js";
import { Chart } from "./chart.js";
import { Legend } from "./legend.js";
import { Toolbar } from "./toolbar.js";
import { RunBar } from "./runbar.js";
import { Selection } from "./selection.js";
import { Channel, onPushedTrajectories } from "./channel.js";
import { FigureExport, fileName, shownTheme } from "./figure.js";
import {
  cellMetric,
  colorFoil,
  colorTarget,
  intensityFn,
  modeColor,
  ROW_SCALED_MODES,
} from "./color.js";
import { State } from "./state.js";
import { observeWidth, resizeHandles } from "./interactions.js";
import {
  hoverLine,
  idsLabel,
  isExact,
  klLines,
  lineValues,
  pinLines,
  recolor,
  removePin,
  togglePin,
  toggleRow,
} from "./pins.js";
import { ColorBar, colorScale } from "./colorbar.js";
import { CellTip, cellFacts } from "./celltip.js";
import { defaultLine } from "./defaultline.js";
import { ColumnText } from "./measure.js";
import { NO_KERNEL, runActions, runState } from "./live.js";
import { sendTraits } from "./state.js";
import { mismatch } from "./diff.js";

/** @typedef {import("./lens.js").Lens} Lens */

/** Side B's chart lines (a diff) are dashed so. */
const B_DASH = "6 3";

export class Explorer {
  /**
   * @param {import("./state.js").Model} model
   * @param {HTMLElement} host
   * @param {import("@anywidget/types").Experimental} [experimental] the command channel
   */
  constructor(model, host, experimental) {
    this.abort = new AbortController();
    const signal = this.abort.signal;
    this.model = model;
    this.host = host;
    this.state = new State(model, signal);
    this.channel = new Channel(experimental, signal, model);
    /** @type {Lens | null} */
    this.lens = null;
    /** @type {Lens | null} side B of a diff (`compare_data`), null without one */
    this.lensB = null;
    /** @type {unknown} the `compare_data` value last decoded */
    this.compareRaw = undefined;
    /** @type {{ lens: Lens | null, problem: string }} what it decoded to */
    this.compareDecoded = { lens: null, problem: "" };
    this.width = host.getBoundingClientRect().width;
    this.scrollbar = 0;
    /** px the grid is scrolled sideways, as last read on a scroll event */
    this.scrollX = 0;
    /** the next layout scrolls the grid to its end (a new grid: colwindow.js sameLayers) */
    this.openAtEnd = false;
    /** position the chart follows while no row is pinned: the last clicked one */
    this.focusPos = 0;
    /** no cell opened in this run yet: the chart follows the last position as it grows */
    this.followLast = true;
    const s = this.state;
    this.runbar = new RunBar(
      signal,
      runActions(
        model,
        this.channel,
        (text) => this.runbar.showNotice(text),
        (text) => this.runbar.showCommandError(text),
      ),
    );
    // Saved widget state can bypass Python's checks: say what was ignored, where users look.
    s.onInvalid = (text) => this.runbar.showNotice(text);
    this.toolbar = new Toolbar(signal, { onChange: (patch) => s.set(patch) }, this.runbar.root);
    this.figure = new FigureExport(signal, this.channel, {
      theme: () => shownTheme(this.root),
      name: () => fileName(s.get("title") || this.lens?.model || ""),
      notice: (text) => this.runbar.showNotice(text),
    });
    this.toolbar.exportSlot.append(this.figure.root);
    this.grid = new Grid(signal);
    this.columnText = new ColumnText(this.grid.root);
    /** @type {import("./format.js").EntropyUnit} the color bar's and cell tooltip's unit */
    this.entropyUnit = "nats";
    /** what colors the cells (target, foil and their names), as last applied */
    this.coloredKey = "";
    /** the lens rows shown when the cells were last colored (some modes scale over them) */
    this.coloredRows = "";
    /** @type {import("./celltip.js").TipContext | null} what the cell tooltip reports */
    this.tip = null;
    this.colorbar = new ColorBar(signal, {
      onUnit: (unit) => {
        this.entropyUnit = unit;
        this.applyColoring();
        if (this.state.get("trajectory_metric") === "kl") this.applyMetric();
      },
    });
    this.chart = new Chart(signal, {
      onZoom: (a, b) => s.set({ x_zoom: [a, b] }),
      onResetZoom: () => s.set({ x_zoom: [] }),
    });
    this.legend = new Legend(signal, {
      onRemovePin: (i) => s.set(removePin(s.all(), i)),
      onPinColor: (i, color, final) => {
        if (final) s.set({ pins: recolor(s.get("pins"), i, color) });
        else this.chart.setPinned(this.lines(recolor(s.get("pins"), i, color)));
      },
      onRemoveRow: (p) => s.set({ pinned_rows: s.get("pinned_rows").filter((q) => q !== p) }),
    });
    this.message = el("div", { class: "llk-message", attrs: { role: "alert" } });
    // The diff's side B: its prompt box (Enter sends `compare_prompt`) and what is compared.
    this.comparePrompt = /** @type {HTMLTextAreaElement} */ (
      el("textarea", {
        class: "llk-compare-prompt",
        title: "side B's prompt: Enter reruns side B (Shift+Enter: new line)",
        attrs: { spellcheck: "false", rows: "1" },
      })
    );
    this.compareLabel = el("span", { class: "llk-compare-label" });
    this.compareBox = el("div", { class: "llk-compare-box" }, [
      this.compareLabel,
      this.comparePrompt,
    ]);
    this.compareBox.hidden = true;
    this.runbar.root.append(this.compareBox);
    this.comparePrompt.addEventListener(
      "keydown",
      (e) => {
        if (e.key !== "Enter" || e.shiftKey || e.isComposing) return;
        e.preventDefault();
        sendTraits(this.model, { compare_prompt: this.comparePrompt.value });
        this.model.save_changes();
      },
      { signal },
    );
    this.diffNote = el("div", { class: "llk-diff-note", attrs: { "aria-live": "polite" } });
    this.diffNote.hidden = true;
    this.hint = el("div", { class: "llk-hint", attrs: { "aria-live": "polite" } });
    this.root = el("div", { class: "llk" });
    this.selection = new Selection(
      signal,
      { root: this.root, grid: this.grid, channel: this.channel },
      {
        lens: () => this.lens,
        pinned: () => new Set(s.get("pins").flatMap((p) => p.ids)),
        onOpen: (l, p) => this.cellOpened(l, p),
        onPin: (id, group) => s.set(togglePin(s.all(), id, group)),
        onHover: (p, id) => this.hoverToken(p, id),
        onColorBy: (id) => s.set({ color_mode: "token", color_token: id }),
        onToggleRow: (p) => this.lens && s.set(toggleRow(this.lens, s.all(), p)),
        onTrajectories: () => this.updatePins(),
        diff: () => (this.lensB ? { b: this.lensB, labels: this.labels() } : null),
      },
    );
    this.celltip = new CellTip(signal, this.grid.root, this.root, (cell) => this.cellTip(cell));
    this.selection.popup.avoid = this.chart.svg;
    // Every layer is a column, so the grid may scroll sideways: the chart's layers follow it.
    const sideways = () => this.alignChart(true);
    this.grid.root.addEventListener("scroll", sideways, { signal, passive: true });
    this.root.append(
      this.toolbar.root,
      this.message,
      this.hint,
      this.colorbar.root,
      this.grid.root,
      el("div", { class: "llk-resize-grid", title: "drag to change the grid's height" }),
      this.chart.root,
      el("div", { class: "llk-resize-chart", title: "drag to change the chart's height" }),
      this.legend.root,
      this.diffNote,
      this.selection.popup.root,
      this.celltip.root,
      el("div", { class: "llk-resize-table", title: "drag to change the widget's width" }),
    );
    this.host.append(this.root);
    this.bindModel();
    resizeHandles(this.root, signal, {
      get: (key) => s.get(key),
      set: (key, value) => this.model.set(key, value),
      save: () => this.model.save_changes(),
      gridHeight: () => this.grid.root.offsetHeight,
    });
    this.resize = observeWidth(host, (w) => {
      if (Math.abs(w - this.width) >= 1) {
        this.width = w;
        this.layout();
      }
    });
    this.loadData();
  }

  bindModel() {
    const on = (/** @type {string[]} */ keys, /** @type {() => void} */ fn) =>
      this.state.on(keys, fn);
    on(["data"], () => this.loadData());
    on(["compare_data", "compare_labels", "compare_prompt"], () => {
      this.loadCompare();
      this.applyColoring();
      this.updatePins();
      this.updateToolbar();
    });
    onPushedTrajectories(this.model, this.abort.signal, (pushed) => this.addPushed(pushed));
    on(["column_width", "input_column_width", "table_width", "x_zoom", "chart_height"], () =>
      this.layout(),
    );
    on(["font_size"], () => {
      this.layout();
      this.updateToolbar();
    });
    on(
      [
        "color_mode",
        "color_token",
        "color_group",
        "color_foil",
        "heat_color",
        "entropy_color",
        "metric_color",
        "negative_color",
      ],
      () => {
        this.applyColoring();
        this.updateToolbar();
      },
    );
    on(["pins"], () => {
      // Pins color the cells only through the color target and foil (chosen by default from
      // the pins) and their names: recoloring rebuilds every shown row, so only when those
      // changed.
      if (this.lens && this.colorKey(this.lens) !== this.coloredKey) this.applyColoring();
      this.updatePins();
      this.updateToolbar();
    });
    on(["pinned_rows"], () => this.updatePins());
    on(["trajectory_metric", "chart_scale"], () => {
      this.applyMetric();
      this.updateToolbar();
    });
    on(["grid_height"], () => {
      this.applySizes();
      this.grid.renderRows();
    });
    on(
      [
        "dark_mode",
        "title",
        "prompt",
        "editable_prompt",
        "busy",
        "error",
        "k",
        "layers",
        "remote",
        "progress",
        "status",
        "confirm",
        "chat",
        "has_chat_template",
        "draft",
      ],
      () => this.updateToolbar(),
    );
    // Only Python writes these: a kernel is there after all.
    on(["busy", "data"], () => {
      if (this.runbar.notice.textContent === NO_KERNEL) this.runbar.showNotice("");
    });
  }

  loadData() {
    const old = this.lens;
    /** @type {Lens | null} */
    let lens = null;
    try {
      lens = decode(this.model.get("data"));
      this.showMessage(lens ? "" : "No data yet.", false);
    } catch (err) {
      this.showMessage(`Cannot show this data: ${/** @type {Error} */ (err).message}`, true);
    }
    // The same run, extended (docs/live-loop.md): keep popup, scroll, selection and focus.
    // A generation extends it by one position per token (the grid grows, lens.continues).
    const extended = lens !== null && old !== null && lens.continues(old);
    if (lens && !sameLayers(old, lens)) this.openAtEnd = true;
    if (lens && old) lens.adopt(old, extended);
    this.lens = lens;
    if (!extended) {
      this.selection.reset();
      this.focusPos = lens ? lens.P - 1 : 0;
      this.followLast = true;
    } else if (lens && this.followLast) {
      this.focusPos = lens.P - 1; // a generation's newest token
    }
    // The rows are built once, with their final columns and colors (grid.batch).
    this.grid.batch(() => {
      // Sizes first: with no height limit yet the grid would render every row of a long prompt.
      this.applySizes();
      this.grid.setLens(lens, extended);
      // Measured only for new rows: measuring forces a layout, too slow for every drag step.
      if (!extended) this.scrollbar = this.grid.scrollbarWidth();
      this.chart.root.hidden = !lens;
      this.legend.root.hidden = !lens;
      this.loadCompare();
      this.layout();
      this.applyColoring();
    });
    this.applyMetric();
    this.updateToolbar();
    if (extended) this.selection.dataExtended();
  }

  /** The diff's two names (`compare_labels`), "A" and "B" when not given. */
  labels() {
    const l = this.model.get("compare_labels") ?? [];
    return [l[0] || "A", l[1] || "B"];
  }

  /**
   * Decode side B (`compare_data`; {} = no diff). It must have side A's layers and k; when it
   * cannot be shown the note says why and the diff modes stay off.
   */
  loadCompare() {
    const a = this.lens;
    const raw = this.model.get("compare_data") ?? {};
    // Side A's data changes more often (a generation streams it): decode side B once.
    if (raw !== this.compareRaw) {
      this.compareRaw = raw;
      this.compareDecoded = { lens: null, problem: "" };
      try {
        this.compareDecoded.lens = decode(raw);
      } catch (err) {
        this.compareDecoded.problem = `Cannot compare with side B: ${/** @type {Error} */ (err).message}`;
      }
    }
    let { lens: b, problem } = this.compareDecoded;
    if (a && b) {
      const why = mismatch(a, b);
      if (why) [b, problem] = [null, `Cannot compare with side B: ${why}`];
    }
    this.lensB = a ? b : null;
    const [la, lb] = this.labels();
    const shown = this.lensB !== null || problem !== "";
    this.compareBox.hidden = !shown;
    this.compareLabel.textContent = `${lb}:`;
    this.comparePrompt.setAttribute("aria-label", `prompt of ${lb} (side B)`);
    const prompt = this.model.get("compare_prompt") ?? "";
    if (this.comparePrompt.value !== prompt) this.comparePrompt.value = prompt;
    this.diffNote.hidden = !shown;
    this.diffNote.classList.toggle("llk-error", problem !== "");
    const lengths =
      a && this.lensB && a.P !== this.lensB.P
        ? ` Positions from ${Math.min(a.P, this.lensB.P)} on have only ${a.P > this.lensB.P ? la : lb}.`
        : "";
    this.diffNote.textContent =
      problem ||
      `Diff: ${la} (solid lines, the grid) against ${lb} (dashed lines), positions aligned by index.${lengths}`;
  }

  /**
   * @param {string} text
   * @param {boolean} isError
   */
  showMessage(text, isError) {
    this.message.textContent = text;
    this.message.hidden = !text;
    this.message.classList.toggle("llk-error", isError);
  }

  updateToolbar() {
    const run = runState(this.model, this.lens);
    this.root.dataset.theme = this.state.get("dark_mode");
    this.toolbar.update(
      this.lens,
      this.state.all(),
      run.busy,
      this.lensB ? { labels: this.labels() } : null,
    );
    this.runbar.update(run);
  }

  /** Columns, sizes and chart geometry for the current width, zoom and sizes. */
  layout() {
    this.applySizes();
    const lens = this.lens;
    const s = this.state.all();
    const fit = lens
      ? chartColumns(
          lens,
          s,
          s.table_width || this.width || this.host.clientWidth,
          this.scrollbar,
          (l) => this.columnText.widest(lens, l, s.font_size),
        )
      : null;
    this.hint.textContent = fit ? `Showing ${fit.hint}. Drag chart layer labels to zoom.` : "";
    this.grid.setColumns(
      fit ? fit.geometry.cols : [],
      fit ? fit.geometry.inputWidth - 1 : s.input_column_width,
      fit ? fit.geometry.widths : [],
    );
    if (!fit) return;
    if (this.openAtEnd) this.scrollToEnd();
    // Some modes scale their colors over the shown lens rows: a zoom or stride re-scales.
    const mode = s.color_mode;
    if (ROW_SCALED_MODES.includes(mode) && fit.geometry.cols.join() !== this.coloredRows) {
      this.applyColoring();
    }
    this.chart.setGeometry(fit.geometry, fit.zoomed);
    this.alignChart();
    this.selection.reanchor();
  }

  /** A new grid opens scrolled to its last layers (once it has a width to scroll in). */
  scrollToEnd() {
    const g = this.grid.root;
    if (g.clientWidth <= 0) return;
    this.openAtEnd = false;
    g.scrollLeft = g.scrollWidth;
    this.scrollX = g.scrollLeft;
  }

  /**
   * Shift the chart by the grid's sideways scroll, so each layer stays over its column.
   * @param {boolean} [scrolled] read the offset (a scroll event); otherwise the last one read
   *   is used, since reading it forces a layout in the middle of building the view (a clamped
   *   scroll fires its own scroll event)
   */
  alignChart(scrolled = false) {
    if (scrolled) this.scrollX = this.grid.root.scrollLeft;
    const x = this.scrollX;
    this.chart.svg.style.transform = x ? `translateX(${-x}px)` : "";
  }

  /** Font, row, column and panel sizes as CSS; no measuring. */
  applySizes() {
    const s = this.state.all();
    const rowH = Math.round(s.font_size * 1.7);
    const style = this.root.style;
    style.fontSize = `${s.font_size}px`;
    style.setProperty("--llk-row-h", `${rowH}px`);
    style.width = s.table_width ? `${s.table_width}px` : "";
    this.grid.setSizes(rowH, s.grid_height);
  }

  /**
   * What colors the cells besides the mode and colors: the target and foil, by ids and name.
   * @param {Lens} lens
   */
  colorKey(lens) {
    const s = this.state.all();
    const ids = colorTarget(s, lens.targets);
    const foil = colorFoil(s, lens.targets);
    const name = (/** @type {number[]} */ x) => (x.length ? idsLabel(lens, s.pins, x) : "");
    return JSON.stringify([ids, foil, name(ids), name(foil)]);
  }

  applyColoring() {
    const lens = this.lens;
    if (!lens) return;
    const s = this.state.all();
    const mode = s.color_mode;
    const color = modeColor(mode, s);
    const ids = colorTarget(s, lens.targets);
    const foil = colorFoil(s, lens.targets);
    const rows = this.grid.cols.length ? this.grid.cols : undefined;
    const b = this.lensB;
    const metric = cellMetric(lens, { mode, ids, foil, rows, b });
    this.coloredKey = this.colorKey(lens);
    this.coloredRows = this.grid.cols.join();
    this.grid.setColoring(intensityFn(lens, metric), color);
    const target = ids.length ? idsLabel(lens, s.pins, ids) : "";
    const foilText = foil.length ? idsLabel(lens, s.pins, foil) : "";
    const unit = this.entropyUnit;
    const labels = this.labels();
    this.tip = { mode, ids, target, unit, metric, foil: foilText, labels, b };
    this.colorbar.render(
      colorScale(lens, mode, target, unit, { metric, foil: foilText, labels }),
      color,
      unit,
    );
    this.celltip.hide();
  }

  /**
   * The hovered cell's tooltip lines, null for none.
   * @param {HTMLElement} cell
   */
  cellTip(cell) {
    const lens = this.lens;
    const at = this.grid.locate(cell);
    if (!lens || !at || at.l === undefined || !this.tip) return null;
    return cellFacts(lens, at.l, at.p, this.tip);
  }

  applyMetric() {
    if (!this.lens) return;
    this.chart.setMetric(
      this.state.get("trajectory_metric"),
      this.state.get("chart_scale"),
      this.lens.k,
      this.entropyUnit,
    );
    this.updatePins();
  }

  /** Chart lines, legend, grid row marks and popup marks after pins, rows or data changed. */
  /**
   * A new pin's trajectories, sent ahead of the payload: its lines show without waiting for
   * the whole data to be re-sent and decoded. Another run's are dropped.
   * @param {import("./channel.js").Pushed} pushed
   */
  addPushed(pushed) {
    const lens = this.lens;
    if (!lens || lens.run !== pushed.run) return;
    const n = pushed.ids.length * lens.L;
    let probs;
    try {
      probs = typed(pushed.buffer, "pushed trajectories", Float32Array, lens.P * n);
    } catch {
      return; // the data trait that follows carries them too
    }
    for (let p = 0; p < lens.P; p++) {
      lens.addTrajectories(p, pushed.ids, probs.subarray(p * n, (p + 1) * n), pushed.tokens);
    }
    // Recoloring the grid is the costly part: only when the cells are colored by these ids.
    const s = this.state.all();
    const used = [...colorTarget(s, lens.targets), ...colorFoil(s, lens.targets)];
    if (used.some((id) => pushed.ids.includes(id))) this.applyColoring();
    this.updatePins();
  }

  updatePins() {
    const lens = this.lens;
    if (!lens) return;
    const pins = this.state.get("pins");
    const metric = this.state.get("trajectory_metric");
    // Nothing pinned: a dashed default line shows what the chart is for (never a pin). KL
    // lines do not depend on pins: no default there.
    const fallback =
      pins.length || metric === "kl" ? null : defaultLine(lens, "probability", this.focusPos);
    if (fallback && metric !== "probability") {
      fallback.line.values = lineValues(lens, metric, this.focusPos, [fallback.id]);
      fallback.line.exact = isExact(lens, metric, [fallback.id]);
    }
    this.chart.setPinned(fallback ? this.withSideB(fallback.line, fallback.id) : this.lines(pins));
    this.grid.setPinnedRows(this.pinnedRows(lens));
    this.legend.render(lens, pins, this.pinnedRows(lens), this.focusPos, fallback, metric);
    this.selection.refresh();
  }

  /**
   * The default line, and in a diff side B's line of the same token at the same position.
   * @param {import("./chart.js").Line} line
   * @param {number} id
   * @returns {import("./chart.js").Line[]}
   */
  withSideB(line, id) {
    const b = this.lensB;
    if (!b || this.focusPos >= b.P) return [line];
    const metric = this.state.get("trajectory_metric");
    const [la, lb] = this.labels();
    return [
      { ...line, label: `${line.label} (${la})` },
      {
        ...line,
        values: lineValues(b, metric, this.focusPos, [id]),
        exact: isExact(b, metric, [id]),
        label: `${line.label} (${lb})`,
        dash: B_DASH,
        cls: `${line.cls ?? ""} llk-line-b`.trim(),
      },
    ];
  }

  /** @param {Lens} lens */
  pinnedRows(lens) {
    return this.state.get("pinned_rows").filter((p) => p < lens.P);
  }

  /** Chart lines of `pins` for the shown data. @param {import("./state.js").Pin[]} pins */
  lines(pins) {
    const lens = this.lens;
    if (!lens) return [];
    const metric = this.state.get("trajectory_metric");
    const rows = this.pinnedRows(lens);
    if (metric === "kl") {
      return klLines(lens, rows, this.focusPos, this.state.get("metric_color"), this.entropyUnit);
    }
    const own = pinLines(lens, pins, rows, this.focusPos, metric);
    const b = this.lensB;
    if (!b) return own;
    // A diff: side B's lines, dashed, beside side A's (positions side B has).
    const [la, lb] = this.labels();
    const shared = rows.filter((p) => p < b.P);
    if (rows.length ? !shared.length : this.focusPos >= b.P) return own;
    const theirs = pinLines(b, pins, shared, this.focusPos, metric).map((line) => ({
      ...line,
      dash: B_DASH,
      label: `${line.label} (${lb})`,
      cls: "llk-line-b",
    }));
    return [...own.map((line) => ({ ...line, label: `${line.label} (${la})` })), ...theirs];
  }

  /**
   * @param {number} p
   * @param {number | null} id
   */
  hoverToken(p, id) {
    const lens = this.lens;
    if (!lens || id === null) {
      this.chart.setHover([]);
      return;
    }
    const metric = this.state.get("trajectory_metric");
    const line = hoverLine(lens, metric, p, id, this.entropyUnit);
    const b = this.lensB;
    // A diff: the same token at the same position on side B (KL lines are side A's own).
    if (!b || p >= b.P || metric === "kl") {
      this.chart.setHover([line]);
      return;
    }
    const [la, lb] = this.labels();
    const lineB = hoverLine(b, metric, p, id, this.entropyUnit);
    this.chart.setHover([
      { ...line, label: `${line.label} (${la})` },
      { ...lineB, label: `${lineB.label} (${lb})` },
    ]);
  }

  /**
   * A popup opened on lens row l, position p: the chart follows it, Python hears of it.
   * @param {number} l
   * @param {number} p
   */
  cellOpened(l, p) {
    const lens = /** @type {Lens} */ (this.lens);
    this.followLast = false;
    if (this.focusPos !== p) {
      this.focusPos = p;
      const s = this.state.all();
      if (!s.pinned_rows.length || !s.pins.length) this.updatePins();
    }
    this.state.set({ selected_cell: { layer: lens.layers[l], position: p } });
  }

  destroy() {
    this.selection.close(false);
    this.abort.abort();
    this.resize.disconnect();
    this.root.remove();
  }
}
