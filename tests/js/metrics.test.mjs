// The exact per-cell metrics (docs/data-format.md §3: kl, targets, target_logprobs,
// target_ranks): decoding, the Lens's accessors, the color modes built on them, the chart
// metrics, pin names and "best at any layer".
import { test } from "node:test";
import assert from "node:assert/strict";
import { DecodeError, decode } from "../../frontend/decode.js";
import { bestAtAnyLayer, CELL_INVALID, CELL_PENDING } from "../../frontend/lens.js";
import {
  cellBackground,
  cellMetric,
  colorFoil,
  colorTarget,
  intensityFn,
  modeColor,
  NEGATIVE,
  shortRank,
  signed,
} from "../../frontend/color.js";
import { colorScale } from "../../frontend/colorbar.js";
import { cellFacts } from "../../frontend/celltip.js";
import { idsLabel, klLines, lineValues, pinLines, togglePin } from "../../frontend/pins.js";
import { metrics, payload } from "./payload.mjs";

const near = (a, b, eps = 1e-6) => assert.ok(Math.abs(a - b) < eps, `${a} != ${b}`);
const withMetrics = (o = {}) => {
  const m = metrics();
  return payload({
    ...o,
    patch: { ...m.patch, ...o.patch },
    extra: { ...m.extra, ...o.extra },
  });
};
const refused = (data, pattern) =>
  assert.throws(
    () => decode(data),
    (e) => e instanceof DecodeError && pattern.test(e.message),
  );

test("decode: the metrics are optional, and absent ones change nothing", () => {
  const lens = decode(payload());
  assert.equal(lens.klValues, null);
  assert.deepEqual(lens.targets, []);
  assert.ok(Number.isNaN(lens.kl(0, 0)));
  assert.equal(lens.targetIndex([2]), -1);
  const full = decode(withMetrics());
  assert.deepEqual(
    full.targets.map((t) => t.name),
    ["b", "newline"],
  );
  near(full.kl(0, 0), 0.8);
  assert.equal(full.kl(1, 1), 0);
});

test("decode refuses bad metrics with messages naming field and index", () => {
  refused(
    withMetrics({ extra: { kl: new Float32Array([0.8, NaN, 0, 0]) } }),
    /^"kl"\[0\]\[1\] is NaN; KL/,
  );
  refused(
    withMetrics({ extra: { kl: new Float32Array([0.8, -0.5, 0, 0]) } }),
    /"kl"\[0\]\[1\] is -0\.5/,
  );
  refused(withMetrics({ extra: { kl: new Float32Array(3) } }), /^"kl" has 12 bytes, expected 16/);
  const lp = new Float32Array(8).fill(-1);
  lp[5] = 0.5;
  refused(
    withMetrics({ extra: { target_logprobs: lp } }),
    /"target_logprobs"\[1\]\[0\]\[1\] is 0\.5/,
  );
  lp[5] = NaN;
  refused(withMetrics({ extra: { target_logprobs: lp } }), /is NaN; log-probabilities/);
  lp[5] = -Infinity; // a probability of 0
  assert.ok(decode(withMetrics({ extra: { target_logprobs: lp } })));
  const ranks = new Int32Array(8).fill(1);
  ranks[7] = 0;
  refused(
    withMetrics({ extra: { target_ranks: ranks } }),
    /"target_ranks"\[1\]\[1\]\[1\] is 0; ranks/,
  );
  refused(payload({ extra: { target_ranks: ranks } }), /"target_ranks" is given without "targets"/);
  const { patch, extra } = metrics();
  delete extra.target_ranks;
  refused(payload({ patch, extra }), /"target_ranks" is missing/);
  refused(
    withMetrics({ extra: { target_ranks: new Int32Array(4) } }),
    /"target_ranks" has 16 bytes, expected 32/,
  );
  const names = (targets) => withMetrics({ patch: { targets } });
  refused(names("b"), /"targets" must be a list/);
  refused(
    names([
      { name: "b", ids: [2] },
      { name: "b", ids: [3] },
    ]),
    /"targets"\[1\]\."name" "b" is also "targets"\[0\]'s/,
  );
  refused(
    names([
      { name: "", ids: [2] },
      { name: "c", ids: [3] },
    ]),
    /"targets"\[0\]\."name" is empty/,
  );
  refused(
    names([
      { name: 5, ids: [2] },
      { name: "c", ids: [3] },
    ]),
    /"targets"\[0\]\."name" is not a string/,
  );
  refused(
    names([
      { name: "a\ud800", ids: [2] },
      { name: "c", ids: [3] },
    ]),
    /lone surrogate/,
  );
  refused(
    names([
      { name: "a", ids: [] },
      { name: "c", ids: [3] },
    ]),
    /"targets"\[0\]\."ids" is empty/,
  );
  refused(
    names([
      { name: "a", ids: [-2] },
      { name: "c", ids: [3] },
    ]),
    /"targets"\[0\]\."ids"\[0\] is not an integer >= 0/,
  );
  refused(
    names([
      { name: "a", ids: 2 },
      { name: "c", ids: [3] },
    ]),
    /"targets"\[0\]\."ids" is not a list/,
  );
  refused(names([{ name: "a", ids: [2] }]), /"target_logprobs" has 32 bytes, expected 16/);
});

