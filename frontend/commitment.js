// Where a generated token committed (docs/data-format.md §3, `commitment`, `entered_topk`):
// which grid columns to mark and what the mark's tooltip says. Pure: the grid draws it.
//
// A generated token at position p is the prediction of position p - 1, so its marks go over
// row p - 1, under the cells that predict it: a solid bar from the column where the token
// became the top-1 for good to the last shown column, and a lighter one from the column where
// it entered the top-k for good up to there. When that lens row is not a shown column (a
// stride or a zoom), the nearest shown column at or after it is marked, and the tooltip says
// so.

import { POS_GENERATED } from "./lens.js";
import { showToken } from "./tokens.js";
import { EMPTY_TOKEN } from "./schema.js";

/**
 * What the data says about one generated token.
 * @typedef {object} Commit
 * @property {string} token its text
 * @property {number | null} commitment lens row from which it is the top-1 to the last row,
 *   -1 for never; null when the data has no `commitment`
 * @property {number | null} entered lens row from which it stays in the top-k, -1 for never;
 *   null when the data has no `entered_topk`
 * @property {number[]} layers model layer number of each lens row
 * @property {number} k the data's top-k width
 */

/**
 * A run of shown columns to mark, first to last (indices into the shown columns).
 * @typedef {{ from: number, to: number }} Span
 */

/**
 * The commit facts of the token at position p, or null when p is not a generated position
 * (or the data carries neither field). Its marks belong over row p - 1.
 * @param {import("./lens.js").Lens} lens
 * @param {number} p
 * @returns {Commit | null}
 */
export function commitFor(lens, p) {
  if (p < 1 || p >= lens.P || lens.kind(p) !== POS_GENERATED) return null;
  if (!lens.commitment && !lens.enteredTopk) return null;
  return {
    token: lens.input[p],
    commitment: lens.commitment ? lens.commitment[p] : null,
    entered: lens.enteredTopk ? lens.enteredTopk[p] : null,
    layers: lens.layers,
    k: lens.k,
  };
}

/**
 * Index of the first shown column whose lens row is `row` or after it, or -1.
 * @param {number[]} cols lens rows shown as columns, ascending
 * @param {number} row
 */
export function columnAtOrAfter(cols, row) {
  for (let i = 0; i < cols.length; i++) if (cols[i] >= row) return i;
  return -1;
}

/**
 * The columns to mark: `commit` from the commit column to the last, `entered` from the top-k
 * column up to the commit column (or to the last when the token never commits in view).
 * @param {Commit} c
 * @param {number[]} cols lens rows shown as columns, ascending
 * @returns {{ commit: Span | null, entered: Span | null }}
 */
export function commitMarks(c, cols) {
  const last = cols.length - 1;
  const at = (/** @type {number | null} */ row) =>
    row !== null && row >= 0 ? columnAtOrAfter(cols, row) : -1;
  const commitCi = at(c.commitment);
  const enteredCi = at(c.entered);
  const enteredEnd = commitCi >= 0 ? commitCi - 1 : last;
  return {
    commit: commitCi >= 0 ? { from: commitCi, to: last } : null,
    entered: enteredCi >= 0 && enteredCi <= enteredEnd ? { from: enteredCi, to: enteredEnd } : null,
  };
}

/**
 * The token in quotes, with its spaces as they are and other whitespace and control
 * characters as the grid shows them: "' Paris'".
 * @param {string} raw
 */
export function quoteToken(raw) {
  if (raw === "") return `'${EMPTY_TOKEN}'`;
  return `'${raw.replace(/[^\S ]|\p{Cc}/gu, (ch) => showToken(ch).text)}'`;
}

/**
 * The tooltip: "' Paris' is top-1 from layer 22 on; in the top-5 from layer 18". With `cols`,
 * a lens row that is not a shown column names the column marked instead.
 * @param {Commit} c
 * @param {number[]} [cols] lens rows shown as columns; omitted: no note about the columns
 */
export function commitText(c, cols) {
  const tok = quoteToken(c.token);
  const note = (/** @type {number} */ row) => {
    if (!cols) return "";
    const ci = columnAtOrAfter(cols, row);
    if (ci < 0) return " (not marked: no shown column at or after it)";
    if (cols[ci] === row) return "";
    return ` (marked at layer ${c.layers[cols[ci]]}, the nearest shown column at or after it)`;
  };
  const lastLayer = c.layers[c.layers.length - 1];
  /** @type {string[]} */
  const parts = [];
  if (c.commitment !== null) {
    parts.push(
      c.commitment >= 0
        ? `${tok} is top-1 from layer ${c.layers[c.commitment]} on${note(c.commitment)}`
        : `${tok} is not top-1 at the last layer (${lastLayer})`,
    );
  }
  if (c.entered !== null) {
    const head = parts.length ? "" : `${tok} is `;
    parts.push(
      c.entered >= 0
        ? `${head}in the top-${c.k} from layer ${c.layers[c.entered]}${note(c.entered)}`
        : `${head}not in the top-${c.k} at the last layer`,
    );
  }
  return parts.join("; ");
}
