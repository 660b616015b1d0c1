// Queries over a Lens that are not its own methods: a position's best tokens at any depth,
// a layer's change split into its attention and MLP parts, id-set keys, and the maxima the
// Lens computes once when it is built. Re-exported by lens.js.

import { CELL_OK } from "./lenscodes.js";

/** @typedef {import("./lens.js").Lens} Lens */

/**
 * The tracked tokens of position p ranked by their highest probability at any lens row
 * (computed cells only), most probable first, ties by id: "which tokens matter here at some
 * depth", with the lens row where each peaks (its first such row).
 * @param {Lens} lens
 * @param {number} p
 * @param {number} [n] how many
 * @returns {{ id: number, prob: number, row: number }[]}
 */
export function bestAtAnyLayer(lens, p, n = 10) {
  /** @type {{ id: number, prob: number, row: number }[]} */
  const out = [];
  /** @param {number} id @param {Float32Array} t */
  const add = (id, t) => {
    let prob = -1;
    let row = -1;
    for (let l = 0; l < lens.L; l++) {
      if (lens.status(l, p) === CELL_OK && t[l] > prob) [prob, row] = [t[l], l];
    }
    if (row >= 0) out.push({ id, prob, row });
  };
  const off = lens.trackedOffsets;
  for (let i = off[p]; i < off[p + 1]; i++) {
    add(lens.trackedIds[i], lens.trackedProbs.subarray(i * lens.L, (i + 1) * lens.L));
  }
  for (const [id, t] of lens.extra.get(p) ?? []) add(id, t);
  out.sort((a, b) => b.prob - a.prob || a.id - b.id);
  return out.slice(0, n);
}

/**
 * The split of layer N's change at position p for one trajectory, at its output row l: the
 * attention part p(a_N) − p(o_{N−1}) (from 0 at layer 0) and the MLP part p(o_N) − p(a_N).
 * Null when l is not an output row with an attention row before it, or a cell is not
 * computed; `attention` is NaN when the residual entering the layer was not collected.
 * @param {Lens} lens
 * @param {number} l output lens row
 * @param {number} p
 * @param {ArrayLike<number>} traj the token's probability at every lens row of position p
 * @returns {{ attention: number, mlp: number } | null}
 */
export function sublayerSplit(lens, l, p, traj) {
  const a = lens.attentionRow(l);
  if (a < 0 || lens.status(l, p) !== CELL_OK || lens.status(a, p) !== CELL_OK) return null;
  const b = lens.residualBefore(a);
  const mlp = traj[l] - traj[a];
  if (b === null || (b >= 0 && lens.status(b, p) !== CELL_OK)) return { attention: NaN, mlp };
  return { attention: traj[a] - (b < 0 ? 0 : traj[b]), mlp };
}

/**
 * A key for an id set: sorted, distinct, joined.
 * @param {number[]} ids
 */
export function idKey(ids) {
  return [...new Set(ids)].sort((a, b) => a - b).join(",");
}

/** @param {Map<number, string>} vocab */
export function maxId(vocab) {
  let m = -1;
  for (const id of vocab.keys()) if (id > m) m = id;
  return m;
}

/**
 * Largest exact rank of any target over computed cells; 0 when the data has none.
 * @param {Lens} lens
 */
export function maxOkRank(lens) {
  const a = lens.targetRanks;
  let m = 0;
  if (!a) return m;
  const grid = lens.L * lens.P;
  for (let i = 0; i < a.length; i++) {
    const cell = i % grid;
    if (a[i] > m && (!lens.cellStatus || lens.cellStatus[cell] === CELL_OK)) m = a[i];
  }
  return m;
}

/**
 * Largest value of `a` over computed cells (invalid and pending ones hold no real number).
 * @param {Float32Array | null} a
 * @param {Uint8Array | null} status
 */
export function maxOk(a, status) {
  let m = 0;
  if (a)
    for (let i = 0; i < a.length; i++) if (a[i] > m && (!status || status[i] === CELL_OK)) m = a[i];
  return m;
}
