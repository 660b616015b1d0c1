// Trajectory chart drawn in SVG under the grid, its x positions aligned with the grid's
// column centers. Elements are created once and updated in place: a hover rewrites one
// path's `d`, not the chart. The axes and y scale are drawn by chartaxes.js, the point
// tooltip and the zoom drag handled by chartpointer.js.

import "./chart.css";
import { el, svg } from "./dom.js";
import { niceCeil } from "./color.js";
import { domain, drawXAxis, drawYAxis } from "./chartaxes.js";
import { hideTooltip, onMove, onTickDown, onTickUp } from "./chartpointer.js";

export { niceCeil };

/**
 * @typedef {object} Line
 * @property {Float32Array} values one value per lens row (NaN = unknown)
 * @property {string} color
 * @property {string} [dash] SVG dash pattern
 * @property {string} label shown in the point tooltip
 * @property {string} [cls] class of its path (the default line is marked so)
 * @property {boolean} [exact] its ranks (log-probabilities) are exact, not top-k only
 * @property {boolean} [klUndefined] a KL line whose position's KL is undefined (klundefined.js)
 */

/** @typedef {import("./schema.js").UIState["trajectory_metric"]} Metric */

/**
 * @typedef {object} Geometry
 * @property {number} inputWidth px left of the first column (the y axis lives there)
 * @property {number[]} widths px of each shown column, as the grid has them
 * @property {number[]} cols lens rows shown as grid columns
 * @property {number[]} layers model layer index of each lens row
 * @property {string[]} [labels] each lens row's label ("12", "12·a" for an after-attention
 *   row); the layer number when omitted
 * @property {number[] | null} [kinds] each lens row's kind (row_kinds: 1 after attention,
 *   0 after the layer); null or omitted: no sub-layer rows
 * @property {number} height
 * @property {number} fontSize px of the widget's text: the axes' margins follow it
 */

export class Chart {
  /**
   * @param {AbortSignal} signal
   * @param {{ onZoom: (first: number, last: number) => void, onResetZoom: () => void }} cb
   */
  constructor(signal, cb) {
    this.cb = cb;
    this.svg = svg("svg", { class: "llk-chart-svg", role: "img" });
    this.yAxis = svg("g", { class: "llk-yaxis" });
    this.xAxis = svg("g", { class: "llk-xaxis" });
    this.yTitle = svg("text", { class: "llk-ytitle" });
    /** @type {{ ctx: CanvasRenderingContext2D, size: number, font: string } | null} */
    this.measure = null;
    this.lines = svg("g", { class: "llk-lines" });
    this.hoverPath = svg("path", { class: "llk-hover-line" });
    /** a diff's side B: the hovered token's line there */
    this.hoverPathB = svg("path", { class: "llk-hover-line-b" });
    this.guide = svg("line", { class: "llk-guide" });
    this.dots = svg("g", { class: "llk-dots" });
    /** point markers of each line at every lens row (sub-layer data) */
    this.markers = svg("g", { class: "llk-markers" });
    this.note = svg("text", { class: "llk-chart-note", "text-anchor": "end" });
    this.zoomBand = svg("rect", { class: "llk-zoom-band" });
    this.svg.append(
      this.yAxis,
      this.xAxis,
      this.yTitle,
      this.lines,
      this.markers,
      this.note,
      this.hoverPath,
      this.hoverPathB,
      this.guide,
      this.dots,
      this.zoomBand,
    );
    this.tooltip = el("div", { class: "llk-tooltip", attrs: { role: "tooltip" } });
    this.tooltip.hidden = true;
    this.resetZoom = el("button", { class: "llk-btn llk-reset-zoom", text: "reset zoom" });
    this.resetZoom.hidden = true;
    this.root = el("div", { class: "llk-chart" }, [this.svg, this.tooltip, this.resetZoom]);
    /** @type {Geometry} */
    this.geo = { inputWidth: 100, widths: [], cols: [], layers: [], height: 160, fontSize: 12 };
    /** @type {number[]} px x of each column's left edge, then the right edge of the last */
    this.edges = [100];
    /** @type {Line[]} */
    this.pinned = [];
    /** @type {Line[]} the hovered token's line, and in a diff its side-B line */
    this.hover = [];
    /** @type {Metric} */
    this.metric = "probability";
    this.scale = "linear";
    /** @type {import("./format.js").EntropyUnit} the KL lines' unit */
    this.unit = "nats";
    this.k = 1;
    this.yMax = 1;
    this.yMin = 0;
    /** @type {ReturnType<Chart["axis"]>} the axis kind the lines were last drawn with */
    this.drawnAxis = "linear";
    /** @type {number | null} lens row where a tick drag started */
    this.dragFrom = null;
    this.bindEvents(signal);
  }

