import { test } from "node:test";
import assert from "node:assert/strict";
import { decode } from "../../frontend/decode.js";
import { CELL_INVALID, CELL_OK } from "../../frontend/lens.js";
import { UNKNOWN_TOKEN } from "../../frontend/schema.js";
import { payload } from "./payload.mjs";

const f32 = (xs) => Array.from(Float32Array.from(xs));
const arr = (t) => (t === null ? null : Array.from(t));

test("trajectory: a tracked token's row, null when not tracked there", () => {
  const lens = decode(payload());
  assert.deepEqual(arr(lens.trajectory(0, 2)), f32([0.3, 0.7]));
  assert.deepEqual(arr(lens.trajectory(1, 5)), f32([0.3, 0.6]));
  assert.equal(lens.trajectory(0, 5), null);
  assert.equal(lens.trajectory(1, 1), null);
  assert.equal(lens.trackedRow(1, 3), 4);
});

test("groupTrajectory sums its members, skipping untracked ones", () => {
  const lens = decode(payload());
  const sum = lens.groupTrajectory(0, [1, 3, 99]);
  assert.ok(Math.abs(sum[0] - 0.65) < 1e-6 && Math.abs(sum[1] - 0.25) < 1e-6, `${sum}`);
  assert.equal(lens.groupTrajectory(0, [5, 99]), null);
  const one = lens.groupTrajectory(0, [2]);
  assert.deepEqual(arr(one), f32([0.3, 0.7]));
  assert.equal(one.buffer, lens.trackedProbs.buffer, "one id: a view of the payload, no copy");
});

test("rankTrajectory: 1-based, NaN outside the top-k or where not computed", () => {
  const lens = decode(payload());
  assert.deepEqual(Array.from(lens.rankTrajectory(0, 2)), [2, 1]);
  assert.deepEqual(Array.from(lens.rankTrajectory(1, 5)), [2, 1]);
  const r = lens.rankTrajectory(0, 1);
  assert.equal(r[0], 1);
  assert.ok(Number.isNaN(r[1]), "outside the top-k is unknown, not k + 1");
  const bad = decode(
    payload({ status: new Uint8Array([CELL_OK, CELL_OK, CELL_INVALID, CELL_OK]) }),
  );
  assert.ok(Number.isNaN(bad.rankTrajectory(0, 2)[1]));
  assert.deepEqual(Array.from(bad.masked(0, Float32Array.of(1, 2))).map(Number.isNaN), [
    false,
    true,
  ]);
  assert.equal(bad.incomplete.has(1), false);
});

test("addTrajectories: new ids and their text; payload ids keep payload values", () => {
  const lens = decode(payload());
  assert.equal(lens.token(9), UNKNOWN_TOKEN);
  lens.addTrajectories(0, [9, 2], Float32Array.of(0.01, 0.02, 0.9, 0.9), ["nine", "ignored"]);
  assert.deepEqual(arr(lens.trajectory(0, 9)), f32([0.01, 0.02]));
  assert.deepEqual(arr(lens.trajectory(0, 2)), f32([0.3, 0.7]));
  assert.equal(lens.token(9), "nine");
  assert.equal(lens.token(2), " b");
  assert.equal(lens.trajectory(1, 9), null, "added at position 0 only");
  const sum = lens.groupTrajectory(0, [9, 1]);
  assert.ok(Math.abs(sum[1] - 0.12) < 1e-6);
});

test("continues/adopt: same run carries added trajectories over", () => {
  const old = decode(payload({ patch: { run: 4 } }));
  old.addTrajectories(1, [9], Float32Array.of(0.2, 0.3), ["nine"]);
  const next = decode(payload({ patch: { run: 4 } }));
  assert.equal(next.continues(old), true);
  next.adopt(old, true);
  assert.deepEqual(arr(next.trajectory(1, 9)), f32([0.2, 0.3]));
  const other = decode(payload({ patch: { run: 5 } }));
  assert.equal(other.continues(old), false);
  other.adopt(old, false);
  assert.equal(other.trajectory(1, 9), null);
  assert.equal(other.token(9), "nine");
});
