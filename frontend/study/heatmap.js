// The heatmap: prompts (rows) × layers (columns, aligned with the band chart's x axis), one
// quantity at a time, on a canvas so 2,000 × 30 cells draw in about a millisecond.
//
// The canvas holds one pixel per cell (L × N): each value goes through a 256-color lookup
// table straight into ImageData, and CSS stretches the canvas to the columns' width and the
// rows' height with `image-rendering: pixelated`, so cell edges stay sharp at any
// devicePixelRatio without drawing devicePixelRatio² more pixels (bench/bench_study_view.py
// compares this with fillRect per row and full-resolution ImageData). NaN cells stay
// transparent: the background shows. The selected row is outlined by an element over the
// canvas, so selecting never redraws it.

import { el } from "../dom.js";
import { TOKEN_GLYPHS } from "../schema.js";
import { heatRange, kindOf, rowHeight } from "./data.js";
import { cssGradient, stopsOf, tableOf } from "./scale.js";

/** @typedef {import("./data.js").Study} Study */
/** @typedef {import("./bandchart.js").Columns} Columns */

/** Rows scroll inside this height (CSS px). */
export const MAX_HEIGHT = 600;
/** The most rows a canvas holds (browsers refuse taller canvases): later prompts are cut. */
export const MAX_ROWS = 32767;

export class Heatmap {
  /**
   * @param {AbortSignal} signal
   * @param {{ onSelect: (p: number) => void, onQuantity: (name: string) => void }} cb
   */
  constructor(signal, cb) {
    this.cb = cb;
    this.select = el("select", {
      class: "llks-heat-select",
      attrs: { "aria-label": "quantity the heatmap shows" },
    });
    this.barLow = el("span", { class: "llks-bar-end" });
    this.barHigh = el("span", { class: "llks-bar-end" });
    this.bar = el("span", { class: "llks-bar", attrs: { role: "img" } });
    this.barTitle = el("span", { class: "llks-bar-title" });
    this.gutter = el("div", { class: "llks-heat-gutter" });
    this.canvas = el("canvas", { class: "llks-heat-canvas" });
    this.mark = el("div", { class: "llks-heat-mark" });
    this.mark.hidden = true;
    this.scroll = el(
      "div",
      {
        class: "llks-heat-scroll",
        attrs: { tabindex: "0", role: "group", "aria-roledescription": "heatmap" },
      },
      [this.canvas, this.mark],
    );
    this.readout = el("div", { class: "llks-heat-readout", attrs: { "aria-live": "polite" } });
    this.root = el("div", { class: "llks-heat" }, [
      el("div", { class: "llks-heat-controls" }, [
        el("label", { class: "llks-heat-label" }, [el("span", { text: "heatmap " }), this.select]),
        el("span", { class: "llks-colorbar" }, [
          this.barLow,
          this.bar,
          this.barHigh,
          this.barTitle,
        ]),
      ]),
      el("div", { class: "llks-heat-body" }, [this.gutter, this.scroll]),
      this.readout,
    ]);
    /** @type {Study | null} */
    this.study = null;
    this.q = 0;
    this.rowH = 1;
    /** rows drawn: N, or MAX_ROWS when there are more prompts */
    this.rows = 0;
    /** @type {number | null} */
    this.selected = null;
    /** @type {Columns} */
    this.cols = { width: 600, left: 60, plot: 520, L: 0 };
    /** @type {ImageData | null} */
    this.image = null;
    const o = { signal };
    this.select.addEventListener("change", () => cb.onQuantity(this.select.value), o);
    this.canvas.addEventListener("pointermove", (e) => this.hover(...this.local(e)), o);
    this.canvas.addEventListener("pointerleave", () => this.showSelected(), o);
    this.canvas.addEventListener(
      "click",
      (e) => {
        const at = this.cellAt(...this.local(e));
        if (!at) return;
        this.setSelected(at.p);
        cb.onSelect(at.p);
      },
      o,
    );
    this.scroll.addEventListener("keydown", (e) => this.onKey(e), o);
  }

