// Cell coloring: what value drives a cell's color in each mode, and the color itself.

import { CELL_OPACITY } from "./schema.js";
import { CELL_OK, idKey, ROW_OUTPUT, sublayerSplit } from "./lens.js";
import { formatDecimal } from "./format.js";
import { cellJsd } from "./diff.js";

/** @typedef {import("./lens.js").Lens} Lens */
/** @typedef {import("./schema.js").ColorMode} ColorMode */

/** Modes that color by a target (a pin, or a payload target) besides "token" and "group". */
export const TARGET_MODES = ["rank", "logprob_diff", "delta", "diff_token"];
/** Modes whose colors are signed: the second color (`negative_color`) below 0. */
export const DIVERGING_MODES = ["logprob_diff", "delta", "sublayer", "diff_token"];
/** Modes whose scale is taken over the shown lens rows (a zoom re-scales them). */
export const ROW_SCALED_MODES = ["kl", "logprob_diff", "delta", "sublayer", "diff_token"];
/** Modes that compare side A with side B (`compare_data`): off without a side B. */
export const DIFF_MODES = ["diff_token", "jsd"];

/**
 * The grid takes one number per cell and paints it with `cellBackground`: a diverging mode's
 * negative side travels as NEGATIVE + |intensity|, which cellBackground paints in the second
 * color. Such a cell is above STRONG, so the grid computes its text color from its actual
 * background, which reads right on faint cells too.
 */
export const NEGATIVE = 2;

/**
 * The intensity of a computed cell whose KL is undefined (the model's output at its position
 * is not finite, so KL has no reference): cellBackground paints it hatched, like an invalid
 * cell, while the cell keeps its token and its numbers in the other modes.
 */
export const KL_UNDEFINED = -Infinity;

/** The hatch of cells without a value: widget.css's `.llk-invalid` background. */
const HATCH =
  "repeating-linear-gradient(135deg, color-mix(in srgb, var(--llk-error-fg) 18%, transparent) 0 3px, transparent 3px 7px)";

/**
 * @typedef {object} ColorChoice the traits that choose what colors the cells
 * @property {ColorMode} color_mode
 * @property {number | null} color_token
 * @property {number[]} color_group
 * @property {number[]} [color_foil]
 * @property {{ ids: number[] }[]} pins
 */

/**
 * The token ids a "token", "group", "rank", "logprob_diff" or "delta" coloring actually
 * uses: the chosen target, else the first pinned token (token mode), the first pinned group
 * (group mode), or the first pin, else the data's first target (the other modes). The cells
 * and the target menu both read it, so the menu always shows what colors the cells.
 * @param {ColorChoice} s
 * @param {{ ids: number[] }[]} [targets] the data's named targets
 * @returns {number[]}
 */
export function colorTarget(s, targets = []) {
  if (s.color_mode === "token") {
    if (s.color_token !== null) return [s.color_token];
    return s.pins.length ? [s.pins[0].ids[0]] : [];
  }
  if (s.color_mode === "group") {
    if (s.color_group.length) return s.color_group;
    return (s.pins.find((p) => p.ids.length > 1) ?? s.pins[0])?.ids ?? [];
  }
  if (TARGET_MODES.includes(s.color_mode)) {
    if (s.color_group.length) return s.color_group;
    return s.pins[0]?.ids ?? targets[0]?.ids ?? [];
  }
  return [];
}

/**
 * The foil of "logprob_diff": the chosen one, else the first pin, then the first data
 * target, whose ids are not the target's. [] in the other modes, or when there is none.
 * @param {ColorChoice} s
 * @param {{ ids: number[] }[]} [targets]
 * @returns {number[]}
 */
export function colorFoil(s, targets = []) {
  if (s.color_mode !== "logprob_diff") return [];
  if (s.color_foil?.length) return s.color_foil;
  const target = idKey(colorTarget(s, targets));
  return [...s.pins, ...targets].find((c) => idKey(c.ids) !== target)?.ids ?? [];
}

/**
 * What colors the cells: the mode, its target and foil, and the lens rows shown (the scale
 * of the row-scaled modes is taken over them).
 * @typedef {object} ColorSpec
 * @property {ColorMode} mode
 * @property {number[]} ids the target's ids (token / group / rank / logprob_diff / delta)
 * @property {number[]} [foil] logprob_diff's foil
 * @property {number[]} [rows] lens rows shown; all when omitted
 * @property {Lens | null} [b] side B of a diff (diff_token, jsd)
 */

