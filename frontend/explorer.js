// Wires the views to the model: decodes data, lays out columns for the element's width and
// re-renders only what a trait change affects. Per-output view state (hover, open popup,
// the position the chart follows) stays here; everything worth saving is a trait.

import { el } from "./dom.js";
import { decode } from "./decode.js";
import { fitColumns, zoomed } from "./layout.js";
import { Grid, ROW_DASHES } from "./grid.js";
import { Chart } from "./chart.js";
import { Popup } from "./popup.js";
import { Legend } from "./legend.js";
import { Toolbar } from "./toolbar.js";
import { colorTarget, intensityFn, PIN_PALETTE } from "./color.js";
import { State, clampSize } from "./state.js";
import { dragHandles, navigate } from "./interactions.js";
import { showToken } from "./tokens.js";

/** @typedef {import("./lens.js").Lens} Lens */
/** @typedef {import("./chart.js").Line} Line */
/** @typedef {import("./toolbar.js").ToolbarState} ToolbarState */
/** @typedef {import("./state.js").Pin} Pin */

/** A pinned token "matters" at a position when it reaches this probability at some layer. */
const MATTERS = 0.01;
const HOVER_COLOR = "#7f7f7f";

export class Explorer {
  /**
   * @param {import("@anywidget/types").AnyModel<any>} model
   * @param {HTMLElement} host
   */
  constructor(model, host) {
    this.abort = new AbortController();
    const signal = this.abort.signal;
    this.model = model;
    this.host = host;
    this.state = new State(model, signal);
    /** @type {Lens | null} */
    this.lens = null;
    this.width = host.getBoundingClientRect().width;
    this.scrollbar = 0;
    /** position the chart follows while no row is pinned: the last clicked one */
    this.focusPos = 0;
    // The views are built here rather than in a helper so that every field is known to be set.
    const s = this.state;
    this.toolbar = new Toolbar(signal, {
      onChange: (patch) => s.set(patch),
      onPrompt: (prompt) => {
        this.model.set("prompt", prompt);
        this.model.save_changes();
      },
    });
    this.grid = new Grid(signal);
    this.chart = new Chart(signal, {
      onZoom: (a, b) => s.set({ x_zoom: [a, b] }),
      onResetZoom: () => s.set({ x_zoom: [] }),
    });
    this.popup = new Popup(signal, {
      onPin: (id, group) => this.pinToken(id, group),
      onHoverToken: (id) => this.hoverToken(this.popup.cell?.p ?? 0, id),
      onColorBy: (id) => s.set({ color_mode: "token", color_token: id }),
      onClose: () => this.closePopup(true),
    });
    this.legend = new Legend(signal, {
      onRemovePin: (i) => this.removePin(i),
      onPinColor: (i, color, final) => {
        if (final) s.set({ pins: this.recolored(i, color) });
        else this.previewPinColor(i, color);
      },
      onRemoveRow: (p) => s.set({ pinned_rows: s.get("pinned_rows").filter((q) => q !== p) }),
    });
    this.message = el("div", { class: "llk-message", attrs: { role: "alert" } });
    this.hint = el("div", { class: "llk-hint", attrs: { "aria-live": "polite" } });
    this.root = el("div", { class: "llk" }, [
      this.toolbar.root,
      this.message,
      this.hint,
      this.grid.root,
      el("div", { class: "llk-resize-grid", title: "drag to change the grid's height" }),
      this.chart.root,
      el("div", { class: "llk-resize-chart", title: "drag to change the chart's height" }),
      this.legend.root,
      this.popup.root,
      el("div", { class: "llk-resize-table", title: "drag to change the widget's width" }),
    ]);
    this.host.append(this.root);
    this.bindModel();
    this.bindGrid(signal);
    this.bindResizing(signal);
    this.resize = new ResizeObserver((entries) => {
      const w = entries[entries.length - 1].contentRect.width;
      if (w > 0 && Math.abs(w - this.width) >= 1) {
        this.width = w;
        this.layout();
      }
    });
    this.resize.observe(host);
    this.loadData();
  }

