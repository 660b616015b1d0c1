// The chart's axes and y scale: the y domain that fits the visible lines, the ticks and
// their labels, the y title that fits the plot's height, and the x axis's layer labels.
// Functions of the Chart (chart.js), which keeps the state they read.

import { svg } from "./dom.js";
import { formatDecimal } from "./format.js";
import { niceCeil, niceStep, shortRank, signed } from "./color.js";

/** @typedef {import("./chart.js").Chart} Chart */

const LOG_FLOOR = 1e-6;

/**
 * y domain [min, max] fitting every visible line.
 * @param {Chart} c
 */
export function domain(c) {
  const axis = c.axis();
  if (axis === "rank") return [1, Math.max(2, c.k)];
  if (axis === "rank-log") {
    const [, hi] = c.extent();
    return [1, 10 ** Math.max(1, Math.ceil(Math.log10(Math.max(hi, c.k, 2)) - 1e-9))];
  }
  if (c.metric === "logprob") {
    const [lo] = c.extent();
    return [-niceCeil(Math.max(1, Number.isFinite(lo) ? -lo : 1)), 0];
  }
  if (c.metric === "delta") {
    const [lo, hi] = c.extent();
    const m = Math.max(Number.isFinite(lo) ? -lo : 0, Number.isFinite(hi) ? hi : 0);
    const d = Math.min(1, niceCeil(m || 0.1));
    return [-d, d];
  }
  if (c.metric === "kl") {
    const [, hi] = c.extent();
    return [0, niceCeil(Number.isFinite(hi) && hi > 0 ? hi : 1)];
  }
  const [a, b] = c.range();
  let max = 0;
  let min = 1;
  for (const line of c.visible()) {
    for (let l = a; l <= b; l++) {
      const v = line.values[l];
      if (v > max) max = v;
      if (v > 0 && v < min) min = v;
    }
  }
  if (c.axis() === "log") {
    return [10 ** Math.floor(Math.log10(Math.max(LOG_FLOOR, Math.min(min, 0.1)))), 1];
  }
  return [0, Math.min(1, niceCeil(max || 1))];
}

/**
 * @param {Chart} c
 * @param {number} left
 * @param {number} right
 */
export function drawYAxis(c, left, right) {
  const ticks = yTicks(c);
  const g = c.yAxis;
  g.replaceChildren();
  for (const v of ticks) {
    const y = c.y(v);
    g.append(svg("line", { x1: left, x2: right, y1: y, y2: y, class: "llk-gridline" }));
    const label = svg("text", {
      x: left - 4,
      y,
      "text-anchor": "end",
      "dominant-baseline": "middle",
    });
    label.textContent = formatTick(c, v);
    g.append(label);
  }
  const { top, bottom } = c.pads();
  const mid = (top + c.geo.height - bottom) / 2;
  // Rotated, its baseline sits one line height in from the left edge, whatever the font.
  c.yTitle.setAttribute("transform", `translate(${c.geo.fontSize} ${mid}) rotate(-90)`);
  c.yTitle.setAttribute("text-anchor", "middle");
  const titles = yTitles(c);
  // Rotated, the title runs along the plot's height: a longer one would reach up into the
  // grid (large text, short chart), so the longest that fits is shown.
  const room = c.geo.height - top - bottom + Math.min(top, bottom);
  c.yTitle.textContent = titles[titles.length - 1];
  for (const t of titles) {
    c.yTitle.textContent = t;
    if (textLength(c, c.yTitle) <= room) break;
  }
}

/**
 * The y axis title, longest first: the longest that fits is shown.
 * @param {Chart} c
 */
