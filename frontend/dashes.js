// Dash patterns telling pinned input rows apart: the chart's lines, the grid's row marks and
// the legend's samples all use them, so they live below the views.

import { svg } from "./dom.js";
import { ROW_DASHES } from "./schema.js";

/**
 * The dash pattern of pinned row number `index` ("" = solid).
 * @param {number} index
 */
export function rowDash(index) {
  return ROW_DASHES[index % ROW_DASHES.length];
}

/** A short line in the dash style of pinned row number `index`. @param {number} index */
export function dashSample(index) {
  const s = svg("svg", { class: "llk-dash", width: 22, height: 6, "aria-hidden": "true" });
  const line = svg("line", { x1: 1, y1: 3, x2: 21, y2: 3 });
  const dash = rowDash(index);
  if (dash) line.setAttribute("stroke-dasharray", dash);
  s.append(line);
  return s;
}
