// The chart's line before anything is pinned: the final prediction's trajectory at the
// position the chart follows, dashed and labeled as a default, so an empty chart never
// hides what the chart is for. It lives only in the view: it never becomes a pin.

import { CELL_OK } from "./lens.js";
import { lineValues, nextColor, pinLabel } from "./pins.js";

/** @typedef {import("./lens.js").Lens} Lens */
/** @typedef {import("./chart.js").Line} Line */

/** Dashes unlike any pinned row's (dashes.js) and the hover line's. */
export const DEFAULT_DASH = "7 3 1 3";
export const DEFAULT_CLASS = "llk-default-line";

/**
 * @typedef {object} DefaultLine
 * @property {Line} line
 * @property {number} id the token plotted
 * @property {string} token its shown text
 * @property {number} p the position
 */

/**
 * The default line at position p: the last lens row's top token there (the model's
 * prediction when that row is its last layer); null when that cell has no numbers.
 * @param {Lens} lens
 * @param {"probability" | "rank"} metric
 * @param {number} p
 * @returns {DefaultLine | null}
 */
export function defaultLine(lens, metric, p) {
  const last = lens.L - 1;
  if (p < 0 || p >= lens.P || last < 0 || lens.status(last, p) !== CELL_OK) return null;
  const id = lens.topId(last, p);
  const token = pinLabel(lens, [id]);
  return {
    id,
    token,
    p,
    line: {
      values: lineValues(lens, metric, p, [id]),
      // The color the first pin would get: pinning the same token keeps its color.
      color: nextColor([]),
      dash: DEFAULT_DASH,
      label: `${token} @${p} (default: the prediction)`,
      cls: DEFAULT_CLASS,
    },
  };
}
