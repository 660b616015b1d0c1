// The version-3 widget payload (docs/data-format.md §3): binary fields as DataViews or
// arrays, the vocab, the tracked trajectories and the top-k lists, checked as Python's
// validate.py checks them, sizes before anything is allocated. The optional fields live in
// decodefields.js.

import { Lens, CELL_OK } from "./lens.js";
import { ENTROPY_SLACK, METRIC_SLACK } from "./schema.js";
import {
  at,
  badProb,
  binary,
  checkK,
  checkSize,
  checkText,
  checkTexts,
  describe,
  fail,
  intList,
  optionalInt,
  outOfUnit,
  stringList,
} from "./decodecheck.js";
import {
  checkStatus,
  decodeGeneration,
  decodeKlUndefined,
  decodeRowKinds,
  decodeTargets,
} from "./decodefields.js";
import { decodeEdits } from "./edits.js";
import { decodeLensName, decodeReliability } from "./lensinfo.js";

/** Vocab keys are token ids written in decimal. */
const ID_KEY = /^(0|[1-9][0-9]*)$/;

/**
 * The payload's vocab as a Map; keys are ids in decimal, values strings.
 * @param {unknown} raw
 */
function decodeVocab(raw) {
  if (!raw || typeof raw !== "object" || Array.isArray(raw) || ArrayBuffer.isView(raw)) {
    fail(`"vocab" is missing or not an object {"<id>": string} (got ${describe(raw)})`);
  }
  /** @type {Map<number, string>} */
  const vocab = new Map();
  let chars = 0;
  for (const [key, text] of Object.entries(raw)) {
    if (!ID_KEY.test(key) || !Number.isSafeInteger(Number(key))) {
      fail(`"vocab" key ${describe(key)} is not a token id: keys are ids >= 0 written in decimal`);
    }
    if (typeof text !== "string")
      fail(`"vocab"[${describe(key)}] is not a string (got ${describe(text)})`);
    vocab.set(Number(key), text);
    chars += text.length;
  }
  const keys = [...vocab.keys()];
  checkTexts([...vocab.values()], (i) => `"vocab"[${describe(String(keys[i]))}]`);
  return { vocab, chars };
}

/** @param {Record<string, any>} d */
export function decodeV3(d) {
  const model = d.model == null ? "" : d.model;
  if (typeof model !== "string") fail(`"model" is not a string (got ${describe(model)})`);
  checkText(model, `"model"`);
  const input = stringList(d, "input");
  const layers = intList(d, "layers");
  const L = layers.length;
  const P = input.length;
  if (L === 0 || P === 0) fail(`the data has ${L} layers and ${P} positions; nothing to show`);
  const k = checkK(d.k);
  const grid = L * P;
  checkSize(grid * (8 * k + 5), [L, P, k]);
  const inputIds = intList(d, "input_ids", true);
  if (inputIds.length && inputIds.length !== P) {
    fail(`"input_ids" has ${inputIds.length} ids for ${P} input tokens`);
  }
  const numLayers = optionalInt(d, "num_layers", 1);
  if (numLayers !== null) {
    const deep = layers.find((l) => l >= numLayers);
    if (deep !== undefined) {
      fail(
        `"layers" names layer ${deep}, but "num_layers" is ${numLayers} (valid layers: 0..${numLayers - 1})`,
      );
    }
  }
  const run = optionalInt(d, "run", 0);
  const rowKinds = decodeRowKinds(d.row_kinds, layers);
  const { vocab, chars } = decodeVocab(d.vocab);
  const trackedOffsets = binary(d, "tracked_offsets", Int32Array, P + 1);
  checkOffsets(trackedOffsets);
  const T = trackedOffsets[P];
  const text = chars + input.reduce((n, s) => n + s.length, 0);
  checkSize(grid * (8 * k + 5) + T * (4 + 4 * L) + text, [L, P, k, T]);
  const trackedIds = binary(d, "tracked_ids", Int32Array, T);
  checkTrackedIds(trackedIds, trackedOffsets, vocab);
  const cellStatus = d.cell_status == null ? null : binary(d, "cell_status", Uint8Array, grid);
  if (cellStatus) checkStatus(cellStatus, P);
  const generation = decodeGeneration(d, L, P);
  const ok = (/** @type {number} */ cell) => !cellStatus || cellStatus[cell] === CELL_OK;
  const entropy = d.entropy == null ? null : binary(d, "entropy", Float32Array, grid);
  if (entropy) {
    for (let i = 0; i < grid; i++) {
      const e = entropy[i];
      if (ok(i) && !(e >= -ENTROPY_SLACK && e < Infinity)) {
        fail(
          `${at("entropy", i, [L, P])} is ${describe(e)}; entropies must be finite numbers >= 0 (nats)`,
        );
      }
    }
  }
  const undef = decodeKlUndefined(d, layers, P, numLayers, rowKinds, ok);
  const kl = d.kl == null ? null : binary(d, "kl", Float32Array, grid);
  if (kl) {
    for (let i = 0; i < grid; i++) {
      const v = kl[i];
      // NaN only where the KL reference (the model's output at the position) is not finite.
      if (ok(i) && !(v >= -METRIC_SLACK && v < Infinity) && !(undef?.[i % P] && Number.isNaN(v))) {
        fail(
          `${at("kl", i, [L, P])} is ${describe(v)}; KL divergences must be finite numbers >= 0 (nats), ` +
            "NaN only at a position whose model output is not finite (flagged in the per-position KL flags)",
        );
      }
    }
  }
  const metrics = decodeTargets(d, [L, P], ok);
  const topkIds = binary(d, "topk_ids", Int32Array, grid * k);
  checkTopkIds(topkIds, ok, trackedIds, trackedOffsets, [L, P, k]);
  const topkProbs = binary(d, "topk_probs", Float32Array, grid * k);
  for (let i = outOfUnit(topkProbs, 0); i >= 0; i = outOfUnit(topkProbs, i + 1)) {
    if (ok(Math.floor(i / k))) fail(`${at("topk_probs", i, [L, P, k])} ${badProb(topkProbs[i])}`);
  }
  const trackedProbs = binary(d, "tracked_probs", Float32Array, T * L);
  for (let i = outOfUnit(trackedProbs, 0); i >= 0; i = outOfUnit(trackedProbs, i + 1)) {
    const t = Math.floor(i / L);
    const l = i % L;
    const p = positionOf(trackedOffsets, t);
    if (ok(l * P + p)) {
      fail(
        `"tracked_probs"[${t}][${l}] (position ${p}, token ${trackedIds[t]}) ${badProb(trackedProbs[i])}`,
      );
    }
  }
  return new Lens({
    model,
    input,
    inputIds,
    layers,
    k,
    vocab,
    topkIds,
    topkProbs,
    trackedOffsets,
    trackedIds,
    trackedProbs,
    entropy,
    fromV2: false,
    numLayers,
    run,
    rowKinds,
    cellStatus,
    kl,
    ...metrics,
    ...generation,
    edits: decodeEdits(d.edits, numLayers, P),
    lensName: decodeLensName(d.lens),
    reliability: decodeReliability(d.lens_reliability, L),
  });
}

