// The study widget's data: its traits decoded and checked into plain typed values, and the
// pure rules the views share (which quantities the band chart shows, axis domains, ticks,
// number formats per kind). No DOM here.
//
// Traits come from StudyWidget (study_widget.py), which validates them; saved notebook state
// does not pass Python, so every value is checked again and a bad one becomes a readable
// problem line instead of a TypeError in a view.

import { formatDecimal } from "../format.js";

/**
 * @typedef {object} Quantity
 * @property {string} name unique
 * @property {string} kind one of KINDS' keys (an unknown one is drawn as a plain number)
 * @property {string} label shown in the legend, select and readouts
 */

/**
 * The synced traits of StudyWidget.
 * @typedef {object} StudyState
 * @property {number[]} layers
 * @property {string[]} prompts
 * @property {Quantity[]} quantities
 * @property {DataView | ArrayBuffer | null} values float32 [Q, N, L]
 * @property {DataView | ArrayBuffer | null} summary float32 [Q, 3, L]
 * @property {number} n_done
 * @property {number} n_total
 * @property {boolean} busy
 * @property {string} status
 * @property {string} error
 * @property {string[]} shown
 * @property {string} heatmap_quantity
 * @property {number | null} selected_prompt
 * @property {"auto" | "light" | "dark"} dark_mode
 */

/** @typedef {import("@anywidget/types").AnyModel<StudyState>} StudyModel */

/**
 * @typedef {object} Kind
 * @property {string} axis the y axis title and color bar title
 * @property {boolean} signed values can be negative: diverging colors, 0 in the domain
 * @property {boolean} log drawn on a log scale (rank)
 * @property {number} [max] the largest value the kind can take (probability: 1)
 * @property {(v: number) => string} format a value for readouts and tooltips
 * @property {(v: number) => string} tick a value as an axis tick or color bar end
 */

/** A probability in percent, 3 significant digits; "<0.0001%" below 1e-6, as the grid. */
const percent = (/** @type {number} */ v) =>
  v !== 0 && Math.abs(v) < 1e-6 ? `${v < 0 ? "-" : ""}<0.0001%` : `${formatDecimal(v * 100, 3)}%`;
const nats = (/** @type {number} */ v) => `${v.toFixed(3)} nats`;
const signedNats = (/** @type {number} */ v) => `${v > 0 ? "+" : ""}${v.toFixed(3)} nats`;
const plain = (/** @type {number} */ v) => formatDecimal(v, 3);

/** @type {Readonly<Record<string, Kind>>} */
export const KINDS = Object.freeze({
  probability: {
    axis: "probability",
    signed: false,
    log: false,
    max: 1,
    format: percent,
    tick: percent,
  },
  rank: {
    axis: "rank (log scale)",
    signed: false,
    log: true,
    format: (v) => (v >= 100 ? String(Math.round(v)) : formatDecimal(v, 3)),
    tick: (v) => String(Math.round(v)),
  },
  kl: { axis: "KL divergence (nats)", signed: false, log: false, format: nats, tick: plain },
  entropy: { axis: "entropy (nats)", signed: false, log: false, format: nats, tick: plain },
  logprob_diff: {
    axis: "log-prob difference (nats)",
    signed: true,
    log: false,
    format: signedNats,
    tick: plain,
  },
  delta: {
    axis: "Δ probability",
    signed: true,
    log: false,
    format: (v) => `${v > 0 ? "+" : ""}${percent(v)}`,
    tick: percent,
  },
});

/** @type {Kind} what an unknown kind (saved state from a newer version) is drawn as */
const OTHER = {
  axis: "value",
  signed: true,
  log: false,
  format: plain,
  tick: plain,
};

/** @param {string} kind */
export function kindOf(kind) {
  return Object.hasOwn(KINDS, kind) ? KINDS[kind] : OTHER;
}

/**
 * The decoded study: sizes, labels and the numbers as zero-copy Float32Arrays where the
 * message buffer allows.
 * @typedef {object} Study
 * @property {number[]} layers
 * @property {string[]} prompts
 * @property {Quantity[]} quantities
 * @property {number} Q
 * @property {number} N
 * @property {number} L
 * @property {Float32Array} values [Q, N, L], all NaN when none arrived
 * @property {Float32Array} summary [Q, 3, L] mean, CI low, CI high
 * @property {string[]} problems readable lines about what was wrong and ignored
 */

/**
 * @param {unknown} v
 * @returns {v is Record<string, unknown>}
 */
