// The version-3 payload's optional fields (docs/data-format.md §3): cell status, KL
// flags, sub-layer row kinds, the generation's position kinds and commitment rows, and the
// named targets with their exact log-probabilities and ranks. Each is independent of the
// others; absent ones decode to null.

import { CELL_PENDING, POS_GENERATED } from "./lens.js";
import { METRIC_SLACK } from "./schema.js";
import { at, binary, checkText, describe, fail, isIndex } from "./decodecheck.js";

const TARGET = '{"name": string, "ids": [token ids]}';

/**
 * The optional `kl_undefined` (docs/data-format.md §3): 1 at a position whose KL reference,
 * the model's output, is not finite. When the rows hold the model's output row (the last
 * layer's output), a flagged position's cell there must not be computed.
 * @param {Record<string, unknown>} d
 * @param {number[]} layers
 * @param {number} P
 * @param {number | null} numLayers
 * @param {Uint8Array | null} rowKinds
 * @param {(cell: number) => boolean} ok
 * @returns {Uint8Array | null}
 */
export function decodeKlUndefined(d, layers, P, numLayers, rowKinds, ok) {
  if (d.kl_undefined == null) return null;
  const flags = binary(d, "kl_undefined", Uint8Array, P);
  const L = layers.length;
  const last = numLayers !== null && layers[L - 1] === numLayers - 1;
  const final = last && (!rowKinds || rowKinds[L - 1] === 0) ? L - 1 : -1;
  for (let p = 0; p < P; p++) {
    if (flags[p] > 1) fail(`"kl_undefined"[${p}] is ${flags[p]}; a position's flag is 0 or 1`);
    if (flags[p] && final >= 0 && ok(final * P + p)) {
      fail(
        `"kl_undefined"[${p}] is 1, but the model's output at position ${p} (lens row ${final}) ` +
          "is computed and finite, so KL is defined there",
      );
    }
  }
  return flags;
}

/**
 * The optional `row_kinds` (docs/data-format.md §3): one kind per lens row, 0 (after the
 * layer) or 1 (after its attention, before its MLP); a kind-1 row is followed by the kind-0
 * row of the same layer. Null when absent (every row is a layer's output).
 * @param {unknown} v
 * @param {number[]} layers
 * @returns {Uint8Array | null}
 */
export function decodeRowKinds(v, layers) {
  if (v == null) return null;
  const L = layers.length;
  if (!Array.isArray(v)) fail(`"row_kinds" must be a list of integers (got ${describe(v)})`);
  if (v.length !== L) {
    fail(`"row_kinds" has ${v.length} values for ${L} lens rows (one per layers entry)`);
  }
  v.forEach((x, i) => {
    if (x !== 0 && x !== 1) {
      fail(
        `"row_kinds"[${i}] is ${describe(x)}; a lens row's kind is 0 (after the layer) or 1 ` +
          "(after the layer's attention, before its MLP)",
      );
    }
  });
  v.forEach((x, i) => {
    if (x === 1 && (i + 1 === L || v[i + 1] !== 0 || layers[i + 1] !== layers[i])) {
      fail(
        `"row_kinds"[${i}] is 1 (layer ${layers[i]} after attention), but the next lens row is ` +
          `not layer ${layers[i]}'s output: an after-attention row must be followed by a row ` +
          "of kind 0 of the same layer",
      );
    }
  });
  return Uint8Array.from(v);
}

/**
 * The optional generation fields (docs/data-format.md §3): each position's kind, uint8 [P]
 * in {0, 1, 2}, and for generated positions the lens rows where the token became position
 * p - 1's top-1 for good (`commitment`) and entered its top-k for good (`entered_topk`),
 * int32 [P] in [-1, L - 1]. Each is independent of the others.
 * @param {Record<string, any>} d
 * @param {number} L
 * @param {number} P
 */
export function decodeGeneration(d, L, P) {
  const positionKinds =
    d.position_kinds == null ? null : binary(d, "position_kinds", Uint8Array, P);
  if (positionKinds) {
    for (let p = 0; p < P; p++) {
      if (positionKinds[p] > POS_GENERATED) {
        fail(
          `"position_kinds"[${p}] is ${positionKinds[p]}; a position's kind is 0 (prompt ` +
            "text), 1 (chat template or special token) or 2 (generated)",
        );
      }
    }
  }
  /** @param {string} key */
  const rows = (key) => {
    if (d[key] == null) return null;
    const a = binary(d, key, Int32Array, P);
    for (let p = 0; p < P; p++) {
      if (a[p] < -1 || a[p] >= L) {
        fail(
          `"${key}"[${p}] is ${a[p]}; it must be a lens row from -1 to ${L - 1} (an index ` +
            "into layers; -1 for none)",
        );
      }
    }
    return a;
  };
  return { positionKinds, commitment: rows("commitment"), enteredTopk: rows("entered_topk") };
}

