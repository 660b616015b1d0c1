// The patching sweep's numbers (issue 20, trait `sweep`): the normalized effect, its colors
// on the diverging scale, the tooltip's words and the trait's check.
import { test } from "node:test";
import assert from "node:assert/strict";
import { cellTitle, effectBackground, normalized, readSweep } from "../../frontend/sweepdata.js";
import { CELL_OPACITY } from "../../frontend/schema.js";

const HEAT = "#2b6cd4";
const NEG = "#c8372d";

function sweep(o = {}) {
  return {
    metric: "logit diff",
    clean_label: "clean",
    corrupt_label: "corrupt",
    layers: [0, 1],
    positions: [0, 1, 2],
    tokens: ["The", " cat", " sat"],
    values: [
      [1, null, 3],
      [-1, 5, 2],
    ],
    clean_value: 5,
    corrupt_value: 1,
    done: 5,
    total: 6,
    running: true,
    error: "",
    ...o,
  };
}

test("the normalized effect is 0 at the corrupted value and 1 at the clean one", () => {
  assert.equal(normalized(1, 5, 1), 0);
  assert.equal(normalized(5, 5, 1), 1);
  assert.equal(normalized(3, 5, 1), 0.5);
  assert.equal(normalized(-1, 5, 1), -0.5);
  assert.equal(normalized(7, 5, 1), 1.5, "overshoot is kept: the tooltip says it");
  // A metric that falls when restored (e.g. a loss): the scale turns with it.
  assert.equal(normalized(2, 0, 4), 0.5);
  assert.equal(normalized(null, 5, 1), null, "not yet");
  assert.equal(normalized(3, 2, 2), null, "clean and corrupted agree: no scale");
});

test("colors diverge about 0: heat above, the negative color below, opacity |effect|", () => {
  const rgba = (hex, a) => {
    const n = Number.parseInt(hex.slice(1), 16);
    return `rgba(${n >> 16},${(n >> 8) & 255},${n & 255},${Math.round(a * CELL_OPACITY * 100) / 100})`;
  };
  assert.equal(effectBackground(1, HEAT, NEG), rgba(HEAT, 1));
  assert.equal(effectBackground(0.5, HEAT, NEG), rgba(HEAT, 0.5));
  assert.equal(effectBackground(-0.25, HEAT, NEG), rgba(NEG, 0.25));
  assert.equal(effectBackground(3, HEAT, NEG), rgba(HEAT, 1), "past 1 shows as 1");
  assert.equal(effectBackground(-3, HEAT, NEG), rgba(NEG, 1));
  assert.equal(effectBackground(0, HEAT, NEG), rgba(HEAT, 0));
  assert.equal(effectBackground(null, HEAT, NEG), "");
});

test("a cell's title has the exact value and the normalized effect, or 'not yet'", () => {
  const s = sweep();
  assert.equal(
    cellTitle(s, 0, 2),
    "layer 0, position 2: logit diff 3; effect 0.5 (0 = corrupt, 1 = clean)",
  );
  assert.equal(
    cellTitle(s, 1, 0),
    "layer 1, position 0: logit diff \u22121; effect \u22120.5 (0 = corrupt, 1 = clean)",
  );
  assert.equal(cellTitle(s, 0, 1), "layer 0, position 1: not yet");
  assert.match(cellTitle(sweep({ clean_value: 1 }), 0, 0), /no normalized effect/);
});

test("the trait is checked: {} is no sweep, a malformed one says why and never throws", () => {
  assert.deepEqual(readSweep({}), { sweep: null, problem: "" });
  assert.deepEqual(readSweep(undefined), { sweep: null, problem: "" });
  assert.equal(readSweep(sweep()).problem, "");
  assert.equal(readSweep(sweep({ running: undefined, error: undefined })).sweep.running, false);
  const bad = [
    [[], /not an object/],
    [sweep({ metric: 3 }), /"metric" is 3/],
    [sweep({ layers: [0, -1] }), /"layers" must be a list/],
    [sweep({ tokens: ["a"] }), /"tokens" has 1 texts for 3 positions/],
    [sweep({ values: [[1, 2, 3]] }), /one row per layer/],
    [
      sweep({
        values: [
          [1, 2],
          [1, 2, 3],
        ],
      }),
      /"values"\[0\] must have one value per position/,
    ],
    [
      sweep({
        values: [
          [1, 2, "3"],
          [1, 2, 3],
        ],
      }),
      /"values"\[0\]\[2\] is "3"/,
    ],
    [
      sweep({
        values: [
          [1, 2, Number.NaN],
          [1, 2, 3],
        ],
      }),
      /"values"\[0\]\[2\] is NaN/,
    ],
    [sweep({ clean_value: null }), /"clean_value" is null/],
    [sweep({ done: -1 }), /"done" is -1/],
    [sweep({ running: "yes" }), /"running"/],
  ];
  for (const [v, message] of bad) {
    const got = readSweep(v);
    assert.equal(got.sweep, null);
    assert.match(got.problem, message);
  }
});
