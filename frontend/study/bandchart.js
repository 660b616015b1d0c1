// The band chart (SVG): x = layer (the heatmap's columns), one line per drawn quantity with
// its per-layer mean and a translucent 95% confidence band, a legend that toggles quantities
// in `shown`, and a readout of every drawn value at the hovered layer.
//
// One kind per axis: quantities of different kinds have different units (a probability, a
// rank, nats), so the chart draws the quantities of one kind at a time. That kind is the
// one of the quantity turned on last in the legend, else the first drawn quantity's; when
// the drawn quantities span several kinds a select picks which one the axis shows, and the
// legend marks the others "on another axis". The kind choice is this view's own (not
// synced); `shown` is the synced state.

import { el, svg } from "../dom.js";
import { PIN_PALETTE } from "../schema.js";
import { CI_HIGH, CI_LOW, MEAN, kindOf, summaryRow, ticks, yDomain } from "./data.js";

/** @typedef {import("./data.js").Study} Study */
/** @typedef {import("./data.js").Quantity} Quantity */

/**
 * The shared horizontal geometry: the chart, the entropy strip and the heatmap put layer
 * column i at the same x.
 * @typedef {object} Columns
 * @property {number} width px of the whole widget
 * @property {number} left px left of the first column (axis labels live there)
 * @property {number} plot px of the L columns together
 * @property {number} L
 */

/**
 * Center x of layer column i.
 * @param {Columns} c
 * @param {number} i
 */
export function columnCenter(c, i) {
  return c.left + ((i + 0.5) * c.plot) / Math.max(1, c.L);
}

/**
 * A quantity's color: the main widget's pin palette (distinct in light and dark), by the
 * quantity's place among the quantities of its kind. study_plot.quantity_color in Python
 * applies the same rule, so a target (a language) has one color for its probability and its
 * rank, here and in study.plot()'s figures.
 * @param {{ name: string, kind: string }[]} quantities
 * @param {number} q
 */
export function quantityColor(quantities, q) {
  const kind = quantities[q]?.kind;
  let place = 0;
  for (let i = 0; i < q; i++) if (quantities[i].kind === kind) place++;
  return PIN_PALETTE[place % PIN_PALETTE.length];
}

const HEIGHT = 200;
const PAD_TOP = 10;
const PAD_BOTTOM = 26;

export class BandChart {
  /**
   * @param {AbortSignal} signal
   * @param {{ onToggle: (name: string) => void, onKind: (kind: string) => void }} cb
   */
  constructor(signal, cb) {
    this.cb = cb;
    this.legend = el("div", { class: "llks-legend", attrs: { role: "group" } });
    this.legend.setAttribute("aria-label", "quantities in the chart (click to show or hide)");
    this.kindSelect = el("select", {
      class: "llks-kind",
      attrs: { "aria-label": "which kind of quantity the chart's y axis shows" },
    });
    this.kindLabel = el("label", { class: "llks-kind-label" }, [
      el("span", { text: "axis " }),
      this.kindSelect,
    ]);
    this.svg = svg("svg", { class: "llks-chart-svg", role: "img", height: HEIGHT });
    this.grid = svg("g", { class: "llks-ygrid" });
    this.xAxis = svg("g", { class: "llks-xaxis" });
    this.yTitle = svg("text", { class: "llks-ytitle" });
    this.bands = svg("g", { class: "llks-bands" });
    this.means = svg("g", { class: "llks-means" });
    this.guide = svg("line", { class: "llks-guide" });
    this.svg.append(this.grid, this.xAxis, this.yTitle, this.bands, this.means, this.guide);
    this.readout = el("div", { class: "llks-chart-readout", attrs: { "aria-live": "off" } });
    this.root = el("div", { class: "llks-chart" }, [
      el("div", { class: "llks-chart-controls" }, [this.legend, this.kindLabel]),
      this.svg,
      this.readout,
    ]);
    /** @type {Study | null} */
    this.study = null;
    /** @type {number[]} indices of the quantities drawn */
    this.drawn = [];
    /** @type {Columns} */
    this.cols = { width: 600, left: 60, plot: 520, L: 0 };
    /** @type {(v: number) => number} */
    this.y = () => 0;
    this.kind = "";
    const o = { signal };
    this.legend.addEventListener(
      "click",
      (e) => {
        const button = /** @type {Element} */ (e.target).closest?.("[data-name]");
        if (button instanceof HTMLElement && button.dataset.name !== undefined) {
          cb.onToggle(button.dataset.name);
        }
      },
      o,
    );
    this.kindSelect.addEventListener("change", () => cb.onKind(this.kindSelect.value), o);
    // clientX, not offsetX: over a path, offsetX is relative to that path in some browsers.
    this.svg.addEventListener(
      "pointermove",
      (e) => this.hover(e.clientX - this.svg.getBoundingClientRect().left),
      o,
    );
    this.svg.addEventListener("pointerleave", () => this.hover(null), o);
  }

