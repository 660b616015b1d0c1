// The patching sweep's data (issue 20, trait `sweep`): its check, and the numbers and colors
// the panel (sweep.js) shows. Pure, so the node unit tier tests it. The effect of patching a
// cell is read as in causal-tracing papers: normalized so that 0 is the corrupted run's
// metric and 1 the clean run's ("fully restored"), colored on a diverging scale centred at 0.

import { cellBackground, NEGATIVE } from "./color.js";
import { formatDecimal } from "./format.js";
import { describe } from "./decodecheck.js";

/** @typedef {LlkSweep} Sweep declared in types.d.ts */

/**
 * Why `v` is not a sweep, or "". Traits can arrive without Python's checks (saved widget
 * state), and the panel must show a reason rather than throw.
 * @param {Record<string, unknown>} v
 */
function sweepProblem(v) {
  for (const key of ["metric", "clean_label", "corrupt_label"]) {
    if (typeof v[key] !== "string") return `"${key}" is ${describe(v[key])}, not text`;
  }
  for (const key of ["layers", "positions"]) {
    const list = v[key];
    if (!Array.isArray(list) || !list.every((x) => Number.isSafeInteger(x) && x >= 0)) {
      return `"${key}" must be a list of whole numbers >= 0 (got ${describe(list)})`;
    }
  }
  const layers = /** @type {number[]} */ (v.layers);
  const positions = /** @type {number[]} */ (v.positions);
  const tokens = v.tokens;
  if (!Array.isArray(tokens) || !tokens.every((t) => typeof t === "string")) {
    return `"tokens" must be a list of token texts (got ${describe(tokens)})`;
  }
  if (tokens.length !== positions.length) {
    return `"tokens" has ${tokens.length} texts for ${positions.length} positions`;
  }
  const values = v.values;
  if (!Array.isArray(values) || values.length !== layers.length) {
    return `"values" must have one row per layer (${layers.length}; got ${describe(values)})`;
  }
  for (let i = 0; i < values.length; i++) {
    const row = values[i];
    if (!Array.isArray(row) || row.length !== positions.length) {
      return `"values"[${i}] must have one value per position (${positions.length}; got ${describe(row)})`;
    }
    const bad = row.findIndex((x) => x !== null && !(typeof x === "number" && Number.isFinite(x)));
    if (bad >= 0) {
      return `"values"[${i}][${bad}] is ${describe(row[bad])}; a value is a finite number or null (not yet)`;
    }
  }
  for (const key of ["clean_value", "corrupt_value"]) {
    const x = v[key];
    if (typeof x !== "number" || !Number.isFinite(x)) {
      return `"${key}" is ${describe(x)}, not a finite number`;
    }
  }
  for (const key of ["done", "total"]) {
    const x = v[key];
    if (!Number.isSafeInteger(x) || /** @type {number} */ (x) < 0) {
      return `"${key}" is ${describe(x)}, not a whole number >= 0`;
    }
  }
  if (v.running != null && typeof v.running !== "boolean") {
    return `"running" is ${describe(v.running)}, not true or false`;
  }
  if (v.error != null && typeof v.error !== "string")
    return `"error" is ${describe(v.error)}, not text`;
  return "";
}

/**
 * The `sweep` trait checked: the sweep (null for `{}` or none) or why it cannot be shown.
 * @param {unknown} v
 * @returns {{ sweep: Sweep | null, problem: string }}
 */
export function readSweep(v) {
  if (v == null) return { sweep: null, problem: "" };
  if (typeof v !== "object" || Array.isArray(v)) {
    return { sweep: null, problem: `the sweep is ${describe(v)}, not an object` };
  }
  const r = /** @type {Record<string, unknown>} */ (v);
  if (Object.keys(r).length === 0) return { sweep: null, problem: "" };
  const problem = sweepProblem(r);
  if (problem) return { sweep: null, problem };
  // Older or hand-made values may lack the two flags: not running, no error.
  const sweep = /** @type {Sweep} */ ({ ...r, running: r.running === true, error: r.error ?? "" });
  return { sweep, problem: "" };
}

/**
 * The normalized effect of a patch: 0 is the corrupted run's metric, 1 the clean run's.
 * Null where the value is not computed yet, or where clean and corrupted agree (no effect
 * to restore, so no scale).
 * @param {number | null} v
 * @param {number} clean
 * @param {number} corrupt
 */
export function normalized(v, clean, corrupt) {
  if (v === null || !Number.isFinite(v) || clean === corrupt) return null;
  return (v - corrupt) / (clean - corrupt);
}

/**
 * A cell's background for a normalized effect: the heat color above 0, the negative color
 * below (a patch that moved the metric away from clean), opacity |effect| up to 1 (beyond
 * is shown as 1, the tooltip has the number). Empty for no effect to show.
 * @param {number | null} e
 * @param {string} heat "#rrggbb"
 * @param {string} negative "#rrggbb"
 */
export function effectBackground(e, heat, negative) {
  if (e === null || Number.isNaN(e)) return "";
  const a = Math.min(1, Math.abs(e));
  return cellBackground(`${heat} ${negative}`, e < 0 ? NEGATIVE + a : a);
}

/**
 * What a cell's tooltip says: the metric's exact value and the normalized effect, or that
 * it is not computed yet.
 * @param {Sweep} s
 * @param {number} i row of `values` (a layer)
 * @param {number} j column of `values` (a position)
 */
export function cellTitle(s, i, j) {
  const where = `layer ${s.layers[i]}, position ${s.positions[j]}`;
  const v = s.values[i][j];
  if (v === null) return `${where}: not yet`;
  const e = normalized(v, s.clean_value, s.corrupt_value);
  const effect =
    e === null ? "no normalized effect (clean and corrupted agree)" : `effect ${fmt(e)}`;
  return `${where}: ${s.metric} ${fmt(v)}; ${effect} (0 = ${s.corrupt_label}, 1 = ${s.clean_label})`;
}

/** @param {number} v */
function fmt(v) {
  return v < 0 ? `\u2212${formatDecimal(-v)}` : formatDecimal(v);
}