/**
 * A mode's value for every cell, and how values become intensities.
 * @typedef {object} CellMetric
 * @property {ColorMode} mode
 * @property {(l: number, p: number) => number | null} value the cell's value in the mode's
 *   unit (probability, nats, rank, Δ probability); null: unknown here (uncolored)
 * @property {number} max the magnitude colored at full strength (rank: the largest rank)
 * @property {boolean} diverging signed values, the second color below 0
 * @property {boolean} exact rank / logprob_diff: the payload's exact target metrics; false
 *   when read from the top-k or the tracked trajectories
 */

/**
 * The smallest "nice" number (1, 2, 2.5 or 5 × 10^n) that is ≥ v; 1 for v ≤ 0.
 * @param {number} v
 */
export function niceCeil(v) {
  if (!(v > 0)) return 1;
  const e = Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) {
    const c = m * 10 ** e;
    if (c >= v * (1 - 1e-9)) return Number(c.toPrecision(6));
  }
  return 10 ** (e + 1);
}

/**
 * The mode's values for `lens`, or null when nothing is colored (mode "none", no target or
 * foil chosen, no entropy or KL in the data).
 * @param {Lens} lens
 * @param {ColorSpec} spec
 * @returns {CellMetric | null}
 */
export function cellMetric(lens, { mode, ids, foil = [], rows, b = null }) {
  const shown = rows ?? [...lens.layers.keys()];
  /** @type {(value: CellMetric["value"], max: number, diverging?: boolean, exact?: boolean) => CellMetric} */
  const metric = (value, max, diverging = false, exact = true) => ({
    mode,
    value,
    max,
    diverging,
    exact,
  });
  switch (mode) {
    case "top1":
      return metric((l, p) => lens.topProb(l, p), 1);
    case "token":
    case "group": {
      if (!ids.length) return null;
      const traj = perPosition(lens, (p) => lens.groupTrajectory(p, ids));
      return metric((l, p) => {
        const t = traj(p);
        return t ? Math.min(1, t[l]) : 0;
      }, 1);
    }
    case "entropy": {
      const ent = lens.entropy;
      if (!ent || lens.maxEntropy <= 0) return null;
      return metric((l, p) => ent[l * lens.P + p], lens.maxEntropy);
    }
    case "kl": {
      if (!lens.klValues) return null;
      return metric((l, p) => lens.kl(l, p), lens.maxKl(shown));
    }
    case "rank": {
      if (!ids.length) return null;
      const t = lens.targetIndex(ids);
      const value =
        t >= 0
          ? (/** @type {number} */ l, /** @type {number} */ p) => lens.targetRank(t, l, p)
          : (/** @type {number} */ l, /** @type {number} */ p) => lens.topkRank(l, p, ids) || null;
      return metric(value, lens.maxRank, false, t >= 0);
    }
    case "logprob_diff": {
      if (!ids.length || !foil.length) return null;
      const a = logProbOf(lens, ids);
      const b = logProbOf(lens, foil);
      const exact = a.exact && b.exact;
      const x = exact ? a.value : logProbOf(lens, ids, true).value;
      const y = exact ? b.value : logProbOf(lens, foil, true).value;
      const value = (/** @type {number} */ l, /** @type {number} */ p) => {
        const d = x(l, p) - y(l, p);
        return Number.isNaN(d) ? null : d; // unknown, or both 0
      };
      return metric(value, symmetricMax(lens, shown, value), true, exact);
    }
    case "delta": {
      if (!ids.length) return null;
      const traj = perPosition(lens, (p) => lens.groupTrajectory(p, ids));
      const value = (/** @type {number} */ l, /** @type {number} */ p) => {
        const t = traj(p);
        if (!t || l === 0 || lens.status(l - 1, p) !== CELL_OK) return null;
        return t[l] - t[l - 1];
      };
      return metric(value, Math.min(1, symmetricMax(lens, shown, value)), true);
    }
    case "diff_token": {
      // p(target) on side A minus on side B; positions of one side only are uncolored.
      if (!b || !ids.length) return null;
      const ta = perPosition(lens, (p) => lens.groupTrajectory(p, ids));
      const tb = perPosition(lens, (p) => (p < b.P ? b.groupTrajectory(p, ids) : null));
      const value = (/** @type {number} */ l, /** @type {number} */ p) => {
        if (p >= b.P || b.status(l, p) !== CELL_OK) return null;
        const x = ta(p);
        const y = tb(p);
        return x && y ? x[l] - y[l] : null;
      };
      return metric(value, Math.min(1, symmetricMax(lens, shown, value)), true);
    }
    case "jsd": {
      if (!b) return null;
      const value = (/** @type {number} */ l, /** @type {number} */ p) => {
        const v = cellJsd(lens, b, l, p);
        return Number.isNaN(v) ? null : v;
      };
      return metric(value, Math.LN2);
    }
    case "sublayer": {
      if (!lens.hasSublayers) return null;
      const value = (/** @type {number} */ l, /** @type {number} */ p) => {
        const s = sublayerParts(lens, l, p);
        if (!s || Number.isNaN(s.attention)) return null;
        const a = Math.abs(s.attention);
        const m = Math.abs(s.mlp);
        return a >= m ? a : -m;
      };
      return metric(value, Math.min(1, symmetricMax(lens, shown, value)), true);
    }
    default:
      return null;
  }
}

