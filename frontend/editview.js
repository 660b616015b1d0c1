// An edited run's marks and controls (issue 20): the caption over the grid that says the
// run is edited, the legend of its edits (each with × to remove it, a steer with its α) next
// to the diff's note, the popup's head line and its "Patch into B" action. The legend reads
// the decoded data (`edits`), not a trait, so a page saved with save_html shows it too; its
// buttons show only where a kernel can act on them. The cells' marks are the grid's
// (`llk-touched`, edits.js decides which).

import "./edits.css";
import { el } from "./dom.js";
import { editedCaption, editWhere } from "./edits.js";

/** @typedef {LlkEdit} Edit declared in types.d.ts */
/** @typedef {import("./lens.js").Lens} Lens */

/**
 * @typedef {object} EditCallbacks
 * @property {(index: number) => void} onRemove
 * @property {(index: number, alpha: number) => void} onAlpha
 * @property {() => void} onClear
 */

/**
 * What the edit views show.
 * @typedef {object} EditShown
 * @property {readonly Edit[]} edits side A's (the shown grid's)
 * @property {readonly Edit[]} editsB side B's, when a diff's side B is edited too
 * @property {string[]} labels the two sides' names
 * @property {boolean} live a kernel can act: the legend's controls show
 */

export class EditLegend {
  /**
   * @param {AbortSignal} signal
   * @param {EditCallbacks} cb
   */
  constructor(signal, cb) {
    this.cb = cb;
    /** over the grid: the run shown is edited (never the model's own output unmarked) */
    this.caption = el("div", { class: "llk-edited", attrs: { role: "note" } });
    this.caption.hidden = true;
    this.list = el("ul", { class: "llk-edit-list" });
    this.clear = el("button", {
      class: "llk-btn llk-edit-clear",
      text: "remove all",
      title: "remove every edit: the model's own run again",
    });
    this.msg = el("span", { class: "llk-edit-msg", attrs: { role: "alert" } });
    this.msg.hidden = true;
    this.head = el("div", { class: "llk-edit-head" }, [
      el("span", { class: "llk-edit-sample", attrs: { "aria-hidden": "true" } }),
      el("span", { class: "llk-edit-title", text: "edits" }),
      this.clear,
      this.msg,
    ]);
    /** the legend, placed with the diff's controls */
    this.root = el("div", { class: "llk-edits", attrs: { role: "group", "aria-label": "edits" } }, [
      this.head,
      this.list,
    ]);
    this.root.hidden = true;
    /** what was last rendered: the legend is rebuilt only when it changes (typing stays) */
    this.key = "";
    const o = { signal };
    this.clear.addEventListener("click", () => cb.onClear(), o);
    this.list.addEventListener(
      "click",
      (e) => {
        const remove = e.target instanceof Element ? e.target.closest(".llk-edit-remove") : null;
        if (remove instanceof HTMLElement) cb.onRemove(Number(remove.dataset.index));
      },
      o,
    );
    // Enter commits at once (JupyterLab swallows Enter's change on inputs); change commits
    // when the box loses focus or its arrows are used. A value already sent is not resent.
    this.list.addEventListener(
      "keydown",
      (e) => {
        if (!(e.target instanceof HTMLInputElement)) return;
        e.stopPropagation(); // notebook shortcuts must not act on typing
        if (e.key === "Enter") this.commitAlpha(e.target);
      },
      o,
    );
    this.list.addEventListener("input", () => this.showMessage(""), o);
    this.list.addEventListener(
      "change",
      (e) => {
        if (e.target instanceof HTMLInputElement) this.commitAlpha(e.target);
      },
      o,
    );
  }

  /** @param {HTMLInputElement} input */
  commitAlpha(input) {
    const text = input.value.trim();
    const alpha = Number(text);
    if (text === "" || !Number.isFinite(alpha)) {
      input.value = input.dataset.sent ?? "";
      this.showMessage(`α must be a finite number, not "${text}"`);
      return;
    }
    // The box shows the value sent again after a refusal: that is no new value to send, and
    // the refusal's message stays until the user types.
    if (String(alpha) === input.dataset.sent) return;
    this.showMessage("");
    input.dataset.sent = String(alpha);
    this.cb.onAlpha(Number(input.dataset.index), alpha);
  }

  /** @param {string} text */
  showMessage(text) {
    this.msg.textContent = text;
    this.msg.hidden = !text;
  }

  /** @param {EditShown} s */
  render(s) {
    const { edits, editsB, labels, live } = s;
    const [a, b] = labels;
    const caption = [edits, editsB]
      .map((e, i) => (e.length ? `${[a, b][i]}: ${editedCaption(e)}` : ""))
      .filter(Boolean);
    this.caption.hidden = !caption.length;
    this.caption.textContent = caption.join(" \u00b7 ");
    this.caption.title =
      "an edited run: marked cells are those its edits can change; the legend below lists them";
    const key = JSON.stringify([edits, live]);
    if (key === this.key) return;
    this.key = key;
    this.root.hidden = !edits.length;
    this.clear.hidden = !live || edits.length < 2;
    this.showMessage("");
    this.list.replaceChildren(...edits.map((e, i) => this.item(e, i, live)));
  }

