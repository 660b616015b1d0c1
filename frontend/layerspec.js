// The `layers` control's text: "all", or comma-separated layer numbers and Python-style
// slices ("0:30:3,-1"). Pure functions, so the parser is unit-tested without a widget.

/**
 * @typedef {{ ok: true, layers: number[] | null } | { ok: false, error: string }} LayersParse
 *   `layers: null` means every layer (the trait's `null`)
 */

const INT = /^[+-]?\d+$/;
/** No model has more layers; a typo like 0:1000000 must not build a huge list. */
const MAX_LAYERS = 4096;

/**
 * Parse the text of the layers control.
 *
 * Negative numbers count from the end, as in Python; they and open-ended slices ("10:",
 * "::2") need the model's layer count. Without it (data that does not say), plain negative
 * numbers are kept as they are (Python resolves them) and slices must give both ends.
 * The result keeps the order asked and drops repeats; an empty selection is an error, since
 * a lens needs at least one row.
 * @param {string} text
 * @param {number | null} numLayers the model's layer count, when known
 * @returns {LayersParse}
 */
export function parseLayers(text, numLayers) {
  const t = text.trim();
  if (t === "" || t.toLowerCase() === "all") return { ok: true, layers: null };
  /** @type {number[]} */
  const out = [];
  const seen = new Set();
  const add = (/** @type {number} */ n) => {
    if (!seen.has(n)) {
      seen.add(n);
      out.push(n);
    }
  };
  for (const raw of t.split(",")) {
    const item = raw.trim();
    if (item === "") return { ok: false, error: "an empty item between commas" };
    if (INT.test(item)) {
      const n = Number(item);
      if (numLayers === null) {
        add(n);
        continue;
      }
      const r = n < 0 ? n + numLayers : n;
      if (r < 0 || r >= numLayers) {
        return {
          ok: false,
          error: `layer ${item} does not exist (the model has ${numLayers}: 0\u2013${numLayers - 1})`,
        };
      }
      add(r);
      continue;
    }
    const parts = item.split(":");
    if (
      parts.length < 2 ||
      parts.length > 3 ||
      parts.some((s) => s.trim() !== "" && !INT.test(s.trim()))
    ) {
      return { ok: false, error: `"${item}" is neither a layer number nor a slice like 0:30:3` };
    }
    const [a, b, c] = parts.map((s) => (s.trim() === "" ? null : Number(s.trim())));
    const step = c ?? 1;
    if (step === 0) return { ok: false, error: `"${item}": a slice step cannot be 0` };
    if (numLayers === null && (a === null || b === null || a < 0 || b < 0)) {
      return {
        ok: false,
        error: `"${item}": open or negative slice ends need the model's layer count; write both ends`,
      };
    }
    const n = numLayers ?? Infinity;
    const span = sliceIndices(a, b, step, n, MAX_LAYERS);
    if (span === null)
      return { ok: false, error: `"${item}" selects more than ${MAX_LAYERS} layers` };
    for (const l of span) add(l);
  }
  if (!out.length) return { ok: false, error: "this selects no layer" };
  return { ok: true, layers: out };
}

/**
 * The indices Python's range(n)[a:b:step] gives.
 * @param {number | null} a
 * @param {number | null} b
 * @param {number} step
 * @param {number} n length (Infinity when unknown; then a and b are non-negative)
 * @param {number} max
 * @returns {number[] | null} null when there would be more than `max`
 */
function sliceIndices(a, b, step, n, max) {
  const clamp = (/** @type {number | null} */ v, /** @type {number} */ dflt) => {
    if (v === null) return dflt;
    if (v < 0) return Math.max(step > 0 ? 0 : -1, v + n);
    return Math.min(v, step > 0 ? n : n - 1);
  };
  const start = clamp(a, step > 0 ? 0 : n - 1);
  const stop = clamp(b, step > 0 ? n : -1);
  const out = [];
  for (let i = start; step > 0 ? i < stop : i > stop; i += step) {
    if (out.length >= max) return null;
    out.push(i);
  }
  return out;
}

/**
 * The shortest text that parses back to `layers`: runs of three or more evenly spaced
 * layers become slices ("0:28:3").
 * @param {number[] | null} layers
 * @returns {string}
 */
export function formatLayers(layers) {
  if (layers === null) return "all";
  const parts = [];
  let i = 0;
  while (i < layers.length) {
    const a = layers[i];
    let j = i + 1;
    const step = j < layers.length ? layers[j] - a : 0;
    if (step > 0) while (j + 1 < layers.length && layers[j + 1] - layers[j] === step) j++;
    // Negative numbers (layer count unknown) stay single: a negative slice end would not parse.
    if (step > 0 && j - i >= 2 && a >= 0) {
      const last = layers[j];
      parts.push(step === 1 ? `${a}:${last + 1}` : `${a}:${last + 1}:${step}`);
      i = j + 1;
    } else {
      parts.push(String(a));
      i += 1;
    }
  }
  return parts.join(",");
}