  bindModel() {
    const on = (/** @type {string[]} */ keys, /** @type {() => void} */ fn) => this.state.on(keys, fn);
    on(["data"], () => this.loadData());
    on(["column_width", "input_column_width", "table_width", "x_zoom"], () => this.layout());
    on(["font_size"], () => {
      this.layout();
      this.updateToolbar();
    });
    on(["color_mode", "color_token", "color_group", "heat_color", "entropy_color"], () => {
      this.applyColoring();
      this.updateToolbar();
    });
    on(["pins"], () => {
      this.applyColoring();
      this.updatePins();
      this.updateToolbar();
    });
    on(["pinned_rows"], () => this.updatePins());
    on(["trajectory_metric", "chart_scale"], () => {
      this.applyMetric();
      this.updateToolbar();
    });
    on(["chart_height"], () => this.layout());
    on(["grid_height"], () => {
      this.applySizes();
      this.grid.renderRows();
    });
    on(["dark_mode", "title", "prompt", "editable_prompt", "busy", "error"], () =>
      this.updateToolbar(),
    );
  }

  loadData() {
    this.closePopup(false);
    try {
      this.lens = decode(this.model.get("data"));
      this.showMessage(this.lens ? "" : "No data yet.", false);
    } catch (err) {
      this.lens = null;
      this.showMessage(`Cannot show this data: ${/** @type {Error} */ (err).message}`, true);
    }
    this.focusPos = this.lens ? this.lens.P - 1 : 0;
    // Sizes first: with no height limit yet the grid would render every row of a long prompt.
    this.applySizes();
    this.grid.setLens(this.lens);
    this.measureScrollbar();
    this.chart.root.hidden = !this.lens;
    this.legend.root.hidden = !this.lens;
    this.layout();
    this.applyColoring();
    this.applyMetric();
    this.updateToolbar();
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
    const s = this.state;
    this.root.dataset.theme = s.get("dark_mode");
    this.toolbar.update(this.lens, this.uiState(), {
      prompt: this.model.get("prompt") ?? "",
      editable: Boolean(this.model.get("editable_prompt")),
      busy: Boolean(this.model.get("busy")),
      error: this.model.get("error") ?? "",
    });
  }

  /** @returns {ToolbarState} */
  uiState() {
    const s = this.state;
    /** @type {(keyof ToolbarState)[]} */
    const keys = ["title", "pins", "color_mode", "color_token", "color_group", "heat_color",
      "entropy_color", "trajectory_metric", "chart_scale", "dark_mode", "font_size"];
    // Object.fromEntries types its result by string keys only.
    return /** @type {ToolbarState} */ (Object.fromEntries(keys.map((k) => [k, s.get(k)])));
  }

  /** Columns, sizes and chart geometry for the current width, zoom and sizes. */
  layout() {
    const s = this.state;
    const inputW = s.get("input_column_width");
    const colW = s.get("column_width");
    const tableW = s.get("table_width");
    this.applySizes();
    const lens = this.lens;
    if (!lens) {
      this.grid.setColumns([]);
      this.hint.textContent = "";
      return;
    }
    const total = tableW || this.width || this.host.clientWidth;
    const zoom = s.get("x_zoom");
    const cols = fitColumns({
      layers: lens.layers, zoom, available: total - inputW - this.scrollbar - 4, columnWidth: colW,
    });
    this.hint.textContent = `Showing ${cols.hint}. Drag chart layer labels to zoom.`;
    this.grid.setColumns(cols.rows);
    this.chart.setGeometry({
      inputWidth: inputW + 1, columnWidth: colW, cols: cols.rows, layers: lens.layers,
      height: s.get("chart_height"),
    }, zoomed(zoom, lens.L));
    if (this.popup.open) this.reanchorPopup();
  }

  /**
   * Width the grid's vertical scrollbar takes from the columns. Measured only when the rows
   * or the grid's height change: measuring forces a layout, too slow for every drag step.
   */
  measureScrollbar() {
    const g = this.grid.root;
    g.style.overflowY = "scroll";
    this.scrollbar = g.offsetWidth - g.clientWidth - 2;
    g.style.overflowY = "";
  }

