// Seed V2 JSON (docs/data-format.md): tokens keyed by their strings, trajectories per
// position in plain lists. Ids are assigned here, so the rest of the widget works on ids only.

import { Lens } from "./lens.js";
import {
  badProb,
  checkSize,
  checkText,
  checkTexts,
  describe,
  fail,
  intList,
  PROBS,
  stringList,
} from "./decodecheck.js";
import { MAX_DATA_K } from "./schema.js";
import { decodeLensName, decodeReliability } from "./lensinfo.js";

/**
 * Seed V2 JSON keys tokens by string; each distinct key gets its own id here so the rest of
 * the widget works on ids only. A key `"<string>#<id>"` where the plain `"<string>"` is also a
 * key is how to_js_format keeps two ids with one string apart: it stays its own token but is
 * labelled with the plain string. Memory is sized by the data: every cell lists the same
 * number (k <= MAX_DATA_K) of tokens, and the total is checked before anything is allocated.
 * @param {Record<string, any>} d
 */
export function decodeV2(d) {
  const model = d.meta.model == null ? "" : d.meta.model;
  if (typeof model !== "string") fail(`"meta"."model" is not a string (got ${describe(model)})`);
  checkText(model, `"meta"."model"`);
  const input = stringList(d, "input");
  const layers = intList(d, "layers");
  const L = layers.length;
  const P = input.length;
  if (L === 0 || P === 0) fail(`the data has ${L} layers and ${P} positions; nothing to show`);
  const topk = d.topk;
  const tracked = d.tracked;
  if (!Array.isArray(topk) || topk.length !== L) {
    fail(`"topk" must be a list with one entry per layer (${L}), got ${describe(topk)}`);
  }
  const k = v2Width(topk, L, P);
  if (!Array.isArray(tracked) || tracked.length !== P) {
    fail(`"tracked" must be a list with one entry per position (${P}), got ${describe(tracked)}`);
  }
  /** @type {Map<string, number>} */
  const idOf = new Map();
  /** @type {string[][]} each position's tracked keys */
  const keysAt = new Array(P);
  const offsets = new Int32Array(P + 1);
  for (let p = 0; p < P; p++) {
    const entry = tracked[p];
    if (!entry || typeof entry !== "object" || Array.isArray(entry)) {
      fail(`"tracked"[${p}] must be an object {token: trajectory}, got ${describe(entry)}`);
    }
    const keys = Object.keys(entry);
    const T = offsets[p] + keys.length;
    offsets[p + 1] = T;
    checkSize(L * P * k * 8 + T * (4 + 4 * L), [L, P, k, T]);
    checkTexts(keys, (i) => `"tracked"[${p}] key ${describe(keys[i])}`);
    // Ids in order of first appearance, as the keys are read.
    for (const s of keys) if (!idOf.has(s)) idOf.set(s, idOf.size);
    keysAt[p] = keys;
  }
  /** @type {Map<number, string>} */
  const vocab = new Map();
  for (const [s, id] of idOf) vocab.set(id, sharedStringLabel(s, idOf));
  const trackedIds = new Int32Array(offsets[P]);
  const trackedProbs = new Float32Array(offsets[P] * L);
  for (let p = 0; p < P; p++) {
    v2Tracked(tracked[p], keysAt[p], p, L, idOf, offsets[p], trackedIds, trackedProbs);
  }
  const topkIds = new Int32Array(L * P * k);
  const topkProbs = new Float32Array(L * P * k);
  // Position by position, so a token's row at p is read from typed arrays (row at p is valid
  // where seenAt is p): this runs L·P·k times on the first render of a V2 document.
  const rowOf = new Int32Array(idOf.size);
  const seenAt = new Int32Array(idOf.size).fill(-1);
  let untracked = false;
  for (let p = 0; p < P && !untracked; p++) {
    for (let r = offsets[p]; r < offsets[p + 1]; r++) {
      rowOf[trackedIds[r]] = r;
      seenAt[trackedIds[r]] = p;
    }
    for (let l = 0; l < L && !untracked; l++) {
      const cell = /** @type {string[]} */ (topk[l][p]);
      const at = (l * P + p) * k;
      for (let j = 0; j < k; j++) {
        const id = idOf.get(cell[j]);
        if (id === undefined || seenAt[id] !== p) {
          untracked = true;
          break;
        }
        topkIds[at + j] = id;
        topkProbs[at + j] = trackedProbs[rowOf[id] * L + l];
      }
    }
  }
  if (untracked) failUntracked(topk, tracked, L, P, k);
  return new Lens({
    model,
    input,
    inputIds: [],
    layers,
    k,
    vocab,
    topkIds,
    topkProbs,
    trackedOffsets: offsets,
    trackedIds,
    trackedProbs,
    entropy: null,
    fromV2: true,
    numLayers: null,
    // The lens fields as in version 3, at the top or in "meta" (where V2 keeps its facts).
    lensName: decodeLensName(d.lens ?? d.meta.lens),
    reliability: decodeReliability(d.lens_reliability ?? d.meta.lens_reliability, L),
  });
}

