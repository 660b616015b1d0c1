// Legend under the chart: pinned tokens/groups (color picker, remove) and pinned rows (line
// style, remove).

import "./legend.css";
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
   * @param {import("./schema.js").UIState["trajectory_metric"]} [metric] what the chart plots
   */
  render(lens, pins, rows, focusPos, fallback = null, metric = "probability") {
    const items = pins.map((pin, i) => {
      const color = /** @type {HTMLInputElement} */ (
        el("input", {
          class: "llk-pin-color",
          title: "line color",
          attrs: { type: "color", "data-index": String(i), "aria-label": "pin color" },
        })
      );
      color.value = pin.color;
      const members = pin.ids.map((id) => showToken(lens.token(id)).text).join(" + ");
      const label = pin.name || members;
      const what =
        pin.ids.length > 1
          ? `${members}: group, the sum of its tokens`
          : `${members} (id ${pin.ids[0]})`;
      return el("span", { class: "llk-legend-item llk-legend-pin" }, [
        color,
        el("span", {
          class: "llk-legend-label",
          text: label,
          // The label may be cut: the title has it in full.
          title: pin.name ? `${pin.name}: ${what}` : what,
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
    const input = showToken(lens.input[focusPos]).text;
    const where =
      metric === "kl"
        ? el("span", { class: "llk-legend-note", text: klNote(lens, rows, focusPos, input) })
        : rows.length
          ? null
          : el("span", {
              class: "llk-legend-note",
              text: pins.length
                ? `at position ${focusPos} (${input}); click an input token to compare rows`
                : fallback
                  ? "the final prediction's trajectory; click a cell, then a token in its popup, to pin your own"
                  : "click a cell, then a token in its popup, to pin its trajectory",
            });
    const shown = !pins.length && fallback ? [defaultItem(fallback)] : [];
    this.root.replaceChildren(...shown, ...items, ...rowItems, ...(where ? [where] : []));
  }
}

/**
 * What the "kl" metric's lines are: one per pinned row, else the followed position's; pins
 * do not apply.
 * @param {Lens} lens
 * @param {number[]} rows
 * @param {number} focusPos
 * @param {string} input the followed position's token, as shown
 */
function klNote(lens, rows, focusPos, input) {
  if (!lens.klValues) return "this data has no KL divergences: the chart has nothing to show";
  const where = rows.length
    ? "at each pinned row (line style)"
    : `at position ${focusPos} (${input}); click an input token to compare rows`;
  return `KL to the final output ${where}; pins do not apply to KL`;
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
      // In words: a bare "@13" read as a layer, a count or a handle.
      text: `${d.token} at position ${d.p}`,
      title:
        `the model's final prediction ${d.token} at input position ${d.p} (the row of the ` +
        "cell opened last, else the last row), shown until you pin a token",
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