  /**
   * One line of the legend.
   * @param {Edit} e
   * @param {number} i
   * @param {boolean} live
   */
  item(e, i, live) {
    const label = el("span", { class: "llk-edit-label", text: e.label });
    label.title = `${e.kind}: ${e.label}; ${editWhere(e)}`;
    const parts = [el("span", { class: "llk-edit-kind", text: e.kind }), label];
    if (e.alpha !== undefined) {
      const alpha = el("input", {
        class: "llk-edit-alpha",
        title: "α, the steering vector's scale (Enter applies; 0 is the baseline)",
        attrs: {
          type: "number",
          step: "any",
          "aria-label": `α of ${e.label}`,
          "data-index": String(i),
          "data-sent": String(e.alpha),
        },
      });
      alpha.value = String(e.alpha);
      alpha.disabled = !live;
      parts.push(el("label", { class: "llk-edit-alpha-label", text: "α " }, [alpha]));
    }
    if (live) {
      parts.push(
        el("button", {
          class: "llk-btn llk-edit-remove",
          text: "\u00d7",
          title: "remove this edit and rerun",
          attrs: { "aria-label": `remove ${e.label}`, "data-index": String(i) },
        }),
      );
    }
    return el("li", { class: `llk-edit llk-edit-${e.kind}` }, parts);
  }
}

/**
 * The popup's part of an edited view: a line under its head saying the side is edited, and
 * the "Patch into B" action of a side-A cell in a live diff. Popup.js gives them places.
 */
export class PatchAction {
  /**
   * @param {AbortSignal} signal
   * @param {(msg: { layer: number, position: number, row_kind: 0 | 1, into: number }) =>
   *   Promise<boolean>} onPatch resolves to whether Python accepted the patch
   */
  constructor(signal, onPatch) {
    this.mark = el("div", { class: "llk-popup-edited" });
    this.mark.hidden = true;
    this.button = el("button", { class: "llk-btn llk-patch-btn", text: "Patch into B" });
    this.into = el("input", {
      class: "llk-patch-into",
      title: "side B's position the state goes to (default: the same position)",
      attrs: { type: "number", min: "0", step: "1", "aria-label": "patch into position" },
    });
    this.root = el("div", { class: "llk-patch" }, [
      this.button,
      el("label", { text: "at position " }, [this.into]),
    ]);
    this.root.hidden = true;
    /** @type {{ layer: number, position: number, row_kind: 0 | 1, max: number } | null} */
    this.cell = null;
    const o = { signal };
    const send = () => {
      const c = this.cell;
      const into = Number(this.into.value);
      if (!c) return;
      if (!Number.isInteger(into) || into < 0 || into > c.max) {
        this.into.value = String(Math.min(c.position, c.max));
        return;
      }
      this.button.disabled = true;
      const { layer, position, row_kind } = c;
      onPatch({ layer, position, row_kind, into }).finally(() => {
        this.button.disabled = false;
      });
    };
    this.button.addEventListener("click", send, o);
    this.into.addEventListener(
      "keydown",
      (e) => {
        e.stopPropagation();
        if (e.key === "Enter") send();
      },
      o,
    );
  }

  /**
   * Show what the popup of lens row l, position p of side A needs.
   * @param {Lens} lens side A
   * @param {number} l
   * @param {number} p
   * @param {{ b: Lens | null, labels: string[], patchable: boolean }} s side B, the names,
   *   and whether a patch can be sent (a live diff whose side A is not steered or ablated)
   */
  show(lens, l, p, { b, labels, patchable }) {
    const lines = [];
    if (lens.edits.length) lines.push(`${labels[0]} is ${editedCaption(lens.edits)}`);
    if (b?.edits.length) lines.push(`${labels[1]} is ${editedCaption(b.edits)}`);
    this.mark.textContent = lines.join("; ");
    this.mark.hidden = !lines.length;
    this.root.hidden = !(patchable && b);
    if (!b || !patchable) {
      this.cell = null;
      return;
    }
    const max = b.P - 1;
    const kind = lens.rowKind(l) === 1 ? 1 : 0;
    this.cell = { layer: lens.layers[l], position: p, row_kind: kind, max };
    this.button.textContent = `Patch into ${labels[1]}`;
    this.button.title =
      `replace ${labels[1]}'s state at layer ${lens.rowLabel(l)} with ${labels[0]}'s and ` +
      `rerun ${labels[1]}`;
    this.into.max = String(max);
    this.into.value = String(Math.min(p, max));
    this.button.disabled = false;
  }
}
