// Sub-layer rows (docs/data-format.md §3, `row_kinds`): decoding, the pairs the columns
// keep together, the split of a layer's change and the "sublayer" color mode.
import { test } from "node:test";
import assert from "node:assert/strict";
import { decode, DecodeError } from "../../frontend/decode.js";
import { fitColumns } from "../../frontend/layout.js";
import { sublayerSplit } from "../../frontend/lens.js";
import { cellMetric, sublayerParts } from "../../frontend/color.js";
import { lineValues } from "../../frontend/pins.js";

/**
 * A version-3 payload from trajectories: position → id → [L] probabilities; each cell's
 * top-k is its k most probable tracked ids.
 */
function build(layers, tracked, { k = 2, patch = {} } = {}) {
  const L = layers.length;
  const P = Object.keys(tracked).length;
  const offsets = [0];
  const ids = [];
  const probs = [];
  for (let p = 0; p < P; p++) {
    const entries = Object.entries(tracked[p]).map(([id, t]) => [Number(id), t]);
    entries.sort((a, b) => a[0] - b[0]);
    for (const [id, t] of entries) {
      ids.push(id);
      probs.push(...t);
    }
    offsets.push(ids.length);
  }
  const topIds = [];
  const topProbs = [];
  for (let l = 0; l < L; l++) {
    for (let p = 0; p < P; p++) {
      const cell = Object.entries(tracked[p]).map(([id, t]) => [Number(id), t[l]]);
      cell.sort((a, b) => b[1] - a[1] || a[0] - b[0]);
      for (const [id, v] of cell.slice(0, k)) {
        topIds.push(id);
        topProbs.push(v);
      }
    }
  }
  const view = (a) => new DataView(a.buffer);
  const vocab = Object.fromEntries([...new Set(ids)].map((id) => [id, `t${id}`]));
  return {
    version: 3,
    model: "tiny",
    input: Array.from({ length: P }, (_, p) => `w${p}`),
    layers,
    k,
    vocab,
    tracked_offsets: view(new Int32Array(offsets)),
    tracked_ids: view(new Int32Array(ids)),
    tracked_probs: view(new Float32Array(probs)),
    topk_ids: view(new Int32Array(topIds)),
    topk_probs: view(new Float32Array(topProbs)),
    ...patch,
  };
}

// Rows: a_0, o_0, a_1, o_1 (layers 0 and 1 of a 2-layer model).
const TRACKED = {
  0: { 1: [0.2, 0.5, 0.55, 0.9], 2: [0.6, 0.3, 0.3, 0.05], 3: [0.1, 0.1, 0.1, 0.02] },
  1: { 1: [0.1, 0.1, 0.4, 0.3], 4: [0.5, 0.6, 0.2, 0.6] },
};
const sub = () =>
  build([0, 0, 1, 1], TRACKED, { patch: { row_kinds: [1, 0, 1, 0], num_layers: 2 } });
const f32 = (x) => Math.fround(x);

test("row_kinds decode; without them every row is a layer's output", () => {
  const lens = decode(sub());
  assert.deepEqual([...lens.rowKinds], [1, 0, 1, 0]);
  assert.equal(lens.hasSublayers, true);
  assert.equal(lens.finalRow, 3, "the final layer's output row, not its attention row");
  assert.equal(lens.rowLabel(2), "1\u00b7a");
  assert.equal(lens.rowLabel(3), "1");
  assert.equal(lens.rowTitle(2), "layer 1, after attention (before the MLP)");
  assert.equal(lens.rowTitle(3), "layer 1, after the layer");
  const plain = decode(build([0, 1], { 0: { 1: [0.5, 0.6] } }, { k: 1 }));
  assert.equal(plain.rowKinds, null);
  assert.equal(plain.hasSublayers, false);
  assert.equal(plain.rowKind(1), 0);
  assert.equal(plain.rowLabel(1), "1");
  assert.equal(plain.rowTitle(1), "layer 1");
});

test("bad row_kinds are refused with the rule", () => {
  const bad = (row_kinds, layers = [0, 0, 1, 1]) =>
    assert.throws(
      () => decode(build(layers, TRACKED, { patch: { row_kinds } })),
      (e) => e instanceof DecodeError && e.message.includes('"row_kinds"'),
    );
  bad("1010");
  bad([1, 0, 1]);
  bad([1, 0, 2, 0]);
  bad([1, 0, true, 0]);
  bad([1, 0, 0.5, 0]);
  bad([1, 0, 0, 1], [0, 0, 1, 1]); // attention row last: no output row after it
  bad([1, 1, 0, 0]); // followed by another attention row
  bad([1, 0, 1, 0], [0, 1, 1, 2]); // followed by another layer's output
  assert.throws(
    () => decode(build([0, 0, 1, 1], TRACKED, { patch: { row_kinds: [1, 0, 0, 1] } })),
    /"row_kinds"\[3\] is 1 \(layer 1 after attention\), but the next lens row is not layer 1's output/,
  );
  // Output rows without an attention row are fine.
  assert.deepEqual(
    [...decode(build([0, 1, 1, 2], TRACKED, { patch: { row_kinds: [0, 1, 0, 0] } })).rowKinds],
    [0, 1, 0, 0],
  );
});

