// Number formatting shared by the views (chart tooltips, the cell popup).

/**
 * A probability as a percentage: 1 decimal from 10%, 2 from 0.1%, else exponential; "?" for
 * NaN (unknown).
 * @param {number} p
 */
export function formatProb(p) {
  if (Number.isNaN(p)) return "?";
  if (p >= 0.001) return `${(p * 100).toFixed(p >= 0.1 ? 1 : 2)}%`;
  return `${(p * 100).toExponential(1)}%`;
}