function isObject(v) {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

/**
 * Float32 view of a binary trait, or an all-NaN array (with a problem line) when it is
 * missing, empty or of the wrong size.
 * @param {unknown} v DataView (ipywidgets), ArrayBuffer or any typed array
 * @param {string} name
 * @param {number} count expected number of float32 values
 * @param {string} dims e.g. "[Q, N, L] = [3, 50, 10]"
 * @param {string[]} problems
 */
export function floats(v, name, count, dims, problems) {
  /** @type {Uint8Array | null} */
  let bytes = null;
  if (ArrayBuffer.isView(v)) bytes = new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  else if (v instanceof ArrayBuffer) bytes = new Uint8Array(v);
  if (bytes && bytes.byteLength === count * 4) {
    // Typed arrays use the platform's byte order: little-endian on every browser's CPU.
    if (bytes.byteOffset % 4 === 0) return new Float32Array(bytes.buffer, bytes.byteOffset, count);
    return new Float32Array(new Uint8Array(bytes).buffer, 0, count);
  }
  if (bytes && bytes.byteLength > 0) {
    problems.push(
      `${name} has ${bytes.byteLength} bytes, expected ${count * 4} (float32 ${dims}): not drawn`,
    );
  } else if (v != null && !bytes) {
    problems.push(`${name} is not binary data: not drawn`);
  }
  return new Float32Array(count).fill(Number.NaN);
}

/**
 * @param {Pick<StudyState, "layers" | "prompts" | "quantities" | "values" | "summary">} raw
 * @returns {Study}
 */
export function decodeStudy(raw) {
  /** @type {string[]} */
  const problems = [];
  const layers = Array.isArray(raw.layers)
    ? raw.layers.map((x, i) => (Number.isSafeInteger(x) ? x : i))
    : [];
  if (!Array.isArray(raw.layers)) problems.push("layers is not a list: no columns");
  const prompts = Array.isArray(raw.prompts) ? raw.prompts.map((p) => String(p)) : [];
  if (!Array.isArray(raw.prompts)) problems.push("prompts is not a list: no rows");
  /** @type {Quantity[]} */
  const quantities = [];
  if (Array.isArray(raw.quantities)) {
    for (const [i, q] of raw.quantities.entries()) {
      if (!isObject(q) || typeof q.name !== "string" || typeof q.kind !== "string") {
        problems.push(`quantities[${i}] is not {name, kind, label}: shown as "q${i}"`);
      }
      /** @type {Record<string, unknown>} */
      const o = isObject(q) ? q : {};
      const name = typeof o.name === "string" ? o.name : `q${i}`;
      const kind = typeof o.kind === "string" ? o.kind : "";
      if (kind && !Object.hasOwn(KINDS, kind)) {
        problems.push(`quantity ${name} has an unknown kind "${kind}": drawn as plain numbers`);
      }
      const label = typeof o.label === "string" && o.label ? o.label : name;
      quantities.push({ name, kind, label });
    }
  } else problems.push("quantities is not a list: nothing to draw");
  const Q = quantities.length;
  const N = prompts.length;
  const L = layers.length;
  const values = floats(
    raw.values,
    "values",
    Q * N * L,
    `[Q, N, L] = [${Q}, ${N}, ${L}]`,
    problems,
  );
  const summary = floats(
    raw.summary,
    "summary",
    Q * 3 * L,
    `[Q, 3, L] = [${Q}, 3, ${L}]`,
    problems,
  );
  return { layers, prompts, quantities, Q, N, L, values, summary, problems };
}

/** Rows of `summary` per quantity. */
export const MEAN = 0;
export const CI_LOW = 1;
export const CI_HIGH = 2;

/**
 * One row of the summary: `which` (MEAN, CI_LOW, CI_HIGH) of quantity `q` over the layers.
 * @param {Study} s
 * @param {number} q
 * @param {number} which
 */
export function summaryRow(s, q, which) {
  return s.summary.subarray((q * 3 + which) * s.L, (q * 3 + which + 1) * s.L);
}

/**
 * The names the band chart draws: `shown`'s known names in the quantities' order; when
 * none, every quantity of kind probability (or, with none of those, of the first
 * quantity's kind).
 * @param {Quantity[]} quantities
 * @param {unknown} shown the trait (checked here)
 * @returns {string[]}
 */
export function shownNames(quantities, shown) {
  const want = new Set(Array.isArray(shown) ? shown.filter((s) => typeof s === "string") : []);
  const named = quantities.filter((q) => want.has(q.name)).map((q) => q.name);
  if (named.length) return named;
  const kind = quantities.some((q) => q.kind === "probability")
    ? "probability"
    : quantities[0]?.kind;
  return quantities.filter((q) => q.kind === kind).map((q) => q.name);
}

/**
 * `shown` after a legend click on `name`, or null when that would hide the last line (the
 * chart always draws at least one quantity; [] would mean "the default set" again).
 * @param {Quantity[]} quantities
 * @param {string[]} names the names drawn now (shownNames)
 * @param {string} name
 * @returns {string[] | null}
 */
export function toggleShown(quantities, names, name) {
  const on = new Set(names);
  if (on.has(name)) {
    if (on.size === 1) return null;
    on.delete(name);
  } else on.add(name);
  return quantities.filter((q) => on.has(q.name)).map((q) => q.name);
}

/**
 * The distinct kinds of the drawn quantities, in the quantities' order.
 * @param {Quantity[]} quantities
 * @param {string[]} names
 */
export function kindsOf(quantities, names) {
  const set = new Set(names);
  return [...new Set(quantities.filter((q) => set.has(q.name)).map((q) => q.kind))];
}

/**
 * A round step (1, 2, 2.5 or 5 × 10^n) cutting [lo, hi] into about four intervals.
 * @param {number} lo
 * @param {number} hi
 */
export function tickStep(lo, hi) {
  const raw = (hi - lo) / 4;
  const e = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 2.5, 5]) if (m * e >= raw * (1 - 1e-9)) return m * e;
  return 10 * e;
}

