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

test("as many layers as fit, evenly spread, keeping the first and the final layer", () => {
  const c = fitColumns({ layers: range(33), zoom: [], available: 100, columnWidth: 10 });
  assert.equal(c.rows.length, 10, "10 columns fit: all 10 are used");
  assert.deepEqual(c.rows, [0, 4, 7, 11, 14, 18, 21, 25, 28, 32]);
  assert.equal(c.stride, 4);
  assert.match(c.hint, /every 3\u20134 layers \(10 of 33; first and last always shown\)/);
  const even = fitColumns({ layers: range(31), zoom: [], available: 70, columnWidth: 10 });
  assert.deepEqual(even.rows, [0, 5, 10, 15, 20, 25, 30]);
  assert.match(even.hint, /every 5 layers \(7 of 31/);
});

test("for any width: ascending, within the fit, first and last always shown", () => {
  for (const L of [2, 3, 7, 12, 33, 80, 129]) {
    for (const available of [0, 15, 35, 100, 333, 1000]) {
      const c = fitColumns({ layers: range(L), zoom: [], available, columnWidth: 10 });
      const fit = Math.max(2, Math.floor(available / 10));
      const at = `L=${L} available=${available}`;
      assert.equal(c.rows[0], 0, at);
      assert.equal(c.rows.at(-1), L - 1, at);
      assert.equal(c.rows.length, Math.min(L, fit), `${at}: as many as fit`);
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
