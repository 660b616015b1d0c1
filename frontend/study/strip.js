// The entropy strip: under the band chart, one cell per layer column colored by the mean
// entropy over the computed prompts (sequential colors from 0 to the largest mean), its
// value in the cell's title. Shown only when a quantity of kind "entropy" exists (the first
// one is used).

import { el } from "../dom.js";
import { columnCenter } from "./bandchart.js";
import { CI_HIGH, CI_LOW, MEAN, kindOf, summaryRow } from "./data.js";
import { SEQUENTIAL, colorAt, cssColor } from "./scale.js";

/** @typedef {import("./data.js").Study} Study */
/** @typedef {import("./bandchart.js").Columns} Columns */

export class EntropyStrip {
  constructor() {
    this.label = el("div", { class: "llks-strip-label" });
    this.cells = el("div", { class: "llks-strip-cells" });
    this.root = el("div", { class: "llks-strip", attrs: { role: "img" } }, [
      this.label,
      this.cells,
    ]);
  }

  /**
   * @param {Study} study
   * @param {Columns} cols
   */
  update(study, cols) {
    const q = study.quantities.findIndex((x) => x.kind === "entropy");
    this.root.hidden = q < 0 || study.L === 0;
    if (this.root.hidden) return;
    const quantity = study.quantities[q];
    const mean = summaryRow(study, q, MEAN);
    const low = summaryRow(study, q, CI_LOW);
    const high = summaryRow(study, q, CI_HIGH);
    let max = 0;
    for (const v of mean) if (v > max && v < Infinity) max = v;
    const fmt = kindOf("entropy").format;
    this.label.textContent = quantity.label;
    this.label.style.width = `${cols.left}px`;
    this.root.setAttribute(
      "aria-label",
      `mean ${quantity.label} per layer, from 0 (dark) to ${fmt(max)} (light)`,
    );
    const w = cols.plot / Math.max(1, study.L);
    /** @type {HTMLElement[]} */
    const cells = [];
    for (let i = 0; i < study.L; i++) {
      const v = mean[i];
      const cell = el("div", { class: "llks-strip-cell", attrs: { "data-index": String(i) } });
      cell.style.left = `${(columnCenter(cols, i) - cols.left - w / 2).toFixed(2)}px`;
      cell.style.width = `${w.toFixed(2)}px`;
      if (Number.isFinite(v)) {
        cell.style.background = cssColor(colorAt(SEQUENTIAL, max > 0 ? v / max : 0));
        const ci =
          Number.isFinite(low[i]) && Number.isFinite(high[i])
            ? ` (95% CI ${fmt(low[i])} – ${fmt(high[i])})`
            : "";
        cell.title = `layer ${study.layers[i]}: mean ${quantity.label} ${fmt(v)}${ci}`;
      } else {
        cell.classList.add("llks-nan");
        cell.title = `layer ${study.layers[i]}: no ${quantity.label} computed yet`;
      }
      cells.push(cell);
    }
    this.cells.style.width = `${cols.plot}px`;
    this.cells.replaceChildren(...cells);
  }
}
