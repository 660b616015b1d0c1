// The chart's lines for the explorer's current state: the pins' (or the followed position's
// KL) lines, the default line, the hovered token's line, and in a diff side B's dashed
// line beside each of side A's. Functions of the Explorer (explorer.js), which sends them
// to the chart.

import { hoverLine, klLines, lineValues, isExact, pinLines } from "./pins.js";

/** @typedef {import("./explorer.js").Explorer} Explorer */
/** @typedef {import("./chart.js").Line} Line */

/** Side B's chart lines (a diff) are dashed so. */
const B_DASH = "6 3";

/**
 * The default line, and in a diff side B's line of the same token at the same position.
 * @param {Explorer} x
 * @param {Line} line
 * @param {number} id
 * @returns {Line[]}
 */
export function withSideB(x, line, id) {
  const b = x.lensB;
  if (!b || x.focusPos >= b.P) return [line];
  const metric = x.state.get("trajectory_metric");
  const [la, lb] = x.labels();
  return [
    { ...line, label: `${line.label} (${la})` },
    {
      ...line,
      values: lineValues(b, metric, x.focusPos, [id]),
      exact: isExact(b, metric, [id]),
      label: `${line.label} (${lb})`,
      dash: B_DASH,
      cls: `${line.cls ?? ""} llk-line-b`.trim(),
    },
  ];
}

/**
 * Chart lines of `pins` for the shown data.
 * @param {Explorer} x
 * @param {import("./state.js").Pin[]} pins
 * @returns {Line[]}
 */
export function chartLines(x, pins) {
  const lens = x.lens;
  if (!lens) return [];
  const metric = x.state.get("trajectory_metric");
  const rows = x.pinnedRows(lens);
  if (metric === "kl") {
    return klLines(lens, rows, x.focusPos, x.state.get("metric_color"), x.entropyUnit);
  }
  const own = pinLines(lens, pins, rows, x.focusPos, metric);
  const b = x.lensB;
  if (!b) return own;
  // A diff: side B's lines, dashed, beside side A's (positions side B has).
  const [la, lb] = x.labels();
  const shared = rows.filter((p) => p < b.P);
  if (rows.length ? !shared.length : x.focusPos >= b.P) return own;
  const theirs = pinLines(b, pins, shared, x.focusPos, metric).map((line) => ({
    ...line,
    dash: B_DASH,
    label: `${line.label} (${lb})`,
    cls: "llk-line-b",
  }));
  return [...own.map((line) => ({ ...line, label: `${line.label} (${la})` })), ...theirs];
}

/**
 * The hovered token's line at position p, and in a diff its line on side B; none when no
 * token is hovered.
 * @param {Explorer} x
 * @param {number} p
 * @param {number | null} id
 * @returns {Line[]}
 */
export function hoverLines(x, p, id) {
  const lens = x.lens;
  if (!lens || id === null) return [];
  const metric = x.state.get("trajectory_metric");
  const line = hoverLine(lens, metric, p, id, x.entropyUnit);
  const b = x.lensB;
  // A diff: the same token at the same position on side B (KL lines are side A's own).
  if (!b || p >= b.P || metric === "kl") return [line];
  const [la, lb] = x.labels();
  const lineB = hoverLine(b, metric, p, id, x.entropyUnit);
  return [
    { ...line, label: `${line.label} (${la})` },
    { ...lineB, label: `${lineB.label} (${lb})` },
  ];
}