  /**
   * Draw everything.
   * @param {Study} study
   * @param {string[]} names the quantities `shown` draws (shownNames)
   * @param {string} kind the kind the axis shows
   * @param {string[]} kinds every kind among `names`
   * @param {Columns} cols
   */
  update(study, names, kind, kinds, cols) {
    this.study = study;
    this.cols = cols;
    this.kind = kind;
    const on = new Set(names);
    this.drawLegend(study.quantities, on, kind);
    this.kindSelect.replaceChildren(
      ...kinds.map((k) => el("option", { text: kindOf(k).axis, attrs: { value: k } })),
    );
    this.kindSelect.value = kind;
    this.kindLabel.hidden = kinds.length < 2;
    this.drawn = [];
    study.quantities.forEach((q, i) => {
      if (on.has(q.name) && q.kind === kind) this.drawn.push(i);
    });
    this.draw();
  }

  /**
   * @param {Quantity[]} quantities
   * @param {Set<string>} on
   * @param {string} kind
   */
  drawLegend(quantities, on, kind) {
    this.legend.replaceChildren(
      ...quantities.map((q, i) => {
        const shown = on.has(q.name);
        const other = shown && q.kind !== kind;
        const b = el(
          "button",
          {
            class: `llks-entry${shown ? "" : " llks-off"}${other ? " llks-other" : ""}`,
            attrs: {
              type: "button",
              "data-name": q.name,
              "aria-pressed": String(shown),
              "aria-label": `${shown ? "hide" : "show"} ${q.label}`,
            },
            title: other
              ? `${q.label}: on the ${kindOf(q.kind).axis} axis (pick it under "axis")`
              : `${q.label} (${kindOf(q.kind).axis}): click to ${shown ? "hide" : "show"}`,
          },
          [
            swatch(quantityColor(quantities, i)),
            el("span", { class: "llks-entry-label", text: q.label }),
          ],
        );
        return b;
      }),
    );
  }

  draw() {
    const study = this.study;
    const c = this.cols;
    if (!study) return;
    const k = kindOf(this.kind);
    const bottom = HEIGHT - PAD_BOTTOM;
    this.svg.setAttribute("width", String(c.width));
    this.svg.setAttribute(
      "aria-label",
      `mean and 95% confidence band per layer of ${this.drawn
        .map((q) => study.quantities[q].label)
        .join(", ")}`,
    );
    /** @type {number[]} */
    const all = [];
    for (const q of this.drawn) {
      for (const which of [MEAN, CI_LOW, CI_HIGH]) all.push(...summaryRow(study, q, which));
    }
    const domain = yDomain(this.kind, all);
    const [lo, hi] = domain;
    const span = k.log ? Math.log(hi) - Math.log(lo) : hi - lo;
    // Rank: 1 at the top (the best rank, like a probability of 1); others: larger is higher.
    this.y = k.log
      ? (v) => PAD_TOP + ((Math.log(clamp(v, lo, hi)) - Math.log(lo)) / span) * (bottom - PAD_TOP)
      : (v) => bottom - ((clamp(v, lo, hi) - lo) / span) * (bottom - PAD_TOP);
    const right = c.left + c.plot;
    this.grid.replaceChildren(
      ...ticks(domain, k.log).map((v) => {
        const y = this.y(v).toFixed(1);
        const g = svg("g", {
          class: `llks-ytick${v === 0 && k.signed ? " llks-zero" : ""}`,
          "data-value": v,
        });
        const text = svg("text", { x: c.left - 5, y, dy: "0.32em", "text-anchor": "end" });
        text.textContent = k.tick(v);
        g.append(svg("line", { x1: c.left, x2: right, y1: y, y2: y }), text);
        return g;
      }),
    );
    this.yTitle.setAttribute("transform", `translate(11 ${(PAD_TOP + bottom) / 2}) rotate(-90)`);
    this.yTitle.setAttribute("text-anchor", "middle");
    this.yTitle.textContent = k.axis;
    this.drawXAxis(bottom);
    this.bands.replaceChildren();
    this.means.replaceChildren();
    for (const q of this.drawn) {
      const color = quantityColor(study.quantities, q);
      const name = study.quantities[q].name;
      const mean = summaryRow(study, q, MEAN);
      const low = summaryRow(study, q, CI_LOW);
      const high = summaryRow(study, q, CI_HIGH);
      this.bands.append(
        svg("path", {
          class: "llks-band",
          "data-name": name,
          fill: color,
          d: this.bandPath(low, high),
        }),
      );
      this.means.append(
        svg("path", {
          class: "llks-mean",
          "data-name": name,
          stroke: color,
          d: this.linePath(mean),
        }),
      );
    }
    this.guide.setAttribute("y1", String(PAD_TOP));
    this.guide.setAttribute("y2", String(bottom));
    this.hover(null);
  }

