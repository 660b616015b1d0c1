// The layers × positions grid: one row per input position, one column per shown lens row.
// Rows are virtualized (only those in view exist in the DOM), so 2,000-token prompts scroll
// smoothly and a re-color touches a few hundred cells, not all of them.

import { el, focusedElement } from "./dom.js";
import { setToken } from "./tokens.js";
import { cellBackground, STRONG } from "./color.js";
import { CELL_OK, CELL_INVALID, POS_GENERATED, POS_TEMPLATE } from "./lens.js";
import { appendCommitMarks, inputCell } from "./gridrow.js";
import { headCells } from "./gridhead.js";
import { columnWindow, scrollToColumn, whenIdle } from "./colwindow.js";
import { inkOn, THEME_BG } from "./ink.js";

/** @typedef {import("./lens.js").Lens} Lens */

/** Rows rendered beyond each edge of the view, so a fast wheel shows no blank strip. */
const OVERSCAN = 6;

const INVALID_TITLE = "the model's output here is not finite (NaN/Inf)";
const PENDING_TITLE = "still computing";

export class Grid {
  /** @param {AbortSignal} signal removes the grid's listeners */
  constructor(signal) {
    this.corner = el("div", {
      class: "llk-corner llk-head-cell",
      text: "Input",
      attrs: { role: "columnheader" },
    });
    this.corner.append(
      el("div", { class: "llk-resize-input", title: "drag to resize the input column" }),
    );
    this.head = el("div", { class: "llk-head", attrs: { role: "row", "aria-rowindex": "1" } });
    this.body = el("div", { class: "llk-body", attrs: { role: "rowgroup" } });
    this.root = el("div", { class: "llk-grid", attrs: { role: "grid" } }, [this.head, this.body]);
    /** @type {Lens | null} */
    this.lens = null;
    /** @type {Lens | null} side B, when its reliability strip shows (setLensB) */
    this.lensB = null;
    /** @type {number[]} lens rows shown as columns */
    this.cols = [];
    /** @type {(l: number, p: number) => number | null} */
    this.intensity = () => null;
    this.color = "#2b6cd4";
    /** @type {((l: number, p: number) => boolean) | null} cells an edit touches (edits.js) */
    this.touched = null;
    /** @type {Map<string, [string, string]>} text color over the light and the dark theme, by cell background */
    this.inks = new Map();
    this.rowHeight = 20;
    this.inputWidth = 110;
    /** @type {number[]} px of each shown column (layout.js fits them to the width and text) */
    this.widths = [];
    /** grid-template-columns of the header and of every row */
    this.template = "";
    /** @type {Map<number, HTMLElement>} rendered rows by position */
    this.rows = new Map();
    /** @type {Map<number, number>} pinned position → its dash index */
    this.pinnedRows = new Map();
    /** active (focusable) cell: column index and position */
    this.active = { ci: 0, p: 0 };
    /** @type {{ ci: number, p: number } | null} */
    this.selected = null;
    /** @type {[number, number]} the columns built, [first, end) (colwindow.js) */
    this.span = [0, 0];
    /** re-renders are held back (batch) */
    this.held = false;
    /** a re-render was asked for while held */
    this.stale = false;
    /**
     * A rebuild makes only the rows and columns in view; the ones beyond the edges follow
     * once the browser is idle (about a third of a first render's cells, style and paint).
     */
    this.lean = false;
    this.filling = false;
    this.signal = signal;
    this.root.addEventListener("scroll", () => this.renderRows(), { signal, passive: true });
  }

  /**
   * @param {Lens | null} lens
   * @param {boolean} [extended] the same run with more in it (same layers, the same positions
   *   and maybe more after them): keep the columns, the active and selected cell and the
   *   scroll, re-render the rows
   */
  setLens(lens, extended = false) {
    const before = this.lens?.P ?? 0;
    this.lens = lens;
    if (extended && lens) {
      if (lens.P !== before) this.grow(lens.P);
      this.invalidate();
      return;
    }
    this.cols = []; // new layers: the header must be rebuilt even if the count is the same
    this.root.setAttribute("aria-rowcount", String((lens?.P ?? 0) + 1));
    this.active = { ci: 0, p: 0 };
    this.selected = null;
    this.body.style.height = `${(lens?.P ?? 0) * this.rowHeight}px`;
    this.invalidate();
  }

  /**
   * @param {number[]} cols lens rows shown
   * @param {number} input width of the input column, px
   * @param {number[]} widths width of each shown column, px
   */
  setColumns(cols, input, widths) {
    this.inputWidth = input;
    this.widths = widths;
    this.applyTemplate();
    const same = cols.length === this.cols.length && cols.every((l, i) => l === this.cols[i]);
    if (same && this.head.childElementCount === cols.length + 1) {
      // Narrower columns bring more of them into view.
      if (this.lens && this.span.join() !== this.columnSpan().join()) this.invalidate();
      return;
    }
    this.cols = cols;
    this.active.ci = Math.min(this.active.ci, Math.max(0, cols.length - 1));
    this.root.setAttribute("aria-colcount", String(cols.length + 1));
    this.renderHead();
    this.invalidate();
  }

