// An edited run's edits (issue 20; docs/data-format.md §3, `edits`): patches, steering and
// ablations the run was made with. Pure (the node unit tier imports it): the payload field's
// check, which cells an edit can change, and the words that name them. An edited run is
// never shown as the model's own output unmarked, so whatever shows data asks this module.

import { checkText, describe, fail } from "./decodecheck.js";

/** @typedef {LlkEdit} Edit declared in types.d.ts */

/** The kinds of edit the capture core makes (base/edit_records.py's EDIT_KINDS). */
export const EDIT_KINDS = Object.freeze(["patch", "steer", "ablate", "custom"]);
/** A label's length limit, as Python's. */
export const LABEL_LIMIT = 200;

/**
 * The optional `edits` field, checked as Python's validate.py checks it: a list of
 * `{kind, label, layer, row_kind, from_position, alpha?}`. Throws a DecodeError naming the
 * record and key that break it. Absent (or null) is no edits. Keys other than these (an
 * ablation's `part`, `mode`, `heads`) are Python's to check and are not shown: the label
 * names the edit.
 * @param {unknown} v
 * @param {number | null} [numLayers] the model's layer count, when the data says
 * @param {number | null} [P] the run's positions, when known
 * @returns {Edit[]}
 */
export function decodeEdits(v, numLayers = null, P = null) {
  if (v == null) return [];
  if (!Array.isArray(v)) fail(`"edits" must be a list of edit records (got ${describe(v)})`);
  return v.map((e, i) => {
    const name = `"edits"[${i}]`;
    if (!e || typeof e !== "object" || Array.isArray(e)) {
      fail(`${name} is ${describe(e)}, not an edit record {kind, label, layer, ...}`);
    }
    const r = /** @type {Record<string, unknown>} */ (e);
    if (typeof r.kind !== "string" || !EDIT_KINDS.includes(r.kind)) {
      fail(`${name}.kind is ${describe(r.kind)}; an edit is one of ${EDIT_KINDS.join(", ")}`);
    }
    if (typeof r.label !== "string") fail(`${name}.label is ${describe(r.label)}, not text`);
    checkText(r.label, `${name}.label`);
    if (!r.label || r.label.length > LABEL_LIMIT) {
      fail(`${name}.label must be 1 to ${LABEL_LIMIT} characters (got ${r.label.length})`);
    }
    const layer = r.layer;
    if (!Number.isSafeInteger(layer) || /** @type {number} */ (layer) < 0) {
      fail(`${name}.layer is ${describe(layer)}; a model layer is a whole number >= 0`);
    }
    if (numLayers !== null && /** @type {number} */ (layer) >= numLayers) {
      fail(`${name}.layer is ${layer}, but the model has ${numLayers} layers`);
    }
    if (r.row_kind !== 0 && r.row_kind !== 1) {
      fail(
        `${name}.row_kind is ${describe(r.row_kind)}; it is 0 (the edit changes the layer's ` +
          "output) or 1 (inside the layer, before its after-attention point)",
      );
    }
    const from = r.from_position;
    if (!Number.isSafeInteger(from) || /** @type {number} */ (from) < 0) {
      fail(`${name}.from_position is ${describe(from)}; a position is a whole number >= 0`);
    }
    if (P !== null && /** @type {number} */ (from) >= P) {
      fail(`${name}.from_position is ${from}, past the run's ${P} positions`);
    }
    /** @type {Edit} */
    const edit = {
      kind: /** @type {Edit["kind"]} */ (r.kind),
      label: r.label,
      layer: /** @type {number} */ (layer),
      row_kind: r.row_kind,
      from_position: /** @type {number} */ (from),
    };
    // Only a steer has an α, and it must (Python drops an α elsewhere, as this does).
    if (r.kind === "steer") {
      if (typeof r.alpha !== "number" || !Number.isFinite(r.alpha)) {
        fail(`${name}.alpha is ${describe(r.alpha)}; a steer's α is a finite number`);
      }
      edit.alpha = r.alpha;
    }
    return Object.freeze(edit);
  });
}

/**
 * Whether `edit` can change the cell of model layer `layer`, row kind `kind` (0: the
 * layer's output, 1: after its attention), position `p`. An edit acts from its position on
 * and downstream of where it is made: every later layer, and in its own layer the output
 * row, plus the after-attention row when it is made before that point (row_kind 1).
 * @param {Edit} edit
 * @param {number} layer
 * @param {number} kind
 * @param {number} p
 */
export function touches(edit, layer, kind, p) {
  if (p < edit.from_position) return false;
  return layer > edit.layer || (layer === edit.layer && (edit.row_kind === 1 || kind === 0));
}

/**
 * For each lens row, the first position any edit touches there (Infinity: none), so a
 * cell's test is one comparison: the grid asks it for every cell it builds.
 * @param {readonly Edit[]} edits
 * @param {readonly number[]} layers the model layer of each lens row
 * @param {ArrayLike<number> | null} rowKinds each lens row's kind; null: all outputs
 * @returns {Float64Array}
 */
export function firstTouched(edits, layers, rowKinds) {
  const first = new Float64Array(layers.length).fill(Infinity);
  layers.forEach((layer, l) => {
    const kind = rowKinds ? rowKinds[l] : 0;
    for (const e of edits) {
      // touches() at the edit's own first position says whether the row is downstream.
      if (touches(e, layer, kind, e.from_position)) first[l] = Math.min(first[l], e.from_position);
    }
  });
  return first;
}

/**
 * A cell test for a lens's edits, or null when the run has none.
 * @param {{ edits: readonly Edit[], layers: number[], rowKinds: Uint8Array | null }} lens
 * @returns {((l: number, p: number) => boolean) | null}
 */
export function touchedFn(lens) {
  if (!lens.edits.length) return null;
  const first = firstTouched(lens.edits, lens.layers, lens.rowKinds);
  return (l, p) => p >= first[l];
}

/**
 * Where an edit acts, in words: "layer 3 (before its MLP), from position 2".
 * @param {Edit} e
 */
export function editWhere(e) {
  const inside = e.row_kind === 1 ? " (inside, before its after-attention point)" : "";
  const from = e.from_position > 0 ? `, positions ${e.from_position} on` : ", all positions";
  return `layer ${e.layer}${inside}${from}`;
}

/**
 * The caption an edited run carries wherever it is shown: "edited: steer ×4, ablate MLP 3".
 * Empty for a run without edits.
 * @param {readonly Edit[]} edits
 */
export function editedCaption(edits) {
  return edits.length ? `edited: ${edits.map((e) => e.label).join(", ")}` : "";
}

/**
 * Whether a side-A cell can be patched into side B from the widget: a live diff whose
 * side A is the model's own run or already a patched one (a steered or ablated side A is
 * not a state of side B's prompt to patch from).
 * @param {readonly Edit[]} edits side A's
 */
export function canPatchFrom(edits) {
  return edits.every((e) => e.kind === "patch");
}
