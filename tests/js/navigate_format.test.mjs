import { test } from "node:test";
import assert from "node:assert/strict";
import { navigate } from "../../frontend/interactions.js";
import { formatProb } from "../../frontend/format.js";

test("navigate: arrow keys, Home/End, paging; other keys are not navigation", () => {
  const at = { ci: 3, p: 10 };
  const size = { cols: 8, rows: 50, page: 12 };
  assert.deepEqual(navigate("ArrowLeft", at, size), { ci: 2, p: 10 });
  assert.deepEqual(navigate("ArrowRight", at, size), { ci: 4, p: 10 });
  assert.deepEqual(navigate("ArrowUp", at, size), { ci: 3, p: 9 });
  assert.deepEqual(navigate("ArrowDown", at, size), { ci: 3, p: 11 });
  assert.deepEqual(navigate("Home", at, size), { ci: 0, p: 10 });
  assert.deepEqual(navigate("End", at, size), { ci: 7, p: 10 });
  assert.deepEqual(navigate("PageUp", at, size), { ci: 3, p: -2 }, "the caller clamps");
  assert.deepEqual(navigate("PageDown", at, size), { ci: 3, p: 22 });
  assert.equal(navigate("Enter", at, size), null);
  assert.equal(navigate("a", at, size), null);
});

test("formatProb: percent with 1 or 2 decimals, two significant digits below 0.1%", () => {
  assert.equal(formatProb(0.773), "77.3%");
  assert.equal(formatProb(1), "100.0%");
  assert.equal(formatProb(0.0831), "8.31%");
  assert.equal(formatProb(0.001), "0.10%");
  assert.equal(formatProb(0.0008), "0.08%");
  assert.equal(formatProb(0.000123), "0.012%");
  assert.equal(formatProb(0.0000123), "0.0012%");
  assert.equal(formatProb(1e-9), "<0.0001%");
  assert.equal(formatProb(0), "0%");
  assert.equal(formatProb(NaN), "?");
});
