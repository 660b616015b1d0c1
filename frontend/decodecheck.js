// What every decoder shares: the DecodeError its checks throw, how a message names a value
// or an index, and the checks of lists, integers, sizes, texts and binary fields. Each check
// throws with the field and index that break it (docs/data-format.md, "What is validated").

import { MAX_DATA_BYTES, MAX_DATA_K } from "./schema.js";

export class DecodeError extends Error {}

export const PROBS = "probabilities must be finite numbers in [0, 1]";
/** Half of a UTF-16 pair on its own: not valid Unicode, cannot be saved as UTF-8. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * Declared `never` so that TypeScript narrows after each `if (...) fail(...)` check.
 * @param {string} message
 * @returns {never}
 */
export function fail(message) {
  throw new DecodeError(message);
}

/**
 * A value as a message shows it: NaN, Infinity, 7, "abc" (shortened), or what it is.
 * @param {unknown} v
 */
export function describe(v) {
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
export function at(name, flat, shape) {
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
export function checkText(text, name) {
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
export function checkTexts(texts, name) {
  if (!LONE_SURROGATE.test(texts.join("\u0000"))) return;
  for (const [i, t] of texts.entries()) checkText(t, name(i));
}

/**
 * @param {Record<string, any>} d
 * @param {string} key
 * @returns {string[]}
 */
export function stringList(d, key) {
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
export function intList(d, key, optional = false) {
  const v = d[key];
  if (v == null && optional) return [];
  if (!Array.isArray(v)) fail(`"${key}" is missing or not a list (got ${describe(v)})`);
  v.forEach((x, i) => {
    if (!isIndex(x)) fail(`"${key}"[${i}] is not an integer >= 0 (got ${describe(x)})`);
  });
  return v;
}

/** @param {unknown} x @returns {x is number} */
export function isIndex(x) {
  return Number.isSafeInteger(x) && /** @type {number} */ (x) >= 0;
}

/**
 * An optional integer field that must be at least `low` when present; null when absent.
 * @param {Record<string, any>} d
 * @param {string} key
 * @param {number} low
 */
export function optionalInt(d, key, low) {
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
export function checkK(k) {
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
export function checkSize(bytes, [L, P, k, T]) {
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
export function badProb(p) {
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
export function binary(d, key, Ctor, expected) {
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
 * Index of the first value from `from` on that is not a number in [0, 1] (NaN included), or
 * -1. A small function of its own so the engine optimizes the loop: a 5,000-token payload
 * holds millions of probabilities.
 * @param {Float32Array} a
 * @param {number} from
 */
export function outOfUnit(a, from) {
  // On the bits: +0 up to 1.0 are 0x00000000..0x3f800000, and -0 is 0x80000000; NaN, the
  // infinities and every other value lie outside.
  const bits = new Uint32Array(a.buffer, a.byteOffset, a.length);
  for (let i = from; i < bits.length; i++) {
    const u = bits[i];
    if (u > 0x3f800000 && u !== 0x80000000) return i;
  }
  return -1;
}
