// Which lens produced the data and how far it can be trusted (issue 21; docs/lenses.md):
// the payload's `lens` name and `lens_reliability` (per lens row, the lens's mean
// KL(final ‖ lens) and top-1 agreement with the model's output on held-out text), the
// `lens_choices` trait, and the words and colors the views show for them. Pure (the node
// unit tier imports it). Every view that says what the numbers are asks this module, so a
// tuned lens's cells are never shown as the logit lens's, and a name is always shown: data
// without `lens` is the logit lens's.

import { checkText, describe, fail } from "./decodecheck.js";
import { METRIC_SLACK } from "./schema.js";

/** The name of data that does not say which lens produced it. */
export const LOGIT_LENS = "logit lens";
/** The longest lens name shown, in UTF-16 units (the contract's limit). */
export const LENS_NAME_MAX = 100;
/**
 * The KL (nats) at which the strip is darkest. One fixed scale for every lens, so two
 * strips compare at a glance; on the embedded models the logit lens's middle layers reach
 * about 20 nats (issue 21), a fitted lens's about 1.
 */
export const RELIABILITY_KL_MAX = 20;

/**
 * Checked `lens_reliability`: one entry per lens row; null where not measured.
 * @typedef {object} Reliability
 * @property {(number | null)[]} kl mean KL(final ‖ lens) on held-out text, nats
 * @property {(number | null)[]} top1 top-1 agreement with the model's output, 0..1
 * @property {string} note what it was measured on
 */

/** @typedef {import("./schema.js").LensChoice} LensChoice a lens the control offers */

/**
 * The payload's `lens` field: the lens's name; undefined when absent (the Lens then names
 * it `LOGIT_LENS`, and knows the data did not say).
 * @param {unknown} v
 * @returns {string | undefined}
 */
export function decodeLensName(v) {
  if (v == null) return undefined;
  if (typeof v !== "string") fail(`"lens" is ${describe(v)}; it is the lens's name (text)`);
  checkText(v, `"lens"`);
  if (!v.trim() || v.length > LENS_NAME_MAX) {
    fail(`"lens" must be a name of 1 to ${LENS_NAME_MAX} characters (got ${v.length})`);
  }
  return v;
}

/**
 * The payload's `lens_reliability` field, checked as the contract states it: `{kl, top1,
 * note}`, each list with one entry per lens row. Null when absent. A malformed field throws
 * a DecodeError naming it (the explorer shows the message): a strip drawn from wrong
 * numbers would tell the user to trust layers they should not.
 * @param {unknown} v
 * @param {number} L lens rows
 * @returns {Reliability | null}
 */
export function decodeReliability(v, L) {
  if (v == null) return null;
  const name = `"lens_reliability"`;
  if (typeof v !== "object" || Array.isArray(v) || ArrayBuffer.isView(v)) {
    fail(`${name} is ${describe(v)}, not {kl: [...], top1: [...], note: text}`);
  }
  const r = /** @type {Record<string, unknown>} */ (v);
  const kl = numbers(r.kl, `${name}.kl`, L, (x) =>
    x >= -METRIC_SLACK && x < Infinity ? "" : "a KL divergence is a finite number >= 0 (nats)",
  );
  const top1 = numbers(r.top1, `${name}.top1`, L, (x) =>
    x >= 0 && x <= 1 ? "" : "a top-1 agreement is a fraction in [0, 1]",
  );
  const note = r.note == null ? "" : r.note;
  if (typeof note !== "string") fail(`${name}.note is ${describe(note)}, not text`);
  checkText(note, `${name}.note`);
  return { kl: kl.map((x) => (x === null ? null : Math.max(0, x))), top1, note };
}

/**
 * A list of L numbers or nulls, each number passing `rule` ("" = fine, else why not).
 * @param {unknown} v
 * @param {string} name
 * @param {number} L
 * @param {(x: number) => string} rule
 * @returns {(number | null)[]}
 */
function numbers(v, name, L, rule) {
  if (!Array.isArray(v)) fail(`${name} is ${describe(v)}, not a list (one entry per lens row)`);
  if (v.length !== L) fail(`${name} has ${v.length} entries for ${L} lens rows`);
  return v.map((x, i) => {
    if (x === null) return null;
    const why = typeof x === "number" ? rule(x) : "not a number or null";
    if (why) fail(`${name}[${i}] is ${describe(x)}; ${why} (null where not measured)`);
    return /** @type {number} */ (x);
  });
}

/**
 * The `lens_choices` trait's entries that can be offered: `{key, name, note}` with text
 * values. Anything else (saved widget state bypasses Python) is left out, never thrown.
 * @param {unknown} v
 * @returns {LensChoice[]}
 */