test("flagged cells are exempt from the metric checks and have no values", () => {
  const kl = new Float32Array([0.8, NaN, 0, 0]);
  const lp = new Float32Array(8).fill(NaN);
  const ranks = new Int32Array(8);
  const status = new Uint8Array([0, CELL_INVALID, CELL_PENDING, 0]);
  for (const i of [0, 3, 4, 7]) [lp[i], ranks[i]] = [-1, 5];
  const lens = decode(
    withMetrics({ status, extra: { kl, target_logprobs: lp, target_ranks: ranks } }),
  );
  assert.ok(Number.isNaN(lens.kl(0, 1)));
  assert.ok(Number.isNaN(lens.targetLogProb(0, 1, 0)));
  assert.ok(Number.isNaN(lens.targetRank(1, 0, 1)));
  assert.equal(lens.targetRank(1, 1, 1), 5);
});

test("targetIndex matches id sets; accessors read [T, L, P]", () => {
  const lens = decode(withMetrics());
  assert.equal(lens.targetIndex([2]), 0);
  assert.equal(lens.targetIndex([3, 3]), 1);
  assert.equal(lens.targetIndex([2, 3]), -1);
  assert.equal(lens.targetIndex([]), -1);
  near(lens.targetLogProb(0, 1, 0), Math.log(0.7));
  near(lens.targetLogProb(1, 0, 1), Math.log(0.1));
  assert.equal(lens.targetRank(1, 0, 1), 4);
  assert.equal(lens.maxRank, 6, "largest vocab id 5 + 1");
  near(lens.maxKl(), 0.8);
  near(lens.maxKl([0]), 0.8);
  assert.equal(lens.maxKl([1]), 0);
});

test("bestAtAnyLayer: by highest probability at any layer, with the peak row", () => {
  const lens = decode(payload());
  // Position 0: id 1 peaks 0.6 @0, id 2 0.7 @1, id 3 0.15 @1.
  assert.deepEqual(
    bestAtAnyLayer(lens, 0).map((b) => [b.id, b.row]),
    [
      [2, 1],
      [1, 0],
      [3, 1],
    ],
  );
  near(bestAtAnyLayer(lens, 0)[0].prob, 0.7);
  assert.equal(bestAtAnyLayer(lens, 1, 2).length, 2);
  // Ties go to the smaller id; a detail answer's trajectories count too; flagged rows do not.
  lens.addTrajectories(1, [9], Float32Array.of(0.6, 0.05), ["nine"]);
  assert.deepEqual(
    bestAtAnyLayer(lens, 1).map((b) => b.id),
    [5, 9, 2, 3],
  );
  const flagged = decode(payload({ status: new Uint8Array([0, 0, CELL_INVALID, 0]) }));
  assert.deepEqual(
    bestAtAnyLayer(flagged, 0).map((b) => [b.id, b.row]),
    [
      [1, 0],
      [2, 0],
      [3, 0],
    ],
  );
});

const choice = (o) => ({
  color_mode: "rank",
  color_token: null,
  color_group: [],
  color_foil: [],
  pins: [],
  ...o,
});

test("colorTarget / colorFoil of the new modes: chosen, else pins, else data targets", () => {
  const targets = [{ ids: [2] }, { ids: [3] }];
  assert.deepEqual(colorTarget(choice({}), targets), [2]);
  assert.deepEqual(colorTarget(choice({ pins: [{ ids: [5, 1] }] }), targets), [5, 1]);
  assert.deepEqual(colorTarget(choice({ color_group: [3] }), targets), [3]);
  assert.deepEqual(colorTarget(choice({})), []);
  const diff = choice({ color_mode: "logprob_diff" });
  assert.deepEqual(colorFoil(diff, targets), [3]);
  assert.deepEqual(colorFoil({ ...diff, pins: [{ ids: [2] }, { ids: [1] }] }, targets), [1]);
  assert.deepEqual(colorFoil({ ...diff, color_group: [3] }, targets), [2], "not the target");
  assert.deepEqual(colorFoil({ ...diff, color_foil: [5] }, targets), [5]);
  assert.deepEqual(colorFoil(choice({}), targets), [], "only logprob_diff has a foil");
  assert.deepEqual(colorFoil(diff, [{ ids: [2] }]), []);
});

