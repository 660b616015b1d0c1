// Wires the views to the model and to Python: decodes data, lays out columns for the
// element's width, re-renders only what a trait change affects, and turns the views'
// callbacks into trait patches (pins.js) and commands (channel.js). The views, where they
// go and what each trait re-renders are declared in views.js; the cells' coloring is
// coloring.js's and the chart's lines chartlines.js's. Per-output view state (hover, open popup, the position the chart
// follows) stays here or in the views; everything worth saving is a trait.

import { decode, typed } from "./decode.js";
import { chartColumns } from "./layout.js";
import { sameLayers } from "./colwindow.js";
import { Channel, onPushedTrajectories } from "./channel.js";
import { colorFoil, colorTarget, ROW_SCALED_MODES } from "./color.js";
import { State } from "./state.js";
import { observeWidth, resizeHandles } from "./interactions.js";
import { isExact, lineValues } from "./pins.js";
import { defaultLine } from "./defaultline.js";
import { ColumnText } from "./measure.js";
import { NO_KERNEL, runState } from "./live.js";
import { mismatch } from "./diff.js";
import { el } from "./dom.js";
import { createViews, page, RENDERS } from "./views.js";
import { cellTipLines, colorKey, paintCells } from "./coloring.js";
import { chartLines, hoverLines, withSideB } from "./chartlines.js";
import { canPatchFrom, touchedFn } from "./edits.js";
import { diffLabels, lensTrait } from "./lensview.js";