/**
 * The y domain of a kind for these values (NaN and ±Infinity ignored), its ends on ticks:
 * [0, max] for non-negative kinds (probability at most 1), [1, a power of 10] for rank, and a
 * range holding 0 for signed kinds.
 * @param {string} kind
 * @param {Iterable<number>} values
 * @returns {[number, number]}
 */
export function yDomain(kind, values) {
  const k = kindOf(kind);
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (!Number.isFinite(v)) continue;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (k.log) {
    const top = lo <= hi ? Math.max(hi, 1) : 10;
    return [1, 10 ** Math.max(1, Math.ceil(Math.log10(top) - 1e-9))];
  }
  if (!(lo <= hi)) return k.signed ? [-1, 1] : [0, 1];
  lo = Math.min(0, lo);
  hi = Math.max(0, hi);
  if (lo === hi) return k.signed ? [-1, 1] : [0, 1];
  const step = tickStep(lo, hi);
  const round = (/** @type {number} */ v) => Number(v.toPrecision(12));
  lo = round(Math.floor(lo / step + 1e-9) * step);
  hi = round(Math.ceil(hi / step - 1e-9) * step);
  return [lo, k.max !== undefined ? Math.min(k.max, hi) : hi];
}

/**
 * Tick values over a domain: round steps on a linear axis, powers of 10 on a log one.
 * @param {[number, number]} domain
 * @param {boolean} log
 */
export function ticks([lo, hi], log) {
  const out = [];
  if (log) {
    for (let e = Math.floor(Math.log10(lo)); 10 ** e <= hi * (1 + 1e-9); e++) out.push(10 ** e);
    return out;
  }
  const step = tickStep(lo, hi);
  for (let i = Math.ceil(lo / step - 1e-9); i * step <= hi + step * 1e-9; i++) {
    out.push(Number((i * step).toPrecision(12)));
  }
  return out;
}

/**
 * The range the heatmap's colors span for one quantity, from its computed values:
 * [0, max] for non-negative kinds, [1, max] on a log scale for rank, [-m, m] (m the largest
 * magnitude) for signed kinds.
 * @param {Study} s
 * @param {number} q
 * @returns {{ lo: number, hi: number, log: boolean, signed: boolean, any: boolean }}
 */
export function heatRange(s, q) {
  const k = kindOf(s.quantities[q]?.kind ?? "");
  const block = s.values.subarray(q * s.N * s.L, (q + 1) * s.N * s.L);
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < block.length; i++) {
    const v = block[i];
    // NaN fails both comparisons; ±Infinity would make every other cell the same color.
    if (v < lo && v > -Infinity) lo = v;
    if (v > hi && v < Infinity) hi = v;
  }
  const any = lo <= hi;
  if (k.log) return { lo: 1, hi: any ? Math.max(hi, 2) : 10, log: true, signed: false, any };
  if (k.signed) {
    const m = any ? Math.max(Math.abs(lo), Math.abs(hi)) : 0;
    return { lo: -(m || 1), hi: m || 1, log: false, signed: true, any };
  }
  return { lo: 0, hi: any && hi > 0 ? hi : 1, log: false, signed: false, any };
}

/**
 * The heatmap quantity's index: `heatmap_quantity` by name, else the first.
 * @param {Quantity[]} quantities
 * @param {unknown} name
 */
export function heatIndex(quantities, name) {
  const i = quantities.findIndex((q) => q.name === name);
  return Math.max(i, 0);
}

/**
 * Row height of the heatmap in CSS px: up to 16 px for few prompts, at least 1.
 * @param {number} N
 */
export function rowHeight(N) {
  return Math.max(1, Math.min(16, Math.floor(600 / Math.max(1, N))));
}
