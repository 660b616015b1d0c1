// Text widths for fitting columns to their tokens, measured on a canvas (no layout, no DOM
// insertion) and cached: a layout runs on every step of a drag.

import { showToken } from "./tokens.js";
import { CELL_OK } from "./lens.js";

/** @typedef {import("./lens.js").Lens} Lens */

/** Measured strings kept per font before the cache starts afresh. */
const CACHE_LIMIT = 20000;

export class ColumnText {
  /** @param {HTMLElement} gridRoot the element whose font the cells inherit */
  constructor(gridRoot) {
    this.gridRoot = gridRoot;
    /** @type {CanvasRenderingContext2D | null | undefined} undefined until first asked */
    this.ctx = undefined;
    this.family = "";
    /** @type {Lens | null} */
    this.lens = null;
    this.size = 0;
    /** @type {Map<number, number>} lens row → px of its widest top-1 token */
    this.rows = new Map();
    /** @type {Map<string, number>} font + text → px */
    this.texts = new Map();
  }

  /**
   * px the widest top-1 token of lens row l takes at font size `size` (0 if unmeasurable).
   * @param {Lens} lens
   * @param {number} l
   * @param {number} size px
   */
  widest(lens, l, size) {
    if (lens !== this.lens || size !== this.size) {
      this.lens = lens;
      this.size = size;
      this.rows.clear();
    }
    const known = this.rows.get(l);
    if (known !== undefined) return known;
    const ctx = this.context();
    if (!ctx) return 0;
    ctx.font = `${l === lens.finalRow ? "700 " : ""}${size}px ${this.family}`;
    let max = 0;
    /** @type {Set<number>} */
    const seen = new Set();
    for (let p = 0; p < lens.P; p++) {
      if (lens.status(l, p) !== CELL_OK) continue;
      const id = lens.topId(l, p);
      if (seen.has(id)) continue;
      seen.add(id);
      const text = showToken(lens.token(id)).text;
      const key = `${ctx.font}\u0000${text}`;
      let w = this.texts.get(key);
      if (w === undefined) {
        if (this.texts.size > CACHE_LIMIT) this.texts.clear();
        w = ctx.measureText(text).width;
        this.texts.set(key, w);
      }
      if (w > max) max = w;
    }
    this.rows.set(l, max);
    return max;
  }

  context() {
    if (!this.family) {
      // Known only once the widget is in a document (a host may build it detached).
      const family = this.gridRoot.isConnected ? getComputedStyle(this.gridRoot).fontFamily : "";
      if (!family) return null;
      this.family = family;
    }
    if (this.ctx === undefined) this.ctx = document.createElement("canvas").getContext("2d");
    return this.ctx;
  }
}