export function lensChoices(v) {
  if (!Array.isArray(v)) return [];
  /** @type {LensChoice[]} */
  const out = [];
  for (const c of v) {
    if (!c || typeof c !== "object") continue;
    const { key, name, note } = /** @type {Record<string, unknown>} */ (c);
    if (typeof key !== "string" || !key || typeof name !== "string") continue;
    const text = (/** @type {string} */ s) => [...s].slice(0, LENS_NAME_MAX).join("");
    out.push({ key, name: text(name) || key, note: typeof note === "string" ? text(note) : "" });
  }
  return out;
}

/**
 * How untrustworthy a row's KL reads on the strip: 0 (KL 0, as the model's own output) to 1
 * (`RELIABILITY_KL_MAX` nats and above), on a log scale so both 0.3 and 20 nats are told
 * apart; null where not measured.
 * @param {number | null} kl
 */
export function reliabilityLevel(kl) {
  if (kl === null || !(kl >= 0)) return null;
  return Math.min(1, Math.log1p(kl) / Math.log1p(RELIABILITY_KL_MAX));
}

/**
 * A sequential scale, light to dark (viridis's stops, reversed): perceptually even, readable
 * by color-blind users, and darker = less trustworthy in either theme (the strip's cells are
 * opaque, so the background does not change them).
 */
const RAMP = [
  [253, 231, 37],
  [94, 201, 98],
  [33, 145, 140],
  [59, 82, 139],
  [68, 1, 84],
];

/**
 * The strip color of a row's KL, "#rrggbb"; null where not measured (hatched instead).
 * @param {number | null} kl
 */
export function reliabilityColor(kl) {
  const t = reliabilityLevel(kl);
  if (t === null) return null;
  const x = t * (RAMP.length - 1);
  const i = Math.min(RAMP.length - 2, Math.floor(x));
  const f = x - i;
  const hex = RAMP[i].map((c, j) => {
    const v = Math.round(c + (RAMP[i + 1][j] - c) * f);
    return v.toString(16).padStart(2, "0");
  });
  return `#${hex.join("")}`;
}

/** @param {number} kl nats, >= 0 */
function formatKl(kl) {
  return kl < 10 ? kl.toFixed(2) : kl.toFixed(1);
}

/**
 * What the lens's reliability is at lens row l, in words: "held-out KL 1.62 nats · top-1
 * agreement 31%", plus the note in parentheses when `withNote`. "" without reliability data.
 * @param {Reliability | null} rel
 * @param {number} l
 * @param {boolean} [withNote]
 */
export function reliabilityText(rel, l, withNote = true) {
  if (!rel) return "";
  const kl = rel.kl[l];
  const top1 = rel.top1[l];
  const note = withNote && rel.note ? ` (${rel.note})` : "";
  if (kl === null && top1 === null) return `reliability not measured at this row${note}`;
  const a = kl === null ? "held-out KL not measured" : `held-out KL ${formatKl(kl)} nats`;
  const b =
    top1 === null ? "top-1 agreement not measured" : `top-1 agreement ${Math.round(top1 * 100)}%`;
  return `${a} \u00b7 ${b}${note}`;
}

/**
 * The side names a diff's popup heads and tooltips show: `labels` as they are when both
 * sides are read by the same lens, else each with its lens ("A (tuned lens)").
 * @param {string[]} labels the two sides' names (compare_labels)
 * @param {string} a side A's lens name
 * @param {string | null} b side B's, null without side B
 */
export function sideLabels(labels, a, b) {
  if (b === null || a === b) return labels;
  return [`${labels[0]} (${a})`, `${labels[1]} (${b})`];
}

/**
 * What the caption's badge says: the lens's name, or both sides' when a diff compares two
 * lenses ("A: tuned lens · B: logit lens").
 * @param {string[]} labels
 * @param {string} a
 * @param {string | null} b
 */
export function lensBadge(labels, a, b) {
  if (b === null || a === b) return a;
  return `${labels[0]}: ${a} \u00b7 ${labels[1]}: ${b}`;
}

/**
 * The cell tooltip's lines naming the lens of lens row l: "tuned lens" with its reliability
 * there; in a diff of two lenses, one line per side ("A: tuned lens", "B: logit lens").
 * @param {{ lensName: string, reliability: Reliability | null }} a side A (the grid)
 * @param {number} l
 * @param {{ lensName: string, reliability: Reliability | null } | null} b side B, if any
 * @param {string[]} labels the two sides' names
 * @returns {[string, string][]}
 */
export function lensFacts(a, l, b, labels) {
  const value = (/** @type {Reliability | null} */ rel) =>
    reliabilityText(rel, l, false) || "no reliability data";
  if (!b || a.lensName === b.lensName) return [[a.lensName, value(a.reliability)]];
  return [
    [`${labels[0]}: ${a.lensName}`, value(a.reliability)],
    [`${labels[1]}: ${b.lensName}`, value(b.reliability)],
  ];
}
