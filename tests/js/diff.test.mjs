import { test } from "node:test";
import assert from "node:assert/strict";
import { jsdTopk } from "../../frontend/diff.js";

test("JSD of two top-k lists with the rest pooled: 0 alike, ln 2 disjoint, symmetric", () => {
  assert.equal(jsdTopk([1, 2], [0.6, 0.4], [2, 1], [0.4, 0.6]), 0);
  assert.ok(Math.abs(jsdTopk([1], [1], [2], [1]) - Math.LN2) < 1e-15);
  const a = jsdTopk([1, 2], [0.5, 0.2], [2, 3], [0.3, 0.1]);
  const b = jsdTopk([2, 3], [0.3, 0.1], [1, 2], [0.5, 0.2]);
  assert.ok(Math.abs(a - b) < 1e-15);
  // By hand: p = [0.5, 0.2, 0, 0.3 other], q = [0, 0.3, 0.1, 0.6 other].
  const p = [0.5, 0.2, 0, 0.3];
  const q = [0, 0.3, 0.1, 0.6];
  let js = 0;
  for (let i = 0; i < 4; i++) {
    const m = (p[i] + q[i]) / 2;
    if (p[i]) js += 0.5 * p[i] * Math.log(p[i] / m);
    if (q[i]) js += 0.5 * q[i] * Math.log(q[i] / m);
  }
  assert.ok(Math.abs(a - js) < 1e-15);
});