/**
 * Checks the V2 top-k grid's shape and strings and returns its width k: every cell lists
 * the same number of tokens, at most MAX_DATA_K, so memory follows the data.
 * @param {any[]} topk
 * @param {number} L
 * @param {number} P
 */
function v2Width(topk, L, P) {
  let k = 0;
  // Plain loops and one text check per layer: this runs for every cell of the grid.
  for (let l = 0; l < L; l++) {
    const row = topk[l];
    if (!Array.isArray(row) || row.length !== P) {
      fail(`"topk"[${l}] must list ${P} positions, got ${describe(row)}`);
    }
    for (let p = 0; p < P; p++) {
      const cell = row[p];
      if (!Array.isArray(cell) || cell.length === 0) {
        fail(`"topk"[${l}][${p}] must be a non-empty list of tokens, got ${describe(cell)}`);
      }
      if (k === 0) {
        k = cell.length;
        if (k > MAX_DATA_K) {
          fail(
            `"topk"[${l}][${p}] lists ${k} tokens: at most ${MAX_DATA_K} predictions per cell are ` +
              "supported (the grid shows one per cell and the popup a few); collect with a smaller k",
          );
        }
        checkSize(L * P * k * 8, [L, P, k]);
      } else if (cell.length !== k) {
        fail(
          `"topk"[${l}][${p}] has ${cell.length} tokens but "topk"[0][0] has ${k}: every cell ` +
            "lists the same number (k) of tokens",
        );
      }
      for (let j = 0; j < k; j++) {
        if (typeof cell[j] !== "string")
          fail(`"topk"[${l}][${p}][${j}] is not a string (got ${describe(cell[j])})`);
      }
    }
    checkTexts(row.flat(), (i) => `"topk"[${l}][${Math.floor(i / k)}][${i % k}]`);
  }
  return k;
}

/**
 * Checks position p's trajectories and writes them to rows from `row` on, sorted by id.
 * @param {Record<string, unknown>} entry
 * @param {string[]} keys its keys, as read when the ids were assigned
 * @param {number} p
 * @param {number} L
 * @param {Map<string, number>} idOf
 * @param {number} row
 * @param {Int32Array} trackedIds
 * @param {Float32Array} trackedProbs
 */
function v2Tracked(entry, keys, p, L, idOf, row, trackedIds, trackedProbs) {
  // The name of a value is built only when it fails: this runs for every tracked value.
  const name = (/** @type {string} */ s) => `"tracked"[${p}][${describe(s)}]`;
  // Values, not entry[key]: a "__proto__" key is an own property that indexing misses.
  const trajs = Object.values(entry);
  const ids = new Int32Array(keys.length);
  for (let i = 0; i < keys.length; i++) {
    const traj = trajs[i];
    if (!Array.isArray(traj) || traj.length !== L) {
      fail(`${name(keys[i])} must have ${L} values, got ${describe(traj)}`);
    }
    for (let l = 0; l < L; l++) {
      const x = traj[l];
      if (typeof x !== "number") fail(`${name(keys[i])}[${l}] is ${describe(x)}; ${PROBS}`);
      if (!(x >= 0 && x <= 1)) fail(`${name(keys[i])}[${l}] ${badProb(x)}`);
    }
    ids[i] = /** @type {number} */ (idOf.get(keys[i]));
  }
  const order = Array.from(ids.keys()).sort((a, b) => ids[a] - ids[b]);
  for (const i of order) {
    trackedIds[row] = ids[i];
    trackedProbs.set(/** @type {number[]} */ (trajs[i]), row * L);
    row++;
  }
}

/**
 * Fails at the first top-k token (in "topk"[l][p][j] order) that has no trajectory at its
 * position; only called once one is known to exist.
 * @param {any[]} topk
 * @param {Record<string, unknown>[]} tracked
 * @param {number} L
 * @param {number} P
 * @param {number} k
 */
function failUntracked(topk, tracked, L, P, k) {
  for (let l = 0; l < L; l++) {
    for (let p = 0; p < P; p++) {
      for (let j = 0; j < k; j++) {
        const s = topk[l][p][j];
        if (!Object.hasOwn(tracked[p], s)) {
          fail(
            `"topk"[${l}][${p}][${j}] is ${describe(s)}, which has no trajectory in ` +
              `"tracked"[${p}]: every top-k token needs one`,
          );
        }
      }
    }
  }
}

/**
 * The plain string of a `"<string>#<id>"` key whose plain string is also a key; otherwise
 * the key itself.
 * @param {string} key
 * @param {Map<string, number>} keys
 */
function sharedStringLabel(key, keys) {
  const m = /^([\s\S]*)#\d+$/.exec(key);
  return m && keys.has(m[1]) ? m[1] : key;
}