/**
 * The payload's named targets with their exact log-probabilities and ranks [T, L, P]: all
 * three or none (docs/data-format.md §3).
 * @param {Record<string, any>} d
 * @param {number[]} shape [L, P]
 * @param {(cell: number) => boolean} ok whether a cell is computed (flagged ones are exempt)
 */
export function decodeTargets(d, [L, P], ok) {
  const arrays = ["target_logprobs", "target_ranks"];
  if (d.targets == null) {
    const given = arrays.find((key) => d[key] != null);
    if (given) {
      fail(
        `"${given}" is given without "targets": it holds one [L, P] block per target, so ` +
          "the data needs its targets too",
      );
    }
    return { targets: null, targetLogprobs: null, targetRanks: null };
  }
  const targets = checkTargets(d.targets);
  for (const key of arrays) {
    if (d[key] == null) {
      fail(
        `"${key}" is missing: data with "targets" needs "target_logprobs" and ` +
          '"target_ranks" ([T, L, P] each)',
      );
    }
  }
  const shape = [targets.length, L, P];
  const n = targets.length * L * P;
  const grid = L * P;
  const targetLogprobs = binary(d, "target_logprobs", Float32Array, n);
  for (let i = 0; i < n; i++) {
    const v = targetLogprobs[i];
    // NaN fails the comparison; -Infinity (a probability of 0) passes.
    if (!(v <= METRIC_SLACK) && ok(i % grid)) {
      fail(
        `${at("target_logprobs", i, shape)} is ${describe(v)}; log-probabilities must be ` +
          "numbers <= 0 (-Infinity for a probability of 0)",
      );
    }
  }
  const targetRanks = binary(d, "target_ranks", Int32Array, n);
  for (let i = 0; i < n; i++) {
    if (targetRanks[i] < 1 && ok(i % grid)) {
      fail(
        `${at("target_ranks", i, shape)} is ${targetRanks[i]}; ranks are integers >= 1 ` +
          "(1 = the most probable token)",
      );
    }
  }
  return { targets, targetLogprobs, targetRanks };
}

/**
 * @param {unknown} raw
 * @returns {{ name: string, ids: number[] }[]}
 */
function checkTargets(raw) {
  if (!Array.isArray(raw)) fail(`"targets" must be a list of ${TARGET}, got ${describe(raw)}`);
  /** @type {Map<string, number>} */
  const seen = new Map();
  return raw.map((target, t) => {
    if (
      !target ||
      typeof target !== "object" ||
      Array.isArray(target) ||
      ArrayBuffer.isView(target)
    )
      fail(`"targets"[${t}] must be ${TARGET}, got ${describe(target)}`);
    const { name, ids } = /** @type {Record<string, unknown>} */ (target);
    if (typeof name !== "string")
      fail(`"targets"[${t}]."name" is not a string (got ${describe(name)})`);
    checkText(name, `"targets"[${t}]."name"`);
    if (!name) fail(`"targets"[${t}]."name" is empty; every target needs a name`);
    const before = seen.get(name);
    if (before !== undefined) {
      fail(
        `"targets"[${t}]."name" ${describe(name)} is also "targets"[${before}]'s: target ` +
          "names must be unique",
      );
    }
    seen.set(name, t);
    if (!Array.isArray(ids)) fail(`"targets"[${t}]."ids" is not a list (got ${describe(ids)})`);
    ids.forEach((x, j) => {
      if (!isIndex(x))
        fail(`"targets"[${t}]."ids"[${j}] is not an integer >= 0 (got ${describe(x)})`);
    });
    if (!ids.length) fail(`"targets"[${t}]."ids" is empty; a target needs at least one token id`);
    return { name, ids: /** @type {number[]} */ (ids) };
  });
}

/**
 * Every value must be a known status: a newer Python's status would otherwise show numbers
 * the contract says are meaningless.
 * @param {Uint8Array} status
 * @param {number} P
 */
export function checkStatus(status, P) {
  for (let i = 0; i < status.length; i++) {
    if (status[i] > CELL_PENDING) {
      fail(
        `"cell_status" has the unknown value ${status[i]} at layer row ${Math.floor(i / P)}, ` +
          `position ${i % P} (expected 0 computed, 1 invalid or 2 pending)`,
      );
    }
  }
}
