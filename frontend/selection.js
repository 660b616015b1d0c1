// Popup, selection and keyboard control of the grid: which cell is open, what its popup
// lists, the deeper list Python answers (`detail`), and the grid's and popup's pointer and
// key events. The Explorer hands in callbacks for what changes traits, like the other views.

import { Popup } from "./popup.js";
import { navigate } from "./interactions.js";
import { CELL_OK, CELL_INVALID } from "./lens.js";
import { DETAIL_K } from "./schema.js";
import { SideBDetail } from "./diff.js";
import { visibleBox } from "./visible.js";

/** @typedef {import("./lens.js").Lens} Lens */
/** @typedef {import("./grid.js").Grid} Grid */
/** @typedef {import("./channel.js").Channel} Channel */
/** @typedef {import("./channel.js").ChannelError} ChannelError */
/** @typedef {import("./popup.js").PopupContent} PopupContent */

/** Length of the list "more" asks Python for (a click asks for schema.js's DETAIL_K). */
export const MORE_K = 100;

const INVALID_NOTE = "The model's output here is not finite (NaN/Inf): no predictions to show.";
const PENDING_NOTE = "Still computing: this cell's predictions are on their way.";

/**
 * @typedef {object} SelectionCallbacks
 * @property {() => Lens | null} lens the shown data
 * @property {() => Set<number>} pinned ids pinned alone or in a group
 * @property {(l: number, p: number) => void} onOpen a cell's popup opened (lens row, position)
 * @property {(id: number, group: boolean) => void} onPin a popup row was clicked or Entered
 * @property {(p: number, id: number | null) => void} onHover show (or clear) a token's line
 * @property {(id: number) => void} onColorBy
 * @property {(p: number) => void} onToggleRow an input token was clicked
 * @property {() => void} onTrajectories Python's answer added trajectories to the shown Lens
 * @property {() => ({ b: Lens, labels: string[] } | null)} [diff] side B of a diff and the
 *   two sides' names: the popup lists side B's top-k beside side A's
 */

export class Selection {
  /**
   * @param {AbortSignal} signal
   * @param {{ root: HTMLElement, grid: Grid, channel: Channel }} parts root: the widget's
   * @param {SelectionCallbacks} cb
   */
  constructor(signal, parts, cb) {
    this.root = parts.root;
    this.grid = parts.grid;
    this.channel = parts.channel;
    this.cb = cb;
    this.popup = new Popup(signal, {
      onPin: (id, group) => this.pin(id, group),
      onHoverToken: (id) => cb.onHover(this.popup.cell?.p ?? 0, id),
      onColorBy: (id) => cb.onColorBy(id),
      onClose: () => this.close(true),
      onMore: () => this.loadDetail(MORE_K),
    });
    /** @type {{ l: number, p: number, run: number, ids: number[], k: number } | null} the deeper list */
    this.deep = null;
    /** @type {{ k: number, ctl: AbortController } | null} the `detail` request in flight */
    this.loading = null;
    /** why the last `detail` request failed, for the popup's foot */
    this.deepError = "";
    /** a diff's side B grows beside side A (diff.js) */
    this.detailB = new SideBDetail(
      this.channel,
      () => cb.diff?.()?.b ?? null,
      () => this.refresh(),
    );
    this.bind(signal);
  }

  get open() {
    return this.popup.open;
  }