  /** Font, row, column and panel sizes as CSS; no measuring. */
  applySizes() {
    const s = this.state;
    const font = s.get("font_size");
    const rowH = Math.round(font * 1.7);
    const tableW = s.get("table_width");
    const style = this.root.style;
    style.fontSize = `${font}px`;
    style.setProperty("--llk-row-h", `${rowH}px`);
    style.width = tableW ? `${tableW}px` : "";
    this.grid.root.style.maxHeight = `${s.get("grid_height")}px`;
    this.grid.setRowHeight(rowH);
    this.grid.setColumnWidths(s.get("input_column_width"), s.get("column_width"));
  }

  applyColoring() {
    const lens = this.lens;
    if (!lens) return;
    const s = this.state;
    const mode = s.get("color_mode");
    const ids = colorTarget({
      color_mode: mode, color_token: s.get("color_token"), color_group: s.get("color_group"),
      pins: s.get("pins"),
    });
    const color = mode === "entropy" ? s.get("entropy_color") : s.get("heat_color");
    this.grid.setColoring(intensityFn(lens, { mode, ids }), color);
  }

  applyMetric() {
    if (!this.lens) return;
    this.chart.setMetric(this.state.get("trajectory_metric"), this.state.get("chart_scale"), this.lens.k);
    this.updatePins();
  }

  /** Chart lines, legend, grid row marks and popup marks after pins or pinned rows changed. */
  updatePins() {
    const lens = this.lens;
    if (!lens) return;
    const pins = this.state.get("pins");
    const rows = this.pinnedRows(lens);
    this.chart.setPinned(this.pinLines(lens, pins, rows));
    this.grid.setPinnedRows(rows);
    this.legend.render(lens, pins, rows, this.focusPos);
    if (this.popup.open) this.popup.fill(lens, this.pinnedIds());
  }

  /**
   * Recolor pin `index`'s lines while its color picker is open, without touching the trait
   * (which would rebuild the legend and the picker under the pointer).
   * @param {number} index
   * @param {string} color
   */
  previewPinColor(index, color) {
    const lens = this.lens;
    if (!lens) return;
    this.chart.setPinned(this.pinLines(lens, this.recolored(index, color), this.pinnedRows(lens)));
  }

  /**
   * The pins with pin `index` in `color`.
   * @param {number} index
   * @param {string} color
   */
  recolored(index, color) {
    return this.state.get("pins").map((p, i) => (i === index ? { ...p, color } : p));
  }

  /** @param {Lens} lens */
  pinnedRows(lens) {
    return this.state.get("pinned_rows").filter((p) => p < lens.P);
  }

  /**
   * One chart line per pin and compared position.
   * @param {Lens} lens
   * @param {Pin[]} pins
   * @param {number[]} rows pinned positions ([] → the followed position)
   * @returns {Line[]}
   */
  pinLines(lens, pins, rows) {
    const positions = rows.length ? rows : [this.focusPos];
    return pins.flatMap((pin) => {
      const label = pin.ids.map((id) => showToken(lens.token(id)).text).join(" + ");
      return positions.map((p, j) => ({
        values: this.values(p, pin.ids),
        color: pin.color,
        dash: rows.length ? ROW_DASHES[j % ROW_DASHES.length] : "",
        label: rows.length ? `${label} @${p}` : label,
      }));
    });
  }

  pinnedIds() {
    return new Set(this.state.get("pins").flatMap((p) => p.ids));
  }

  /**
   * The plotted metric for a token or group at position p, one value per lens row.
   * @param {number} p
   * @param {number[]} ids
   */
  values(p, ids) {
    const lens = /** @type {Lens} */ (this.lens);
    if (this.state.get("trajectory_metric") === "rank") {
      // A group's rank is its best member's rank.
      const out = new Float32Array(lens.L).fill(NaN);
      for (const id of ids) {
        const r = lens.rankTrajectory(p, id);
        for (let l = 0; l < lens.L; l++) if (!(out[l] <= r[l])) out[l] = Number.isNaN(r[l]) ? out[l] : r[l];
      }
      return out;
    }
    return lens.groupTrajectory(p, ids) ?? new Float32Array(lens.L).fill(NaN);
  }