/** @typedef {import("./lens.js").Lens} Lens */

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
    /** @type {import("./format.js").EntropyUnit} the color bar's and cell tooltip's unit */
    this.entropyUnit = "nats";
    /** what colors the cells (target, foil and their names), as last applied */
    this.coloredKey = "";
    /** the lens rows shown when the cells were last colored (some modes scale over them) */
    this.coloredRows = "";
    /** @type {import("./celltip.js").TipContext | null} what the cell tooltip reports */
    this.tip = null;
    this.root = el("div", { class: "llk" });
    this.views = createViews(this, signal);
    const v = this.views;
    // Saved widget state can bypass Python's checks: say what was ignored, where users look.
    this.state.onInvalid = (text) => v.runbar.showNotice(text);
    this.columnText = new ColumnText(v.grid.root);
    // Every layer is a column, so the grid may scroll sideways: the chart's layers follow it.
    const sideways = () => this.alignChart(true);
    v.grid.root.addEventListener("scroll", sideways, { signal, passive: true });
    this.root.append(...page(v));
    this.host.append(this.root);
    this.bindModel();
    resizeHandles(this.root, signal, {
      get: (key) => this.state.get(key),
      set: (key, value) => this.model.set(key, value),
      save: () => this.model.save_changes(),
      gridHeight: () => v.grid.root.offsetHeight,
    });
    this.resize = observeWidth(host, (w) => {
      if (Math.abs(w - this.width) >= 1) {
        this.width = w;
        this.layout();
      }
    });
    this.loadData();
    this.renderSweep();
  }

  bindModel() {
    for (const { traits, run } of RENDERS) this.state.on(traits, () => run(this));
    onPushedTrajectories(this.model, this.abort.signal, (pushed) => this.addPushed(pushed));
  }

  /** Pins color the cells only through the color target and foil and their names. */
  pinsChanged() {
    // Recoloring rebuilds every shown row, so only when those changed.
    if (this.lens && this.colorKey(this.lens) !== this.coloredKey) this.applyColoring();
    this.updatePins();
    this.updateToolbar();
  }

  /** Python wrote a trait only it writes: a kernel is there, the "no kernel" notice goes. */
  kernelHeard() {
    const runbar = this.views.runbar;
    if (runbar.notice.textContent === NO_KERNEL) runbar.showNotice("");
  }

  /**
   * The color bar's unit switch: entropy and KL in nats or bits.
   * @param {import("./format.js").EntropyUnit} unit
   */
  setEntropyUnit(unit) {
    this.entropyUnit = unit;
    this.applyColoring();
    if (this.state.get("trajectory_metric") === "kl") this.applyMetric();
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
      this.views.selection.reset();
      this.focusPos = lens ? lens.P - 1 : 0;
      this.followLast = true;
    } else if (lens && this.followLast) {
      this.focusPos = lens.P - 1; // a generation's newest token
    }
    // The rows are built once, with their final columns and colors (grid.batch).
    this.views.grid.batch(() => {
      // Sizes first: with no height limit yet the grid would render every row of a long prompt.
      this.applySizes();
      // An edited run's cells that its edits can change are marked as they are built.
      this.views.grid.touched = lens ? touchedFn(lens) : null;
      this.views.grid.setLens(lens, extended);
      // Measured only for new rows: measuring forces a layout, too slow for every drag step.
      if (!extended) this.scrollbar = this.views.grid.scrollbarWidth();
      this.views.chart.root.hidden = !lens;
      this.views.legend.root.hidden = !lens;
      this.loadCompare();
      this.layout();
      this.applyColoring();
    });
    this.applyMetric();
    this.updateToolbar();
    if (extended) this.views.selection.dataExtended();
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
    this.views.grid.setLensB(this.lensB);
    // Two lenses of one prompt: the note names each side's.
    const [la, lb] = diffLabels(a, this.lensB, this.labels());
    const lengths =
      a && this.lensB && a.P !== this.lensB.P
        ? ` Positions from ${Math.min(a.P, this.lensB.P)} on have only ${a.P > this.lensB.P ? la : lb}.`
        : "";
    this.views.compare.render({
      shown: this.lensB !== null || problem !== "",
      name: this.labels()[1],
      prompt: this.model.get("compare_prompt") ?? "",
      problem,
      text: `Diff: ${la} (solid lines, the grid) against ${lb} (dashed lines), positions aligned by index.${lengths}`,
    });
    this.renderEdits();
  }

  /** Whether a kernel can act on commands: a model is attached and the host sends them. */
  live() {
    return this.channel.available && Boolean(this.model.get("editable_prompt"));
  }

  /** The lens menu, badge and strip legend (lensview.js), from the traits and the data. */
  renderLens() {
    const v = this.views;
    const model = this.model;
    v.lensControl.render(lensTrait(model, "lens_choices"), lensTrait(model, "lens"), this.live());
    v.lensCaption.render(this.lens, this.lensB, this.labels());
  }

  /** The edited run's caption and legend (editview.js), from the decoded data. */
  renderEdits() {
    this.renderLens();
    this.views.edits.render({
      edits: this.lens?.edits ?? [],
      editsB: this.lensB?.edits ?? [],
      labels: this.labels(),
      live: this.live(),
    });
  }

  /** The patching sweep's panel (sweep.js), from the `sweep` trait. */
  renderSweep() {
    this.views.sweep.render(this.model.get("sweep"), {
      heat: this.state.get("heat_color"),
      negative: this.state.get("negative_color"),
      live: this.live(),
    });
  }

  /**
   * @param {string} text
   * @param {boolean} isError
   */
  showMessage(text, isError) {
    this.views.message.textContent = text;
    this.views.message.hidden = !text;
    this.views.message.classList.toggle("llk-error", isError);
  }

  updateToolbar() {
    const run = runState(this.model, this.lens);
    this.root.dataset.theme = this.state.get("dark_mode");
    this.views.toolbar.update(
      this.lens,
      this.state.all(),
      run.busy,
      this.lensB ? { labels: this.labels() } : null,
    );
    this.views.runbar.update(run);
    this.renderEdits();
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
    this.views.hint.textContent = fit
      ? `Showing ${fit.hint}. Drag chart layer labels to zoom.`
      : "";
    this.views.grid.setColumns(
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
    this.views.chart.setGeometry(fit.geometry, fit.zoomed);
    this.alignChart();
    this.views.selection.reanchor();
  }

  /** A new grid opens scrolled to its last layers (once it has a width to scroll in). */
  scrollToEnd() {
    const g = this.views.grid.root;
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
    if (scrolled) this.scrollX = this.views.grid.root.scrollLeft;
    const x = this.scrollX;
    this.views.chart.svg.style.transform = x ? `translateX(${-x}px)` : "";
  }

  /** Font, row, column and panel sizes as CSS; no measuring. */
  applySizes() {
    const s = this.state.all();
    const rowH = Math.round(s.font_size * 1.7);
    const style = this.root.style;
    style.fontSize = `${s.font_size}px`;
    style.setProperty("--llk-row-h", `${rowH}px`);
    style.width = s.table_width ? `${s.table_width}px` : "";
    this.views.grid.setSizes(rowH, s.grid_height);
  }

  /** What colors the cells besides the mode and colors, as a key. @param {Lens} lens */
  colorKey(lens) {
    return colorKey(this, lens);
  }

  /** Color the cells, the color bar and the cell tooltip's context for the current mode. */
  applyColoring() {
    paintCells(this);
  }

  /**
   * The hovered cell's tooltip lines, null for none.
   * @param {HTMLElement} cell
   */
  cellTip(cell) {
    return cellTipLines(this, cell);
  }

  applyMetric() {
    if (!this.lens) return;
    this.views.chart.setMetric(
      this.state.get("trajectory_metric"),
      this.state.get("chart_scale"),
      this.lens.k,
      this.entropyUnit,
    );
    this.updatePins();
  }

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

  /** Chart lines, legend, grid row marks and popup marks after pins, rows or data changed. */
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
    this.views.chart.setPinned(
      fallback ? withSideB(this, fallback.line, fallback.id) : this.lines(pins),
    );
    this.views.grid.setPinnedRows(this.pinnedRows(lens));
    this.views.legend.render(lens, pins, this.pinnedRows(lens), this.focusPos, fallback, metric);
    this.views.selection.refresh();
  }

  /** @param {Lens} lens */
  pinnedRows(lens) {
    return this.state.get("pinned_rows").filter((p) => p < lens.P);
  }

  /** Chart lines of `pins` for the shown data. @param {import("./state.js").Pin[]} pins */
  lines(pins) {
    return chartLines(this, pins);
  }

  /**
   * The hovered token's line on the chart (and side B's in a diff); none for null.
   * @param {number} p
   * @param {number | null} id
   */
  hoverToken(p, id) {
    this.views.chart.setHover(hoverLines(this, p, id));
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
    // An edited side says so in the popup; a live diff offers to patch this cell into B.
    const patchable = this.live() && canPatchFrom(lens.edits);
    this.views.patch.show(lens, l, p, { b: this.lensB, labels: this.labels(), patchable });
    this.views.lensMark.show(lens, l, this.lensB, this.labels());
  }

  destroy() {
    this.views.selection.close(false);
    this.abort.abort();
    this.resize.disconnect();
    this.root.remove();
  }
}
