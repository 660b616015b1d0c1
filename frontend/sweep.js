// The patching sweep's panel (issue 20, trait `sweep`): a heat map of the effect of patching
// each (layer, position) of the clean run into the corrupted one, oriented as the grid is
// (positions down, headed by their tokens; layers across), colored by the normalized effect
// (sweepdata.js: 0 = corrupted, 1 = fully restored, diverging about 0). While it runs:
// done/total and Stop (`halt`); × closes it (`sweep_action` {action: "close"}); a click on a cell
// opens that patched run (`patch_cell` {layer, position}). Cells are built once per sweep shape
// and recolored in place as values arrive.

import "./sweep.css";
import { el } from "./dom.js";
import { setToken } from "./tokens.js";
import { cellTitle, effectBackground, normalized, readSweep } from "./sweepdata.js";
import { formatDecimal } from "./format.js";

/** @typedef {LlkSweep} Sweep declared in types.d.ts */

/**
 * @typedef {object} SweepCallbacks
 * @property {(msg: { layer: number, position: number }) => void} onPatch a cell was clicked
 * @property {() => void} onStop
 * @property {() => void} onClose
 */

export class SweepPanel {
  /**
   * @param {AbortSignal} signal
   * @param {SweepCallbacks} cb
   */
  constructor(signal, cb) {
    this.title = el("span", { class: "llk-sweep-title" });
    this.progress = el("span", { class: "llk-sweep-progress", attrs: { role: "status" } });
    this.stop = el("button", {
      class: "llk-btn llk-sweep-stop",
      text: "Stop",
      title: "stop the sweep; the values computed so far stay",
    });
    this.close = el("button", {
      class: "llk-btn llk-sweep-close",
      text: "\u00d7",
      title: "close the sweep",
      attrs: { "aria-label": "close the sweep" },
    });
    this.error = el("div", { class: "llk-sweep-error", attrs: { role: "alert" } });
    this.scale = el("div", { class: "llk-sweep-scale" });
    // A table, not a grid: its cells are read and clicked, not navigated with arrow keys, and
    // the lens grid stays the widget's one role=grid.
    this.grid = el("div", {
      class: "llk-sweep-grid",
      attrs: { role: "table", "aria-label": "effect of each patch" },
    });
    this.root = el(
      "div",
      { class: "llk-sweep", attrs: { role: "region", "aria-label": "patching sweep" } },
      [
        el("div", { class: "llk-sweep-head" }, [this.title, this.progress, this.stop, this.close]),
        this.error,
        this.scale,
        this.grid,
      ],
    );
    this.root.hidden = true;
    /** the sweep's shape the cells were built for */
    this.shape = "";
    /** @type {HTMLElement[][]} [layer][position] cells */
    this.cells = [];
    /** @type {Sweep | null} */
    this.sweep = null;
    this.live = false;
    const o = { signal };
    this.stop.addEventListener("click", () => cb.onStop(), o);
    this.close.addEventListener("click", () => cb.onClose(), o);
    this.grid.addEventListener(
      "click",
      (e) => {
        const cell = e.target instanceof Element ? e.target.closest(".llk-sweep-cell") : null;
        const s = this.sweep;
        if (!(cell instanceof HTMLElement) || !s || !this.live) return;
        const i = Number(cell.dataset.i);
        const j = Number(cell.dataset.j);
        cb.onPatch({ layer: s.layers[i], position: s.positions[j] });
      },
      o,
    );
  }

  /**
   * @param {unknown} raw the `sweep` trait
   * @param {{ heat: string, negative: string, live: boolean }} o the colors, and whether a
   *   kernel can act (Stop, ×, clicks)
   */
  render(raw, { heat, negative, live }) {
    const { sweep: s, problem } = readSweep(raw);
    this.sweep = s;
    this.live = live;
    this.root.hidden = !s && !problem;
    this.root.classList.toggle("llk-sweep-live", live);
    if (!s) {
      this.shape = "";
      this.cells = [];
      this.grid.replaceChildren();
      this.showError(problem ? `Cannot show the sweep: ${problem}` : "");
      this.title.textContent = "Patching sweep";
      this.progress.textContent = "";
      this.scale.textContent = "";
      this.stop.hidden = true;
      this.close.hidden = !live;
      return;
    }
    this.showError(s.error);
    this.title.textContent = `Patching sweep: ${s.metric}, ${s.clean_label} patched into ${s.corrupt_label}`;
    this.progress.textContent = `${s.done}/${s.total}`;
    this.progress.title = s.running ? "patches computed so far" : "patches computed";
    this.stop.hidden = !(s.running && live);
    this.close.hidden = !live;
    const f = (/** @type {number} */ v) =>
      v < 0 ? `\u2212${formatDecimal(-v)}` : formatDecimal(v);
    this.scale.textContent =
      `color: the normalized effect, 0 = ${s.corrupt_label} (${f(s.corrupt_value)}), ` +
      `1 = ${s.clean_label} (${f(s.clean_value)}), below 0 in the other color` +
      (live ? "; click a cell to open that patched run" : "");
    const shape = JSON.stringify([s.layers, s.positions, s.tokens]);
    if (shape !== this.shape) this.build(s, shape);
    s.values.forEach((row, i) => {
      row.forEach((v, j) => {
        const cell = this.cells[i][j];
        const title = cellTitle(s, i, j);
        cell.title = title;
        cell.setAttribute("aria-label", title);
        cell.classList.toggle("llk-sweep-pending", v === null);
        cell.textContent = v === null ? "\u00b7" : "";
        cell.style.background = effectBackground(
          normalized(v, s.clean_value, s.corrupt_value),
          heat,
          negative,
        );
      });
    });
  }

  /** @param {string} text */
  showError(text) {
    this.error.textContent = text;
    this.error.hidden = !text;
  }

  /**
   * The heat map's cells for a sweep's layers and positions.
   * @param {Sweep} s
   * @param {string} shape
   */
  build(s, shape) {
    this.shape = shape;
    const L = s.layers.length;
    this.grid.style.gridTemplateColumns = `fit-content(14em) repeat(${L}, minmax(1.6em, 1fr))`;
    const head = [
      el("div", { class: "llk-sweep-corner", text: "layer", attrs: { role: "columnheader" } }),
      ...s.layers.map((layer) =>
        el("div", {
          class: "llk-sweep-layer",
          text: String(layer),
          attrs: { role: "columnheader" },
        }),
      ),
    ];
    /** @type {HTMLElement[][]} */
    const cells = s.layers.map(() => []);
    const rows = s.positions.map((position, j) => {
      const token = el("div", {
        class: "llk-sweep-token",
        title: `position ${position}`,
        attrs: { role: "rowheader" },
      });
      setToken(token, s.tokens[j]);
      const row = s.layers.map((_, i) => {
        const cell = el("div", {
          class: "llk-sweep-cell",
          attrs: { role: "cell", "data-i": String(i), "data-j": String(j) },
        });
        cells[i][j] = cell;
        return cell;
      });
      return el("div", { class: "llk-sweep-row", attrs: { role: "row" } }, [token, ...row]);
    });
    this.cells = cells;
    this.grid.replaceChildren(
      el("div", { class: "llk-sweep-row", attrs: { role: "row" } }, head),
      ...rows,
    );
  }
}