  /**
   * @param {number} p
   * @param {number | null} id
   */
  hoverToken(p, id) {
    const lens = this.lens;
    if (!lens || id === null) {
      this.chart.setHover(null);
      return;
    }
    this.chart.setHover({
      values: this.values(p, [id]), color: HOVER_COLOR, label: `${showToken(lens.token(id)).text} @${p}`,
    });
  }

  /**
   * Click pins or unpins; with a modifier the token joins (or leaves) the newest pin group.
   * @param {number} id
   * @param {boolean} group
   */
  pinToken(id, group) {
    /** @type {Pin[]} */
    const pins = this.state.get("pins").map((p) => ({ ids: [...p.ids], color: p.color }));
    const holder = group ? pins[pins.length - 1] : pins.find((p) => p.ids.includes(id));
    const before = holder ? [...holder.ids] : [];
    if (holder && holder.ids.includes(id)) holder.ids = holder.ids.filter((x) => x !== id);
    else if (holder && group) holder.ids.push(id);
    else pins.push({ ids: [id], color: nextColor(pins) });
    /** @type {Partial<import("./state.js").UIState>} */
    const patch = { pins: pins.filter((p) => p.ids.length) };
    // A group colored by its members keeps coloring by them as they change.
    if (holder && sameIds(this.state.get("color_group"), before)) patch.color_group = holder.ids;
    this.state.set(patch);
  }

  /** @param {number} index */
  removePin(index) {
    const pins = this.state.get("pins");
    /** @type {Partial<import("./state.js").UIState>} */
    const patch = { pins: pins.filter((_, j) => j !== index) };
    if (sameIds(this.state.get("color_group"), pins[index]?.ids ?? [])) patch.color_group = [];
    this.state.set(patch);
  }

  /**
   * Pin or unpin an input row. A newly pinned row where no pinned token reaches 1% gets its
   * final prediction pinned, so the comparison shows something.
   * @param {number} p
   */
  toggleRow(p) {
    const lens = /** @type {Lens} */ (this.lens);
    const rows = this.state.get("pinned_rows");
    if (rows.includes(p)) {
      this.state.set({ pinned_rows: rows.filter((q) => q !== p) });
      return;
    }
    const pins = this.state.get("pins");
    const matters = pins.some((pin) => {
      const t = lens.groupTrajectory(p, pin.ids);
      return t !== null && t.some((v) => v >= MATTERS);
    });
    /** @type {Partial<import("./state.js").UIState>} */
    const patch = { pinned_rows: [...rows, p] };
    if (!matters) {
      patch.pins = [...pins, { ids: [lens.topId(lens.L - 1, p)], color: nextColor(pins) }];
    }
    this.state.set(patch);
  }

  /** @param {AbortSignal} signal */
  bindGrid(signal) {
    const o = { signal };
    const g = this.grid;
    g.body.addEventListener("click", (e) => {
      const p = g.locateInput(e.target);
      if (p !== null) {
        this.toggleRow(p);
        return;
      }
      const hit = g.locate(e.target);
      if (hit) this.openPopup(hit.ci, hit.p, "pointer");
    }, o);
    g.body.addEventListener("pointerover", (e) => {
      const hit = g.locate(e.target);
      if (hit && this.lens) this.hoverToken(hit.p, this.lens.topId(hit.l, hit.p));
    }, o);
    g.body.addEventListener("pointerleave", () => this.chart.setHover(null), o);
    g.root.addEventListener("keydown", (e) => this.onGridKey(e), o);
    this.popup.list.addEventListener("keydown", (e) => this.onPopupKey(e), o);
    this.root.addEventListener("keydown", (e) => {
      if (e.key === "Escape" && this.popup.open) {
        e.preventDefault();
        this.closePopup(true);
      }
    }, o);
    const doc = this.root.ownerDocument;
    doc.addEventListener("pointerdown", (e) => {
      if (!this.popup.open) return;
      const t = /** @type {Node} */ (e.target);
      if (!this.popup.root.contains(t) && !g.locate(e.target)) this.closePopup(false);
    }, o);
    // The popup is placed in viewport coordinates: follow its cell when the grid, the
    // notebook or the page scrolls (scroll does not bubble, so listen in the capture phase).
    const follow = (/** @type {Event} */ e) => {
      const inPopup = e.target instanceof Node && this.popup.root.contains(e.target);
      if (this.popup.open && !inPopup) this.followAnchor();
    };
    doc.addEventListener("scroll", follow, { capture: true, passive: true, signal });
    doc.defaultView?.addEventListener("resize", follow, o);
  }

