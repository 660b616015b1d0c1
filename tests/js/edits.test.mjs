// An edited run's edits (issue 20): the payload field's check, which cells an edit touches
// (against the rule written out here, cell by cell, with sub-layer rows), and the words.
import { test } from "node:test";
import assert from "node:assert/strict";
import { decode, DecodeError } from "../../frontend/decode.js";
import {
  canPatchFrom,
  decodeEdits,
  editedCaption,
  firstTouched,
  touchedFn,
  touches,
} from "../../frontend/edits.js";
import { payload } from "./payload.mjs";

/** The contract's rule, as the brief states it: the reference for every check below. */
function rule(e, L, K, p) {
  return p >= e.from_position && (L > e.layer || (L === e.layer && (e.row_kind === 1 || K === 0)));
}

const edit = (o) => ({ kind: "patch", label: "x", layer: 2, row_kind: 0, from_position: 1, ...o });

test("touches() is the contract's rule for every layer, row kind and position", () => {
  for (const row_kind of [0, 1]) {
    for (const from_position of [0, 2]) {
      const e = edit({ row_kind, from_position });
      for (let L = 0; L < 5; L++)
        for (const K of [0, 1])
          for (let p = 0; p < 4; p++) assert.equal(touches(e, L, K, p), rule(e, L, K, p));
    }
  }
  // The cases that differ: the edit's own layer.
  assert.equal(touches(edit({ row_kind: 0 }), 2, 1, 3), false, "after-attention row before it");
  assert.equal(touches(edit({ row_kind: 0 }), 2, 0, 3), true, "its own output row");
  assert.equal(touches(edit({ row_kind: 1 }), 2, 1, 3), true, "made before that point");
  assert.equal(touches(edit({}), 1, 0, 3), false, "an earlier layer");
  assert.equal(touches(edit({}), 3, 1, 0), false, "a position before it");
});

test("touchedFn marks exactly the union of the edits' cells, sub-layer rows included", () => {
  // Lens rows: 0, 1·a, 1, 2·a, 2, 3 (sub-layer rows for layers 1 and 2 only).
  const layers = [0, 1, 1, 2, 2, 3];
  const rowKinds = Uint8Array.from([0, 1, 0, 1, 0, 0]);
  const edits = [
    edit({ layer: 2, row_kind: 0, from_position: 1 }),
    edit({ kind: "steer", layer: 1, row_kind: 1, from_position: 3, alpha: 4 }),
  ];
  const touched = touchedFn({ edits, layers, rowKinds });
  assert.ok(touched);
  for (let l = 0; l < layers.length; l++) {
    for (let p = 0; p < 5; p++) {
      const want = edits.some((e) => rule(e, layers[l], rowKinds[l], p));
      assert.equal(touched(l, p), want, `lens row ${l}, position ${p}`);
    }
  }
  assert.deepEqual([...firstTouched(edits, layers, rowKinds)], [Infinity, 3, 3, 3, 1, 1]);
  assert.equal(touchedFn({ edits: [], layers, rowKinds }), null, "no edits: nothing marked");
  // Without sub-layer rows every row is a layer's output.
  assert.deepEqual([...firstTouched([edit({ layer: 1 })], [0, 1, 2], null)], [Infinity, 1, 1]);
});

test("a payload's edits decode onto the Lens; absent is none", () => {
  assert.deepEqual(decode(payload()).edits, []);
  const edits = [
    { kind: "steer", label: "steer ×4", layer: 1, row_kind: 0, from_position: 0, alpha: 4 },
    {
      kind: "ablate",
      label: "<img src=x onerror=alert(1)>",
      layer: 0,
      row_kind: 1,
      from_position: 1,
    },
  ];
  const lens = decode(payload({ patch: { edits } }));
  assert.deepEqual(lens.edits, edits);
  assert.equal(editedCaption(lens.edits), "edited: steer ×4, <img src=x onerror=alert(1)>");
  assert.equal(editedCaption([]), "");
  assert.equal(canPatchFrom([]), true);
  assert.equal(canPatchFrom([edit({})]), true);
  assert.equal(canPatchFrom(lens.edits), false, "a steered side A is not B's state");
});

test("malformed edits are refused with the record and key named", () => {
  // The payload's model has 2 layers: layer 1 is the last valid one.
  const edit = (o) => ({
    kind: "patch",
    label: "x",
    layer: 1,
    row_kind: 0,
    from_position: 1,
    ...o,
  });
  const bad = [
    [{}, /"edits" must be a list/],
    [[3], /"edits"\[0\] is 3/],
    [[edit({ kind: "nudge" })], /"edits"\[0\]\.kind is "nudge"/],
    [[edit({}), edit({ label: 5 })], /"edits"\[1\]\.label is 5/],
    [[edit({ label: "\ud800" })], /"edits"\[0\]\.label/],
    [[edit({ layer: -1 })], /\.layer is -1/],
    [[edit({ layer: 1.5 })], /\.layer is 1\.5/],
    [[edit({ layer: 2 })], /\.layer is 2, but the model has 2 layers/],
    [[edit({ row_kind: 2 })], /\.row_kind is 2/],
    [[edit({ from_position: "0" })], /\.from_position is "0"/],
    [[edit({ kind: "steer", alpha: Number.NaN })], /\.alpha is NaN/],
    [[edit({ kind: "steer" })], /\.alpha is nothing; a steer's α is a finite number/],
    [[edit({ label: "" })], /\.label must be 1 to 200 characters \(got 0\)/],
    [[edit({ label: "x".repeat(201) })], /\.label must be 1 to 200/],
    [[edit({ from_position: 2 })], /\.from_position is 2, past the run's 2 positions/],
  ];
  for (const [edits, message] of bad) {
    assert.throws(
      () => decode(payload({ patch: { edits } })),
      (err) => {
        assert.ok(err instanceof DecodeError, String(err));
        assert.match(err.message, message);
        return true;
      },
    );
  }
  assert.deepEqual(decodeEdits(null), []);
  // As Python's clean copies: an α only on a steer; other keys (an ablation's part) pass.
  const [ablate] = decodeEdits([edit({ kind: "ablate", alpha: 2, part: "mlp" })]);
  assert.equal(ablate.alpha, undefined);
  assert.equal(decodeEdits([edit({ kind: "custom" })])[0].kind, "custom");
  assert.deepEqual(decodeEdits([edit({ layer: 40 })]).length, 1, "no layer count: no bound");
});
