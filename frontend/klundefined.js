// Where KL is undefined (docs/data-format.md, kl_undefined): the model's output at the
// position, KL's reference, is not finite. The decoder accepts a NaN KL in a computed cell
// only at a flagged position, so a computed cell with a NaN KL is what marks one.

import { CELL_OK } from "./lens.js";

/** What a KL hover says at such a position, where other NaNs say "not known". */
export const KL_UNDEFINED = "undefined: the model's output at this position is not finite";

/**
 * Whether position p's KL is undefined (some computed cell of it has a NaN KL).
 * @param {import("./lens.js").Lens} lens
 * @param {number} p
 */
export function klUndefinedAt(lens, p) {
  const v = lens.klValues;
  if (!v) return false;
  for (let l = 0; l < lens.L; l++) {
    if (lens.status(l, p) === CELL_OK && Number.isNaN(v[l * lens.P + p])) return true;
  }
  return false;
}
