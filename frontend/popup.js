// The cell popup: a cell's top tokens with probabilities. Clicking a row pins its token,
// shift/ctrl/cmd-click groups it, hovering shows its trajectory. Kept inside the viewport.
// Below them, "best at any layer" (folded) suggests the position's tokens by their highest
// probability at any depth, each with the layer where it peaks; they pin the same way.
// It only shows what it is given: which rows (the data's top-k, or Python's deeper answer)
// is the selection controller's decision (selection.js).
//
// Notebook hosts clip their output areas (JupyterLab and Notebook 7 hide anything past an
// output's edge), so where the browser has the Popover API the popup is shown in the top
// layer and placed in viewport coordinates; it stays a DOM child of the widget, so the
// widget's scoped CSS and theme variables still apply.

import "./popup.css";
import { el, focusedElement } from "./dom.js";
import { setToken, showToken } from "./tokens.js";
import { formatProb } from "./format.js";
import { bestAtAnyLayer } from "./lens.js";
import { visibleBox } from "./visible.js";

/** How many tokens "best at any layer" lists. */
export const BEST_N = 10;

/** @typedef {import("./lens.js").Lens} Lens */

/**
 * @typedef {object} PopupCallbacks
 * @property {(id: number, group: boolean) => void} onPin
 * @property {(id: number | null) => void} onHoverToken
 * @property {(id: number) => void} onColorBy
 * @property {() => void} onClose
 * @property {() => void} onMore the "more" control: ask Python for a longer list
 */

/**
 * What the popup lists.
 * @typedef {object} PopupContent
 * @property {{ id: number, prob: number }[]} entries most probable first
 * @property {Set<number>} pinned ids pinned (alone or in a group)
 * @property {string} note shown instead of the rows when there are none (a cell with no numbers)
 * @property {string} status the deeper list's state ("loading 20…", an error), or ""
 * @property {number} more the longer list's length the "more" control asks for; 0 hides it
 * @property {{ labels: string[], entries: { id: number, prob: number }[], note: string,
 *   lens: Lens } | null} [sideB] a diff's side B: its top-k, listed beside side A's
 */

export class Popup {
  /**
   * @param {AbortSignal} signal
   * @param {PopupCallbacks} cb
   */
  constructor(signal, cb) {
    this.cb = cb;
    this.title = el("div", { class: "llk-popup-title" });
    this.close = el("button", {
      class: "llk-popup-close",
      text: "\u00d7",
      title: "close (Escape)",
      attrs: { "aria-label": "close" },
    });
    this.list = el("div", { class: "llk-popup-list", attrs: { role: "list" } });
    // A diff: side A's name over the list, side B's top-k in a second column.
    this.headA = el("div", { class: "llk-popup-side-head" });
    this.headB = el("div", { class: "llk-popup-side-head" });
    this.listB = el("div", { class: "llk-popup-list llk-popup-list-b", attrs: { role: "list" } });
    this.sideB = el("div", { class: "llk-popup-side llk-popup-side-b" }, [this.headB, this.listB]);
    this.note = el("div", { class: "llk-popup-note" });
    this.status = el("span", { class: "llk-popup-status", attrs: { "aria-live": "polite" } });
    this.more = el("button", { class: "llk-btn llk-popup-more", text: "more" });
    this.bestList = el("div", {
      class: "llk-popup-best-list",
      attrs: { role: "list", "aria-label": "best at any layer" },
    });
    this.best = /** @type {HTMLDetailsElement} */ (
      el("details", { class: "llk-popup-best" }, [
        el("summary", {
          class: "llk-popup-best-head",
          text: "best at any layer",
          title:
            "this position's tokens by their highest probability at any layer, with the layer " +
            "where each peaks; click to pin",
        }),
        this.bestList,
      ])
    );
    /** places other views fill (editview.js): a line under the head, actions under the lists */
    this.headSlot = el("div", { class: "llk-popup-slot" });
    this.actionSlot = el("div", { class: "llk-popup-slot" });
    /** the end of the title line (lensview.js: which lens): no line of its own to grow by */
    this.titleSlot = el("span", { class: "llk-popup-title-slot" });
    this.best.style.borderTop = "1px solid var(--llk-border)";
    this.best.style.padding = "0.2em 0";
    this.root = el(
      "div",
      {
        class: "llk-popup",
        attrs: { role: "dialog", "aria-label": "top predictions" },
      },
      [
        el("div", { class: "llk-popup-head" }, [this.title, this.close]),
        this.headSlot,
        this.note,
        el("div", { class: "llk-popup-sides" }, [
          el("div", { class: "llk-popup-side" }, [this.headA, this.list]),
          this.sideB,
        ]),
        this.actionSlot,
        this.best,
        el("div", { class: "llk-popup-foot" }, [
          el("span", { text: "click: pin \u00b7 shift/ctrl/\u2318-click: group" }),
          el("span", { class: "llk-popup-deeper" }, [this.status, this.more]),
        ]),
      ],
    );
    this.root.hidden = true;
    this.topLayer = "showPopover" in this.root;
    if (this.topLayer) this.root.popover = "manual";
    /** @type {{ l: number, p: number } | null} */
    this.cell = null;
    /** @type {HTMLElement | null} the cell the popup was shown at */
    this.anchor = null;
    /**
     * The chart: hovering the popup's rows draws lines there, so the popup should not cover
     * its last layers, where the lines change most (set by the explorer).
     * @type {Element | null}
     */
    this.avoid = null;
    const o = { signal };
    this.close.addEventListener("click", () => cb.onClose(), o);
    this.more.addEventListener("click", () => cb.onMore(), o);
    this.list.addEventListener("click", (e) => this.onClick(e), o);
    this.list.addEventListener("pointerover", (e) => cb.onHoverToken(this.rowId(e.target)), o);
    this.list.addEventListener("pointerleave", () => cb.onHoverToken(null), o);
    this.listB.addEventListener("click", (e) => this.onClick(e), o);
    this.bestList.addEventListener("click", (e) => this.onBestClick(e), o);
    this.bestList.addEventListener("pointerover", (e) => cb.onHoverToken(this.bestId(e.target)), o);
    this.bestList.addEventListener("pointerleave", () => cb.onHoverToken(null), o);
    this.bestList.addEventListener("keydown", (e) => this.onBestKey(e), o);
    // Unfolding makes the popup taller: place it again so it stays in view.
    this.best.addEventListener(
      "toggle",
      () => {
        if (this.open && this.anchor?.isConnected) this.place(this.anchor);
      },
      o,
    );
  }