test("kl mode: KL over the largest KL of the shown rows", () => {
  const lens = decode(withMetrics());
  const f = intensityFn(lens, { mode: "kl", ids: [] });
  near(f(0, 1), 0.5);
  assert.equal(f(1, 0), 0);
  near(intensityFn(lens, { mode: "kl", ids: [], rows: [0] })(0, 0), 1);
  assert.equal(intensityFn(decode(payload()), { mode: "kl", ids: [] })(0, 0), null);
  const bar = colorScale(lens, "kl", "", "bits", {
    metric: cellMetric(lens, { mode: "kl", ids: [] }),
  });
  assert.equal(bar.title, "KL to final output (bits)");
  assert.equal(bar.entropy, true, "the nats/bits switch shows");
  assert.equal(bar.ticks.at(-1).text, (0.8 / Math.LN2).toFixed(2));
});

test("rank mode: exact for a payload target, else top-k only; log scale", () => {
  const lens = decode(withMetrics());
  const exact = cellMetric(lens, { mode: "rank", ids: [3] });
  assert.equal(exact.exact, true);
  assert.equal(exact.value(0, 1), 4);
  const f = intensityFn(lens, exact);
  near(f(0, 1), 1 - Math.log(4) / Math.log(6));
  near(f(1, 0), 1 - Math.log(2) / Math.log(6));
  // Not a payload target: its rank is known in the top-k only.
  const topk = cellMetric(lens, { mode: "rank", ids: [3, 5] });
  assert.equal(topk.exact, false);
  assert.equal(topk.value(0, 0), null);
  assert.equal(topk.value(0, 1), 2);
  assert.equal(intensityFn(lens, topk)(0, 0), null, "outside the top-k: uncolored");
  const bar = colorScale(lens, "rank", "\u21b5", "nats", { metric: exact });
  assert.equal(bar.title, "rank of \u21b5");
  assert.deepEqual(
    bar.ticks.map((t) => [t.text, Number(t.at.toFixed(3))]),
    [
      ["6", 0],
      ["1", 1],
    ],
  );
  assert.match(colorScale(lens, "rank", "x", "nats", { metric: topk }).title, /top-k only/);
  assert.equal(shortRank(49152), "49k");
  assert.equal(shortRank(1234567), "1.2M");
});

test("logprob_diff: exact when both are targets, else from tracked trajectories; diverging", () => {
  const lens = decode(withMetrics());
  const m = cellMetric(lens, { mode: "logprob_diff", ids: [2], foil: [3] });
  assert.equal(m.exact, true);
  near(m.value(0, 0), Math.log(0.3 / 0.05), 1e-5);
  near(m.value(1, 1), Math.log(0.2 / 0.1), 1e-5);
  // Largest |diff| is ln(0.3/0.05) = 1.79: the scale ends at 2.
  assert.equal(m.max, 2);
  const f = intensityFn(lens, m);
  near(f(0, 0), Math.log(6) / 2, 1e-5);
  const flipped = intensityFn(lens, { mode: "logprob_diff", ids: [3], foil: [2] });
  near(flipped(0, 0), NEGATIVE + Math.log(6) / 2, 1e-5);
  // A group is no payload target: both sides come from the tracked probabilities.
  const approx = cellMetric(lens, { mode: "logprob_diff", ids: [2, 3], foil: [1] });
  assert.equal(approx.exact, false);
  near(approx.value(0, 0), Math.log(0.35 / 0.6), 1e-5);
  assert.equal(approx.value(0, 1), null, "id 1 is not tracked at position 1");
  const bar = colorScale(lens, "logprob_diff", "b", "nats", { metric: m, foil: "newline" });
  assert.equal(bar.low, "favors newline");
  assert.equal(bar.high, "favors b");
  assert.equal(bar.diverging, true);
  assert.deepEqual(
    bar.ticks.map((t) => [t.at, t.text]),
    [
      [0, "\u22122"],
      [0.25, "\u22121"],
      [0.5, "0"],
      [0.75, "+1"],
      [1, "+2"],
    ],
  );
  assert.equal(cellBackground("#0000ff #ff0000", NEGATIVE + 0.5), "rgba(255,0,0,0.45)");
  assert.equal(cellBackground("#0000ff #ff0000", 0.5), "rgba(0,0,255,0.45)");
  assert.equal(modeColor("delta", { heat_color: "#a", negative_color: "#b" }), "#a #b");
  assert.equal(signed(-0.5), "\u22120.5");
});

