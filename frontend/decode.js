// Turns the widget's `data` trait (version-3 binary payload or seed V2 JSON) into a Lens.
// Every check throws a DecodeError whose message a user can act on, shown in the widget.
//
// Python checks data before it reaches the widget (src/logitlenskit/validate.py), but data
// can arrive without Python: a saved notebook's widget state, an exported page, another
// kernel's payload. So the same rules are checked here, and the first problem found is
// reported with the field and index that break it (docs/data-format.md, "What is
// validated"). Sizes are checked before anything is allocated.

import { Lens, CELL_OK, CELL_PENDING, POS_GENERATED } from "./lens.js";
import { ENTROPY_SLACK, MAX_DATA_BYTES, MAX_DATA_K, METRIC_SLACK } from "./schema.js";

export class DecodeError extends Error {}

const PROBS = "probabilities must be finite numbers in [0, 1]";
const TARGET = '{"name": string, "ids": [token ids]}';
/** Vocab keys are token ids written in decimal. */
const ID_KEY = /^(0|[1-9][0-9]*)$/;
/** Half of a UTF-16 pair on its own: not valid Unicode, cannot be saved as UTF-8. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * Declared `never` so that TypeScript narrows after each `if (...) fail(...)` check.
 * @param {string} message
 * @returns {never}
 */
function fail(message) {
  throw new DecodeError(message);
}

/**
 * @param {unknown} data the `data` trait value
 * @returns {Lens | null} null when there is no data yet (`{}`)
 */
export function decode(data) {
  if (data == null || typeof data !== "object" || Array.isArray(data)) {
    fail(`expected an object, got ${describe(data)}`);
  }
  const d = /** @type {Record<string, any>} */ (data);
  if (Object.keys(d).length === 0) return null;
  if (d.version === 3) return decodeV3(d);
  const meta = d.meta;
  if (meta && typeof meta === "object" && meta.version === 2) return decodeV2(d);
  fail(
    `unknown data format (version ${describe(d.version ?? (meta && typeof meta === "object" ? meta.version : meta))}); ` +
      "expected the version-3 widget payload or seed V2 JSON",
  );
}

/**
 * A value as a message shows it: NaN, Infinity, 7, "abc" (shortened), or what it is.
 * @param {unknown} v
 */
