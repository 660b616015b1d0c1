// The color bar above the grid: what a cell's color means in the current mode, with units.
// Without it, entropy coloring read backwards to most users (darker = more uncertain).

import { el } from "./dom.js";
import { cellBackground, MINUS, NEGATIVE, niceStep, shortRank, signed } from "./color.js";
import { formatDecimal, inUnit } from "./format.js";

export { niceStep };

/** @typedef {import("./lens.js").Lens} Lens */
/** @typedef {import("./color.js").ColorMode} ColorMode */
/** @typedef {import("./format.js").EntropyUnit} EntropyUnit */
/** @typedef {import("./color.js").CellMetric} CellMetric */

/**
 * @typedef {object} Scale
 * @property {string} title what the color measures, with its unit
 * @property {string} low what a pale cell means
 * @property {string} high what a dark cell means
 * @property {{ at: number, value: number, text: string }[]} ticks at: 0..1 along the bar
 *   (the cell intensity of that value); value in the shown unit
 * @property {boolean} entropy the unit can switch between nats and bits
 * @property {boolean} [diverging] the bar runs from the second color (left, below 0)
 *   through none (0, in the middle) to the mode's color (right)
 */

/**
 * What the new modes' bars need besides the mode and the target's text.
 * @typedef {object} ScaleExtra
 * @property {CellMetric | null} [metric] the cells' metric (color.js cellMetric)
 * @property {string} [foil] the foil as shown (logprob_diff)
 * @property {string[]} [labels] the diff's two sides' names (diff_token, jsd)
 */

/**
 * The scale of a color mode for this data, or null when no cell is colored (mode "none",
 * no token chosen, no entropy in the data).
 * @param {Lens} lens
 * @param {ColorMode} mode
 * @param {string} target the colored token or group, as shown ("" if none)
 * @param {EntropyUnit} unit
 * @param {ScaleExtra} [extra]
 * @returns {Scale | null}
 */
