// Generation (docs/data-format.md §3): the position kinds, commitment and entered_topk
// fields as decode.js checks them, where commitment.js marks a generated token and what its
// tooltip says, and same-run data that grows by a position (lens.js `continues`).
import { test } from "node:test";
import assert from "node:assert/strict";
import { decode, DecodeError } from "../../frontend/decode.js";
import { Lens, POS_GENERATED, POS_PROMPT, POS_TEMPLATE } from "../../frontend/lens.js";
import {
  columnAtOrAfter,
  commitFor,
  commitMarks,
  commitText,
  quoteToken,
} from "../../frontend/commitment.js";
import { payload } from "./payload.mjs";

/** payload.mjs's P = 2, L = 2 data with the generation fields. */
const generated = (kinds = [1, 2], commitment = [-1, 1], entered = [-1, 0]) =>
  payload({
    extra: {
      position_kinds: Uint8Array.from(kinds),
      commitment: Int32Array.from(commitment),
      entered_topk: Int32Array.from(entered),
    },
  });

const rejects = (data, re) =>
  assert.throws(
    () => decode(data),
    (e) => {
      assert.ok(e instanceof DecodeError, `not a DecodeError: ${e}`);
      assert.match(e.message, re);
      return true;
    },
  );

test("the generation fields decode into the Lens; without them every position is prompt text", () => {
  const lens = decode(generated());
  assert.equal(lens.kind(0), POS_TEMPLATE);
  assert.equal(lens.kind(1), POS_GENERATED);
  assert.deepEqual([...lens.commitment], [-1, 1]);
  assert.deepEqual([...lens.enteredTopk], [-1, 0]);
  const plain = decode(payload());
  assert.equal(plain.kind(1), POS_PROMPT);
  assert.equal(plain.positionKinds, null);
  assert.equal(plain.commitment, null);
  assert.equal(commitFor(plain, 1), null);
  // each field is optional on its own
  const kindsOnly = decode(payload({ extra: { position_kinds: Uint8Array.of(0, 2) } }));
  assert.equal(kindsOnly.kind(1), POS_GENERATED);
  assert.equal(commitFor(kindsOnly, 1), null, "nothing to mark without commitment or entered_topk");
});

test("bad generation fields are refused with the field, the position and the rule", () => {
  rejects(
    generated([0, 3]),
    /^"position_kinds"\[1\] is 3; a position's kind is 0 \(prompt text\), 1 \(chat template or special token\) or 2 \(generated\)$/,
  );
  rejects(
    generated([0, 2], [-1, 2]),
    /^"commitment"\[1\] is 2; it must be a lens row from -1 to 1 \(an index into layers; -1 for none\)$/,
  );
  rejects(generated([0, 2], [-1, 1], [-2, 0]), /^"entered_topk"\[0\] is -2; it must be a lens row/);
  // sizes are checked before anything is made of them
  rejects(
    payload({ extra: { position_kinds: Uint8Array.of(0, 2, 2) } }),
    /^"position_kinds" has 3 bytes, expected 2/,
  );
  rejects(
    payload({ extra: { commitment: Int32Array.of(0) } }),
    /^"commitment" has 4 bytes, expected 8/,
  );
  const d = generated();
  d.entered_topk = "x";
  rejects(d, /^"entered_topk" is missing or not binary data/);
});

test("columnAtOrAfter: the first shown column at or after a lens row", () => {
  const cols = [0, 3, 6, 9];
  assert.equal(columnAtOrAfter(cols, 0), 0);
  assert.equal(columnAtOrAfter(cols, 3), 1);
  assert.equal(columnAtOrAfter(cols, 4), 2);
  assert.equal(columnAtOrAfter(cols, 9), 3);
  assert.equal(columnAtOrAfter(cols, 10), -1);
  assert.equal(columnAtOrAfter([5, 6], 2), 0, "before a zoom's range: its first column");
});

const LAYERS = Array.from({ length: 30 }, (_, i) => i);
const paris = (commitment, entered) => ({
  token: " Paris",
  commitment,
  entered,
  layers: LAYERS,
  k: 5,
});

test("commitMarks: solid from the commit column to the last, light from the top-k column up to it", () => {
  const all = LAYERS;
  assert.deepEqual(commitMarks(paris(22, 18), all), {
    commit: { from: 22, to: 29 },
    entered: { from: 18, to: 21 },
  });
  // a stride: rows 22 and 18 are not columns; the next shown ones are marked
  const stride = [0, 4, 8, 12, 16, 20, 24, 28, 29];
  assert.deepEqual(commitMarks(paris(22, 18), stride), {
    commit: { from: 6, to: 8 },
    entered: { from: 5, to: 5 },
  });
  // both fall on the same shown column: only the solid mark
  assert.deepEqual(commitMarks(paris(22, 21), stride), {
    commit: { from: 6, to: 8 },
    entered: null,
  });
  // never top-1 (a sampled token): the light mark runs to the last column
  assert.deepEqual(commitMarks(paris(-1, 25), stride), {
    commit: null,
    entered: { from: 7, to: 8 },
  });
  assert.deepEqual(commitMarks(paris(-1, -1), stride), { commit: null, entered: null });
  // a zoom that ends before the commit row: no solid mark, the light one to the last column
  assert.deepEqual(commitMarks(paris(22, 10), [8, 9, 10, 11, 12]), {
    commit: null,
    entered: { from: 2, to: 4 },
  });
  // a field the data lacks marks nothing
  assert.deepEqual(commitMarks(paris(22, null), all), {
    commit: { from: 22, to: 29 },
    entered: null,
  });
});