  /** @param {AbortSignal} signal */
  bind(signal) {
    const o = { signal };
    const g = this.grid;
    g.body.addEventListener(
      "click",
      (e) => {
        const p = g.locateInput(e.target);
        if (p !== null) {
          this.cb.onToggleRow(p);
          return;
        }
        const hit = g.locate(e.target);
        if (hit) this.openCell(hit.ci, hit.p, "pointer");
      },
      o,
    );
    g.body.addEventListener(
      "pointerover",
      (e) => {
        const hit = g.locate(e.target);
        const lens = this.cb.lens();
        if (!hit || !lens) return;
        this.cb.onHover(
          hit.p,
          lens.status(hit.l, hit.p) === CELL_OK ? lens.topId(hit.l, hit.p) : null,
        );
      },
      o,
    );
    g.body.addEventListener("pointerleave", () => this.cb.onHover(0, null), o);
    g.root.addEventListener("keydown", (e) => this.onGridKey(e), o);
    this.popup.list.addEventListener("keydown", (e) => this.onPopupKey(e), o);
    this.root.addEventListener(
      "keydown",
      (e) => {
        if (e.key === "Escape" && this.open) {
          e.preventDefault();
          this.close(true);
        }
      },
      o,
    );
    const doc = this.root.ownerDocument;
    doc.addEventListener(
      "pointerdown",
      (e) => {
        if (!this.open) return;
        // Where the host draws the widget in a shadow root (marimo), a document listener
        // sees the shadow host as e.target: the event's own target is the path's first.
        const t = /** @type {Node} */ (e.composedPath()[0] ?? e.target);
        if (!this.popup.root.contains(t) && !g.locate(t)) this.close(false);
      },
      o,
    );
    // The popup is placed in viewport coordinates: follow its cell when the grid, the
    // notebook or the page scrolls (scroll does not bubble, so listen in the capture phase).
    const follow = (/** @type {Event} */ e) => {
      const t = e.composedPath()[0] ?? e.target;
      const inPopup = t instanceof Node && this.popup.root.contains(t);
      if (this.open && !inPopup) this.followAnchor();
    };
    doc.addEventListener("scroll", follow, { capture: true, passive: true, signal });
    doc.defaultView?.addEventListener("resize", follow, o);
  }

  /**
   * Open cell (ci, p)'s popup at once with what the data has, then ask Python for more.
   * @param {number} ci
   * @param {number} p
   * @param {"pointer" | "keyboard"} source keyboard: focus the popup's first row
   */
  openCell(ci, p, source) {
    const lens = this.cb.lens();
    if (!lens) return;
    const g = this.grid;
    if (g.active.ci !== ci || g.active.p !== p) g.focusCell(ci, p);
    const cell = g.cellAt(ci, p);
    if (!cell) return;
    g.select({ ci, p });
    const l = g.cols[ci];
    this.cancelDetail();
    this.deepError = "";
    this.popup.show(lens, l, p, this.content(lens, l, p), cell);
    // Ask for the deeper list first: messages reach the kernel in order, and selected_cell
    // and on_select callbacks must not delay the popup's growth.
    this.maybeLoad(lens, l, p);
    this.cb.onOpen(l, p);
    this.report(lens, l, p, null);
    if (source === "keyboard")
      /** @type {HTMLElement | null} */ (this.popup.list.firstElementChild)?.focus();
  }

  /**
   * A popup row pinned (or grouped, or unpinned): a token selection Python hears of too.
   * @param {number} id
   * @param {boolean} group
   */
  pin(id, group) {
    const lens = this.cb.lens();
    const c = this.popup.cell;
    this.cb.onPin(id, group);
    if (lens && c) this.report(lens, c.l, c.p, id);
  }

  /**
   * Tell Python's on_select callbacks (command `select`) about a selected cell (token null)
   * or token. Best effort: a widget without a kernel has no callbacks to run.
   * @param {Lens} lens
   * @param {number} l lens row
   * @param {number} p
   * @param {number | null} token
   */
  report(lens, l, p, token) {
    if (this.channel.available) this.channel.select(lens.layers[l], l, p, token).catch(() => {});
  }

  /**
   * Ask for the first deeper list unless this cell already has one (or cannot have one).
   * @param {Lens} lens
   * @param {number} l
   * @param {number} p
   */
  maybeLoad(lens, l, p) {
    const d = this.deep;
    const have = d !== null && d.l === l && d.p === p && d.run === lens.run;
    if (!have && !this.loading && lens.status(l, p) === CELL_OK)
      this.loadDetail(Math.max(DETAIL_K, lens.k));
  }

  /** Whether Python can be asked for deeper lists of the shown data. @param {Lens} lens */
  live(lens) {
    return this.channel.available && lens.run !== null;
  }

