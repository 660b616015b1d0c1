// Legend under the chart: pinned tokens/groups (color picker, remove) and pinned rows (line
// style, remove).

import { el, svg } from "./dom.js";
import { showToken } from "./tokens.js";
import { dashSample } from "./dashes.js";

/** @typedef {import("./lens.js").Lens} Lens */
/** @typedef {import("./state.js").Pin} Pin */

/**
 * @typedef {object} LegendCallbacks
 * @property {(index: number) => void} onRemovePin
 * @property {(index: number, color: string, final: boolean) => void} onPinColor `final` once
 *   the picker closes; before that, only a preview
 * @property {(p: number) => void} onRemoveRow
 */

export class Legend {
  /**
   * @param {AbortSignal} signal
   * @param {LegendCallbacks} cb
   */
  constructor(signal, cb) {
    this.root = el("div", { class: "llk-legend", attrs: { "aria-label": "legend" } });
    const o = { signal };
    this.root.addEventListener(
      "click",
      (e) => {
        const t = /** @type {Element} */ (e.target);
        const pin = t.closest(".llk-remove-pin");
        if (pin) cb.onRemovePin(Number(/** @type {HTMLElement} */ (pin).dataset.index));
        const row = t.closest(".llk-remove-row");
        if (row) cb.onRemoveRow(Number(/** @type {HTMLElement} */ (row).dataset.p));
      },
      o,
    );
    // A picker sends `input` while the user drags and `change` when it closes: committing on
    // every `input` would rebuild the legend, and the picker with it, after the first one.
    for (const type of ["input", "change"]) {
      this.root.addEventListener(
        type,
        (e) => {
          const t = /** @type {HTMLInputElement} */ (e.target);
          if (!t.classList.contains("llk-pin-color")) return;
          cb.onPinColor(Number(t.dataset.index), t.value, type === "change");
        },
        o,
      );
    }
  }

  /**
   * @param {Lens} lens
   * @param {Pin[]} pins
   * @param {number[]} rows pinned positions
   * @param {number} focusPos the position the chart shows when no row is pinned
   * @param {import("./defaultline.js").DefaultLine | null} [fallback] the chart's default
   *   line, drawn while nothing is pinned
   */
  render(lens, pins, rows, focusPos, fallback = null) {
    const items = pins.map((pin, i) => {
      const color = /** @type {HTMLInputElement} */ (
        el("input", {
          class: "llk-pin-color",
          title: "line color",
          attrs: { type: "color", "data-index": String(i), "aria-label": "pin color" },
        })
      );
      color.value = pin.color;
      const label = pin.ids.map((id) => showToken(lens.token(id)).text).join(" + ");
      return el("span", { class: "llk-legend-item llk-legend-pin" }, [
        color,
        el("span", {
          class: "llk-legend-label",
          text: label,
          // The label may be cut: the title has it in full.
          title:
            pin.ids.length > 1
              ? `${label}: group, the sum of its tokens`
              : `${label} (id ${pin.ids[0]})`,
        }),
        removeButton("llk-remove-pin", { "data-index": String(i) }),
      ]);
    });
    const rowItems = rows.map((p, i) =>
      el("span", { class: "llk-legend-item llk-legend-row" }, [
        dashSample(i),
        el("span", {
          class: "llk-legend-label",
          text: `pos ${p} ${showToken(lens.input[p]).text}`,
          title: `position ${p}: ${showToken(lens.input[p]).text}`,
        }),
        removeButton("llk-remove-row", { "data-p": String(p) }),
      ]),
    );
    const where = rows.length
      ? null
      : el("span", {
          class: "llk-legend-note",
          text: pins.length
            ? `at position ${focusPos} (${showToken(lens.input[focusPos]).text}); click an input token to compare rows`
            : fallback
              ? "the final prediction's trajectory; click a cell, then a token in its popup, to pin your own"
              : "click a cell, then a token in its popup, to pin its trajectory",
        });
    const shown = !pins.length && fallback ? [defaultItem(fallback)] : [];
    this.root.replaceChildren(...shown, ...items, ...rowItems, ...(where ? [where] : []));
  }
}

/**
 * The default line's entry: its dash and color, and that it is only a default.
 * @param {import("./defaultline.js").DefaultLine} d
 */
function defaultItem(d) {
  const sample = svg("svg", { class: "llk-dash", width: 26, height: 6, "aria-hidden": "true" });
  sample.append(
    svg("line", {
      x1: 1,
      y1: 3,
      x2: 25,
      y2: 3,
      stroke: d.line.color,
      "stroke-dasharray": d.line.dash ?? "",
    }),
  );
  return el("span", { class: "llk-legend-item llk-legend-default" }, [
    sample,
    el("span", { class: "llk-legend-default-tag", text: "default" }),
    el("span", {
      class: "llk-legend-label",
      text: `${d.token} @${d.p}`,
      title: `the final prediction ${d.token} at position ${d.p}, shown until you pin a token`,
    }),
  ]);
}

/**
 * @param {string} cls
 * @param {Record<string, string>} attrs
 */
function removeButton(cls, attrs) {
  return el("button", {
    class: `llk-x ${cls}`,
    text: "\u00d7",
    title: "remove",
    attrs: { ...attrs, "aria-label": "remove" },
  });
}