  /**
   * The column template is set on each rendered row rather than through an inherited CSS
   * variable: a changed variable restyles every cell, which made a column-drag step cost
   * about twice as much; a non-inherited property on ~30 rows only re-lays them out.
   */
  applyTemplate() {
    const template = [this.inputWidth, ...this.widths].map((w) => `${w}px`).join(" ");
    if (template === this.template) return;
    this.template = template;
    this.head.style.gridTemplateColumns = template;
    for (const row of this.rows.values()) row.style.gridTemplateColumns = template;
  }

  /**
   * @param {(l: number, p: number) => number | null} intensity
   * @param {string} color
   */
  setColoring(intensity, color) {
    this.intensity = intensity;
    this.color = color;
    this.invalidate();
  }

  /**
   * @param {number} rowHeight px
   * @param {number} maxHeight px of the grid's scrolling box
   */
  setSizes(rowHeight, maxHeight) {
    this.root.style.maxHeight = `${maxHeight}px`;
    this.setRowHeight(rowHeight);
  }

  /**
   * More positions in the same run (a generation adds one per token): the body grows, the
   * scroll stays, unless the view was at the bottom with no popup anchored in the grid: then
   * it follows the newest row.
   * @param {number} P
   */
  grow(P) {
    const g = this.root;
    const follow =
      this.selected === null && g.scrollTop + g.clientHeight >= g.scrollHeight - this.rowHeight / 2;
    g.setAttribute("aria-rowcount", String(P + 1));
    this.body.style.height = `${P * this.rowHeight}px`;
    if (follow) g.scrollTop = g.scrollHeight;
  }

  /** Width the vertical scrollbar takes from the columns (forces a layout). */
  scrollbarWidth() {
    const g = this.root;
    g.style.overflowY = "scroll";
    const w = g.offsetWidth - g.clientWidth - 2;
    g.style.overflowY = "";
    return w;
  }

  /** @param {number} px */
  setRowHeight(px) {
    if (px === this.rowHeight) return;
    this.rowHeight = px;
    this.body.style.height = `${(this.lens?.P ?? 0) * px}px`;
    this.invalidate();
  }

  /** @param {number[]} positions */
  setPinnedRows(positions) {
    const same =
      positions.length === this.pinnedRows.size &&
      positions.every((p, i) => this.pinnedRows.get(p) === i);
    if (same) return;
    this.pinnedRows = new Map(positions.map((p, i) => [p, i]));
    this.invalidate();
  }

  /**
   * Run `fn` with re-renders held back, then render the rows once: new data sets the lens,
   * the columns and the colors, and each would otherwise rebuild (and lay out) every row in
   * view, three times the first render's work.
   * @param {() => void} fn
   */
  batch(fn) {
    if (this.held) return fn();
    this.held = true;
    try {
      fn();
    } finally {
      this.held = false;
      if (this.stale) this.invalidate();
    }
  }

  /** Drop every rendered row and render the view again (once, after a batch). */
  invalidate() {
    if (this.held) {
      this.stale = true;
      return;
    }
    this.stale = false;
    this.lean = true;
    this.keepFocus(() => {
      for (const row of this.rows.values()) row.remove();
      this.rows.clear();
      this.renderRows();
    });
  }

  /**
   * Rebuilt cells must not steal keyboard focus from the user.
   * @param {() => void} fn rebuilds rows
   */
  keepFocus(fn) {
    const hadFocus = this.root.contains(focusedElement(this.root));
    fn();
    if (hadFocus) this.cellAt(this.active.ci, this.active.p)?.focus({ preventScroll: true });
  }

  renderHead() {
    this.head.replaceChildren(this.corner, ...headCells(this.lens, this.cols, this.lensB));
    // The reliability strips (gridhead.js) make the header taller: the rows' offsets follow.
    const a = Boolean(this.lens?.reliability);
    this.root.classList.toggle("llk-has-rel", a || this.lensB !== null);
    this.root.classList.toggle("llk-has-rel-b", a && this.lensB !== null);
  }

  /**
   * Side B of a diff: its reliability strip shows when it is another lens with reliability.
   * @param {Lens | null} lensB
   */
  setLensB(lensB) {
    const b = lensB?.reliability && lensB.lensName !== this.lens?.lensName ? lensB : null;
    if (b === this.lensB) return;
    this.lensB = b;
    this.renderHead();
  }