  /**
   * Invoke `detail` for the open cell. The answer's trajectories go into the Lens if it is
   * for the run still shown (else it is stale and dropped); the popup grows in place if it
   * still shows that cell.
   * @param {number} k
   */
  loadDetail(k) {
    const lens = this.cb.lens();
    const cell = this.popup.cell;
    if (!lens || !cell || lens.run === null || !this.live(lens)) return;
    this.cancelDetail();
    const ctl = new AbortController();
    this.loading = { k, ctl };
    this.deepError = "";
    this.refresh();
    const { l, p } = cell;
    // The lens row says which row of a layer with sub-layer rows (two rows share a number).
    const msg = { run: lens.run, layer: lens.layers[l], row: l, position: p, k };
    const done = () => {
      if (this.loading?.ctl === ctl) this.loading = null;
    };
    const sent = this.channel.detail(msg, lens.L, ctl.signal);
    this.detailB.load(k, l, p); // after side A's: messages reach the kernel in order
    sent.then(
      (d) => {
        done();
        const now = this.cb.lens();
        if (!now || now.run !== d.run || now.L !== lens.L) {
          this.refresh(); // stale: dropped; the popup stops saying "loading"
          return;
        }
        now.addTrajectories(p, d.ids, d.probs, d.tokens);
        const c = this.popup.cell;
        if (c && c.l === l && c.p === p) this.deep = { l, p, run: d.run, ids: d.ids, k };
        this.cb.onTrajectories();
      },
      (/** @type {ChannelError} */ err) => {
        done();
        if (err.kind === "abort") return;
        const c = this.popup.cell;
        if (!c || c.l !== l || c.p !== p) return;
        if (err.kind !== "stale") this.deepError = `no longer list: ${err.message}`;
        this.refresh();
      },
    );
  }

  cancelDetail() {
    this.loading?.ctl.abort();
    this.loading = null;
    this.detailB.cancel();
  }

  /**
   * The open popup's rows: the deeper list when Python answered for this cell and run, else
   * the data's own top-k; none for a cell without valid numbers.
   * @param {Lens} lens
   * @param {number} l
   * @param {number} p
   * @returns {PopupContent}
   */
  content(lens, l, p) {
    const pinned = this.cb.pinned();
    const st = lens.status(l, p);
    if (st !== CELL_OK) {
      return {
        entries: [],
        pinned,
        note: st === CELL_INVALID ? INVALID_NOTE : PENDING_NOTE,
        status: "",
        more: 0,
      };
    }
    const d = this.deep;
    const deep = d !== null && d.l === l && d.p === p && d.run === lens.run ? d : null;
    /** @type {{ id: number, prob: number }[]} */
    let entries = [];
    if (deep) {
      entries = deep.ids.map((id) => ({ id, prob: lens.trajectory(p, id)?.[l] ?? NaN }));
    } else {
      const base = lens.cellBase(l, p);
      for (let j = 0; j < lens.k; j++) {
        const id = lens.topkIds[base + j];
        if (id >= 0) entries.push({ id, prob: lens.topkProbs[base + j] });
      }
    }
    // Fewer ids than asked for means the vocabulary is exhausted: nothing more to ask.
    const exhausted = deep !== null && deep.ids.length < deep.k;
    const loading = this.loading;
    const more = this.live(lens) && !loading && !exhausted && entries.length < MORE_K ? MORE_K : 0;
    const status = loading ? `loading ${loading.k}\u2026` : this.deepError;
    return { entries, pinned, note: "", status, more, sideB: this.sideB(l, p) };
  }

  /**
   * Side B's top-k at cell (l, p) while a diff is shown; null without one.
   * @param {number} l
   * @param {number} p
   * @returns {import("./popup.js").PopupContent["sideB"]}
   */
  sideB(l, p) {
    const diff = this.cb.diff?.();
    if (!diff) return null;
    const { b, labels } = diff;
    /** @type {{ id: number, prob: number }[]} */
    const entries = [];
    let note = "";
    if (p >= b.P) note = `${labels[1]} has no position ${p}`;
    else if (b.status(l, p) !== CELL_OK) {
      note = b.status(l, p) === CELL_INVALID ? INVALID_NOTE : PENDING_NOTE;
    } else {
      const deep = this.detailB.entries(b, l, p);
      const base = b.cellBase(l, p);
      for (let j = 0; !deep && j < b.k; j++) {
        const id = b.topkIds[base + j];
        if (id >= 0) entries.push({ id, prob: b.topkProbs[base + j] });
      }
      if (deep) entries.push(...deep);
    }
    return { labels, entries, note, lens: b };
  }

  /** Refill the open popup in place (new pins, trajectories, same-run data) and re-place it. */
  refresh() {
    const lens = this.cb.lens();
    const cell = this.popup.cell;
    if (!lens || !cell || !this.open) return;
    this.popup.fill(lens, this.content(lens, cell.l, cell.p));
    this.followAnchor();
  }