  /**
   * Keep the popup on its cell, or close it once the cell is out of the grid's or page's
   * view. The cell is looked up again each time: re-coloring rebuilds the rows.
   */
  followAnchor() {
    const g = this.grid;
    const sel = g.selected;
    const anchor = sel ? g.cellAt(sel.ci, sel.p) : null;
    const view = g.root.getBoundingClientRect();
    const head = g.head.getBoundingClientRect();
    const page = this.root.ownerDocument.documentElement;
    const a = anchor?.getBoundingClientRect();
    const inView = a !== undefined && a.bottom > Math.max(head.bottom, 0)
      && a.top < Math.min(view.bottom, page.clientHeight)
      && a.right > Math.max(view.left, 0) && a.left < Math.min(view.right, page.clientWidth);
    if (anchor && inView) this.popup.place(anchor);
    else this.closePopup(false);
  }

  /**
   * After the columns changed (width, stride, zoom), point the open popup at the column now
   * nearest to its layer, or close it when its row is gone.
   */
  reanchorPopup() {
    const cell = this.popup.cell;
    const cols = this.grid.cols;
    // Outside the shown range (a zoom) the nearest column would be some other layer's cell.
    if (!cell || !cols.length || cell.l < cols[0] || cell.l > cols[cols.length - 1]) {
      this.closePopup(false);
      return;
    }
    this.grid.select({ ci: nearestColumn(cols, cell.l), p: cell.p });
    this.followAnchor();
  }

  /** @param {KeyboardEvent} e */
  onGridKey(e) {
    const g = this.grid;
    const lens = this.lens;
    if (!lens || !g.locate(e.target)) return;
    const page = Math.max(1, Math.floor(g.root.clientHeight / g.rowHeight) - 1);
    const next = navigate(e.key, g.active, { cols: g.cols.length, rows: lens.P, page });
    if (next) {
      e.preventDefault();
      g.focusCell(next.ci, next.p);
      if (this.popup.open) this.closePopup(false);
    } else if (e.key === "Enter" || e.key === " ") {
      e.preventDefault();
      this.openPopup(g.active.ci, g.active.p, "keyboard");
    }
  }