  /** @param {EventTarget | null} target */
  bestId(target) {
    const row = target instanceof Element ? target.closest(".llk-best-row") : null;
    return row ? Number(/** @type {HTMLElement} */ (row).dataset.id) : null;
  }

  /** @param {MouseEvent} e */
  onBestClick(e) {
    const id = this.bestId(e.target);
    if (id !== null) this.cb.onPin(id, e.shiftKey || e.ctrlKey || e.metaKey);
  }

  /** @param {KeyboardEvent} e */
  onBestKey(e) {
    const row = e.target instanceof Element ? e.target.closest(".llk-best-row") : null;
    if (!(row instanceof HTMLElement)) return;
    if (e.key === "Enter" || e.key === " ") {
      e.preventDefault();
      this.cb.onPin(Number(row.dataset.id), e.shiftKey || e.ctrlKey || e.metaKey);
    } else if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      e.preventDefault();
      const sib = e.key === "ArrowDown" ? row.nextElementSibling : row.previousElementSibling;
      if (sib instanceof HTMLElement) sib.focus();
    }
  }

  get open() {
    return !this.root.hidden;
  }

  /** @param {EventTarget | null} target */
  rowId(target) {
    const row = target instanceof Element ? target.closest(".llk-popup-row") : null;
    return row ? Number(/** @type {HTMLElement} */ (row).dataset.id) : null;
  }

  /** @param {MouseEvent} e */
  onClick(e) {
    const target = /** @type {Element} */ (e.target);
    const id = this.rowId(target);
    if (id === null) return;
    if (target.closest(".llk-color-by")) this.cb.onColorBy(id);
    else this.cb.onPin(id, e.shiftKey || e.ctrlKey || e.metaKey);
  }

  /**
   * Side B's column of a diff: its name, then its top-k (click pins, as side A's rows do).
   * @param {PopupContent} c
   */
  fillSideB(c) {
    const d = c.sideB;
    this.headA.hidden = !d;
    this.sideB.hidden = !d;
    this.root.classList.toggle("llk-popup-two", Boolean(d)); // two columns (widget.css)
    if (!d) return;
    // A long name is cut with "…" in its column: the title holds it whole.
    [this.headA, this.headB].forEach((head, i) => {
      head.textContent = d.labels[i];
      head.title = d.labels[i];
    });
    const rows = d.entries.map(({ id, prob }, j) =>
      el(
        "div",
        {
          class: `llk-popup-row${c.pinned.has(id) ? " llk-pinned" : ""}`,
          attrs: { role: "listitem", "data-id": String(id) },
          title: `${showToken(d.lens.token(id)).text} (id ${id})`,
        },
        [
          el("span", { class: "llk-rank", text: String(j + 1) }),
          tokenSpan(d.lens.token(id), "llk-popup-token"),
          el("span", { class: "llk-prob", text: formatProb(prob) }),
        ],
      ),
    );
    this.listB.replaceChildren(
      ...(d.note ? [el("div", { class: "llk-popup-note", text: d.note })] : rows),
    );
  }

  /**
   * @param {Lens} lens
   * @param {number} l lens row
   * @param {number} p position
   * @param {PopupContent} content
   * @param {HTMLElement} anchor the cell, for placement
   */
  show(lens, l, p, content, anchor) {
    this.cell = { l, p };
    this.anchor = anchor;
    this.title.replaceChildren(
      el("span", { text: `${lens.rowTitle(l)} · position ${p} ` }),
      tokenSpan(lens.input[p], "llk-popup-input"),
      this.titleSlot,
    );
    this.fill(lens, content);
    this.root.hidden = false;
    if (this.topLayer && this.root.isConnected && !this.root.matches(":popover-open")) {
      this.root.showPopover();
    }
    this.place(anchor);
  }

  /**
   * Replace the rows in place (the deeper list arrived, a pin changed, same-run data came).
   * @param {Lens} lens
   * @param {PopupContent} c
   */
  fill(lens, c) {
    // Re-filling must keep keyboard focus on the same row (or on the list if it is gone).
    const active = focusedElement(this.list);
    const hadFocus = this.list.contains(active);
    const focused = this.rowId(active);
    const rows = c.entries.map(({ id, prob }, j) => {
      const bar = el("span", { class: "llk-bar" });
      bar.style.width = `${Math.max(0, Math.min(1, prob || 0)) * 100}%`;
      return el(
        "div",
        {
          class: `llk-popup-row${c.pinned.has(id) ? " llk-pinned" : ""}`,
          attrs: { role: "listitem", tabindex: "0", "data-id": String(id) },
          // The token column may cut a long token: the title has it in full.
          title: `${showToken(lens.token(id)).text} (id ${id})`,
        },
        [
          el("span", { class: "llk-rank", text: String(j + 1) }),
          tokenSpan(lens.token(id), "llk-popup-token"),
          el("span", { class: "llk-prob", text: formatProb(prob) }),
          el("span", { class: "llk-bar-track" }, [bar]),
          el("button", {
            class: "llk-color-by",
            text: "\u25d0",
            title: "color the cells by this token",
            attrs: { "aria-label": "color by this token", tabindex: "-1" },
          }),
        ],
      );
    });
    const scroll = this.list.scrollTop;
    this.list.replaceChildren(...rows);
    this.list.scrollTop = scroll;
    this.fillBest(lens, c);
    this.fillSideB(c);
    this.note.textContent = c.note;
    this.note.hidden = !c.note;
    this.status.textContent = c.status;
    this.more.hidden = c.more === 0;
    this.more.textContent = `show ${c.more}`;
    this.more.title = `ask Python for the ${c.more} most probable tokens here`;
    if (hadFocus) (rows.find((r) => r.dataset.id === String(focused)) ?? rows[0])?.focus();
  }

  /**
   * "best at any layer" for the popup's position: hidden for a cell without numbers.
   * @param {Lens} lens
   * @param {PopupContent} c
   */
  fillBest(lens, c) {
    const p = this.cell?.p;
    const best = p === undefined || c.note ? [] : bestAtAnyLayer(lens, p, BEST_N);
    this.best.hidden = !best.length;
    const active = focusedElement(this.bestList);
    const focused = this.bestList.contains(active) ? this.bestId(active) : null;
    const rows = best.map(({ id, prob, row }) => {
      const token = tokenSpan(lens.token(id), "llk-popup-token");
      if (c.pinned.has(id)) token.style.fontWeight = "700";
      const item = el(
        "div",
        {
          class: `llk-best-row${c.pinned.has(id) ? " llk-pinned" : ""}`,
          attrs: {
            role: "listitem",
            tabindex: "0",
            "data-id": String(id),
            "data-row": String(row),
          },
          title: `${showToken(lens.token(id)).text} (id ${id}): ${formatProb(prob)} at layer ${lens.layers[row]}, its highest here; click: pin`,
        },
        [
          token,
          el("span", { class: "llk-prob", text: formatProb(prob) }),
          el("span", { class: "llk-rank llk-best-layer", text: `@${lens.layers[row]}` }),
        ],
      );
      // widget.css styles the top-k rows; these share their columns' classes and lay out alike.
      Object.assign(item.style, {
        display: "grid",
        gridTemplateColumns: "minmax(4em, 1fr) 4.5em 3em",
        gap: "0.3em",
        padding: "0.1em 0.5em",
        cursor: "pointer",
      });
      return item;
    });
    this.bestList.replaceChildren(...rows);
    if (focused !== null) rows.find((r) => r.dataset.id === String(focused))?.focus();
  }

  /**
   * Below the anchor cell if it fits, else above; clamped so the whole popup is in the
   * viewport and not above the part of it the host shows the widget in (visible.js). Where
   * that would cover the chart's last layers, above, left or right of the cell instead,
   * whichever covers least of them without covering the cell. Call again when anything
   * scrolls: the popup follows its cell.
   * @param {HTMLElement} anchor
   */
  place(anchor) {
    const doc = anchor.ownerDocument.documentElement;
    const vw = doc.clientWidth;
    const vh = doc.clientHeight;
    const a = anchor.getBoundingClientRect();
    const box = this.root.getBoundingClientRect();
    const below = a.bottom + 2 + box.height > vh ? a.top - box.height - 2 : a.bottom + 2;
    // Never above what the host shows of the widget: over a notebook's menu bar it would
    // hide the menus (and the top layer would put it in front of them).
    const floor = visibleBox(this.root).top;
    const clamp = (/** @type {number} */ left, /** @type {number} */ top) => ({
      left: Math.max(0, Math.min(left, vw - box.width)),
      top: Math.max(floor, Math.min(top, vh - box.height)),
    });
    let { left, top } = clamp(a.left, below);
    const chart = this.avoid?.getBoundingClientRect();
    if (chart && chart.width > 0) {
      const lastLayers = { ...rectOf(chart), left: chart.left + chart.width / 2 };
      const spots = [
        { left, top },
        clamp(a.left, a.top - box.height - 2),
        clamp(a.left - box.width - 2, a.top),
        clamp(a.right + 2, a.top),
      ];
      let best = Infinity;
      for (const spot of spots) {
        const r = { ...spot, right: spot.left + box.width, bottom: spot.top + box.height };
        if (overlap(r, rectOf(a)) > 0) continue;
        const cost = overlap(r, lastLayers);
        if (cost < best - 0.5) [best, left, top] = [cost, spot.left, spot.top];
      }
    }
    // In the top layer coordinates are the viewport's; otherwise (no Popover API, or not yet
    // in a document when shown) the popup is absolutely positioned in the widget's root.
    const inTopLayer = this.topLayer && this.root.matches(":popover-open");
    const origin = inTopLayer
      ? { left: 0, top: 0 }
      : (this.root.offsetParent ?? doc).getBoundingClientRect();
    this.root.style.left = `${left - origin.left}px`;
    this.root.style.top = `${top - origin.top}px`;
  }

  hide() {
    if (this.topLayer && this.root.matches(":popover-open")) this.root.hidePopover();
    this.root.hidden = true;
    this.cell = null;
    this.anchor = null;
  }
}

/** @typedef {{ left: number, top: number, right: number, bottom: number }} Box */

/** @param {DOMRect} r @returns {Box} */
function rectOf(r) {
  return { left: r.left, top: r.top, right: r.right, bottom: r.bottom };
}

/**
 * Area two boxes share.
 * @param {Box} a
 * @param {Box} b
 */
function overlap(a, b) {
  const w = Math.min(a.right, b.right) - Math.max(a.left, b.left);
  const h = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
  return w > 0 && h > 0 ? w * h : 0;
}

/**
 * @param {string} raw
 * @param {string} cls
 */
function tokenSpan(raw, cls) {
  const s = el("span", { class: cls });
  setToken(s, raw);
  return s;
}
