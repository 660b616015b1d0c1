import { test } from "node:test";
import assert from "node:assert/strict";
import { cellBackground, colorTarget, intensityFn, KL_UNDEFINED } from "../../frontend/color.js";
import { PIN_PALETTE } from "../../frontend/schema.js";
import { decode } from "../../frontend/decode.js";
import { CELL_PENDING } from "../../frontend/lens.js";
import { payload } from "./payload.mjs";

const near = (a, b) => assert.ok(Math.abs(a - b) < 1e-6, `${a} != ${b}`);
const state = (o) => ({ color_mode: "top1", color_token: null, color_group: [], pins: [], ...o });

test("colorTarget: the chosen target, else the first pin / group", () => {
  const pins = [{ ids: [7] }, { ids: [3, 4] }];
  assert.deepEqual(colorTarget(state({ color_mode: "token", color_token: 9, pins })), [9]);
  assert.deepEqual(colorTarget(state({ color_mode: "token", pins })), [7]);
  assert.deepEqual(colorTarget(state({ color_mode: "token" })), []);
  assert.deepEqual(colorTarget(state({ color_mode: "group", color_group: [1, 2], pins })), [1, 2]);
  assert.deepEqual(colorTarget(state({ color_mode: "group", pins })), [3, 4]);
  assert.deepEqual(colorTarget(state({ color_mode: "group", pins: [{ ids: [7] }] })), [7]);
  assert.deepEqual(colorTarget(state({ color_mode: "top1", pins })), []);
});

test("intensity per mode", () => {
  const lens = decode(payload());
  near(intensityFn(lens, { mode: "top1", ids: [] })(1, 0), 0.7);
  near(intensityFn(lens, { mode: "token", ids: [5] })(1, 1), 0.6);
  assert.equal(intensityFn(lens, { mode: "token", ids: [5] })(0, 0), 0, "untracked: 0");
  near(intensityFn(lens, { mode: "group", ids: [2, 3] })(1, 0), 0.85);
  assert.equal(intensityFn(lens, { mode: "token", ids: [] })(0, 0), null);
  near(intensityFn(lens, { mode: "entropy", ids: [] })(0, 1), 0.25); // 0.5 / max 2.0
  assert.equal(intensityFn(lens, { mode: "none", ids: [] })(0, 0), null);
});

test("group intensity is capped at 1", () => {
  const lens = decode(payload({ edit: { tracked_probs: (a) => a.fill(0.9) } }));
  assert.equal(intensityFn(lens, { mode: "group", ids: [2, 3] })(0, 0), 1);
});

test("cells that are not computed are never colored", () => {
  const status = new Uint8Array([0, 0, 0, CELL_PENDING]);
  const lens = decode(payload({ status }));
  const f = intensityFn(lens, { mode: "top1", ids: [] });
  assert.equal(f(1, 1), null);
  near(f(0, 1), 0.5);
});

test("cellBackground: the color at a clamped, scaled opacity", () => {
  assert.equal(cellBackground("#ff8000", 0.5), "rgba(255,128,0,0.45)");
  assert.equal(cellBackground(PIN_PALETTE[2], 2), "rgba(67,99,216,0.9)");
  assert.equal(cellBackground("#000000", -1), "rgba(0,0,0,0)");
});

test("KL mode: a computed cell whose KL is undefined (NaN) is hatched, not uncolored", () => {
  const lens = {
    klValues: new Float32Array([0.5, Number.NaN]),
    P: 2,
    layers: [0],
    status: () => 0,
    kl: (/** @type {number} */ _l, /** @type {number} */ p) => (p ? Number.NaN : 0.5),
    maxKl: () => 0.5,
  };
  const f = intensityFn(/** @type {any} */ (lens), /** @type {any} */ ({ mode: "kl", ids: [] }));
  assert.equal(f(0, 1), KL_UNDEFINED);
  assert.match(cellBackground("#8a4fbf", KL_UNDEFINED), /^repeating-linear-gradient/);
  assert.equal(f(0, 0), 1);
});