test("columns keep a layer's two rows together", () => {
  const layers = [];
  const kinds = [];
  for (let n = 0; n < 12; n++) {
    layers.push(n, n);
    kinds.push(1, 0);
  }
  const all = fitColumns({ layers, zoom: [], available: 1000, columnWidth: 10, kinds });
  assert.equal(all.rows.length, 24);
  assert.match(all.hint, /all 12 layers \(2 rows each/);
  for (const available of [20, 35, 60, 75, 100, 150, 230]) {
    const c = fitColumns({ layers, zoom: [], available, columnWidth: 10, kinds });
    const fit = Math.max(4, Math.floor(available / 10));
    assert.ok(c.rows.length <= fit, `${available}: ${c.rows.length} columns`);
    assert.equal(c.rows[0], 0);
    assert.equal(c.rows[c.rows.length - 1], 23);
    for (const r of c.rows) {
      const partner = kinds[r] === 1 ? r + 1 : r - 1;
      assert.ok(c.rows.includes(partner), `${available}: row ${r} without ${partner}`);
    }
    assert.ok(c.rows.every((r, i) => i === 0 || r > c.rows[i - 1]));
  }
  // A zoom that cuts a pair takes in its other half.
  const z = fitColumns({ layers, zoom: [3, 8], available: 1000, columnWidth: 10, kinds });
  assert.deepEqual(z.rows, [2, 3, 4, 5, 6, 7, 8, 9]);
  assert.match(z.hint, /^layers 1\u20134: all 4 layers/);
});

test("the split of a layer's change: attention from the previous output, MLP from attention", () => {
  const lens = decode(sub());
  const t = lens.trajectory(0, 1);
  const s0 = sublayerSplit(lens, 1, 0, t);
  assert.equal(s0.attention, f32(0.2), "layer 0's attention part is measured from 0");
  assert.equal(s0.mlp, f32(0.5) - f32(0.2));
  const s1 = sublayerSplit(lens, 3, 0, t);
  assert.equal(s1.attention, f32(0.55) - f32(0.5));
  assert.equal(s1.mlp, f32(0.9) - f32(0.55));
  assert.equal(sublayerSplit(lens, 2, 0, t), null, "an attention row has no split");
  // A gap: layer 5's attention cannot be told from layers 1-4.
  const gap = decode(build([0, 0, 5, 5], TRACKED, { patch: { row_kinds: [1, 0, 1, 0] } }));
  const g = sublayerSplit(gap, 3, 0, gap.trajectory(0, 1));
  assert.ok(Number.isNaN(g.attention));
  assert.equal(g.mlp, f32(0.9) - f32(0.55));
});

test("the delta chart metric is the split with sub-layer rows, unchanged without", () => {
  const lens = decode(sub());
  const v = lineValues(lens, "delta", 0, [1]);
  const expect = [0.2, f32(0.5) - f32(0.2), f32(0.55) - f32(0.5), f32(0.9) - f32(0.55)];
  assert.deepEqual([...v], expect.map(f32));
  const plain = decode(build([0, 0, 1, 1], TRACKED));
  const w = lineValues(plain, "delta", 0, [1]);
  assert.ok(Number.isNaN(w[0]));
  assert.equal(w[2], f32(f32(0.55) - f32(0.5)));
});

test("the sublayer color mode: the larger part of the output cell's top-1, signed by who", () => {
  const lens = decode(sub());
  const m = cellMetric(lens, { mode: "sublayer", ids: [] });
  assert.equal(m.diverging, true);
  // (o_0, p0): top-1 is id 1: attention 0.2, MLP 0.3 → MLP.
  assert.equal(m.value(1, 0), -Math.abs(f32(0.5) - f32(0.2)));
  // (o_1, p0): id 1: attention 0.05, MLP 0.35 → MLP.
  assert.equal(m.value(3, 0), -Math.abs(f32(0.9) - f32(0.55)));
  // (o_0, p1): top-1 id 4: attention 0.5 (from 0), MLP 0.1 → attention.
  assert.equal(m.value(1, 1), f32(0.5));
  // (o_1, p1): id 4: attention 0.2 - 0.6, MLP 0.6 - 0.2: a tie goes to the attention.
  assert.equal(m.value(3, 1), Math.abs(f32(0.2) - f32(0.6)));
  assert.equal(m.value(0, 0), null, "attention rows are not colored");
  assert.equal(m.max, 0.5);
  assert.deepEqual(sublayerParts(lens, 1, 1), {
    id: 4,
    attention: f32(0.5),
    mlp: f32(0.6) - f32(0.5),
  });
  assert.equal(
    cellMetric(decode(build([0, 0, 1, 1], TRACKED)), { mode: "sublayer", ids: [] }),
    null,
  );
});