test("commitText: the tooltip, and which column stands in for a row that is not shown", () => {
  assert.equal(
    commitText(paris(22, 18), LAYERS),
    "' Paris' is top-1 from layer 22 on; in the top-5 from layer 18",
  );
  assert.equal(
    commitText(paris(22, 18)),
    "' Paris' is top-1 from layer 22 on; in the top-5 from layer 18",
  );
  const stride = [0, 4, 8, 12, 16, 20, 24, 28, 29];
  assert.equal(
    commitText(paris(22, 16), stride),
    "' Paris' is top-1 from layer 22 on (marked at layer 24, the nearest shown column at or " +
      "after it); in the top-5 from layer 16",
  );
  assert.equal(
    commitText(paris(22, 10), [8, 9, 10, 11, 12]),
    "' Paris' is top-1 from layer 22 on (not marked: no shown column at or after it); in the " +
      "top-5 from layer 10",
  );
  assert.equal(
    commitText(paris(-1, 25), LAYERS),
    "' Paris' is not top-1 at the last layer (29); in the top-5 from layer 25",
  );
  assert.equal(
    commitText(paris(-1, -1), LAYERS),
    "' Paris' is not top-1 at the last layer (29); not in the top-5 at the last layer",
  );
  assert.equal(commitText(paris(null, 3), LAYERS), "' Paris' is in the top-5 from layer 3");
  // lens rows are indices into layers, not layer numbers
  const subset = { ...paris(1, 0), layers: [0, 10, 20] };
  assert.equal(commitText(subset), "' Paris' is top-1 from layer 10 on; in the top-5 from layer 0");
});

test("quoteToken keeps spaces and shows other whitespace as the grid does", () => {
  assert.equal(quoteToken(" Paris"), "' Paris'");
  assert.equal(quoteToken("\n"), "'\u21b5'");
  assert.equal(quoteToken("a\tb"), "'a\u21e5b'");
  assert.equal(quoteToken(""), "'\u2205'");
});

test("commitFor: only generated positions after the first, from the Lens", () => {
  const lens = decode(generated([1, 2], [-1, 1], [-1, 0]));
  assert.equal(commitFor(lens, 0), null);
  assert.deepEqual(commitFor(lens, 1), {
    token: " b",
    commitment: 1,
    entered: 0,
    layers: [0, 1],
    k: 2,
  });
  assert.equal(commitFor(lens, 2), null, "past the last position");
  const prompt = decode(generated([0, 0], [-1, 1], [-1, 0]));
  assert.equal(commitFor(prompt, 1), null, "not a generated position");
});

/** A Lens of `input` with k = 1 and nothing tracked but each cell's top-1 (id 0). */
function tiny(input, run, layers = [0, 1]) {
  const L = layers.length;
  const P = input.length;
  return new Lens({
    model: "m",
    input,
    inputIds: [],
    layers,
    k: 1,
    vocab: new Map([[0, "x"]]),
    topkIds: new Int32Array(L * P),
    topkProbs: new Float32Array(L * P).fill(1),
    trackedOffsets: Int32Array.from({ length: P + 1 }, (_, p) => p),
    trackedIds: new Int32Array(P),
    trackedProbs: new Float32Array(P * L).fill(1),
    entropy: null,
    fromV2: false,
    numLayers: null,
    run,
  });
}

test("continues: the same run may grow by positions, never shrink or change its tokens", () => {
  const old = tiny(["a", "b"], 3);
  old.addTrajectories(1, [7], Float32Array.of(0.2, 0.3), ["seven"]);
  const grown = tiny(["a", "b", "c"], 3);
  assert.equal(grown.continues(old), true);
  grown.adopt(old, true);
  assert.deepEqual([...grown.trajectory(1, 7)], [Math.fround(0.2), Math.fround(0.3)]);
  assert.equal(tiny(["a", "b"], 3).continues(old), true, "same positions (a long prompt streams)");
  assert.equal(tiny(["a"], 3).continues(old), false, "fewer positions");
  assert.equal(tiny(["a", "B", "c"], 3).continues(old), false, "another token at position 1");
  assert.equal(tiny(["a", "b", "c"], 4).continues(old), false, "another run");
  assert.equal(tiny(["a", "b", "c"], 3, [0, 2]).continues(old), false, "other lens rows");
  assert.equal(tiny(["a", "b", "c"], null).continues(tiny(["a", "b"], null)), false, "not live");
});
