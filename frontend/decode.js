// Turns the widget's `data` trait (version-3 binary payload or seed V2 JSON) into a Lens.
// Every check throws a DecodeError whose message a user can act on, shown in the widget.
//
// Python checks data before it reaches the widget (src/logitlenskit/validate.py), but data
// can arrive without Python: a saved notebook's widget state, an exported page, another
// kernel's payload. So the same rules are checked here, and the first problem found is
// reported with the field and index that break it (docs/data-format.md, "What is
// validated"). Sizes are checked before anything is allocated.
//
// The checks are split by format: decodev3.js (the binary payload), decodefields.js (its
// optional fields), decodev2.js (seed V2 JSON), decodecheck.js (what they share).

import { DecodeError, describe, fail } from "./decodecheck.js";
import { decodeV2 } from "./decodev2.js";
import { decodeV3 } from "./decodev3.js";

/** @typedef {import("./lens.js").Lens} Lens */

export { DecodeError };
export { typed } from "./decodecheck.js";
export { decodeRowKinds } from "./decodefields.js";

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
