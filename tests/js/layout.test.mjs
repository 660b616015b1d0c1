import { test } from "node:test";
import assert from "node:assert/strict";
import { fitColumns, zoomRange, zoomed } from "../../frontend/layout.js";

const range = (n) => Array.from({ length: n }, (_, i) => i);

test("every layer when they fit", () => {
  const c = fitColumns({ layers: range(8), zoom: [], available: 400, columnWidth: 40 });
  assert.deepEqual(c.rows, range(8));
  assert.equal(c.stride, 1);
  assert.equal(c.hint, "all 8 layers");
});

test("a stride that fits, keeping the first and the final layer", () => {
  const c = fitColumns({ layers: range(33), zoom: [], available: 100, columnWidth: 10 });
  assert.equal(c.stride, 4);
  assert.deepEqual(c.rows, [0, 4, 8, 12, 16, 20, 24, 28, 32]);
  assert.match(c.hint, /every 4 layers \(9 of 33; first and last always shown\)/);
});

test("for any width: ascending, within the fit, first and last always shown", () => {
  for (const L of [2, 3, 7, 12, 33, 80, 129]) {
    for (const available of [0, 15, 35, 100, 333, 1000]) {
      const c = fitColumns({ layers: range(L), zoom: [], available, columnWidth: 10 });
      const fit = Math.max(2, Math.floor(available / 10));
      const at = `L=${L} available=${available}`;
      assert.equal(c.rows[0], 0, at);
      assert.equal(c.rows.at(-1), L - 1, at);
      assert.ok(c.rows.length <= Math.max(fit, 2), `${at}: ${c.rows.length} > ${fit}`);
      for (let i = 1; i < c.rows.length; i++) assert.ok(c.rows[i] > c.rows[i - 1], at);
    }
  }
});

test("a zoom range is clamped and named in the hint by layer number", () => {
  const layers = [0, 2, 4, 6, 8, 10];
  const c = fitColumns({ layers, zoom: [1, 3], available: 1000, columnWidth: 10 });
  assert.deepEqual(c.rows, [1, 2, 3]);
  assert.equal(c.hint, "layers 2\u20136: all 3 layers");
  assert.deepEqual(zoomRange([-4, 99], 6), [0, 5]);
  assert.deepEqual(zoomRange([4, 2], 6), [4, 4]);
  assert.deepEqual(zoomRange([], 6), [0, 5]);
  assert.equal(zoomed([0, 5], 6), false);
  assert.equal(zoomed([0, 4], 6), true);
});