  /** @param {KeyboardEvent} e */
  onPopupKey(e) {
    const row = e.target instanceof Element ? e.target.closest(".llk-popup-row") : null;
    if (!(row instanceof HTMLElement)) return;
    if (e.key === "Enter" || e.key === " ") {
      e.preventDefault();
      this.pinToken(Number(row.dataset.id), e.shiftKey || e.ctrlKey || e.metaKey);
    } else if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      e.preventDefault();
      const sib = e.key === "ArrowDown" ? row.nextElementSibling : row.previousElementSibling;
      if (sib instanceof HTMLElement) sib.focus();
    }
  }

  /**
   * @param {number} ci
   * @param {number} p
   * @param {"pointer" | "keyboard"} source keyboard: focus the popup's first row
   */
  openPopup(ci, p, source) {
    const lens = this.lens;
    if (!lens) return;
    const g = this.grid;
    if (g.active.ci !== ci || g.active.p !== p) g.focusCell(ci, p);
    const cell = g.cellAt(ci, p);
    if (!cell) return;
    g.select({ ci, p });
    const l = g.cols[ci];
    this.popup.show(lens, l, p, this.pinnedIds(), cell);
    if (this.focusPos !== p) {
      this.focusPos = p;
      if (!this.state.get("pinned_rows").length) this.updatePins();
    }
    if (source === "keyboard") /** @type {HTMLElement | null} */ (this.popup.list.firstElementChild)?.focus();
    this.state.set({ selected_cell: { layer: lens.layers[l], position: p } });
  }

  /** @param {boolean} refocus return focus to the cell (keyboard users) */
  closePopup(refocus) {
    const cell = this.popup.cell;
    if (!this.popup.open || !cell) return;
    // Python's selected_cell is the cell of the popup opened last; another output's popup
    // closing must not clear it.
    const sel = this.state.get("selected_cell");
    if (sel && this.lens && sel.layer === this.lens.layers[cell.l] && sel.position === cell.p) {
      this.state.set({ selected_cell: null });
    }
    this.popup.hide();
    this.grid.select(null);
    this.chart.setHover(null);
    if (refocus) this.grid.focusCell(this.grid.active.ci, this.grid.active.p);
  }

  /** @param {AbortSignal} signal */
  bindResizing(signal) {
    const s = this.state;
    /**
     * Live-update a size trait while dragging (other outputs of the model follow), and sync
     * it to Python once, when the drag ends.
     * @param {import("./state.js").UIKey & keyof typeof import("./state.js").LIMITS} key
     * @param {(dx: number, dy: number, start: number) => number} next
     * @param {() => number} [startValue]
     */
    const sizeDrag = (key, next, startValue) => {
      const start = startValue ? startValue() : /** @type {number} */ (s.get(key));
      return {
        move: (/** @type {number} */ dx, /** @type {number} */ dy) =>
          this.model.set(key, clampSize(next(dx, dy, start), key)),
        end: () => this.model.save_changes(),
      };
    };
    dragHandles(this.root, ".llk-resize-col", signal, (h) => {
      // The dragged edge has (ci + 1) columns left of it: spread the move over them so the
      // edge stays under the pointer.
      const n = Number(/** @type {HTMLElement} */ (h.parentElement).dataset.ci) + 1;
      return sizeDrag("column_width", (dx, _dy, w) => w + dx / n);
    });
    dragHandles(this.root, ".llk-resize-input", signal, () =>
      sizeDrag("input_column_width", (dx, _dy, w) => w + dx));
    dragHandles(this.root, ".llk-resize-table", signal, () =>
      sizeDrag("table_width", (dx, _dy, w) => w + dx, () => this.root.offsetWidth));
    dragHandles(this.root, ".llk-resize-chart", signal, () =>
      sizeDrag("chart_height", (_dx, dy, h) => h + dy));
    dragHandles(this.root, ".llk-resize-grid", signal, () =>
      sizeDrag("grid_height", (_dx, dy, h) => h + dy, () => this.grid.root.offsetHeight));
  }

  destroy() {
    this.closePopup(false); // so selected_cell does not outlive the popup it reports
    this.abort.abort();
    this.resize.disconnect();
    this.root.remove();
  }
}

/**
 * @param {number[]} a
 * @param {number[]} b
 */
function sameIds(a, b) {
  return a.length > 0 && a.length === b.length && a.every((id, i) => id === b[i]);
}

/**
 * Index of the shown column whose lens row is closest to `l`.
 * @param {number[]} cols lens rows shown as columns
 * @param {number} l
 */
function nearestColumn(cols, l) {
  let best = 0;
  cols.forEach((c, i) => {
    if (Math.abs(c - l) < Math.abs(cols[best] - l)) best = i;
  });
  return best;
}

/** @param {Pin[]} pins */
function nextColor(pins) {
  const used = new Set(pins.map((p) => p.color));
  return PIN_PALETTE.find((c) => !used.has(c)) ?? PIN_PALETTE[pins.length % PIN_PALETTE.length];
}