/**
 * The "sublayer" mode at an output cell (l, p): the top-1 token t of (l, p), and layer l's
 * change of p(t) split into its attention part p_t(a_l) − p_t(o_{l−1}) (from 0 at layer 0;
 * NaN when the residual entering the layer was not collected) and its MLP part
 * p_t(o_l) − p_t(a_l), read from t's trajectory at p. Null at after-attention rows, at
 * output rows without their attention row, and at cells without numbers. Positive values
 * of the mode are the attention's, negative ones the MLP's.
 * @param {Lens} lens
 * @param {number} l
 * @param {number} p
 * @returns {{ id: number, attention: number, mlp: number } | null}
 */
export function sublayerParts(lens, l, p) {
  if (lens.rowKind(l) !== ROW_OUTPUT || lens.attentionRow(l) < 0) return null;
  if (lens.status(l, p) !== CELL_OK) return null;
  const id = lens.topId(l, p);
  const traj = lens.trajectory(p, id);
  if (!traj) return null;
  const s = sublayerSplit(lens, l, p, traj);
  return s && { id, ...s };
}

/**
 * `f(p)` computed once per position, when first asked for.
 * @template T
 * @param {Lens} lens
 * @param {(p: number) => T} f
 * @returns {(p: number) => T}
 */
function perPosition(lens, f) {
  /** @type {T[]} */
  const cache = new Array(lens.P);
  /** @type {boolean[]} */
  const done = new Array(lens.P).fill(false);
  return (p) => {
    if (!done[p]) [cache[p], done[p]] = [f(p), true];
    return cache[p];
  };
}

/**
 * log p(ids) at each cell: the payload target's exact value when `ids` is one (and
 * `approx` is false), else the log of the tracked (summed) probability; NaN where unknown,
 * -Infinity for 0.
 * @param {Lens} lens
 * @param {number[]} ids
 * @param {boolean} [approx] always read the tracked trajectories
 */
function logProbOf(lens, ids, approx = false) {
  const t = approx ? -1 : lens.targetIndex(ids);
  if (t >= 0) {
    return {
      exact: true,
      value: (/** @type {number} */ l, /** @type {number} */ p) => lens.targetLogProb(t, l, p),
    };
  }
  const traj = perPosition(lens, (p) => lens.groupTrajectory(p, ids));
  return {
    exact: false,
    value: (/** @type {number} */ l, /** @type {number} */ p) => {
      const tr = traj(p);
      return tr && lens.status(l, p) === CELL_OK ? Math.log(tr[l]) : NaN;
    },
  };
}

/**
 * A round bound for |value| over the computed cells of the shown rows (infinities aside):
 * the diverging scale runs from -max to +max.
 * @param {Lens} lens
 * @param {number[]} rows
 * @param {(l: number, p: number) => number | null} value
 */
function symmetricMax(lens, rows, value) {
  let m = 0;
  for (const l of rows) {
    for (let p = 0; p < lens.P; p++) {
      if (lens.status(l, p) !== CELL_OK) continue;
      const v = value(l, p);
      if (v !== null && Number.isFinite(v) && Math.abs(v) > m) m = Math.abs(v);
    }
  }
  return niceCeil(m);
}

/**
 * A value's signed intensity in [-1, 1] (in [0, 1] unless the metric diverges).
 * @param {CellMetric} m
 * @param {number} v
 */