  /** @param {number} bottom */
  drawXAxis(bottom) {
    const study = /** @type {Study} */ (this.study);
    const c = this.cols;
    const colW = c.plot / Math.max(1, c.L);
    const widest = Math.max(1, ...study.layers.map((l) => String(l).length));
    const every = Math.max(1, Math.ceil((widest * 7 + 8) / colW));
    /** @type {SVGElement[]} */
    const out = [];
    for (let i = 0; i < c.L; i++) {
      const last = i === c.L - 1;
      if (i % every !== 0 && !(last && (c.L - 1) % every >= every / 2)) continue;
      const x = columnCenter(c, i).toFixed(1);
      const g = svg("g", { class: "llks-xtick", "data-index": i, "data-x": x });
      const text = svg("text", { x, y: bottom + 13, "text-anchor": "middle" });
      text.textContent = String(study.layers[i]);
      g.append(svg("line", { x1: x, x2: x, y1: bottom, y2: bottom + 3 }), text);
      out.push(g);
    }
    const title = svg("text", { class: "llks-xtitle", x: c.left - 5, y: bottom + 13 });
    title.setAttribute("text-anchor", "end");
    title.textContent = "layer";
    out.push(title, svg("line", { x1: c.left, x2: c.left + c.plot, y1: bottom, y2: bottom }));
    this.xAxis.replaceChildren(...out);
  }

  /**
   * The mean line: one point per layer column, a gap where the mean is NaN; a lone point is
   * a zero-length segment (drawn as a dot by the round line cap).
   * @param {Float32Array} mean
   */
  linePath(mean) {
    let d = "";
    for (let i = 0; i < mean.length; i++) {
      if (!Number.isFinite(mean[i])) continue;
      const p = `${columnCenter(this.cols, i).toFixed(1)} ${this.y(mean[i]).toFixed(1)}`;
      const alone = !Number.isFinite(mean[i - 1]) && !Number.isFinite(mean[i + 1]);
      d += Number.isFinite(mean[i - 1]) ? `L${p}` : alone ? `M${p}L${p}` : `M${p}`;
    }
    return d;
  }

  /**
   * The band: for each run of layers with both CI ends, along the top and back along the
   * bottom; a lone layer gets a 4 px wide bar.
   * @param {Float32Array} low
   * @param {Float32Array} high
   */
  bandPath(low, high) {
    const ok = (/** @type {number} */ i) => Number.isFinite(low[i]) && Number.isFinite(high[i]);
    const x = (/** @type {number} */ l) => columnCenter(this.cols, l);
    const pt = (/** @type {number} */ a, /** @type {number} */ b) =>
      `${a.toFixed(1)} ${b.toFixed(1)}`;
    let d = "";
    for (let i = 0; i < low.length; i++) {
      if (!ok(i) || ok(i - 1)) continue;
      let j = i;
      while (j + 1 < low.length && ok(j + 1)) j++;
      /** @type {string[]} */
      const pts = [];
      if (i === j) {
        const [a, b, top, bot] = [x(i) - 2, x(i) + 2, this.y(high[i]), this.y(low[i])];
        pts.push(pt(a, top), pt(b, top), pt(b, bot), pt(a, bot));
      } else {
        for (let l = i; l <= j; l++) pts.push(pt(x(l), this.y(high[l])));
        for (let l = j; l >= i; l--) pts.push(pt(x(l), this.y(low[l])));
      }
      d += `M${pts.join("L")}Z`;
    }
    return d;
  }

  /** @param {number | null} px pointer x in the svg, null when it left */
  hover(px) {
    const study = this.study;
    const c = this.cols;
    const i = px === null || !study ? -1 : Math.floor(((px - c.left) / c.plot) * c.L);
    if (!study || i < 0 || i >= c.L || !this.drawn.length) {
      this.guide.setAttribute("visibility", "hidden");
      this.readout.textContent = "\u00a0";
      return;
    }
    const x = columnCenter(c, i).toFixed(1);
    this.guide.setAttribute("x1", x);
    this.guide.setAttribute("x2", x);
    this.guide.setAttribute("visibility", "visible");
    const k = kindOf(this.kind);
    const parts = this.drawn.map((q) => {
      const m = summaryRow(study, q, MEAN)[i];
      const a = summaryRow(study, q, CI_LOW)[i];
      const b = summaryRow(study, q, CI_HIGH)[i];
      const label = study.quantities[q].label;
      if (!Number.isFinite(m)) return `${label} —`;
      const ci =
        Number.isFinite(a) && Number.isFinite(b) ? ` (95% CI ${k.format(a)} – ${k.format(b)})` : "";
      return `${label} ${k.format(m)}${ci}`;
    });
    this.readout.textContent = `layer ${study.layers[i]}: ${parts.join(" · ")}`;
  }
}

/**
 * @param {number} v
 * @param {number} lo
 * @param {number} hi
 */
function clamp(v, lo, hi) {
  return v < lo ? lo : Math.min(v, hi);
}

/** @param {string} color */
function swatch(color) {
  const s = el("span", { class: "llks-swatch" });
  s.style.background = color;
  return s;
}