function describe(v) {
  if (v === undefined) return "nothing";
  if (v === null) return "null";
  if (typeof v === "number" || typeof v === "boolean" || typeof v === "bigint") return String(v);
  if (typeof v === "string") return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}\u2026` : v);
  if (Array.isArray(v)) return `an array of ${v.length}`;
  if (v instanceof ArrayBuffer || ArrayBuffer.isView(v))
    return `binary data of ${v.byteLength} bytes`;
  return typeof v === "object" ? "an object" : `a ${typeof v}`;
}

/**
 * `"name"[i][j]...` for a flat index into a C-order array of `shape`.
 * @param {string} name
 * @param {number} flat
 * @param {number[]} shape
 */
function at(name, flat, shape) {
  const idx = [];
  for (let i = shape.length - 1; i >= 0; i--) {
    idx.push(flat % shape[i]);
    flat = Math.floor(flat / shape[i]);
  }
  return `"${name}"${idx
    .reverse()
    .map((i) => `[${i}]`)
    .join("")}`;
}

/**
 * @param {string} text
 * @param {string} name how the message names it, e.g. `"input"[3]`
 */
function checkText(text, name) {
  const m = LONE_SURROGATE.exec(text);
  if (m) {
    fail(
      `${name} holds a lone surrogate (U+${m[0].charCodeAt(0).toString(16).toUpperCase()}) at ` +
        `character ${m.index}, which is not valid Unicode`,
    );
  }
}

/**
 * Check many strings with one regex pass; the slow pass only runs to name the culprit.
 * @param {string[]} texts
 * @param {(i: number) => string} name
 */
function checkTexts(texts, name) {
  if (!LONE_SURROGATE.test(texts.join("\u0000"))) return;
  for (const [i, t] of texts.entries()) checkText(t, name(i));
}

/**
 * @param {Record<string, any>} d
 * @param {string} key
 * @returns {string[]}
 */
function stringList(d, key) {
  const v = d[key];
  if (!Array.isArray(v)) fail(`"${key}" is missing or not a list (got ${describe(v)})`);
  v.forEach((s, i) => {
    if (typeof s !== "string") fail(`"${key}"[${i}] is not a string (got ${describe(s)})`);
  });
  checkTexts(v, (i) => `"${key}"[${i}]`);
  return v;
}

/**
 * A list of integers >= 0 (ids, layer numbers), exact as JSON numbers.
 * @param {Record<string, any>} d
 * @param {string} key
 * @param {boolean} [optional] absent or null gives []
 * @returns {number[]}
 */
function intList(d, key, optional = false) {
  const v = d[key];
  if (v == null && optional) return [];
  if (!Array.isArray(v)) fail(`"${key}" is missing or not a list (got ${describe(v)})`);
  v.forEach((x, i) => {
    if (!isIndex(x)) fail(`"${key}"[${i}] is not an integer >= 0 (got ${describe(x)})`);
  });
  return v;
}

/** @param {unknown} x @returns {x is number} */
function isIndex(x) {
  return Number.isSafeInteger(x) && /** @type {number} */ (x) >= 0;
}

/**
 * An optional integer field that must be at least `low` when present; null when absent.
 * @param {Record<string, any>} d
 * @param {string} key
 * @param {number} low
 */
function optionalInt(d, key, low) {
  const v = d[key];
  if (v == null) return null;
  if (!Number.isSafeInteger(v) || v < low) {
    fail(`"${key}" must be an integer >= ${low} (got ${describe(v)})`);
  }
  return /** @type {number} */ (v);
}

/**
 * The width of every cell's top-k list, checked before anything of that size exists.
 * @param {unknown} k
 */
function checkK(k) {
  if (!Number.isSafeInteger(k) || /** @type {number} */ (k) < 1) {
    fail(`"k" must be a positive integer (got ${describe(k)})`);
  }
  const n = /** @type {number} */ (k);
  if (n > MAX_DATA_K) {
    fail(
      `"k" is ${n}: at most ${MAX_DATA_K} predictions per cell are supported (the grid shows ` +
        "one per cell and the popup a few); collect with a smaller k",
    );
  }
  return n;
}

/**
 * @param {number} bytes what the view would hold
 * @param {number[]} shape L, P, k and, when known, the number of trajectories T
 */
function checkSize(bytes, [L, P, k, T]) {
  if (bytes > MAX_DATA_BYTES) {
    const n = (/** @type {number} */ x) => x.toLocaleString("en");
    fail(
      `the data would take ${n(Math.round(bytes / 1e6))} MB in the browser ` +
        `(L=${L} x P=${P} x k=${k}${T === undefined ? "" : ` and ${n(T)} trajectories`}), over ` +
        `the ${MAX_DATA_BYTES / 2 ** 20} MiB limit: collect fewer layers, a shorter prompt or a smaller k`,
    );
  }
}

/**
 * A probability that breaks the rules, or null.
 * @param {number} p
 */
function badProb(p) {
  return p >= 0 && p <= 1 ? null : `is ${describe(p)}; ${PROBS}`; // NaN fails both
}

/**
 * The typed-array constructors' overload that views part of any buffer, shared or not.
 * @typedef {new (buffer: ArrayBufferLike, offset: number, length: number) => Int32Array | Float32Array | Uint8Array} BufferView
 */

/**
 * A little-endian binary field as a typed array. Buffers arrive as DataViews into a larger
 * message buffer, so the view's byteOffset must be honoured; an unaligned offset is copied.
 * @template {Int32ArrayConstructor | Float32ArrayConstructor | Uint8ArrayConstructor} C
 * @param {Record<string, any>} d
 * @param {string} key
 * @param {C} Ctor
 * @param {number} expected number of elements
 * @returns {InstanceType<C>}
 */
function binary(d, key, Ctor, expected) {
  return typed(d[key], `"${key}"`, Ctor, expected);
}

/**
 * `binary` for any value (a field, or a command answer's buffer); `name` names it in errors.
 * A plain array is accepted too (each value must fit the type); nothing is allocated before
 * its length is checked.
 * @template {Int32ArrayConstructor | Float32ArrayConstructor | Uint8ArrayConstructor} C
 * @param {unknown} v
 * @param {string} name
 * @param {C} Ctor
 * @param {number} expected number of elements
 * @returns {InstanceType<C>}
 */
export function typed(v, name, Ctor, expected) {
  const key = name;
  /** @type {Uint8Array} */
  let bytes;
  if (v instanceof DataView || ArrayBuffer.isView(v)) {
    bytes = new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  } else if (v instanceof ArrayBuffer) {
    bytes = new Uint8Array(v);
  } else if (Array.isArray(v)) {
    if (v.length !== expected) fail(`${key} has ${v.length} values, expected ${expected}`);
    const isFloat = /** @type {unknown} */ (Ctor) === Float32Array;
    const [lo, hi] =
      /** @type {unknown} */ (Ctor) === Uint8Array ? [0, 255] : [-(2 ** 31), 2 ** 31 - 1];
    v.forEach((x, i) => {
      const ok = typeof x === "number" && (isFloat || (Number.isInteger(x) && x >= lo && x <= hi));
      if (!ok)
        fail(
          `${key}[${i}] is ${describe(x)}; expected ${isFloat ? "a number" : `an integer in [${lo}, ${hi}]`}`,
        );
    });
    return /** @type {InstanceType<C>} */ (Ctor.from(v));
  } else {
    fail(`${key} is missing or not binary data (got ${describe(v)})`);
  }
  const size = Ctor.BYTES_PER_ELEMENT;
  if (bytes.byteLength !== expected * size) {
    fail(
      `${key} has ${bytes.byteLength} bytes, expected ${expected * size} ` +
        `(${expected} values of ${size} bytes)`,
    );
  }
  // Called through the union C, the constructors offer only their ArrayBuffer overload; each
  // also has one taking any ArrayBufferLike, which a view of the message buffer needs.
  const View = /** @type {BufferView} */ (Ctor);
  if (bytes.byteOffset % size === 0) {
    return /** @type {InstanceType<C>} */ (new View(bytes.buffer, bytes.byteOffset, expected));
  }
  const copy = new Uint8Array(bytes);
  return /** @type {InstanceType<C>} */ (new View(copy.buffer, 0, expected));
}

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
function decodeV3(d) {
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
  });
}

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
function decodeKlUndefined(d, layers, P, numLayers, rowKinds, ok) {
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
function decodeGeneration(d, L, P) {
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
function decodeTargets(d, [L, P], ok) {
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
function checkStatus(status, P) {
  for (let i = 0; i < status.length; i++) {
    if (status[i] > CELL_PENDING) {
      fail(
        `"cell_status" has the unknown value ${status[i]} at layer row ${Math.floor(i / P)}, ` +
          `position ${i % P} (expected 0 computed, 1 invalid or 2 pending)`,
      );
    }
  }
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
 * Index of the first value from `from` on that is not a number in [0, 1] (NaN included), or
 * -1. A small function of its own so the engine optimizes the loop: a 5,000-token payload
 * holds millions of probabilities.
 * @param {Float32Array} a
 * @param {number} from
 */
function outOfUnit(a, from) {
  // On the bits: +0 up to 1.0 are 0x00000000..0x3f800000, and -0 is 0x80000000; NaN, the
  // infinities and every other value lie outside.
  const bits = new Uint32Array(a.buffer, a.byteOffset, a.length);
  for (let i = from; i < bits.length; i++) {
    const u = bits[i];
    if (u > 0x3f800000 && u !== 0x80000000) return i;
  }
  return -1;
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

/**
 * Seed V2 JSON keys tokens by string; each distinct key gets its own id here so the rest of
 * the widget works on ids only. A key `"<string>#<id>"` where the plain `"<string>"` is also a
 * key is how to_js_format keeps two ids with one string apart: it stays its own token but is
 * labelled with the plain string. Memory is sized by the data: every cell lists the same
 * number (k <= MAX_DATA_K) of tokens, and the total is checked before anything is allocated.
 * @param {Record<string, any>} d
 */
function decodeV2(d) {
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
  for (let l = 0; l < L; l++) {
    for (let p = 0; p < P; p++) {
      /** @type {unknown[]} */ (topk[l][p]).forEach((s, j) => {
        const id = typeof s === "string" ? idOf.get(s) : undefined;
        const traj = id === undefined ? undefined : perPos[p].get(id);
        if (id === undefined || !traj) {
          fail(
            `"topk"[${l}][${p}][${j}] is ${describe(s)}, which has no trajectory in ` +
              `"tracked"[${p}]: every top-k token needs one`,
          );
        }
        topkIds[(l * P + p) * k + j] = id;
        topkProbs[(l * P + p) * k + j] = traj[l];
      });
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
      cell.forEach((s, j) => {
        if (typeof s !== "string")
          fail(`"topk"[${l}][${p}][${j}] is not a string (got ${describe(s)})`);
      });
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
  for (const [s, traj] of Object.entries(entry)) {
    const name = `"tracked"[${p}][${describe(s)}]`;
    if (!Array.isArray(traj) || traj.length !== L) {
      fail(`${name} must have ${L} values, got ${describe(traj)}`);
    }
    traj.forEach((x, l) => {
      if (typeof x !== "number") fail(`${name}[${l}] is ${describe(x)}; ${PROBS}`);
      const bad = badProb(x);
      if (bad) fail(`${name}[${l}] ${bad}`);
    });
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