  /**
   * Draw the quantity `q` of `study` in the columns `cols`.
   * @param {Study} study
   * @param {number} q
   * @param {Columns} cols
   */
  update(study, q, cols) {
    this.study = study;
    this.q = q;
    this.cols = cols;
    this.rowH = rowHeight(study.N);
    this.rows = Math.min(study.N, MAX_ROWS);
    this.select.replaceChildren(
      ...study.quantities.map((x) => el("option", { text: x.label, attrs: { value: x.name } })),
    );
    const quantity = study.quantities[q];
    this.select.value = quantity?.name ?? "";
    this.gutter.style.width = `${cols.left}px`;
    this.gutter.textContent =
      this.rows < study.N ? `first ${this.rows} of ${study.N} prompts` : `${study.N} prompts`;
    this.scroll.style.width = `${cols.plot}px`;
    this.scroll.style.maxHeight = `${MAX_HEIGHT}px`;
    this.canvas.style.width = `${cols.plot}px`;
    this.canvas.style.height = `${this.rows * this.rowH}px`;
    this.scroll.setAttribute(
      "aria-label",
      `heatmap of ${quantity?.label ?? "nothing"}: ${study.N} prompts × ${study.L} layers. ` +
        "Up and Down select a prompt.",
    );
    this.draw();
    this.placeMark();
    this.showSelected();
  }

  draw() {
    const study = /** @type {Study} */ (this.study);
    const { L } = study;
    const N = this.rows;
    const q = this.q;
    if (this.canvas.width !== L) this.canvas.width = L;
    if (this.canvas.height !== N) this.canvas.height = N;
    const range = heatRange(study, q);
    this.drawBar(range);
    const ctx = this.canvas.getContext("2d");
    if (!ctx || !N || !L || q >= study.Q) return;
    if (!this.image || this.image.width !== L || this.image.height !== N) {
      this.image = ctx.createImageData(L, N);
    }
    const out = new Uint32Array(this.image.data.buffer);
    const lut = tableOf(stopsOf(range)).words;
    const block = study.values.subarray(q * study.N * L, (q * study.N + N) * L);
    if (range.log) {
      const k = 255 / Math.log(range.hi);
      for (let i = 0; i < block.length; i++) {
        const v = block[i];
        if (Number.isNaN(v))
          out[i] = 0; // transparent: the background shows
        else {
          const t = 255 - Math.log(Math.max(v, 1)) * k;
          out[i] = lut[t < 0 ? 0 : (t + 0.5) | 0];
        }
      }
    } else {
      const k = 255 / (range.hi - range.lo);
      const lo = range.lo;
      for (let i = 0; i < block.length; i++) {
        const v = block[i];
        if (Number.isNaN(v)) out[i] = 0;
        else {
          const t = (v - lo) * k;
          out[i] = lut[t <= 0 ? 0 : t >= 255 ? 255 : (t + 0.5) | 0];
        }
      }
    }
    ctx.putImageData(this.image, 0, 0);
  }

  /** @param {ReturnType<typeof heatRange>} range */
  drawBar(range) {
    const study = /** @type {Study} */ (this.study);
    const quantity = study.quantities[this.q];
    const kind = kindOf(quantity?.kind ?? "");
    this.bar.style.background = cssGradient(stopsOf(range));
    // Rank runs from the largest (pale end) to 1 (strongest color), like a probability.
    const [left, right] = range.log ? [range.hi, 1] : [range.lo, range.hi];
    this.barLow.textContent = range.any ? kind.tick(left) : "—";
    this.barHigh.textContent = range.any ? kind.tick(right) : "—";
    this.barTitle.textContent = quantity ? kind.axis : "";
    this.bar.setAttribute(
      "aria-label",
      range.any
        ? `color scale of ${quantity?.label}: ${kind.format(left)} to ${kind.format(right)}`
        : "no values computed yet",
    );
  }

  /**
   * A pointer event's position on the canvas, CSS px from its top left corner.
   * @param {MouseEvent} e
   * @returns {[number, number]}
   */
  local(e) {
    const r = this.canvas.getBoundingClientRect();
    return [e.clientX - r.left, e.clientY - r.top];
  }

