// Which lens the view shows (issue 21): the lens control in the run bar (trait `lens`, what
// it offers is `lens_choices`; a change reruns in Python), the badge in the title line that
// names the lens of the shown data, the reliability strip's legend over the grid, and the
// popup's line naming the lens with its reliability at the opened row. Names and notes come
// from the data and from Python: text only. The strip itself is drawn with the column
// headers (gridhead.js); the words and colors are lensinfo.js's.

import "./lens.css";
import { el } from "./dom.js";
import {
  lensBadge,
  lensChoices,
  RELIABILITY_KL_MAX,
  reliabilityColor,
  reliabilityText,
  sideLabels,
} from "./lensinfo.js";

/** @typedef {import("./lens.js").Lens} Lens */
/** @typedef {import("./lensinfo.js").LensChoice} LensChoice */

/**
 * The lens traits, read without their schema types: a kernel from before issue 21, or saved
 * widget state, may lack them or hold anything (lensinfo.js checks the choices).
 * @param {import("./state.js").Model} model
 * @param {string} key
 * @returns {unknown}
 */
export function lensTrait(model, key) {
  return /** @type {{ get(key: string): unknown }} */ (/** @type {unknown} */ (model)).get(key);
}

/** The lens menu in the run bar: shown only where a kernel can rerun with another lens. */
export class LensControl {
  /**
   * @param {AbortSignal} signal
   * @param {(key: string) => void} onLens the user chose lens `key`
   */
  constructor(signal, onLens) {
    this.select = /** @type {HTMLSelectElement} */ (
      el("select", {
        class: "llk-select llk-lens-select",
        title: "the lens that reads each layer: another reruns the prompt",
        attrs: { "aria-label": "lens" },
      })
    );
    this.root = el("label", { class: "llk-lens-label", text: "lens " }, [this.select]);
    this.root.hidden = true;
    /** what the menu was last built from: rebuilt only when it changes */
    this.key = "";
    this.select.addEventListener(
      "change",
      () => {
        if (this.select.value) onLens(this.select.value);
      },
      { signal },
    );
  }

  /**
   * @param {unknown} choices the `lens_choices` trait
   * @param {unknown} lens the `lens` trait
   * @param {boolean} live a kernel can act on a change
   */
  render(choices, lens, live) {
    const list = lensChoices(choices);
    const current = typeof lens === "string" ? lens : "";
    this.root.hidden = !live || !list.length;
    const key = JSON.stringify([list, current]);
    if (key === this.key) return;
    this.key = key;
    const options = list.map((c) =>
      el("option", {
        text: c.note ? `${c.name} (${c.note})` : c.name,
        title: c.note,
        attrs: { value: c.key },
      }),
    );
    // A lens Python set that the menu does not offer stays shown, not silently replaced.
    if (current && !list.some((c) => c.key === current)) {
      options.unshift(el("option", { text: current, attrs: { value: current, disabled: "" } }));
    }
    this.select.replaceChildren(...options);
    this.select.value = current;
  }
}

/**
 * The lens's name in the title line (always: data without one is the logit lens's) and, over
 * the grid, the reliability strip's legend when the data carries reliability.
 */
export class LensCaption {
  constructor() {
    this.badge = el("span", { class: "llk-lens-badge", attrs: { role: "note" } });
    this.badge.hidden = true;
    this.sample = el("span", { class: "llk-rel-sample", attrs: { "aria-hidden": "true" } });
    this.sample.style.background = `linear-gradient(to right, ${[0, 0.5, 2, 6, RELIABILITY_KL_MAX]
      .map((kl) => reliabilityColor(kl))
      .join(", ")})`;
    this.text = el("span", { class: "llk-rel-text" });
    this.legend = el("div", { class: "llk-rel-legend", attrs: { role: "note" } }, [
      this.sample,
      this.text,
    ]);
    this.legend.hidden = true;
  }

  /**
   * @param {Lens | null} a side A (the grid)
   * @param {Lens | null} b side B of a diff
   * @param {string[]} labels the two sides' names
   */
  render(a, b, labels) {
    this.badge.hidden = !a;
    if (!a) {
      this.legend.hidden = true;
      return;
    }
    const two = b !== null && b.lensName !== a.lensName;
    this.badge.textContent = lensBadge(labels, a.lensName, b?.lensName ?? null);
    this.badge.title = two
      ? "the two sides are read by different lenses"
      : `these numbers are the ${a.lensName}'s reading of each layer`;
    const rel = a.reliability;
    this.legend.hidden = !rel;
    if (!rel) return;
    const side = two ? ` (${labels[0]})` : "";
    const note = rel.note ? `, measured on ${rel.note}` : "";
    this.text.textContent =
      `strip under the layer numbers: reliability of the ${a.lensName}${side}${note}; ` +
      "darker = higher held-out KL = less trustworthy, hatched = not measured";
  }
}

/**
 * The popup's title names the lens of the opened cell at its end (" · tuned lens"; both in
 * a diff of two lenses, whose side heads name them too), its reliability at that row as the
 * title attribute: the popup keeps its height, so it covers no more of the grid.
 */
export class LensMark {
  constructor() {
    this.root = el("span", { class: "llk-popup-lens" });
  }

  /**
   * @param {Lens} a side A
   * @param {number} l the opened lens row
   * @param {Lens | null} b side B of a diff
   * @param {string[]} labels the two sides' names
   */
  show(a, l, b, labels) {
    const line = (/** @type {Lens} */ x) => {
      const rel = reliabilityText(x.reliability, l);
      return rel ? `${x.lensName} at ${x.rowTitle(l)}: ${rel}` : x.lensName;
    };
    const two = b !== null && b.lensName !== a.lensName;
    // Data from before issue 21 (no lens named, no reliability) is the logit lens's, as the
    // badge says; the popup names a lens once the data does, or the sides differ.
    this.root.hidden = !two && !a.lensNamed && !a.reliability;
    this.root.textContent = ` \u00b7 ${two ? `${a.lensName} vs ${b.lensName}` : a.lensName}`;
    this.root.title = two
      ? `${labels[0]}: ${line(a)}\n${labels[1]}: ${line(/** @type {Lens} */ (b))}`
      : line(a);
  }
}

/**
 * Names for a diff's popup heads: each side with its lens when the lenses differ.
 * @param {Lens | null} a
 * @param {Lens | null} b
 * @param {string[]} labels
 */
export function diffLabels(a, b, labels) {
  return a ? sideLabels(labels, a.lensName, b?.lensName ?? null) : labels;
}

/**
 * The run options patch that chooses lens `key`: sent as k and layers are (a trait change,
 * then a ping that finds out whether a kernel heard it). Typed as the run bar's options
 * while the generated schema may not list `lens` yet.
 * @param {string} key
 * @returns {Parameters<import("./runbar.js").RunCallbacks["onOptions"]>[0]}
 */
export function lensPatch(key) {
  return /** @type {{}} */ ({ lens: key });
}
