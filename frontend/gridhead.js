// The grid's column headers: each shown lens row's label ("12", "12·a" after attention, the
// final layer in bold) with its column-resize handle, and, when the data carries the lens's
// reliability (issue 21), the reliability strip: a thin band along the headers' bottom edge,
// one cell per column, colored by that row's held-out KL (lensinfo.js; darker = less
// trustworthy, hatched = not measured). In a diff of two lenses side B's strip runs just
// above side A's, so both lenses' trust is read per column. Built with the headers, so the
// strips follow the columns through widths, zoom and sideways scrolling without any
// bookkeeping of their own.

import { el } from "./dom.js";
import { ROW_ATTENTION } from "./lens.js";
import { reliabilityColor, reliabilityText } from "./lensinfo.js";

/** @typedef {import("./lens.js").Lens} Lens */

/**
 * The header cells of lens rows `cols` (the corner cell is the grid's).
 * @param {Lens | null} lens
 * @param {number[]} cols
 * @param {Lens | null} [lensB] side B of a diff of two lenses, when its data has reliability
 */
export function headCells(lens, cols, lensB = null) {
  return cols.map((l, ci) => {
    const last = lens !== null && l === lens.finalRow;
    const attn = lens !== null && lens.rowKind(l) === ROW_ATTENTION;
    const title = lens ? lens.rowTitle(l) : "";
    const h = el("div", {
      class: `llk-colhead llk-head-cell${last ? " llk-final" : ""}${attn ? " llk-head-attn" : ""}`,
      text: lens ? lens.rowLabel(l) : "",
      title: last
        ? `final layer: the model's prediction${lens.hasSublayers ? " (after the layer)" : ""}`
        : title,
      attrs: { role: "columnheader", "aria-colindex": String(ci + 2), "data-ci": String(ci) },
    });
    if (lens?.reliability) h.append(stripCell(lens, l));
    if (lensB) h.append(stripCell(lensB, l, lens?.reliability ? " llk-rel-b" : ""));
    h.append(el("div", { class: "llk-resize-col", title: "drag to resize the columns" }));
    return h;
  });
}

/**
 * One cell of the reliability strip: lens row l's color and, as its title, the numbers.
 * Hidden from assistive technology: the header's name stays the layer (the cell tooltip and
 * the popup say the same in words).
 * @param {Lens} lens with reliability
 * @param {number} l
 * @param {string} [place] " llk-rel-b" for side B's strip above side A's
 */
function stripCell(lens, l, place = "") {
  const rel = /** @type {import("./lensinfo.js").Reliability} */ (lens.reliability);
  const color = reliabilityColor(rel.kl[l]);
  const cell = el("span", {
    class: `llk-rel${color ? "" : " llk-rel-none"}${place}`,
    title: `${lens.rowTitle(l)}, ${lens.lensName}: ${reliabilityText(rel, l)}`,
    attrs: { "aria-hidden": "true", "data-l": String(l) },
  });
  if (color) cell.style.background = color;
  return cell;
}