  /** @param {AbortSignal} signal */
  bindEvents(signal) {
    const o = { signal };
    this.svg.addEventListener("pointermove", (e) => onMove(this, e), o);
    this.svg.addEventListener("pointerleave", () => hideTooltip(this), o);
    this.xAxis.addEventListener("pointerdown", (e) => onTickDown(this, e), o);
    this.svg.addEventListener("pointerup", (e) => onTickUp(this, e), o);
    this.xAxis.addEventListener("dblclick", () => this.cb.onResetZoom(), o);
    this.resetZoom.addEventListener("click", () => this.cb.onResetZoom(), o);
  }

  /**
   * @param {Geometry} geo
   * @param {boolean} zoomed
   */
  setGeometry(geo, zoomed) {
    this.geo = geo;
    this.edges = [geo.inputWidth];
    for (const w of geo.widths) this.edges.push(this.edges[this.edges.length - 1] + w);
    this.resetZoom.hidden = !zoomed;
    this.redraw();
  }

  /**
   * @param {Metric} metric
   * @param {string} scale "linear" | "log" (probability only)
   * @param {number} k
   * @param {import("./format.js").EntropyUnit} [unit] the KL lines' unit
   */
  setMetric(metric, scale, k, unit = "nats") {
    this.metric = metric;
    this.scale = scale;
    this.k = k;
    this.unit = unit;
    this.redraw();
  }

  /**
   * How values map to heights: "rank" (linear, 1 at the top), "rank-log" (exact ranks, log,
   * 1 at the top), "log" (log probability scale) or "linear" (everything else).
   * @returns {"rank" | "rank-log" | "log" | "linear"}
   */
  axis() {
    if (this.metric === "rank") return this.visible().some((l) => l.exact) ? "rank-log" : "rank";
    if (this.metric === "probability" && this.scale === "log") return "log";
    return "linear";
  }

  /** The lines drawn: the pinned ones and the hovered ones. */
  visible() {
    return this.hover.length ? [...this.pinned, ...this.hover] : this.pinned;
  }