export function yTitles(c) {
  const log = c.scale === "log" ? " (log)" : "";
  switch (c.metric) {
    case "rank":
      // Exact ranks (payload targets) need no caveat; top-k ranks stop at k.
      return c.pinned.length && c.pinned.every((l) => l.exact)
        ? ["rank"]
        : ["rank (top-k only)", "rank"];
    case "logprob":
      return ["log-probability (nats)", "log p (nats)", "log p"];
    case "delta":
      return ["change of probability per layer", "\u0394 probability", "\u0394p"];
    case "kl":
      return [`KL to final output (${c.unit})`, `KL (${c.unit})`, "KL"];
    default:
      return [`probability${log}`, `prob.${log}`, `p${log}`];
  }
}

/**
 * px length of an SVG text, measured on a canvas: `getComputedTextLength` would force a
 * synchronous layout on every render (it cost ~18 ms of each same-run data update).
 * Estimated until the chart is in a document.
 * @param {Chart} c
 * @param {SVGElement} t
 */
export function textLength(c, t) {
  const text = t.textContent ?? "";
  const ctx = textContext(c, t);
  return ctx ? ctx.measureText(text).width : text.length * c.geo.fontSize * 0.55;
}

/**
 * A canvas set to `t`'s font; the font is read again only when the widget's size changes.
 * @param {Chart} c
 * @param {SVGElement} t
 */
export function textContext(c, t) {
  if (c.measure?.size !== c.geo.fontSize) {
    const font = t.isConnected ? getComputedStyle(t).font : "";
    if (!font) return null;
    const ctx = c.measure?.ctx ?? document.createElement("canvas").getContext("2d");
    if (!ctx) return null;
    c.measure = { ctx, size: c.geo.fontSize, font };
  }
  c.measure.ctx.font = c.measure.font;
  return c.measure.ctx;
}

/** @param {Chart} c */
export function yTicks(c) {
  const axis = c.drawnAxis;
  if (axis === "rank-log") {
    const out = [];
    for (let r = 1; r <= c.yMax; r *= 10) out.push(r);
    return out;
  }
  if (c.metric === "logprob") {
    const step = niceStep(-c.yMin);
    const out = [];
    for (let v = c.yMin; v <= 1e-9; v += step) out.push(Number(v.toPrecision(6)));
    return out;
  }
  if (c.metric === "delta") {
    return [-1, -0.5, 0, 0.5, 1].map((f) => Number((f * c.yMax).toPrecision(6)));
  }
  if (axis === "rank") {
    const step = Math.max(1, Math.ceil((c.yMax - 1) / 4));
    const out = [];
    for (let r = 1; r <= c.yMax; r += step) out.push(r);
    return out;
  }
  if (axis === "log") {
    const out = [];
    for (let v = c.yMin; v <= 1.0000001; v *= 10) out.push(Number(v.toPrecision(3)));
    return out;
  }
  return [0, 0.25, 0.5, 0.75, 1].map((f) => Number((f * c.yMax).toPrecision(6)));
}

/**
 * Plain decimals on every scale ("0.001", "0.01", "0.1", "1"; "0", "0.25"): one notation.
 * @param {Chart} c
 * @param {number} v
 */
export function formatTick(c, v) {
  if (c.metric === "rank") return shortRank(v);
  if (c.metric === "delta") return signed(v);
  if (c.metric === "logprob") return v === 0 ? "0" : signed(v);
  return formatDecimal(v, c.axis() === "log" ? 1 : 3);
}

/** @param {Chart} c */
export function drawXAxis(c) {
  const y = c.geo.height - Math.round(c.geo.fontSize * 0.5);
  const g = c.xAxis;
  // One title on the group serves every label (SVG shows the nearest ancestor's), where one
  // per label cost an element per layer on every first render.
  const title = svg("title");
  title.textContent = "drag to another layer to zoom; double-click to reset";
  g.replaceChildren(
    title,
    ...c.geo.cols.map((l) => {
      const t = svg("text", {
        x: c.x(l),
        y,
        "text-anchor": "middle",
        class: "llk-xtick",
        "data-l": l,
      });
      t.textContent = c.geo.labels?.[l] ?? String(c.geo.layers[l]);
      if (c.geo.kinds?.[l] === 1) t.classList.add("llk-xtick-attn");
      return t;
    }),
  );
}
