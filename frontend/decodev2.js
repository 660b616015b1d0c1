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
  /** @type {Map<number, string>} */
  const vocab = new Map();
  const intern = (/** @type {string} */ s, label = s) => {
    let id = idOf.get(s);
    if (id === undefined) {
      id = idOf.size;
      idOf.set(s, id);
      vocab.set(id, label);
    }
    return id;
  };
  /** @type {Set<string>} */
  const allKeys = new Set();
  let T = 0;
  tracked.forEach((entry, p) => {
    if (!entry || typeof entry !== "object" || Array.isArray(entry)) {
      fail(`"tracked"[${p}] must be an object {token: trajectory}, got ${describe(entry)}`);
    }
    const keys = Object.keys(entry);
    T += keys.length;
    checkSize(L * P * k * 8 + T * (4 + 4 * L), [L, P, k, T]);
    checkTexts(keys, (i) => `"tracked"[${p}] key ${describe(keys[i])}`);
    for (const s of keys) allKeys.add(s);
  });
  const perPos = tracked.map((entry, p) => v2Tracked(entry, p, L, intern, allKeys));
  const topkIds = new Int32Array(L * P * k);
  const topkProbs = new Float32Array(L * P * k);
  // Plain indexed loops: this runs L·P·k times on the first render of a V2 document.
  for (let l = 0; l < L; l++) {
    const row = topk[l];
    for (let p = 0; p < P; p++) {
      const cell = /** @type {unknown[]} */ (row[p]);
      const own = perPos[p];
      const at = (l * P + p) * k;
      for (let j = 0; j < k; j++) {
        const s = cell[j];
        const id = typeof s === "string" ? idOf.get(s) : undefined;
        const traj = id === undefined ? undefined : own.get(id);
        if (id === undefined || !traj) {
          fail(
            `"topk"[${l}][${p}][${j}] is ${describe(s)}, which has no trajectory in ` +
              `"tracked"[${p}]: every top-k token needs one`,
          );
        }
        topkIds[at + j] = id;
        topkProbs[at + j] = traj[l];
      }
    }
  }
  const offsets = new Int32Array(P + 1);
  for (const [p, m] of perPos.entries()) offsets[p + 1] = offsets[p] + m.size;
  const trackedIds = new Int32Array(offsets[P]);
  const trackedProbs = new Float32Array(offsets[P] * L);
  perPos.forEach((m, p) => {
    [...m.keys()]
      .sort((a, b) => a - b)
      .forEach((id, i) => {
        trackedIds[offsets[p] + i] = id;
        trackedProbs.set(/** @type {number[]} */ (m.get(id)), (offsets[p] + i) * L);
      });
  });
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
  topk.forEach((row, l) => {
    if (!Array.isArray(row) || row.length !== P) {
      fail(`"topk"[${l}] must list ${P} positions, got ${describe(row)}`);
    }
    row.forEach((cell, p) => {
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
      for (let j = 0; j < cell.length; j++) {
        if (typeof cell[j] !== "string")
          fail(`"topk"[${l}][${p}][${j}] is not a string (got ${describe(cell[j])})`);
      }
      checkTexts(cell, (j) => `"topk"[${l}][${p}][${j}]`);
    });
  });
  return k;
}

/**
 * @param {Record<string, unknown>} entry
 * @param {number} p
 * @param {number} L
 * @param {(s: string, label?: string) => number} intern
 * @param {Set<string>} allKeys every tracked key of the data
 * @returns {Map<number, number[]>}
 */
function v2Tracked(entry, p, L, intern, allKeys) {
  const out = new Map();
  // The name of a value is built only when it fails: this runs for every tracked value.
  const name = (/** @type {string} */ s) => `"tracked"[${p}][${describe(s)}]`;
  for (const [s, traj] of Object.entries(entry)) {
    if (!Array.isArray(traj) || traj.length !== L) {
      fail(`${name(s)} must have ${L} values, got ${describe(traj)}`);
    }
    for (let l = 0; l < L; l++) {
      const x = traj[l];
      if (typeof x !== "number") fail(`${name(s)}[${l}] is ${describe(x)}; ${PROBS}`);
      if (!(x >= 0 && x <= 1)) fail(`${name(s)}[${l}] ${badProb(x)}`);
    }
    out.set(intern(s, sharedStringLabel(s, allKeys)), traj);
  }
  return out;
}

/**
 * The plain string of a `"<string>#<id>"` key whose plain string is also a key; otherwise
 * the key itself.
 * @param {string} key
 * @param {Set<string>} keys
 */
function sharedStringLabel(key, keys) {
  const m = /^([\s\S]*)#\d+$/.exec(key);
  return m && keys.has(m[1]) ? m[1] : key;
}
