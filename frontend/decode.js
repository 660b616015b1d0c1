// Turns the widget's `data` trait (version-3 binary payload or seed V2 JSON) into a Lens.
// Every check throws a DecodeError whose message a user can act on, shown in the widget.

import { Lens, CELL_PENDING } from "./lens.js";

export class DecodeError extends Error {}

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
  if (d.meta && d.meta.version === 2) return decodeV2(d);
  fail(
    `unknown data format (version ${describe(d.version ?? d.meta?.version)}); ` +
      "expected the version-3 widget payload or seed V2 JSON",
  );
}

/** @param {unknown} v */
function describe(v) {
  if (v === undefined) return "nothing";
  if (Array.isArray(v)) return `an array of ${v.length}`;
  return typeof v === "object" ? (v === null ? "null" : "an object") : JSON.stringify(v);
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
  return v;
}

/**
 * @param {Record<string, any>} d
 * @param {string} key
 * @param {boolean} [optional]
 * @returns {number[]}
 */
function intList(d, key, optional = false) {
  const v = d[key];
  if (v === undefined && optional) return [];
  if (!Array.isArray(v)) fail(`"${key}" is missing or not a list (got ${describe(v)})`);
  v.forEach((x, i) => {
    if (!Number.isInteger(x)) fail(`"${key}"[${i}] is not an integer (got ${describe(x)})`);
  });
  return v;
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

/** @param {Record<string, any>} d */
function decodeV3(d) {
  const input = stringList(d, "input");
  const layers = intList(d, "layers");
  const inputIds = intList(d, "input_ids", true);
  const k = d.k;
  if (!Number.isInteger(k) || k < 1) fail(`"k" must be a positive integer (got ${describe(k)})`);
  const L = layers.length;
  const P = input.length;
  if (L === 0 || P === 0) fail(`the data has ${L} layers and ${P} positions; nothing to show`);
  if (inputIds.length && inputIds.length !== P) {
    fail(`"input_ids" has ${inputIds.length} ids for ${P} input tokens`);
  }
  const vocabRaw = d.vocab;
  if (!vocabRaw || typeof vocabRaw !== "object") fail(`"vocab" is missing or not an object`);
  /** @type {Map<number, string>} */
  const vocab = new Map();
  for (const [key, text] of Object.entries(vocabRaw)) {
    vocab.set(Number(key), typeof text === "string" ? text : String(text));
  }
  const topkIds = binary(d, "topk_ids", Int32Array, L * P * k);
  const topkProbs = binary(d, "topk_probs", Float32Array, L * P * k);
  const trackedOffsets = binary(d, "tracked_offsets", Int32Array, P + 1);
  const T = trackedOffsets[P];
  checkOffsets(trackedOffsets);
  const trackedIds = binary(d, "tracked_ids", Int32Array, T);
  checkSorted(trackedIds, trackedOffsets);
  const trackedProbs = binary(d, "tracked_probs", Float32Array, T * L);
  const entropy = d.entropy == null ? null : binary(d, "entropy", Float32Array, L * P);
  const model = typeof d.model === "string" ? d.model : "";
  const numLayers = d.num_layers ?? null;
  if (numLayers !== null && !(Number.isInteger(numLayers) && numLayers > 0)) {
    fail(`"num_layers" must be a positive integer (got ${describe(numLayers)})`);
  }
  const run = d.run ?? null;
  if (run !== null && !Number.isInteger(run)) fail(`"run" must be an integer (got ${describe(run)})`);
  const cellStatus = d.cell_status == null ? null : binary(d, "cell_status", Uint8Array, L * P);
  if (cellStatus) checkStatus(cellStatus, P);
  return new Lens({
    model, input, inputIds, layers, k, vocab, topkIds, topkProbs,
    trackedOffsets, trackedIds, trackedProbs, entropy, fromV2: false, numLayers, run, cellStatus,
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
      fail(`"cell_status" has the unknown value ${status[i]} at layer row ${Math.floor(i / P)}, ` +
        `position ${i % P} (expected 0 computed, 1 invalid or 2 pending)`);
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
 * Trajectories are found by binary search: each position's ids must strictly increase.
 * @param {Int32Array} ids
 * @param {Int32Array} off
 */
function checkSorted(ids, off) {
  for (let p = 0; p + 1 < off.length; p++) {
    for (let i = off[p] + 1; i < off[p + 1]; i++) {
      if (ids[i] <= ids[i - 1]) {
        fail(`"tracked_ids" of position ${p} must be sorted and distinct (${ids[i - 1]} before ${ids[i]})`);
      }
    }
  }
}

/**
 * Seed V2 JSON keys tokens by string; each distinct key gets its own id here so the rest of
 * the widget works on ids only. A key `"<string>#<id>"` where the plain `"<string>"` is also a
 * key is how to_js_format keeps two ids with one string apart: it stays its own token but is
 * labelled with the plain string.
 * @param {Record<string, any>} d
 */
function decodeV2(d) {
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
      idOf.set(s, (id = idOf.size));
      vocab.set(id, label);
    }
    return id;
  };
  const k = v2Width(topk, P);
  const allKeys = new Set(tracked.flatMap((e) => (e && typeof e === "object" ? Object.keys(e) : [])));
  const perPos = tracked.map((entry, p) => v2Tracked(entry, p, L, intern, allKeys));
  const topkIds = new Int32Array(L * P * k).fill(-1);
  const topkProbs = new Float32Array(L * P * k).fill(NaN);
  for (let l = 0; l < L; l++) {
    for (let p = 0; p < P; p++) {
      topk[l][p].forEach((/** @type {unknown} */ s, /** @type {number} */ j) => {
        if (typeof s !== "string") fail(`"topk"[${l}][${p}][${j}] is not a string`);
        const id = intern(s);
        topkIds[(l * P + p) * k + j] = id;
        const traj = perPos[p].get(id);
        if (traj) topkProbs[(l * P + p) * k + j] = traj[l];
      });
    }
  }
  const offsets = new Int32Array(P + 1);
  perPos.forEach((m, p) => (offsets[p + 1] = offsets[p] + m.size));
  const trackedIds = new Int32Array(offsets[P]);
  const trackedProbs = new Float32Array(offsets[P] * L);
  perPos.forEach((m, p) => {
    [...m.keys()].sort((a, b) => a - b).forEach((id, i) => {
      trackedIds[offsets[p] + i] = id;
      trackedProbs.set(/** @type {number[]} */ (m.get(id)), (offsets[p] + i) * L);
    });
  });
  return new Lens({
    model: typeof d.meta.model === "string" ? d.meta.model : "",
    input, inputIds: [], layers, k, vocab, topkIds, topkProbs,
    trackedOffsets: offsets, trackedIds, trackedProbs, entropy: null, fromV2: true,
    numLayers: null,
  });
}

/**
 * @param {any[]} topk
 * @param {number} P
 */
function v2Width(topk, P) {
  let k = 0;
  topk.forEach((row, l) => {
    if (!Array.isArray(row) || row.length !== P) {
      fail(`"topk"[${l}] must list ${P} positions, got ${describe(row)}`);
    }
    row.forEach((cell, p) => {
      if (!Array.isArray(cell) || cell.length === 0) {
        fail(`"topk"[${l}][${p}] must be a non-empty list of tokens, got ${describe(cell)}`);
      }
      k = Math.max(k, cell.length);
    });
  });
  return k;
}

/**
 * @param {unknown} entry
 * @param {number} p
 * @param {number} L
 * @param {(s: string, label?: string) => number} intern
 * @param {Set<string>} allKeys every tracked key of the data
 * @returns {Map<number, number[]>}
 */
function v2Tracked(entry, p, L, intern, allKeys) {
  if (!entry || typeof entry !== "object" || Array.isArray(entry)) {
    fail(`"tracked"[${p}] must be an object {token: trajectory}, got ${describe(entry)}`);
  }
  const out = new Map();
  for (const [s, traj] of Object.entries(entry)) {
    if (!Array.isArray(traj) || traj.length !== L) {
      fail(`"tracked"[${p}][${JSON.stringify(s)}] must have ${L} values, got ${describe(traj)}`);
    }
    out.set(intern(s, sharedStringLabel(s, allKeys)), traj.map(Number));
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