/** @param {Int32Array} off */
function checkOffsets(off) {
  if (off[0] !== 0) fail(`"tracked_offsets" must start at 0 (got ${off[0]})`);
  for (let i = 1; i < off.length; i++) {
    if (off[i] < off[i - 1]) fail(`"tracked_offsets" decreases at position ${i - 1}`);
  }
}

/**
 * Trajectories are found by binary search: each position's ids must strictly increase. Each
 * id is >= 0 and has a vocab string.
 * @param {Int32Array} ids
 * @param {Int32Array} off
 * @param {Map<number, string>} vocab
 */
function checkTrackedIds(ids, off, vocab) {
  const known = idSet(vocab);
  for (let p = 0; p + 1 < off.length; p++) {
    for (let i = off[p]; i < off[p + 1]; i++) {
      if (ids[i] < 0)
        fail(`"tracked_ids"[${i}] (position ${p}) is ${ids[i]}; token ids must be >= 0`);
      if (i > off[p] && ids[i] <= ids[i - 1]) {
        fail(
          `"tracked_ids" of position ${p} must be sorted and distinct (${ids[i - 1]} before ${ids[i]} at "tracked_ids"[${i}])`,
        );
      }
      if (!known(ids[i])) fail(`"vocab" has no string for token ${ids[i]} ("tracked_ids"[${i}])`);
    }
  }
}

/**
 * A fast membership test for the vocab's ids (a payload can track hundreds of thousands):
 * a flag per id up to the largest, when that is a few million at most; else the Map.
 * @param {Map<number, string>} vocab
 * @returns {(id: number) => boolean}
 */
function idSet(vocab) {
  let max = -1;
  for (const id of vocab.keys()) if (id > max) max = id;
  if (max >= 1 << 22) return (id) => vocab.has(id);
  const flags = new Uint8Array(max + 1);
  for (const id of vocab.keys()) flags[id] = 1;
  return (id) => flags[id] === 1;
}

/**
 * Every top-k id of a computed cell is among its position's tracked ids (it needs a
 * trajectory for the popup and the chart). Position by position, the tracked ids are
 * stamped in a table indexed by id, so each top-k id costs one lookup.
 * @param {Int32Array} topk
 * @param {(cell: number) => boolean} ok
 * @param {Int32Array} ids tracked ids, each >= 0 with a vocab string (checked before)
 * @param {Int32Array} off
 * @param {number[]} shape [L, P, k]
 */
function checkTopkIds(topk, ok, ids, off, shape) {
  const [L, P, k] = shape;
  let max = -1;
  for (let i = 0; i < ids.length; i++) if (ids[i] > max) max = ids[i];
  const stamp = max < 1 << 22 ? new Int32Array(max + 1) : null;
  for (let p = 0; p < P; p++) {
    if (stamp) for (let i = off[p]; i < off[p + 1]; i++) stamp[ids[i]] = p + 1;
    for (let l = 0; l < L; l++) {
      if (!ok(l * P + p)) continue;
      const base = (l * P + p) * k;
      for (let j = 0; j < k; j++) {
        const id = topk[base + j];
        if (
          id >= 0 &&
          (stamp ? id <= max && stamp[id] === p + 1 : sortedHas(ids, off[p], off[p + 1], id))
        )
          continue;
        if (id < 0) fail(`${at("topk_ids", base + j, shape)} is ${id}; token ids must be >= 0`);
        fail(
          `${at("topk_ids", base + j, shape)} is token ${id}, which is not among position ${p}'s ` +
            `"tracked_ids": every top-k id needs a trajectory`,
        );
      }
    }
  }
}

/**
 * The position whose tracked rows hold row t: the last p with off[p] <= t < off[p + 1].
 * @param {Int32Array} off
 * @param {number} t
 */
function positionOf(off, t) {
  let lo = 0;
  let hi = off.length - 2;
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1;
    if (off[mid] <= t) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/**
 * Whether the sorted `a[lo:hi]` holds `x`.
 * @param {Int32Array} a
 * @param {number} lo
 * @param {number} hi
 * @param {number} x
 */
function sortedHas(a, lo, hi, x) {
  hi -= 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid] === x) return true;
    if (a[mid] < x) lo = mid + 1;
    else hi = mid - 1;
  }
  return false;
}
