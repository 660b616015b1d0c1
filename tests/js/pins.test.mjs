import { test } from "node:test";
import assert from "node:assert/strict";
import { PIN_PALETTE } from "../../frontend/schema.js";
import { ROW_DASHES } from "../../frontend/schema.js";
import { decode } from "../../frontend/decode.js";
import { CELL_PENDING } from "../../frontend/lens.js";
import {
  nextColor,
  pinLabel,
  pinLines,
  recolor,
  removePin,
  sameIds,
  toggleRow,
  togglePin,
} from "../../frontend/pins.js";
import { payload } from "./payload.mjs";

const [C0, C1, C2] = PIN_PALETTE;

test("nextColor: the first unused palette color, cycling when all are used", () => {
  assert.equal(nextColor([]), C0);
  assert.equal(
    nextColor([
      { ids: [1], color: C0 },
      { ids: [2], color: C2 },
    ]),
    C1,
  );
  const all = PIN_PALETTE.map((color, i) => ({ ids: [i], color }));
  assert.equal(nextColor(all), PIN_PALETTE[0]);
  assert.equal(nextColor([...all, { ids: [99], color: C0 }]), PIN_PALETTE[1]);
});

test("togglePin: click pins, clicks again unpins", () => {
  const s0 = { pins: [], color_group: [] };
  const s1 = togglePin(s0, 7, false);
  assert.deepEqual(s1.pins, [{ ids: [7], color: C0 }]);
  assert.deepEqual(s0.pins, [], "the old state is not changed");
  const s2 = togglePin({ pins: s1.pins, color_group: [] }, 8, false);
  assert.deepEqual(
    s2.pins.map((p) => p.color),
    [C0, C1],
  );
  const s3 = togglePin({ pins: s2.pins, color_group: [] }, 7, false);
  assert.deepEqual(s3.pins, [{ ids: [8], color: C1 }]);
});

test("togglePin with group: joins and leaves the newest pin; a coloring group follows", () => {
  const pins = [
    { ids: [1], color: C0 },
    { ids: [2], color: C1 },
  ];
  const joined = togglePin({ pins, color_group: [] }, 3, true);
  assert.deepEqual(joined.pins, [
    { ids: [1], color: C0 },
    { ids: [2, 3], color: C1 },
  ]);
  assert.equal(joined.color_group, undefined);
  const left = togglePin({ pins: joined.pins, color_group: [2, 3] }, 2, true);
  assert.deepEqual(left.pins[1].ids, [3]);
  assert.deepEqual(left.color_group, [3]);
  const first = togglePin({ pins: [], color_group: [] }, 4, true);
  assert.deepEqual(first.pins, [{ ids: [4], color: C0 }]);
});

test("removePin, recolor, sameIds", () => {
  const pins = [
    { ids: [1], color: C0 },
    { ids: [2, 3], color: C1 },
  ];
  assert.deepEqual(removePin({ pins, color_group: [2, 3] }, 1), {
    pins: [pins[0]],
    color_group: [],
  });
  assert.deepEqual(removePin({ pins, color_group: [2, 3] }, 0), { pins: [pins[1]] });
  assert.deepEqual(recolor(pins, 1, "#123456")[1], { ids: [2, 3], color: "#123456" });
  assert.equal(pins[1].color, C1);
  assert.equal(sameIds([], []), false);
  assert.equal(sameIds([2, 3], [3, 2]), false);
});

test("toggleRow pins the final prediction when no pin matters there", () => {
  const lens = decode(payload());
  const patch = toggleRow(lens, { pins: [], pinned_rows: [] }, 1);
  assert.deepEqual(patch.pinned_rows, [1]);
  assert.deepEqual(patch.pins, [{ ids: [5], color: C0 }]);
  const mattering = toggleRow(lens, { pins: [{ ids: [3], color: C0 }], pinned_rows: [] }, 0);
  assert.equal(mattering.pins, undefined, "token 3 reaches 15% at position 0");
  assert.deepEqual(toggleRow(lens, { pins: [], pinned_rows: [0, 1] }, 1), { pinned_rows: [0] });
  const pending = decode(payload({ status: new Uint8Array([0, 0, 0, CELL_PENDING]) }));
  assert.equal(toggleRow(pending, { pins: [], pinned_rows: [] }, 1).pins, undefined);
});

test("pinLines: one line per pin and pinned row, dashed by row", () => {
  const lens = decode(payload());
  const pins = [{ ids: [2, 3], color: C0 }];
  const lines = pinLines(lens, pins, [0, 1], 0, "probability");
  assert.deepEqual(
    lines.map((l) => [l.label, l.dash]),
    [
      [`\u2423b + \u21b5 @0`, ROW_DASHES[0]],
      [`\u2423b + \u21b5 @1`, ROW_DASHES[1]],
    ],
  );
  assert.ok(Math.abs(lines[1].values[0] - 0.6) < 1e-6);
  const followed = pinLines(lens, pins, [], 1, "rank");
  assert.equal(followed.length, 1);
  assert.equal(followed[0].dash, "");
  assert.deepEqual(Array.from(followed[0].values), [1, 2], "a group's rank is its best member's");
  assert.equal(pinLabel(lens, [9]), "\u2026");
});
