// Number formatting shared by the views (chart tooltips and axes, the cell popup and
// tooltip, the color bar). One notation everywhere: plain decimals, never exponents, because
// "8.0e-2%" next to "12.3%" makes readers do arithmetic to compare them.

/** Below this percentage a probability reads as "<0.0001%" rather than a run of zeros. */
const TINY_PERCENT = 1e-4;

/**
 * A probability as a percentage: 1 decimal from 10%, 2 from 0.1%, below that two
 * significant digits without trailing zeros ("0.08%", "0.0012%"); "<0.0001%" below 1e-6,
 * "0%" for zero, "?" for NaN (unknown).
 * @param {number} p
 */
export function formatProb(p) {
  if (Number.isNaN(p)) return "?";
  if (p <= 0) return "0%";
  if (p >= 0.001) return `${(p * 100).toFixed(p >= 0.1 ? 1 : 2)}%`;
  const pct = p * 100;
  if (pct < TINY_PERCENT) return `<${TINY_PERCENT.toFixed(4)}%`;
  return `${trimZeros(pct.toFixed(1 - Math.floor(Math.log10(pct))))}%`;
}

/**
 * A plain decimal with up to `digits` significant digits and no trailing zeros, never an
 * exponent (axis ticks: "0.001", "0.25", "1").
 * @param {number} v
 * @param {number} [digits]
 */
export function formatDecimal(v, digits = 3) {
  if (v === 0 || !Number.isFinite(v)) return String(v);
  const decimals = Math.max(0, digits - 1 - Math.floor(Math.log10(Math.abs(v))));
  return trimZeros(v.toFixed(Math.min(20, decimals)));
}

/** @typedef {"nats" | "bits"} EntropyUnit */

/**
 * An entropy given in nats (the payload's unit), shown in `unit`.
 * @param {number} nats
 * @param {EntropyUnit} unit
 */
export function formatEntropy(nats, unit) {
  return `${inUnit(nats, unit).toFixed(2)} ${unit}`;
}

/**
 * @param {number} nats
 * @param {EntropyUnit} unit
 */
export function inUnit(nats, unit) {
  return unit === "bits" ? nats / Math.LN2 : nats;
}

/** @param {string} s a fixed-point number */
function trimZeros(s) {
  return s.includes(".") ? s.replace(/\.?0+$/, "") : s;
}