  /** The columns to build for the current sideways scroll (reads layout). */
  columnSpan() {
    const g = this.root;
    const pad = this.lean ? 0 : undefined;
    return columnWindow(this.widths, this.inputWidth, g.scrollLeft, g.clientWidth, pad);
  }

  /** Create the rows now in view and remove those scrolled out. */
  renderRows() {
    const lens = this.lens;
    if (!lens) return;
    const span = this.columnSpan();
    if (span[0] !== this.span[0] || span[1] !== this.span[1]) {
      // Scrolled sideways past the built columns: build the rows again with those now in view.
      this.span = span;
      for (const row of this.rows.values()) row.remove();
      this.rows.clear();
    }
    const h = this.rowHeight;
    const top = Math.max(0, this.root.scrollTop - this.head.offsetHeight);
    const view = this.root.clientHeight || h * 30;
    const pad = this.lean ? 0 : OVERSCAN;
    const start = Math.max(0, Math.floor(top / h) - pad);
    const end = Math.min(lens.P, Math.ceil((top + view) / h) + pad);
    // The active cell's row stays rendered even when scrolled away: it holds the grid's one
    // tabbable cell and maybe the keyboard focus, which would otherwise fall to <body>.
    const keep = this.active.p;
    for (const [p, row] of this.rows) {
      if ((p < start || p >= end) && p !== keep) {
        row.remove();
        this.rows.delete(p);
      }
    }
    for (let p = start; p < end; p++) this.ensureRow(lens, p);
    if (keep < lens.P) this.ensureRow(lens, keep);
    if (this.lean && !this.filling) {
      this.filling = true;
      whenIdle(() => this.fill(), this.signal);
    }
  }

  /**
   * @param {Lens} lens
   * @param {number} p
   */
  ensureRow(lens, p) {
    if (this.rows.has(p)) return;
    const row = this.buildRow(lens, p);
    this.rows.set(p, row);
    this.body.append(row);
  }

  /**
   * @param {Lens} lens
   * @param {number} p
   */
  buildRow(lens, p) {
    const row = el("div", {
      class: "llk-row",
      attrs: { role: "row", "aria-rowindex": String(p + 2), "data-p": String(p) },
    });
    const kind = lens.kind(p);
    if (kind === POS_TEMPLATE) row.dataset.kind = "template";
    else if (kind === POS_GENERATED) row.dataset.kind = "generated";
    row.style.transform = `translateY(${p * this.rowHeight}px)`;
    row.style.gridTemplateColumns = this.template;
    row.append(inputCell(lens, p, this.pinnedRows.get(p)));
    const { active, selected } = this;
    // Only the columns in view, the row's active and selected cells wherever they are
    // (keyboard focus, the popup's anchor) and the final layer's (the answer, measured as a
    // whole); placed by grid-column when not from the first.
    const [first, end] = this.span;
    const built = [];
    for (let ci = first; ci < Math.min(end, this.cols.length); ci++) built.push(ci);
    const extra = [this.cols.indexOf(lens.finalRow), active.p === p ? active.ci : -1];
    if (selected?.p === p) extra.push(selected.ci);
    for (const ci of extra) {
      if (ci >= 0 && (ci < first || ci >= end) && !built.includes(ci)) built.push(ci);
    }
    const place = first > 0 || built.length !== end - first;
    for (const ci of built) {
      const cell = this.buildCell(lens, p, ci, place);
      if (cell) row.append(cell);
    }
    appendCommitMarks(lens, p, row, this.cols);
    return row;
  }

  /**
   * The cell of column ci in row p, or null when ci is not a shown column.
   * @param {Lens} lens
   * @param {number} p
   * @param {number} ci
   * @param {boolean} place set its grid column (it is not where the order puts it)
   */
  buildCell(lens, p, ci, place) {
    const l = this.cols[ci];
    if (l === undefined) return null;
    const { active, selected } = this;
    const cell = document.createElement("div");
    cell.className = l === lens.finalRow ? "llk-cell llk-final" : "llk-cell";
    cell.setAttribute("role", "gridcell");
    cell.dataset.ci = String(ci);
    if (place) cell.style.gridColumn = String(ci + 2);
    const status = lens.status(l, p);
    if (status === CELL_OK) {
      setToken(cell, lens.token(lens.topId(l, p)));
      const a = this.intensity(l, p);
      if (a !== null) {
        const bg = cellBackground(this.color, a);
        cell.style.background = bg;
        if (a > STRONG) {
          // The text color follows the cell's actual background in either theme; the CSS
          // picks the one of the theme shown (so a theme change needs no re-render).
          let ink = this.inks.get(bg);
          if (!ink) {
            ink = [inkOn(bg, THEME_BG.light), inkOn(bg, THEME_BG.dark)];
            this.inks.set(bg, ink);
          }
          cell.classList.add("llk-strong");
          cell.style.setProperty("--llk-ink-light", ink[0]);
          cell.style.setProperty("--llk-ink-dark", ink[1]);
        }
      }
    } else {
      // No number of such a cell is real: no token, no color.
      const invalid = status === CELL_INVALID;
      cell.textContent = invalid ? "NaN" : "\u2026";
      cell.classList.add(invalid ? "llk-invalid" : "llk-pending");
      cell.title = invalid ? INVALID_TITLE : PENDING_TITLE;
    }
    cell.tabIndex = active.p === p && active.ci === ci ? 0 : -1;
    if (selected && selected.p === p && selected.ci === ci) cell.classList.add("llk-selected");
    if (this.touched?.(l, p)) cell.classList.add("llk-touched");
    return cell;
  }