  /**
   * The cell under a point of the canvas (CSS px), or null outside.
   * @param {number} x
   * @param {number} y
   */
  cellAt(x, y) {
    const study = this.study;
    if (!study?.L) return null;
    const l = Math.floor((x / this.cols.plot) * study.L);
    const p = Math.floor(y / this.rowH);
    if (l < 0 || l >= study.L || p < 0 || p >= this.rows) return null;
    return { l, p };
  }

  /**
   * @param {number} x
   * @param {number} y
   */
  hover(x, y) {
    const at = this.cellAt(x, y);
    if (!at) {
      this.showSelected();
      return;
    }
    const study = /** @type {Study} */ (this.study);
    const quantity = study.quantities[this.q];
    const v = study.values[(this.q * study.N + at.p) * study.L + at.l];
    const text = Number.isNaN(v) ? "not computed" : kindOf(quantity?.kind ?? "").format(v);
    const prompt = study.prompts[at.p];
    this.canvas.title = prompt;
    this.showRow(at.p, ` · layer ${study.layers[at.l]} · ${quantity?.label ?? ""} ${text}`);
  }

  /**
   * The readout: a prompt's number and full text (as text, never markup), then `rest`.
   * @param {number} p
   * @param {string} rest
   */
  showRow(p, rest) {
    const study = /** @type {Study} */ (this.study);
    this.readout.replaceChildren(
      el("span", { class: "llks-readout-index", text: `#${p} ` }),
      el("span", { class: "llks-readout-prompt", text: oneLine(study.prompts[p]) }),
      el("span", { class: "llks-readout-rest", text: rest }),
    );
  }

  showSelected() {
    const study = this.study;
    const p = this.selected;
    if (study && p !== null && p < study.N) this.showRow(p, " (selected)");
    else {
      this.readout.textContent = study?.N
        ? "Hover a row for its prompt; click (or Up/Down) to select it."
        : "No prompts.";
    }
  }

  /** @param {number | null} p */
  setSelected(p) {
    this.selected = p;
    this.placeMark();
    this.showSelected();
  }

  placeMark() {
    const p = this.selected;
    const study = this.study;
    this.mark.hidden = p === null || !study || p >= this.rows;
    if (this.mark.hidden || p === null) return;
    this.mark.style.width = `${this.cols.plot}px`;
    this.mark.style.top = `${p * this.rowH - 1}px`;
    this.mark.style.height = `${this.rowH + 2}px`;
  }

  /** Scroll the selected row into view. */
  reveal() {
    const p = this.selected;
    if (p === null) return;
    const top = p * this.rowH;
    const s = this.scroll;
    if (top < s.scrollTop) s.scrollTop = top;
    else if (top + this.rowH > s.scrollTop + s.clientHeight) {
      s.scrollTop = top + this.rowH - s.clientHeight;
    }
  }

  /** @param {KeyboardEvent} e */
  onKey(e) {
    const study = this.study;
    if (!study?.N) return;
    const page = Math.max(1, Math.floor(this.scroll.clientHeight / this.rowH) - 1);
    const p = this.selected;
    /** @type {Record<string, number>} */
    const moves = {
      ArrowDown: p === null ? 0 : p + 1,
      ArrowUp: p === null ? 0 : p - 1,
      PageDown: (p ?? 0) + page,
      PageUp: (p ?? 0) - page,
      Home: 0,
      End: this.rows - 1,
    };
    if (!Object.hasOwn(moves, e.key) || e.altKey || e.ctrlKey || e.metaKey) return;
    e.preventDefault();
    const next = Math.max(0, Math.min(this.rows - 1, moves[e.key]));
    if (next !== p) {
      this.setSelected(next);
      this.cb.onSelect(next);
    }
    this.reveal();
  }
}

/**
 * A prompt on one line: its line breaks drawn as the grid draws them (↵). A readout that
 * grew a line per break would move the heatmap under the pointer (JupyterLab re-anchors its
 * scroll), so a click would land on another prompt.
 * @param {string} text
 */
function oneLine(text) {
  return text.replace(/\r?\n/g, ` ${TOKEN_GLYPHS["\n"]} `);
}
