// Color scales of the study widget: a sequential one (viridis) for non-negative kinds and a
// diverging one (blue – grey – red) for signed kinds, as 256-entry lookup tables the heatmap
// writes straight into ImageData. Opaque colors that read on light and dark themes alike;
// NaN stays transparent (the background shows). No DOM here.

/** Viridis at nine even stops: dark violet (low) to yellow (high). */
export const SEQUENTIAL = Object.freeze([
  "#440154",
  "#472d7b",
  "#3b528b",
  "#2c728e",
  "#21918c",
  "#28ae80",
  "#5ec962",
  "#addc30",
  "#fde725",
]);

/** Blue (negative) through grey (0) to red (positive); grey, so 0 is not read as missing. */
export const DIVERGING = Object.freeze([
  "#053061",
  "#2166ac",
  "#4393c3",
  "#92c5de",
  "#d4d4d4",
  "#f4a582",
  "#d6604d",
  "#b2182b",
  "#67001f",
]);

/** @param {string} hex "#rrggbb" */
function rgb(hex) {
  const n = Number.parseInt(hex.slice(1), 16);
  return [n >> 16, (n >> 8) & 255, n & 255];
}

/**
 * The color at t in [0, 1] along evenly spaced stops, linearly interpolated in sRGB.
 * @param {readonly string[]} stops
 * @param {number} t
 * @returns {number[]} [r, g, b], 0..255 integers
 */
export function colorAt(stops, t) {
  const x = Math.max(0, Math.min(1, t)) * (stops.length - 1);
  const i = Math.min(stops.length - 2, Math.floor(x));
  const f = x - i;
  const a = rgb(stops[i]);
  const b = rgb(stops[i + 1]);
  return a.map((c, k) => Math.round(c + (b[k] - c) * f));
}

/** @param {number[]} c */
export function cssColor(c) {
  return `rgb(${c[0]},${c[1]},${c[2]})`;
}

/**
 * 256 opaque colors along the stops, as RGBA bytes and as the same bytes read 32 bits at
 * a time (the platform's byte order, as ImageData's buffer is read).
 * @param {readonly string[]} stops
 */
export function lookupTable(stops) {
  const bytes = new Uint8ClampedArray(256 * 4);
  for (let i = 0; i < 256; i++) {
    const [r, g, b] = colorAt(stops, i / 255);
    bytes.set([r, g, b, 255], i * 4);
  }
  return { bytes, words: new Uint32Array(bytes.buffer) };
}

/** @type {Map<readonly string[], ReturnType<typeof lookupTable>>} */
const tables = new Map();

/** @param {readonly string[]} stops */
export function tableOf(stops) {
  let t = tables.get(stops);
  if (!t) {
    t = lookupTable(stops);
    tables.set(stops, t);
  }
  return t;
}

/**
 * @typedef {object} Range
 * @property {number} lo
 * @property {number} hi
 * @property {boolean} log rank: log scale, 1 (best) is the strongest color
 * @property {boolean} signed diverging, lo = -hi
 */

/**
 * Where a value sits along its scale, 0..1; NaN for NaN. Rank: 1 - ln(v) / ln(hi), so rank
 * 1 is the strongest color, like a probability of 1.
 * @param {Range} range
 * @param {number} v
 */
export function position(range, v) {
  if (Number.isNaN(v)) return Number.NaN;
  let t;
  if (range.log) t = 1 - Math.log(Math.max(1, v)) / Math.log(range.hi);
  else t = (v - range.lo) / (range.hi - range.lo);
  return t < 0 ? 0 : Math.min(t, 1);
}

/** @param {Range} range */
export function stopsOf(range) {
  return range.signed ? DIVERGING : SEQUENTIAL;
}

/**
 * A CSS gradient of the stops, left (t = 0) to right (t = 1), for the color bar.
 * @param {readonly string[]} stops
 */
export function cssGradient(stops) {
  const parts = stops.map((c, i) => `${c} ${((i / (stops.length - 1)) * 100).toFixed(1)}%`);
  return `linear-gradient(to right, ${parts.join(", ")})`;
}
