// How the cells are colored, as an explorer step: each mode's values over the shown lens
// rows (color.js) painted on the grid, the color bar's scale, and what the cell tooltip
// reports. Functions of the Explorer (explorer.js), which remembers what was applied so it
// recolors only when that changes.

import { cellMetric, colorFoil, colorTarget, intensityFn, modeColor } from "./color.js";
import { idsLabel } from "./pins.js";
import { colorScale } from "./colorbar.js";
import { cellFacts } from "./celltip.js";
import { touches } from "./edits.js";
import { lensFacts } from "./lensinfo.js";

/** @typedef {import("./explorer.js").Explorer} Explorer */
/** @typedef {import("./lens.js").Lens} Lens */

/**
 * What colors the cells besides the mode and colors: the target and foil, by ids and name.
 * @param {Explorer} x
 * @param {Lens} lens
 */
export function colorKey(x, lens) {
  const s = x.state.all();
  const ids = colorTarget(s, lens.targets);
  const foil = colorFoil(s, lens.targets);
  const name = (/** @type {number[]} */ t) => (t.length ? idsLabel(lens, s.pins, t) : "");
  return JSON.stringify([ids, foil, name(ids), name(foil)]);
}

/**
 * Color the cells for the current mode, and set the color bar and the cell tooltip's
 * context to match.
 * @param {Explorer} x
 */
export function paintCells(x) {
  const lens = x.lens;
  if (!lens) return;
  const s = x.state.all();
  const mode = s.color_mode;
  const color = modeColor(mode, s);
  const ids = colorTarget(s, lens.targets);
  const foil = colorFoil(s, lens.targets);
  const rows = x.views.grid.cols.length ? x.views.grid.cols : undefined;
  const b = x.lensB;
  const metric = cellMetric(lens, { mode, ids, foil, rows, b });
  x.coloredKey = colorKey(x, lens);
  x.coloredRows = x.views.grid.cols.join();
  x.views.grid.setColoring(intensityFn(lens, metric), color);
  const target = ids.length ? idsLabel(lens, s.pins, ids) : "";
  const foilText = foil.length ? idsLabel(lens, s.pins, foil) : "";
  const unit = x.entropyUnit;
  const labels = x.labels();
  x.tip = { mode, ids, target, unit, metric, foil: foilText, labels, b };
  x.views.colorbar.render(
    colorScale(lens, mode, target, unit, { metric, foil: foilText, labels }),
    color,
    unit,
  );
  x.views.celltip.hide();
}

/**
 * The hovered cell's tooltip lines, null for none.
 * @param {Explorer} x
 * @param {HTMLElement} cell
 */
export function cellTipLines(x, cell) {
  const lens = x.lens;
  const at = x.views.grid.locate(cell);
  if (!lens || !at || at.l === undefined || !x.tip) return null;
  const facts = cellFacts(lens, at.l, at.p, x.tip);
  // An edited run: which of its edits can have changed this cell (edits.js).
  const by = lens.edits.filter((e) => touches(e, lens.layers[at.l], lens.rowKind(at.l), at.p));
  if (facts && by.length) facts.push(["changed by", by.map((e) => e.label).join(", ")]);
  // Which lens produced the cell, with its reliability at this row: after the cell's name.
  facts?.splice(1, 0, ...lensFacts(lens, at.l, x.lensB, x.labels()));
  return facts;
}
