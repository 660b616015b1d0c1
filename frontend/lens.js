// The decoded logit-lens data, keyed by token id, with the queries the views need.

/**
 * Decoded lens data. Arrays are flat, C order:
 * topkIds/topkProbs [L, P, k], trackedProbs [T, L], entropy [L, P].
 */
export class Lens {
  /**
   * @param {object} f
   * @param {string} f.model
   * @param {string[]} f.input
   * @param {number[]} f.inputIds
   * @param {number[]} f.layers
   * @param {number} f.k
   * @param {Map<number, string>} f.vocab
   * @param {Int32Array} f.topkIds
   * @param {Float32Array} f.topkProbs
   * @param {Int32Array} f.trackedOffsets
   * @param {Int32Array} f.trackedIds
   * @param {Float32Array} f.trackedProbs
   * @param {Float32Array | null} f.entropy
   * @param {boolean} f.fromV2 true when ids were assigned per string by the widget
   * @param {number | null} f.numLayers the model's layer count, when the data says
   */
  constructor(f) {
    /** @type {string} */ this.model = f.model;
    /** @type {string[]} */ this.input = f.input;
    /** @type {number[]} */ this.inputIds = f.inputIds;
    /** @type {number[]} */ this.layers = f.layers;
    /** @type {number} */ this.k = f.k;
    /** @type {Map<number, string>} */ this.vocab = f.vocab;
    /** @type {Int32Array} */ this.topkIds = f.topkIds;
    /** @type {Float32Array} */ this.topkProbs = f.topkProbs;
    /** @type {Int32Array} */ this.trackedOffsets = f.trackedOffsets;
    /** @type {Int32Array} */ this.trackedIds = f.trackedIds;
    /** @type {Float32Array} */ this.trackedProbs = f.trackedProbs;
    /** @type {Float32Array | null} */ this.entropy = f.entropy;
    /** @type {boolean} */ this.fromV2 = f.fromV2;
    this.L = f.layers.length;
    this.P = f.input.length;
    /**
     * Lens row of the model's own last layer (its prediction), or -1 when that layer was not
     * collected. Data that does not say how many layers the model has (seed V2) is taken to
     * end at the last layer.
     */
    this.finalRow = f.numLayers === null ? this.L - 1 : f.layers.indexOf(f.numLayers - 1);
    this.maxEntropy = maxOf(f.entropy);
  }

  /** @param {number} id */
  token(id) {
    return this.vocab.get(id) ?? `#${id}`;
  }

  /**
   * Index of cell (layer row l, position p)'s first top-k entry.
   * @param {number} l
   * @param {number} p
   */
  cellBase(l, p) {
    return (l * this.P + p) * this.k;
  }

  /**
   * @param {number} l
   * @param {number} p
   */
  topId(l, p) {
    return this.topkIds[this.cellBase(l, p)];
  }

  /**
   * @param {number} l
   * @param {number} p
   */
  topProb(l, p) {
    return this.topkProbs[this.cellBase(l, p)];
  }

  /**
   * Row of token `id` among position p's tracked tokens, or -1 (ids are sorted per position).
   * @param {number} p
   * @param {number} id
   */
  trackedRow(p, id) {
    let lo = this.trackedOffsets[p];
    let hi = this.trackedOffsets[p + 1] - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const v = this.trackedIds[mid];
      if (v === id) return mid;
      if (v < id) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }

  /**
   * Probability of `id` at every lens row for position p (a view, no copy), or null when the
   * token never reached the top-k there, so its probabilities were not collected.
   * @param {number} p
   * @param {number} id
   * @returns {Float32Array | null}
   */
  trajectory(p, id) {
    const row = this.trackedRow(p, id);
    if (row < 0) return null;
    return this.trackedProbs.subarray(row * this.L, (row + 1) * this.L);
  }

  /**
   * Summed trajectory of several ids at position p; null when none of them is tracked there.
   * @param {number} p
   * @param {number[]} ids
   */
  groupTrajectory(p, ids) {
    if (ids.length === 1) return this.trajectory(p, ids[0]);
    /** @type {Float32Array | null} */
    let sum = null;
    for (const id of ids) {
      const t = this.trajectory(p, id);
      if (!t) continue;
      sum ??= new Float32Array(this.L);
      for (let l = 0; l < this.L; l++) sum[l] += t[l];
    }
    return sum;
  }

  /**
   * 1-based rank of `id` at each lens row for position p; NaN where it is outside the top-k
   * (its rank is unknown there, not "k + 1").
   * @param {number} p
   * @param {number} id
   */
  rankTrajectory(p, id) {
    const out = new Float32Array(this.L).fill(NaN);
    for (let l = 0; l < this.L; l++) {
      const base = this.cellBase(l, p);
      for (let j = 0; j < this.k; j++) {
        if (this.topkIds[base + j] === id) {
          out[l] = j + 1;
          break;
        }
      }
    }
    return out;
  }
}

/** @param {Float32Array | null} a */
function maxOf(a) {
  let m = 0;
  if (a) for (let i = 0; i < a.length; i++) if (a[i] > m) m = a[i];
  return m;
}