test("delta: change from the previous lens row; the first row uncolored", () => {
  const lens = decode(withMetrics());
  const m = cellMetric(lens, { mode: "delta", ids: [2] });
  assert.equal(m.value(0, 0), null);
  near(m.value(1, 0), 0.4);
  near(m.value(1, 1), -0.3);
  assert.equal(m.max, 0.5);
  const f = intensityFn(lens, m);
  near(f(1, 0), 0.8);
  near(f(1, 1), NEGATIVE + 0.6);
  const bar = colorScale(lens, "delta", "b", "nats", { metric: m });
  assert.deepEqual(
    bar.ticks.map((t) => t.text),
    ["\u221250", "\u221225", "0", "+25", "+50"],
  );
});

test("cellFacts: the mode's value and the KL", () => {
  const lens = decode(withMetrics());
  const base = { ids: [3], target: "\u21b5", unit: "nats", foil: "b" };
  const rank = cellFacts(lens, 0, 1, {
    ...base,
    mode: "rank",
    metric: cellMetric(lens, { mode: "rank", ids: [3] }),
  });
  assert.deepEqual(rank[3], ["rank of \u21b5", "4 (exact)"]);
  assert.deepEqual(rank.at(-1), ["KL to output", "0.40 nats"]);
  const diff = cellFacts(lens, 1, 0, {
    ...base,
    mode: "logprob_diff",
    metric: cellMetric(lens, { mode: "logprob_diff", ids: [3], foil: [2] }),
  });
  assert.deepEqual(diff[3], ["log p(\u21b5) \u2212 log p(b)", "\u22121.54 nats (exact)"]);
  const delta = { ...base, mode: "delta", metric: cellMetric(lens, { mode: "delta", ids: [3] }) };
  assert.deepEqual(cellFacts(lens, 1, 0, delta)[3], [
    "change of p(\u21b5)",
    "+10.0 pp from layer 0",
  ]);
  assert.deepEqual(cellFacts(lens, 0, 0, delta)[3], [
    "change of p(\u21b5)",
    "first layer: no previous one",
  ]);
});

test("lineValues: logprob and rank exact for targets, delta, kl", () => {
  const lens = decode(withMetrics());
  const lp = lineValues(lens, "logprob", 1, [3]);
  near(lp[0], Math.log(0.1));
  const approx = lineValues(lens, "logprob", 0, [2, 3]);
  near(approx[1], Math.log(0.85), 1e-6);
  assert.deepEqual(Array.from(lineValues(lens, "rank", 1, [3])), [4, 3]);
  assert.ok(Number.isNaN(lineValues(lens, "rank", 1, [3, 1])[0]), "no target: top-k only");
  const d = lineValues(lens, "delta", 1, [2]);
  assert.ok(Number.isNaN(d[0]));
  near(d[1], -0.3);
  assert.deepEqual(
    Array.from(lineValues(lens, "kl", 0, [1])).map((v) => Number(v.toFixed(3))),
    [0.8, 0],
  );
  const kl = klLines(lens, [0, 1], 1, "#123456", "bits");
  assert.equal(kl.length, 2);
  near(kl[0].values[0], 0.8 / Math.LN2);
  assert.ok(kl[1].dash);
  const lines = pinLines(lens, [{ ids: [3], color: "#ff0000", name: "NL" }], [], 1, "rank");
  assert.equal(lines[0].label, "NL");
  assert.equal(lines[0].exact, true);
});

test("pin names: kept by recolor and grouping of other pins, dropped when ids change", () => {
  const pins = [
    { ids: [2], color: "#e6194b", name: "b" },
    { ids: [3], color: "#3cb44b", name: "nl" },
  ];
  const pinned = togglePin({ pins, color_group: [] }, 5, false);
  assert.deepEqual(
    pinned.pins.map((p) => p.name),
    ["b", "nl", undefined],
  );
  const grouped = togglePin({ pins, color_group: [] }, 5, true);
  assert.deepEqual(grouped.pins[1], { ids: [3, 5], color: "#3cb44b" });
  assert.equal(grouped.pins[0].name, "b");
  const lens = decode(withMetrics());
  assert.equal(idsLabel(lens, pins, [3]), "nl");
  assert.equal(idsLabel(lens, [], [3]), "newline", "the data target's name");
  assert.equal(idsLabel(lens, [], [1, 2]), "a + \u2423b");
});
