// The color bar above the grid: what a cell's color means in the current mode, with units.
// Without it, entropy coloring read backwards to most users (darker = more uncertain).

import { el } from "./dom.js";
import { cellBackground } from "./color.js";
import { formatDecimal, inUnit } from "./format.js";

/** @typedef {import("./lens.js").Lens} Lens */
/** @typedef {import("./color.js").ColorMode} ColorMode */
/** @typedef {import("./format.js").EntropyUnit} EntropyUnit */

/**
 * @typedef {object} Scale
 * @property {string} title what the color measures, with its unit
 * @property {string} low what a pale cell means
 * @property {string} high what a dark cell means
 * @property {{ at: number, value: number, text: string }[]} ticks at: 0..1 along the bar
 *   (the cell intensity of that value); value in the shown unit
 * @property {boolean} entropy the unit can switch between nats and bits
 */

/**
 * Round tick steps over [0, max]: about four intervals of 1, 2, 2.5 or 5 × 10^n.
 * @param {number} max
 */
export function niceStep(max) {
  const raw = max / 4;
  const e = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 2.5, 5]) if (m * e >= raw) return m * e;
  return 10 * e;
}

/**
 * The scale of a color mode for this data, or null when no cell is colored (mode "none",
 * no token chosen, no entropy in the data).
 * @param {Lens} lens
 * @param {ColorMode} mode
 * @param {string} target the colored token or group, as shown ("" if none)
 * @param {EntropyUnit} unit
 * @returns {Scale | null}
 */
export function colorScale(lens, mode, target, unit) {
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
      const max = inUnit(lens.maxEntropy, unit);
      const step = niceStep(max);
      const ticks = [];
      for (let v = 0; v < max - step * 0.35; v += step) {
        const value = Number(v.toPrecision(6));
        ticks.push({ at: value / max, value, text: formatDecimal(value) });
      }
      ticks.push({ at: 1, value: max, text: max.toFixed(2) });
      return {
        title: `entropy (${unit})`,
        low: "certain",
        high: "uncertain",
        ticks,
        entropy: true,
      };
    }
    default:
      return null;
  }
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
      title: "show entropy in nats (natural log) or bits (log base 2)",
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
   * @param {string} color the mode's "#rrggbb"
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
    this.ramp.style.background = `linear-gradient(to right, ${cellBackground(color, 0)}, ${cellBackground(color, 0.5)}, ${cellBackground(color, 1)})`;
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