  /**
   * Smallest and largest finite value of the visible lines over the plotted rows.
   * @returns {[number, number]} [Infinity, -Infinity] when there is none
   */
  extent() {
    const [a, b] = this.range();
    let lo = Infinity;
    let hi = -Infinity;
    for (const line of this.visible()) {
      for (let l = a; l <= b; l++) {
        const v = line.values[l];
        if (!Number.isFinite(v)) continue;
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
    }
    return [lo, hi];
  }

  /** @param {Line[]} lines */
  setPinned(lines) {
    this.pinned = lines;
    this.redraw();
  }

  /**
   * The hot path of hovering: only the hover paths change unless the y range must grow.
   * @param {Line[]} lines the hovered token's line, then (a diff) its line on side B
   */
  setHover(lines) {
    this.hover = lines;
    const [lo, hi] = domain(this);
    if (lo !== this.yMin || hi !== this.yMax || this.axis() !== this.drawnAxis) {
      this.redraw();
      return;
    }
    this.drawHover();
  }

  /** First and last lens row plotted. */
  range() {
    const { cols } = this.geo;
    return [cols[0] ?? 0, cols[cols.length - 1] ?? 0];
  }

  /** Top and bottom margins of the plot: they hold text, so they grow with the font. */
  pads() {
    const f = this.geo.fontSize;
    return { top: Math.round(f * 0.9), bottom: Math.round(f * 1.9) };
  }

  /**
   * Pixel x of a (possibly fractional) lens row: piecewise linear between column centers.
   * @param {number} l
   */
  x(l) {
    const { cols } = this.geo;
    const e = this.edges;
    const center = (/** @type {number} */ ci) =>
      ci + 1 < e.length ? (e[ci] + e[ci + 1]) / 2 : e[0];
    if (cols.length < 2) return center(0);
    let ci = 0;
    while (ci < cols.length - 2 && cols[ci + 1] < l) ci++;
    const t = (l - cols[ci]) / (cols[ci + 1] - cols[ci]);
    return center(ci) + t * (center(ci + 1) - center(ci));
  }

  /** @param {number} v */
  y(v) {
    const { top, bottom: pad } = this.pads();
    const bottom = this.geo.height - pad;
    let t;
    const axis = this.drawnAxis;
    if (axis === "rank") t = (v - this.yMin) / (this.yMax - this.yMin);
    else if (axis === "rank-log") t = Math.log(Math.max(1, v)) / Math.log(this.yMax);
    else if (axis === "log") {
      const lv = Math.log10(Math.max(v, this.yMin));
      t = 1 - (lv - Math.log10(this.yMin)) / (Math.log10(this.yMax) - Math.log10(this.yMin));
    } else t = (this.yMax - v) / (this.yMax - this.yMin);
    return top + t * (bottom - top);
  }

  /** @param {Float32Array} values */
  pathOf(values) {
    const [a, b] = this.range();
    let d = "";
    let pen = false;
    for (let l = a; l <= b; l++) {
      const v = values[l];
      // Unknown values and -Infinity (a log-probability of 0) leave a gap.
      if (!Number.isFinite(v) || (this.drawnAxis === "log" && !(v > 0))) {
        pen = false;
        continue;
      }
      d += `${pen ? "L" : "M"}${this.x(l).toFixed(1)} ${this.y(v).toFixed(1)}`;
      pen = true;
    }
    return d;
  }

  redraw() {
    const { height, inputWidth } = this.geo;
    const width = this.edges[this.edges.length - 1];
    this.svg.setAttribute("width", String(width));
    this.svg.setAttribute("height", String(height));
    this.svg.setAttribute(
      "aria-label",
      this.metric === "kl"
        ? "KL to the final output across layers"
        : `${this.metric} of the pinned tokens across layers`,
    );
    [this.yMin, this.yMax] = domain(this);
    this.drawnAxis = this.axis();
    drawYAxis(this, inputWidth, width);
    drawXAxis(this);
    this.lines.replaceChildren(
      ...this.pinned.map((line) => {
        const p = svg("path", { d: this.pathOf(line.values), stroke: line.color });
        if (line.cls) p.setAttribute("class", line.cls);
        if (line.dash) p.setAttribute("stroke-dasharray", line.dash);
        return p;
      }),
    );
    this.drawMarkers();
    this.drawHover();
  }

  /** Whether the data has sub-layer rows (a layer's after-attention row). */
  sublayers() {
    return !!this.geo.kinds?.includes(1);
  }

  /**
   * With sub-layer rows, every line gets a point at every plotted lens row, so both rows of
   * each layer show: a hollow square after attention, a dot after the layer. With the
   * "delta" metric the two are the split of each layer's change: the square the attention's
   * part, the dot the MLP's. A note in the corner says which is which.
   */
  drawMarkers() {
    const kinds = this.geo.kinds;
    if (!kinds || !this.sublayers() || this.metric === "kl") {
      this.markers.replaceChildren();
      this.note.textContent = "";
      return;
    }
    const [a, b] = this.range();
    /** @type {SVGElement[]} */
    const out = [];
    for (const line of this.pinned) {
      for (let l = a; l <= b; l++) {
        const v = line.values[l];
        if (!Number.isFinite(v) || (this.drawnAxis === "log" && !(v > 0))) continue;
        const x = this.x(l);
        const y = this.y(v);
        const attn = kinds[l] === 1;
        const m = attn
          ? svg("rect", { x: x - 3, y: y - 3, width: 6, height: 6, stroke: line.color })
          : svg("circle", { cx: x, cy: y, r: 2.5, fill: line.color });
        m.setAttribute("class", attn ? "llk-mark-attn" : "llk-mark-out");
        m.setAttribute("data-l", String(l));
        m.setAttribute("data-v", String(v));
        out.push(m);
      }
    }
    this.markers.replaceChildren(...out);
    const { top } = this.pads();
    this.note.setAttribute("x", String(this.edges[this.edges.length - 1] - 4));
    this.note.setAttribute("y", String(top));
    this.note.textContent =
      this.metric === "delta"
        ? "\u25a1 attention's part \u00b7 \u25cf MLP's part of each layer's change"
        : "\u25a1 after attention \u00b7 \u25cf after the layer";
  }

  drawHover() {
    const [a, b] = this.hover;
    this.hoverPath.setAttribute("d", a ? this.pathOf(a.values) : "");
    this.hoverPathB.setAttribute("d", b ? this.pathOf(b.values) : "");
  }
}
