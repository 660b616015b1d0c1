import { test } from "node:test";
import assert from "node:assert/strict";
import { decode, DecodeError, typed } from "../../frontend/decode.js";
import { payload } from "./payload.mjs";

/** decode must throw a DecodeError whose message matches `re`. */
const rejects = (data, re) =>
  assert.throws(
    () => decode(data),
    (e) => {
      assert.ok(e instanceof DecodeError, `not a DecodeError: ${e}`);
      assert.match(e.message, re);
      return true;
    },
  );

test("a version-3 payload of DataViews decodes into a Lens", () => {
  const d = payload();
  const lens = decode(d);
  assert.equal(lens.model, "tiny");
  assert.equal(lens.L, 2);
  assert.equal(lens.P, 2);
  assert.equal(lens.k, 2);
  assert.equal(lens.finalRow, 1);
  assert.deepEqual(lens.inputIds, [1, 2]);
  assert.equal(lens.topId(1, 1), 5);
  assert.equal(lens.topProb(0, 0), Math.fround(0.6));
  assert.equal(lens.token(3), "\n");
  assert.equal(lens.maxEntropy, 2);
  assert.equal(lens.cellStatus, null);
  assert.equal(lens.run, null);
  // byte fields are views into the message buffer (aligned here), not copies
  assert.equal(lens.topkIds.buffer, d.topk_ids.buffer);
  assert.equal(lens.topkIds.byteOffset, d.topk_ids.byteOffset);
});

test("no data yet decodes to null", () => {
  assert.equal(decode({}), null);
});

test("an unaligned field is copied, with the same values", () => {
  const d = payload();
  const src = new Uint8Array(d.topk_probs.buffer, d.topk_probs.byteOffset, d.topk_probs.byteLength);
  const odd = new Uint8Array(src.byteLength + 1);
  odd.set(src, 1);
  d.topk_probs = new DataView(odd.buffer, 1, src.byteLength);
  const lens = decode(d);
  assert.equal(lens.topProb(1, 0), Math.fround(0.7));
});

test("malformed payloads are rejected with a message naming the field and index", () => {
  rejects(
    payload({ edit: { topk_probs: (a) => (a[5] = 1.5) } }),
    /^"topk_probs"\[1\]\[0\]\[1\] is 1\.5; probabilities must be finite numbers in \[0, 1\]$/,
  );
  rejects(
    payload({ edit: { topk_probs: (a) => (a[0] = NaN) } }),
    /"topk_probs"\[0\]\[0\]\[0\] is NaN/,
  );
  rejects(
    payload({ edit: { tracked_ids: (a) => (a[1] = 1) } }),
    /"tracked_ids" of position 0 must be sorted and distinct/,
  );
  rejects(
    payload({ edit: { topk_ids: (a) => (a[3] = 1) } }),
    /"topk_ids"\[0\]\[1\]\[1\] is token 1, which is not among position 1's "tracked_ids"/,
  );
  rejects(
    payload({ patch: { tracked_offsets: new DataView(new ArrayBuffer(8)) } }),
    /^"tracked_offsets" has 8 bytes, expected 12 \(3 values of 4 bytes\)$/,
  );
  rejects(payload({ patch: { k: 0 } }), /"k" must be a positive integer \(got 0\)/);
  rejects(payload({ patch: { k: 5000 } }), /"k" is 5000: at most 1024/);
  rejects(payload({ patch: { layers: [0, 2] } }), /"layers" names layer 2, but "num_layers" is 2/);
  rejects(
    payload({ patch: { vocab: { 1: "a", 2: " b", 3: "\n" } } }),
    /"vocab" has no string for token 5/,
  );
  rejects(
    payload({ patch: { input: ["a", "\ud800"] } }),
    /"input"\[1\] holds a lone surrogate \(U\+D800\)/,
  );
  rejects(
    payload({ status: new Uint8Array([0, 3, 0, 0]) }),
    /"cell_status" has the unknown value 3/,
  );
  rejects({ version: 7 }, /unknown data format \(version 7\)/);
  rejects([1, 2], /expected an object, got an array of 2/);
});

test("values of a cell that is not computed are not checked", () => {
  const lens = decode(
    payload({ status: new Uint8Array([0, 0, 2, 0]), edit: { topk_probs: (a) => (a[4] = NaN) } }),
  );
  assert.equal(lens.status(1, 0), 2);
  assert.ok(lens.incomplete.has(0));
});

test("typed accepts plain arrays of the right length and type only", () => {
  assert.deepEqual(Array.from(typed([1, 2, 3], "ids", Int32Array, 3)), [1, 2, 3]);
  assert.throws(() => typed([1, 2], "ids", Int32Array, 3), /ids has 2 values, expected 3/);
  assert.throws(
    () => typed([1, 2.5], "ids", Int32Array, 2),
    /ids\[1\] is 2\.5; expected an integer/,
  );
  assert.throws(() => typed("x", "ids", Int32Array, 1), /ids is missing or not binary data/);
});