export function intensityOf(m, v) {
  if (m.mode === "rank") {
    // Rank 1 strongest, the largest rank palest, evenly in log(rank).
    return Math.max(0, Math.min(1, 1 - Math.log(Math.max(1, v)) / Math.log(m.max)));
  }
  if (v === Infinity || v === -Infinity) return m.diverging ? Math.sign(v) : v > 0 ? 1 : 0;
  const a = m.max > 0 ? v / m.max : 0;
  return Math.max(m.diverging ? -1 : 0, Math.min(1, a));
}

/**
 * A function giving a cell's intensity for the grid, or null for an uncolored cell. Cells
 * that are invalid or pending have no numbers: they are never colored. A diverging mode's
 * negative side comes as NEGATIVE + |intensity| (see NEGATIVE).
 * @param {Lens} lens
 * @param {ColorSpec | CellMetric | null} spec what colors the cells, or its metric
 * @returns {(l: number, p: number) => number | null}
 */
export function intensityFn(lens, spec) {
  const m = spec && "value" in spec ? spec : spec ? cellMetric(lens, spec) : null;
  if (!m) return () => null;
  return (l, p) => {
    if (lens.status(l, p) !== CELL_OK) return null;
    const v = m.value(l, p);
    // decode.js lets a computed cell's KL be NaN only where the position's output is not finite.
    if (m.mode === "kl" && Number.isNaN(v)) return KL_UNDEFINED;
    if (v === null || Number.isNaN(v)) return null;
    const a = intensityOf(m, v);
    return a < 0 ? NEGATIVE - a : a;
  };
}

/**
 * CSS background for an intensity: the mode's color at that opacity, so it reads on light
 * and dark backgrounds alike. `color` is "#rrggbb", or "#rrggbb #rrggbb" for a diverging
 * mode (positive, negative), whose negative side comes as NEGATIVE + |intensity|.
 * @param {string} color
 * @param {number} a
 */
export function cellBackground(color, a) {
  if (a === KL_UNDEFINED) return HATCH;
  const [pos, neg] = color.split(" ");
  const negative = neg !== undefined && a >= NEGATIVE;
  const n = parseInt((negative ? neg : pos).slice(1), 16);
  const v = negative ? a - NEGATIVE : a;
  const alpha = Math.round(Math.max(0, Math.min(1, v)) * CELL_OPACITY * 100) / 100;
  return `rgba(${n >> 16},${(n >> 8) & 255},${n & 255},${alpha})`;
}

/**
 * The color argument of the grid and color bar for a mode: its own color, or the heat color
 * and the negative color for a diverging mode.
 * @param {ColorMode} mode
 * @param {{ heat_color: string, entropy_color: string, metric_color: string,
 *   negative_color: string }} s
 */
export function modeColor(mode, s) {
  if (mode === "entropy") return s.entropy_color;
  if (mode === "kl" || mode === "jsd") return s.metric_color;
  if (DIVERGING_MODES.includes(mode)) return `${s.heat_color} ${s.negative_color}`;
  return s.heat_color;
}

/** A minus sign that reads as one, not a hyphen. */
export const MINUS = "\u2212";

/**
 * A number with its sign always written: "+2", "0", "−0.5".
 * @param {number} v
 * @param {(v: number) => string} [fmt]
 */
export function signed(v, fmt = (x) => formatDecimal(x)) {
  if (v === 0) return "0";
  if (v === Infinity) return "+\u221e";
  if (v === -Infinity) return `${MINUS}\u221e`;
  return `${v > 0 ? "+" : MINUS}${fmt(Math.abs(v))}`;
}

/**
 * A rank in few characters: 1, 20, 300, 4k, 50k, 1.2M.
 * @param {number} r
 */
export function shortRank(r) {
  if (r < 1000) return String(r);
  if (r < 1e6) return `${formatDecimal(r / 1000, 2)}k`;
  return `${formatDecimal(r / 1e6, 2)}M`;
}

/**
 * Round tick steps over [0, max]: about four intervals of 1, 2, 2.5 or 5 × 10^n.
 * @param {number} max
 */
export function niceStep(max) {
  const raw = max / 4;
  const e = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 2.5, 5]) if (m * e >= raw) return m * e;
  return 10 * e;
}

/** Above this opacity the cell text switches to white to stay readable. */
export const STRONG = 0.55;
