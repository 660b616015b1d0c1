import { test } from "node:test";
import assert from "node:assert/strict";
import { parseLayers, formatLayers } from "../../frontend/layerspec.js";

const ok = (text, n) => {
  const r = parseLayers(text, n);
  assert.equal(r.ok, true, `${text}: ${r.ok ? "" : r.error}`);
  return r.layers;
};
const err = (text, n) => {
  const r = parseLayers(text, n);
  assert.equal(r.ok, false, `${JSON.stringify(text)} should not parse`);
  return r.error;
};

test("all and empty mean every layer", () => {
  assert.equal(ok("all", 32), null);
  assert.equal(ok(" ALL ", null), null);
  assert.equal(ok("", 32), null);
});

test("numbers and Python slices, negative from the end", () => {
  assert.deepEqual(ok("0:30:3,-1", 32), [0, 3, 6, 9, 12, 15, 18, 21, 24, 27, 31]);
  assert.deepEqual(ok("10:", 12), [10, 11]);
  assert.deepEqual(ok("::-4", 12), [11, 7, 3]);
  assert.deepEqual(ok("10:0:-3", 12), [10, 7, 4, 1]);
  assert.deepEqual(ok("-3:", 12), [9, 10, 11]);
  assert.deepEqual(ok(" 2 , 5 ", 12), [2, 5]);
});

test("keeps the order asked and drops repeats", () => {
  assert.deepEqual(ok("3,3,1,0:2", 12), [3, 1, 0]);
});

test("without the layer count: negatives kept, slices need both ends", () => {
  assert.deepEqual(ok("-1,4", null), [-1, 4]);
  assert.deepEqual(ok("0:6:2", null), [0, 2, 4]);
  assert.match(err("5:", null), /need the model's layer count/);
  assert.match(err("-3:-1", null), /need the model's layer count/);
});

test("bad input is an error that says what is wrong", () => {
  assert.match(err("40", 32), /layer 40 does not exist \(the model has 32: 0\u201331\)/);
  assert.match(err("-33", 32), /layer -33 does not exist/);
  assert.equal(err("1,,2", 32), "an empty item between commas");
  assert.match(err("abc", 32), /"abc" is neither a layer number nor a slice/);
  assert.match(err("1:2:3:4", 32), /neither a layer number nor a slice/);
  assert.match(err("1.5", 32), /neither/);
  assert.match(err("0:10:0", 32), /step cannot be 0/);
  assert.equal(err("5:2", 32), "this selects no layer");
  assert.match(err("0:100000000", null), /more than 4096 layers/);
});

test("formatLayers writes the shortest text that parses back", () => {
  assert.equal(formatLayers(null), "all");
  assert.equal(formatLayers([0, 3, 6, 9, 31]), "0:10:3,31");
  assert.equal(formatLayers([4, 5, 6, 7]), "4:8");
  assert.equal(formatLayers([1, 2]), "1,2");
  assert.equal(formatLayers([-1, -2, -3]), "-1,-2,-3");
  for (const layers of [[0, 3, 6, 9, 31], [5, 1, 2, 3, 4], [0, 1, 2, 10, 20, 30, 31], [7]]) {
    assert.deepEqual(parseLayers(formatLayers(layers), 32), { ok: true, layers });
  }
});

test("edge cases: clamped stops, a leading plus, reversed whole range, one layer", () => {
  assert.deepEqual(
    ok("0:100", 30),
    Array.from({ length: 30 }, (_, i) => i),
  );
  assert.deepEqual(ok("::10", 30), [0, 10, 20]);
  assert.deepEqual(ok("::-1", 4), [3, 2, 1, 0]);
  assert.deepEqual(ok("2:4,+7", 30), [2, 3, 7]);
  assert.deepEqual(ok("-30", 30), [0]);
  assert.deepEqual(ok("-1", 30), [29]);
  assert.deepEqual(ok("ALL", null), null);
  assert.match(err("::2", null), /need the model's layer count/);
});

test("formatLayers: runs become slices only when shorter", () => {
  assert.equal(formatLayers([5]), "5");
  assert.equal(formatLayers([0, 1]), "0,1");
  assert.equal(formatLayers([0, 1, 2]), "0:3");
  assert.equal(formatLayers([1, 2, 3, 5]), "1:4,5");
  assert.equal(formatLayers([9, 6, 3]), "9,6,3");
});