  /**
   * Rows built lean get the columns they lack (the overscan) in column order, without being
   * rebuilt: a first render builds each row once. Then the overscan rows are added.
   */
  fill() {
    this.filling = false;
    this.lean = false;
    const lens = this.lens;
    if (!lens) return;
    const span = this.columnSpan();
    const [first, end] = this.span;
    if (span[0] <= first && span[1] >= end) {
      for (const [p, row] of this.rows) {
        const cells = row.querySelectorAll(":scope > .llk-cell");
        const have = new Set([...cells].map((c) => /** @type {HTMLElement} */ (c).dataset.ci));
        const add = (/** @type {number} */ ci, /** @type {Element | null} */ at) => {
          const cell = have.has(String(ci)) ? null : this.buildCell(lens, p, ci, true);
          if (cell) (at ?? /** @type {Element} */ (row.firstElementChild)).after(cell);
          return cell ?? at;
        };
        let at = /** @type {Element | null} */ (row.firstElementChild);
        for (let ci = span[0]; ci < first; ci++) at = add(ci, at);
        at = cells[end - first - 1] ?? at;
        for (let ci = end; ci < span[1]; ci++) at = add(ci, at);
      }
      this.span = span;
    }
    this.renderRows();
  }

  /**
   * The rendered cell element at (ci, p), or null when that row is scrolled out of view.
   * @param {number} ci
   * @param {number} p
   * @returns {HTMLElement | null}
   */
  cellAt(ci, p) {
    const row = this.rows.get(p);
    if (!row) return null;
    const at = /** @type {HTMLElement | undefined} */ (row.children[ci + 1 - this.span[0]]);
    if (at?.dataset.ci === String(ci)) return at;
    return row.querySelector(`:scope > .llk-cell[data-ci="${ci}"]`);
  }

  /**
   * The (lens row, position) of a cell element inside the grid, or null.
   * @param {EventTarget | null} target
   */
  locate(target) {
    const cell = target instanceof Element ? target.closest(".llk-cell") : null;
    if (!cell || !(cell instanceof HTMLElement) || !this.root.contains(cell)) return null;
    const p = Number(/** @type {HTMLElement} */ (cell.parentElement).dataset.p);
    const ci = Number(cell.dataset.ci);
    return { ci, p, l: this.cols[ci], cell };
  }

  /**
   * Position of an input (row header) cell under `target`, or null.
   * @param {EventTarget | null} target
   */
  locateInput(target) {
    const cell = target instanceof Element ? target.closest(".llk-input") : null;
    if (!cell || !this.root.contains(cell)) return null;
    return Number(/** @type {HTMLElement} */ (cell.parentElement).dataset.p);
  }

  /**
   * Make (ci, p) the focusable cell, scroll it into view and focus it.
   * @param {number} ci
   * @param {number} p
   */
  focusCell(ci, p) {
    const lens = this.lens;
    if (!lens || !this.cols.length) return;
    ci = Math.max(0, Math.min(this.cols.length - 1, ci));
    p = Math.max(0, Math.min(lens.P - 1, p));
    this.cellAt(this.active.ci, this.active.p)?.setAttribute("tabindex", "-1");
    this.active = { ci, p };
    scrollToColumn(this.root, this.widths, this.inputWidth, ci);
    this.scrollToRow(p);
    const cell = this.cellAt(ci, p);
    if (cell) {
      cell.tabIndex = 0;
      cell.focus({ preventScroll: true });
    }
  }

  /** @param {number} p */
  scrollToRow(p) {
    const h = this.rowHeight;
    const head = this.head.offsetHeight;
    const top = p * h;
    const view = this.root.clientHeight - head;
    if (top < this.root.scrollTop) this.root.scrollTop = top;
    else if (top + h > this.root.scrollTop + view) this.root.scrollTop = top + h - view;
    this.renderRows();
  }

  /** @param {{ ci: number, p: number } | null} sel */
  select(sel) {
    if (this.selected)
      this.cellAt(this.selected.ci, this.selected.p)?.classList.remove("llk-selected");
    this.selected = sel;
    if (sel) this.cellAt(sel.ci, sel.p)?.classList.add("llk-selected");
  }
}