  /**
   * Same-run data replaced the Lens: keep the popup, refill it, and ask for its deeper list
   * if the cell has just been computed.
   */
  dataExtended() {
    const lens = this.cb.lens();
    const cell = this.popup.cell;
    if (!lens || !cell || !this.open) return;
    this.refresh();
    this.maybeLoad(lens, cell.l, cell.p);
  }

  /** A new run: nothing of the old selection applies. */
  reset() {
    this.cancelDetail();
    this.deep = null;
    this.close(false);
  }

  /**
   * Keep the popup on its cell, or close it once the cell is out of the grid's or page's
   * view. The cell is looked up again each time: re-coloring rebuilds the rows.
   */
  followAnchor() {
    const g = this.grid;
    const sel = g.selected;
    const anchor = sel ? g.cellAt(sel.ci, sel.p) : null;
    const view = g.root.getBoundingClientRect();
    const head = g.head.getBoundingClientRect();
    // What the host shows of the grid: a cell scrolled under a notebook's menu bar is gone.
    const seen = visibleBox(g.root);
    const a = anchor?.getBoundingClientRect();
    const inView =
      a !== undefined &&
      a.bottom > Math.max(head.bottom, seen.top) &&
      a.top < Math.min(view.bottom, seen.bottom) &&
      a.right > Math.max(view.left + g.inputWidth, seen.left) &&
      a.left < Math.min(view.right, seen.right);
    if (anchor && inView) this.popup.place(anchor);
    else this.close(false);
  }

  /**
   * After the columns changed (width, stride, zoom), point the open popup at the column now
   * nearest to its layer, or close it when its row is gone.
   */
  reanchor() {
    const cell = this.popup.cell;
    const cols = this.grid.cols;
    if (!this.open) return;
    // Outside the shown range (a zoom) the nearest column would be some other layer's cell.
    if (!cell || !cols.length || cell.l < cols[0] || cell.l > cols[cols.length - 1]) {
      this.close(false);
      return;
    }
    this.grid.select({ ci: nearestColumn(cols, cell.l), p: cell.p });
    this.followAnchor();
  }

  /** @param {KeyboardEvent} e */
  onGridKey(e) {
    const g = this.grid;
    const lens = this.cb.lens();
    if (!lens || !g.locate(e.target)) return;
    const page = Math.max(1, Math.floor(g.root.clientHeight / g.rowHeight) - 1);
    const next = navigate(e.key, g.active, { cols: g.cols.length, rows: lens.P, page });
    if (next) {
      e.preventDefault();
      g.focusCell(next.ci, next.p);
      if (this.open) this.close(false);
    } else if (e.key === "Enter" || e.key === " ") {
      e.preventDefault();
      this.openCell(g.active.ci, g.active.p, "keyboard");
    }
  }

  /** @param {KeyboardEvent} e */
  onPopupKey(e) {
    const row = e.target instanceof Element ? e.target.closest(".llk-popup-row") : null;
    const cell = this.popup.cell;
    if (!(row instanceof HTMLElement) || !cell) return;
    if (e.key === "Enter" || e.key === " ") {
      e.preventDefault();
      this.pin(Number(row.dataset.id), e.shiftKey || e.ctrlKey || e.metaKey);
    } else if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      e.preventDefault();
      const sib = e.key === "ArrowDown" ? row.nextElementSibling : row.previousElementSibling;
      if (sib instanceof HTMLElement) sib.focus();
    }
  }

  /**
   * Close the popup. Python's `selected_cell` keeps the cell (docs/live-loop.md).
   * @param {boolean} refocus return focus to the cell (keyboard users)
   */
  close(refocus) {
    this.cancelDetail();
    if (!this.open) return;
    this.popup.hide();
    this.grid.select(null);
    this.cb.onHover(0, null);
    if (refocus) this.grid.focusCell(this.grid.active.ci, this.grid.active.p);
  }
}

/**
 * Index of the shown column whose lens row is closest to `l`.
 * @param {number[]} cols lens rows shown as columns
 * @param {number} l
 */
function nearestColumn(cols, l) {
  let best = 0;
  cols.forEach((c, i) => {
    if (Math.abs(c - l) < Math.abs(cols[best] - l)) best = i;
  });
  return best;
}