export function colorScale(lens, mode, target, unit, extra = {}) {
  const percent = [0, 0.25, 0.5, 0.75, 1].map((v) => ({
    at: v,
    value: v * 100,
    text: `${v * 100}%`,
  }));
  switch (mode) {
    case "top1":
      return {
        title: "top-1 probability",
        low: "unsure",
        high: "confident",
        ticks: percent,
        entropy: false,
      };
    case "token":
    case "group":
      if (!target) return null;
      return {
        title: `${mode === "group" ? "summed probability of" : "probability of"} ${target}`,
        low: "unlikely",
        high: "likely",
        ticks: percent,
        entropy: false,
      };
    case "entropy": {
      // Intensity is entropy / the largest entropy of the data's computed cells.
      if (!lens.entropy || !(lens.maxEntropy > 0)) return null;
      return {
        title: `entropy (${unit})`,
        low: "certain",
        high: "uncertain",
        ticks: linearTicks(inUnit(lens.maxEntropy, unit)),
        entropy: true,
      };
    }
    case "kl": {
      // Intensity is KL / the largest KL of the shown lens rows' computed cells.
      const m = extra.metric;
      if (m?.mode !== "kl") return null;
      const max = inUnit(m.max, unit);
      return {
        title: `KL to final output (${unit})`,
        low: "like the output",
        high: "far from it",
        ticks: max > 0 ? linearTicks(max) : [{ at: 0, value: 0, text: "0" }],
        entropy: true,
      };
    }
    case "rank": {
      const m = extra.metric;
      if (m?.mode !== "rank" || !target) return null;
      return {
        title: `rank of ${target}${m.exact ? "" : " (top-k only)"}`,
        low: `rank ${shortRank(m.max)}`,
        high: "top-1",
        ticks: rankTicks(m.max),
        entropy: false,
      };
    }
    case "logprob_diff": {
      const m = extra.metric;
      if (m?.mode !== "logprob_diff" || !target || !extra.foil) return null;
      return {
        title: `log p(${target}) ${MINUS} log p(${extra.foil}) (nats)`,
        low: `favors ${extra.foil}`,
        high: `favors ${target}`,
        ticks: divergingTicks(m.max, (v) => signed(v)),
        entropy: false,
        diverging: true,
      };
    }
    case "delta": {
      const m = extra.metric;
      if (m?.mode !== "delta" || !target) return null;
      return {
        title: `change of p(${target}) from the previous layer (percentage points)`,
        low: "falling",
        high: "rising",
        ticks: divergingTicks(m.max, (v) => signed(v * 100)),
        entropy: false,
        diverging: true,
      };
    }
    case "diff_token": {
      const m = extra.metric;
      if (m?.mode !== "diff_token" || !target) return null;
      const [a, b] = extra.labels ?? ["A", "B"];
      return {
        title: `p(${target}): ${a} ${MINUS} ${b} (percentage points)`,
        low: `higher in ${b}`,
        high: `higher in ${a}`,
        ticks: divergingTicks(m.max, (v) => signed(v * 100)),
        entropy: false,
        diverging: true,
      };
    }
    case "jsd": {
      const m = extra.metric;
      if (m?.mode !== "jsd") return null;
      const [a, b] = extra.labels ?? ["A", "B"];
      const max = inUnit(m.max, unit);
      const ticks = linearTicks(max);
      ticks[ticks.length - 1].text = unit === "bits" ? "1" : "ln 2";
      return {
        title: `Jensen\u2013Shannon divergence of the top-k, ${a} vs ${b} (${unit})`,
        low: "alike",
        high: "disjoint",
        ticks,
        entropy: true,
      };
    }
    case "sublayer": {
      // Two hues, one per sub-layer: the cell's intensity is the larger part's |Δp|.
      const m = extra.metric;
      if (m?.mode !== "sublayer") return null;
      return {
        title: "which sub-layer moved the top-1 token more (|\u0394p|, percentage points)",
        low: "MLP moved it more",
        high: "attention moved it more",
        ticks: divergingTicks(m.max, (v) => formatDecimal(Math.abs(v) * 100)),
        entropy: false,
        diverging: true,
      };
    }
    default:
      return null;
  }
}

/**
 * Ticks over [0, max] at round steps, the last at max itself (2 decimals).
 * @param {number} max
 */
function linearTicks(max) {
  const step = niceStep(max);
  const ticks = [];
  for (let v = 0; v < max - step * 0.35; v += step) {
    const value = Number(v.toPrecision(6));
    ticks.push({ at: value / max, value, text: formatDecimal(value) });
  }
  ticks.push({ at: 1, value: max, text: max.toFixed(2) });
  return ticks;
}

/**
 * -max, -max/2, 0, max/2, max, placed as the diverging bar has them (0 in the middle).
 * @param {number} max
 * @param {(v: number) => string} text
 */
function divergingTicks(max, text) {
  return [-1, -0.5, 0, 0.5, 1].map((f) => {
    const value = Number((f * max).toPrecision(6));
    return { at: (f + 1) / 2, value, text: text(value) };
  });
}

/** The bar's width in its own em (widget.css .llk-cbar-bar). */
const BAR_EM = 20;
/** A tick label's character width, generously, and the least room between two labels. */
const CHAR_EM = 0.65;
const GAP_EM = 0.6;

/** @typedef {{ at: number, value: number, text: string }} Tick */

/**
 * Where a tick's label lies along the bar, in em: the first is drawn rightwards from its
 * point, the last leftwards, the others centered on it (widget.css .llk-cbar-tick).
 * @param {Tick} tick
 * @param {"first" | "middle" | "last"} place
 * @returns {[number, number]}
 */
function labelSpan(tick, place) {
  const w = tick.text.length * CHAR_EM;
  const x = tick.at * BAR_EM;
  if (place === "first") return [x, x + w];
  if (place === "last") return [x - w, x];
  return [x - w / 2, x + w / 2];
}

