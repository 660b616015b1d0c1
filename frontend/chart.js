// Trajectory chart drawn in SVG under the grid, its x positions aligned with the grid's
// column centers. Elements are created once and updated in place: a hover rewrites one
// path's `d`, not the chart.

import { el, svg } from "./dom.js";
import { formatDecimal, formatProb } from "./format.js";
import { niceCeil, niceStep, shortRank, signed } from "./color.js";
import { KL_UNDEFINED } from "./klundefined.js";

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

const LOG_FLOOR = 1e-6;
/** Where the point tooltip goes: right of the guide left of this fraction of the plot. */
const TIP_FLIP = 0.5;

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
    this.svg.addEventListener("pointermove", (e) => this.onMove(e), o);
    this.svg.addEventListener("pointerleave", () => this.hideTooltip(), o);
    this.xAxis.addEventListener("pointerdown", (e) => this.onTickDown(e), o);
    this.svg.addEventListener("pointerup", (e) => this.onTickUp(e), o);
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
    const [lo, hi] = this.domain();
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

  /** y domain [min, max] fitting every visible line. */
  domain() {
    const axis = this.axis();
    if (axis === "rank") return [1, Math.max(2, this.k)];
    if (axis === "rank-log") {
      const [, hi] = this.extent();
      return [1, 10 ** Math.max(1, Math.ceil(Math.log10(Math.max(hi, this.k, 2)) - 1e-9))];
    }
    if (this.metric === "logprob") {
      const [lo] = this.extent();
      return [-niceCeil(Math.max(1, Number.isFinite(lo) ? -lo : 1)), 0];
    }
    if (this.metric === "delta") {
      const [lo, hi] = this.extent();
      const m = Math.max(Number.isFinite(lo) ? -lo : 0, Number.isFinite(hi) ? hi : 0);
      const d = Math.min(1, niceCeil(m || 0.1));
      return [-d, d];
    }
    if (this.metric === "kl") {
      const [, hi] = this.extent();
      return [0, niceCeil(Number.isFinite(hi) && hi > 0 ? hi : 1)];
    }
    const [a, b] = this.range();
    let max = 0;
    let min = 1;
    for (const line of this.visible()) {
      for (let l = a; l <= b; l++) {
        const v = line.values[l];
        if (v > max) max = v;
        if (v > 0 && v < min) min = v;
      }
    }
    if (this.axis() === "log") {
      return [10 ** Math.floor(Math.log10(Math.max(LOG_FLOOR, Math.min(min, 0.1)))), 1];
    }
    return [0, Math.min(1, niceCeil(max || 1))];
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
    [this.yMin, this.yMax] = this.domain();
    this.drawnAxis = this.axis();
    this.drawYAxis(inputWidth, width);
    this.drawXAxis();
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

  /**
   * Lens row l in words for the point tooltip.
   * @param {number} l
   */
  rowTitle(l) {
    const n = `layer ${this.geo.layers[l]}`;
    if (!this.sublayers()) return n;
    const attn = this.geo.kinds?.[l] === 1;
    if (this.metric === "delta") {
      return attn ? `${n}: the attention's part` : `${n}: the MLP's part`;
    }
    return attn ? `${n}, after attention (before the MLP)` : `${n}, after the layer`;
  }

  drawHover() {
    const [a, b] = this.hover;
    this.hoverPath.setAttribute("d", a ? this.pathOf(a.values) : "");
    this.hoverPathB.setAttribute("d", b ? this.pathOf(b.values) : "");
  }

  /**
   * @param {number} left
   * @param {number} right
   */
  drawYAxis(left, right) {
    const ticks = this.yTicks();
    const g = this.yAxis;
    g.replaceChildren();
    for (const v of ticks) {
      const y = this.y(v);
      g.append(svg("line", { x1: left, x2: right, y1: y, y2: y, class: "llk-gridline" }));
      const label = svg("text", {
        x: left - 4,
        y,
        "text-anchor": "end",
        "dominant-baseline": "middle",
      });
      label.textContent = this.formatTick(v);
      g.append(label);
    }
    const { top, bottom } = this.pads();
    const mid = (top + this.geo.height - bottom) / 2;
    // Rotated, its baseline sits one line height in from the left edge, whatever the font.
    this.yTitle.setAttribute("transform", `translate(${this.geo.fontSize} ${mid}) rotate(-90)`);
    this.yTitle.setAttribute("text-anchor", "middle");
    const titles = this.titles();
    // Rotated, the title runs along the plot's height: a longer one would reach up into the
    // grid (large text, short chart), so the longest that fits is shown.
    const room = this.geo.height - top - bottom + Math.min(top, bottom);
    this.yTitle.textContent = titles[titles.length - 1];
    for (const t of titles) {
      this.yTitle.textContent = t;
      if (this.textLength(this.yTitle) <= room) break;
    }
  }

  /** The y axis title, longest first: the longest that fits is shown. */
  titles() {
    const log = this.scale === "log" ? " (log)" : "";
    switch (this.metric) {
      case "rank":
        // Exact ranks (payload targets) need no caveat; top-k ranks stop at k.
        return this.pinned.length && this.pinned.every((l) => l.exact)
          ? ["rank"]
          : ["rank (top-k only)", "rank"];
      case "logprob":
        return ["log-probability (nats)", "log p (nats)", "log p"];
      case "delta":
        return ["change of probability per layer", "\u0394 probability", "\u0394p"];
      case "kl":
        return [`KL to final output (${this.unit})`, `KL (${this.unit})`, "KL"];
      default:
        return [`probability${log}`, `prob.${log}`, `p${log}`];
    }
  }

  /**
   * px length of an SVG text, measured on a canvas: `getComputedTextLength` would force a
   * synchronous layout on every render (it cost ~18 ms of each same-run data update).
   * Estimated until the chart is in a document.
   * @param {SVGElement} t
   */
  textLength(t) {
    const text = t.textContent ?? "";
    const ctx = this.textContext(t);
    return ctx ? ctx.measureText(text).width : text.length * this.geo.fontSize * 0.55;
  }

  /**
   * A canvas set to `t`'s font; the font is read again only when the widget's size changes.
   * @param {SVGElement} t
   */
  textContext(t) {
    if (this.measure?.size !== this.geo.fontSize) {
      const font = t.isConnected ? getComputedStyle(t).font : "";
      if (!font) return null;
      const ctx = this.measure?.ctx ?? document.createElement("canvas").getContext("2d");
      if (!ctx) return null;
      this.measure = { ctx, size: this.geo.fontSize, font };
    }
    this.measure.ctx.font = this.measure.font;
    return this.measure.ctx;
  }

  yTicks() {
    const axis = this.drawnAxis;
    if (axis === "rank-log") {
      const out = [];
      for (let r = 1; r <= this.yMax; r *= 10) out.push(r);
      return out;
    }
    if (this.metric === "logprob") {
      const step = niceStep(-this.yMin);
      const out = [];
      for (let v = this.yMin; v <= 1e-9; v += step) out.push(Number(v.toPrecision(6)));
      return out;
    }
    if (this.metric === "delta") {
      return [-1, -0.5, 0, 0.5, 1].map((f) => Number((f * this.yMax).toPrecision(6)));
    }
    if (axis === "rank") {
      const step = Math.max(1, Math.ceil((this.yMax - 1) / 4));
      const out = [];
      for (let r = 1; r <= this.yMax; r += step) out.push(r);
      return out;
    }
    if (axis === "log") {
      const out = [];
      for (let v = this.yMin; v <= 1.0000001; v *= 10) out.push(Number(v.toPrecision(3)));
      return out;
    }
    return [0, 0.25, 0.5, 0.75, 1].map((f) => Number((f * this.yMax).toPrecision(6)));
  }

  /**
   * Plain decimals on every scale ("0.001", "0.01", "0.1", "1"; "0", "0.25"): one notation.
   * @param {number} v
   */
  formatTick(v) {
    if (this.metric === "rank") return shortRank(v);
    if (this.metric === "delta") return signed(v);
    if (this.metric === "logprob") return v === 0 ? "0" : signed(v);
    return formatDecimal(v, this.axis() === "log" ? 1 : 3);
  }

  /**
   * A line's value at one row, as the point tooltip says it.
   * @param {number} v
   * @param {Line} line
   */
  formatValue(v, line) {
    switch (this.metric) {
      case "rank":
        if (Number.isNaN(v)) return line.exact ? "not known" : "not in top-k";
        return `#${v.toLocaleString("en")}`;
      case "logprob":
        if (v === -Infinity) return "\u2212\u221e (probability 0)";
        return Number.isNaN(v)
          ? "not known"
          : `${signed(v, (x) => x.toFixed(2))} nats (${formatProb(Math.exp(v))})`;
      case "delta":
        return Number.isNaN(v) ? "not known" : `${signed(v * 100, (x) => x.toFixed(1))} pp`;
      case "kl":
        if (Number.isNaN(v)) return line.klUndefined ? KL_UNDEFINED : "not known";
        return `${v.toFixed(3)} ${this.unit}`;
      default:
        return Number.isNaN(v) ? "not known" : formatProb(v);
    }
  }

  drawXAxis() {
    const y = this.geo.height - Math.round(this.geo.fontSize * 0.5);
    const g = this.xAxis;
    g.replaceChildren(
      ...this.geo.cols.map((l) => {
        const t = svg("text", {
          x: this.x(l),
          y,
          "text-anchor": "middle",
          class: "llk-xtick",
          "data-l": l,
        });
        t.textContent = this.geo.labels?.[l] ?? String(this.geo.layers[l]);
        if (this.geo.kinds?.[l] === 1) t.classList.add("llk-xtick-attn");
        const title = svg("title");
        title.textContent = "drag to another layer to zoom; double-click to reset";
        t.append(title);
        return t;
      }),
    );
  }

  /** Lens row nearest to a pixel x. @param {number} px */
  rowAt(px) {
    const [a, b] = this.range();
    let best = a;
    let dist = Infinity;
    for (let l = a; l <= b; l++) {
      const d = Math.abs(this.x(l) - px);
      if (d < dist) [best, dist] = [l, d];
    }
    return best;
  }

  /** @param {PointerEvent} e */
  localX(e) {
    return e.clientX - this.svg.getBoundingClientRect().left;
  }

  /** @param {PointerEvent} e */
  onMove(e) {
    const px = this.localX(e);
    if (this.dragFrom !== null) {
      const x0 = this.x(this.dragFrom);
      this.zoomBand.setAttribute("x", String(Math.min(x0, px)));
      this.zoomBand.setAttribute("width", String(Math.abs(px - x0)));
      this.zoomBand.setAttribute("height", String(this.geo.height));
      return;
    }
    if (px < this.geo.inputWidth) {
      this.hideTooltip();
      return;
    }
    this.showPoint(this.rowAt(px));
  }

  /**
   * Guide, dots and a tooltip with every line's value at lens row l.
   * @param {number} l
   */
  showPoint(l) {
    const lines = this.visible();
    const x = this.x(l);
    this.guide.setAttribute("x1", String(x));
    this.guide.setAttribute("x2", String(x));
    const { top, bottom } = this.pads();
    this.guide.setAttribute("y1", String(top));
    this.guide.setAttribute("y2", String(this.geo.height - bottom));
    this.dots.replaceChildren();
    const rows = [el("div", { class: "llk-tip-head", text: this.rowTitle(l) })];
    for (const line of lines) {
      const v = line.values[l];
      if (Number.isFinite(v)) {
        this.dots.append(svg("circle", { cx: x, cy: this.y(v), r: 3, fill: line.color }));
      }
      // Unknown: a rank outside the top-k, a token not tracked there, or a cell with no
      // numbers (invalid or pending).
      const value = this.formatValue(v, line);
      const swatch = el("span", { class: "llk-swatch" });
      swatch.style.background = line.color;
      rows.push(
        el("div", { class: "llk-tip-row" }, [
          swatch,
          el("span", { text: `${line.label}: ${value}` }),
        ]),
      );
    }
    this.tooltip.replaceChildren(...rows);
    this.tooltip.hidden = false;
    // Beside the guide, on the side away from the last layers when near them: that is where
    // the lines change, and a tooltip over them would hide what it describes.
    const left0 = this.geo.inputWidth;
    const w = this.edges[this.edges.length - 1];
    const tipW = this.tooltip.offsetWidth;
    const right = x < left0 + (w - left0) * TIP_FLIP;
    const left = right ? Math.min(x + 12, w - tipW) : Math.max(0, x - 12 - tipW);
    this.tooltip.style.left = `${left}px`;
    this.tooltip.style.top = `${top}px`;
  }

  hideTooltip() {
    this.tooltip.hidden = true;
    this.dots.replaceChildren();
    this.guide.setAttribute("y2", "0");
    this.guide.setAttribute("y1", "0");
  }

  /** @param {PointerEvent} e */
  onTickDown(e) {
    const t = e.target instanceof Element ? e.target.closest(".llk-xtick") : null;
    if (!t) return;
    e.preventDefault();
    this.dragFrom = Number(t.getAttribute("data-l"));
    this.svg.setPointerCapture?.(e.pointerId);
  }

  /** @param {PointerEvent} e */
  onTickUp(e) {
    if (this.dragFrom === null) return;
    const from = this.dragFrom;
    const to = this.rowAt(this.localX(e));
    this.dragFrom = null;
    this.zoomBand.setAttribute("width", "0");
    if (to !== from) this.cb.onZoom(Math.min(from, to), Math.max(from, to));
  }
}
