// The chart's pointer interaction: the point tooltip with every line's value at the lens row
// under the pointer, and zooming by dragging one layer label onto another. Functions of the
// Chart (chart.js), whose listeners call them.

import { el, svg } from "./dom.js";
import { formatProb } from "./format.js";
import { signed } from "./color.js";
import { KL_UNDEFINED } from "./klundefined.js";

/** @typedef {import("./chart.js").Chart} Chart */
/** @typedef {import("./chart.js").Line} Line */

/** Where the point tooltip goes: right of the guide left of this fraction of the plot. */
const TIP_FLIP = 0.5;

/**
 * Lens row l in words for the point tooltip.
 * @param {Chart} c
 * @param {number} l
 */
export function rowTitle(c, l) {
  const n = `layer ${c.geo.layers[l]}`;
  if (!c.sublayers()) return n;
  const attn = c.geo.kinds?.[l] === 1;
  if (c.metric === "delta") {
    return attn ? `${n}: the attention's part` : `${n}: the MLP's part`;
  }
  return attn ? `${n}, after attention (before the MLP)` : `${n}, after the layer`;
}

/**
 * A line's value at one row, as the point tooltip says it.
 * @param {Chart} c
 * @param {number} v
 * @param {Line} line
 */
export function formatValue(c, v, line) {
  switch (c.metric) {
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
      return `${v.toFixed(3)} ${c.unit}`;
    default:
      return Number.isNaN(v) ? "not known" : formatProb(v);
  }
}

/**
 * Lens row nearest to a pixel x.
 * @param {Chart} c
 * @param {number} px
 */
export function rowAt(c, px) {
  const [a, b] = c.range();
  let best = a;
  let dist = Infinity;
  for (let l = a; l <= b; l++) {
    const d = Math.abs(c.x(l) - px);
    if (d < dist) [best, dist] = [l, d];
  }
  return best;
}

/**
 * @param {Chart} c
 * @param {PointerEvent} e
 */
export function localX(c, e) {
  return e.clientX - c.svg.getBoundingClientRect().left;
}

/**
 * @param {Chart} c
 * @param {PointerEvent} e
 */
export function onMove(c, e) {
  const px = localX(c, e);
  if (c.dragFrom !== null) {
    const x0 = c.x(c.dragFrom);
    c.zoomBand.setAttribute("x", String(Math.min(x0, px)));
    c.zoomBand.setAttribute("width", String(Math.abs(px - x0)));
    c.zoomBand.setAttribute("height", String(c.geo.height));
    return;
  }
  if (px < c.geo.inputWidth) {
    hideTooltip(c);
    return;
  }
  showPoint(c, rowAt(c, px));
}

/**
 * Guide, dots and a tooltip with every line's value at lens row l.
 * @param {Chart} c
 * @param {number} l
 */
export function showPoint(c, l) {
  const lines = c.visible();
  const x = c.x(l);
  c.guide.setAttribute("x1", String(x));
  c.guide.setAttribute("x2", String(x));
  const { top, bottom } = c.pads();
  c.guide.setAttribute("y1", String(top));
  c.guide.setAttribute("y2", String(c.geo.height - bottom));
  c.dots.replaceChildren();
  const rows = [el("div", { class: "llk-tip-head", text: rowTitle(c, l) })];
  for (const line of lines) {
    const v = line.values[l];
    if (Number.isFinite(v)) {
      c.dots.append(svg("circle", { cx: x, cy: c.y(v), r: 3, fill: line.color }));
    }
    // Unknown: a rank outside the top-k, a token not tracked there, or a cell with no
    // numbers (invalid or pending).
    const value = formatValue(c, v, line);
    const swatch = el("span", { class: "llk-swatch" });
    swatch.style.background = line.color;
    rows.push(
      el("div", { class: "llk-tip-row" }, [
        swatch,
        el("span", { text: `${line.label}: ${value}` }),
      ]),
    );
  }
  c.tooltip.replaceChildren(...rows);
  c.tooltip.hidden = false;
  // Beside the guide, on the side away from the last layers when near them: that is where
  // the lines change, and a tooltip over them would hide what it describes.
  const left0 = c.geo.inputWidth;
  const w = c.edges[c.edges.length - 1];
  const tipW = c.tooltip.offsetWidth;
  const right = x < left0 + (w - left0) * TIP_FLIP;
  const left = right ? Math.min(x + 12, w - tipW) : Math.max(0, x - 12 - tipW);
  c.tooltip.style.left = `${left}px`;
  c.tooltip.style.top = `${top}px`;
}

/** @param {Chart} c */
export function hideTooltip(c) {
  c.tooltip.hidden = true;
  c.dots.replaceChildren();
  c.guide.setAttribute("y2", "0");
  c.guide.setAttribute("y1", "0");
}

/**
 * @param {Chart} c
 * @param {PointerEvent} e
 */
export function onTickDown(c, e) {
  const t = e.target instanceof Element ? e.target.closest(".llk-xtick") : null;
  if (!t) return;
  e.preventDefault();
  c.dragFrom = Number(t.getAttribute("data-l"));
  c.svg.setPointerCapture?.(e.pointerId);
}

/**
 * @param {Chart} c
 * @param {PointerEvent} e
 */
export function onTickUp(c, e) {
  if (c.dragFrom === null) return;
  const from = c.dragFrom;
  const to = rowAt(c, localX(c, e));
  c.dragFrom = null;
  c.zoomBand.setAttribute("width", "0");
  if (to !== from) c.cb.onZoom(Math.min(from, to), Math.max(from, to));
}