/**
 * The palest rank (`max`) and rank 1 at the bar's ends, and between them each of 10, 100,
 * ... whose label keeps GAP_EM from its neighbours, where the rank scale colors them
 * (1 - log(rank) / log(max)); palest first. ("47k" and "10k" once touched: "47k10k".)
 * @param {number} max
 * @returns {Tick[]}
 */
function rankTicks(max) {
  const at = (/** @type {number} */ r) => 1 - Math.log(r) / Math.log(max);
  /** @type {Tick[]} */
  const inner = [];
  for (let r = 10; r < max; r *= 10) inner.unshift({ at: at(r), value: r, text: shortRank(r) });
  const first = { at: 0, value: max, text: shortRank(max) };
  const last = { at: 1, value: 1, text: "1" };
  const kept = [first];
  const end = labelSpan(last, "last")[0];
  for (const t of inner) {
    const [left, right] = labelSpan(t, "middle");
    const prev = labelSpan(kept[kept.length - 1], kept.length === 1 ? "first" : "middle")[1];
    if (left - prev >= GAP_EM && end - right >= GAP_EM) kept.push(t);
  }
  kept.push(last);
  return kept;
}

export class ColorBar {
  /**
   * @param {AbortSignal} signal
   * @param {{ onUnit: (unit: EntropyUnit) => void }} cb
   */
  constructor(signal, cb) {
    this.title = el("span", { class: "llk-cbar-title" });
    this.low = el("span", { class: "llk-cbar-end" });
    this.high = el("span", { class: "llk-cbar-end" });
    this.ramp = el("div", { class: "llk-cbar-ramp", attrs: { "aria-hidden": "true" } });
    this.ticks = el("div", { class: "llk-cbar-ticks" });
    this.unit = el("button", {
      class: "llk-btn llk-cbar-unit",
      title: "show entropy and KL in nats (natural log) or bits (log base 2)",
    });
    /** @type {EntropyUnit} */
    this.unitValue = "nats";
    this.root = el("div", { class: "llk-colorbar", attrs: { role: "group" } }, [
      this.title,
      this.low,
      el("div", { class: "llk-cbar-bar" }, [this.ramp, this.ticks]),
      this.high,
      this.unit,
    ]);
    this.root.hidden = true;
    this.unit.addEventListener(
      "click",
      () => cb.onUnit(this.unitValue === "nats" ? "bits" : "nats"),
      { signal },
    );
  }

  /**
   * @param {Scale | null} scale
   * @param {string} color the mode's "#rrggbb" ("#rrggbb #rrggbb" when diverging: color.js)
   * @param {EntropyUnit} unit
   */
  render(scale, color, unit) {
    this.root.hidden = !scale;
    if (!scale) return;
    this.unitValue = unit;
    this.root.setAttribute("aria-label", `color scale: ${scale.title}`);
    this.title.textContent = scale.title;
    this.low.textContent = scale.low;
    this.high.textContent = scale.high;
    // The ramp runs through the very colors cells get (color.js), so a cell can be matched.
    const stops = scale.diverging ? [NEGATIVE + 1, NEGATIVE + 0.5, 0, 0.5, 1] : [0, 0.5, 1];
    this.ramp.style.background = `linear-gradient(to right, ${stops.map((a) => cellBackground(color, a)).join(", ")})`;
    this.ticks.replaceChildren(
      ...scale.ticks.map((t) => {
        const tick = el("span", {
          class: "llk-cbar-tick",
          text: t.text,
          attrs: { "data-value": String(t.value), "data-at": String(t.at) },
        });
        tick.style.left = `${t.at * 100}%`;
        return tick;
      }),
    );
    this.unit.hidden = !scale.entropy;
    this.unit.textContent = unit === "nats" ? "nats \u2192 bits" : "bits \u2192 nats";
  }
}
