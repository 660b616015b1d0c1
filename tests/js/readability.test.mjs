import { test } from "node:test";
import assert from "node:assert/strict";
import { chartColumns, columnWidths } from "../../frontend/layout.js";
import { colorScale, niceStep } from "../../frontend/colorbar.js";
import { cellFacts, rankOf } from "../../frontend/celltip.js";
import { DEFAULT_CLASS, defaultLine } from "../../frontend/defaultline.js";
import { formatDecimal, formatEntropy } from "../../frontend/format.js";
import { decode } from "../../frontend/decode.js";
import { CELL_PENDING } from "../../frontend/lens.js";
import { payload } from "./payload.mjs";

const sum = (a) => a.reduce((x, y) => x + y, 0);

test("columnWidths: all the width is used, text needs met, the final one first", () => {
  const fill = columnWidths({ needs: [10, 70, 30], min: 40, available: 300, final: 2 });
  assert.deepEqual(fill, [90, 120, 90], "40/70/40 plus 50 each");
  const tight = columnWidths({ needs: [100, 40, 90], min: 40, available: 180, final: 2 });
  assert.equal(tight[2], 90, "the final column is never cut while it fits");
  assert.ok(sum(tight) <= 180);
  assert.ok(tight[0] >= 40 && tight[0] < 100);
  assert.equal(columnWidths({ needs: [40, 40, 200], min: 40, available: 150, final: 2 }), null);
});

test("chartColumns: a zoom widens the columns; A+ scales them; the final token fits", () => {
  const lens = decode(payload());
  const s = {
    x_zoom: [],
    input_column_width: 100,
    column_width: 40,
    chart_height: 160,
    font_size: 12,
  };
  const g = chartColumns(lens, s, 600, 0, () => 0).geometry;
  assert.deepEqual(g.cols, [0, 1]);
  assert.equal(g.inputWidth, 101);
  assert.ok(sum(g.widths) <= 600 - 100 - 8 && sum(g.widths) > 600 - 100 - 8 - 2, "no width left");
  // A 20 em final token in 2 columns at font 12: the final column grows to its cap.
  const long = chartColumns(lens, s, 600, 0, (l) => (l === 1 ? 400 : 10)).geometry;
  assert.ok(long.widths[1] >= 18 * 12, "the final layer's token is not cut below its cap");
  const big = chartColumns(lens, { ...s, font_size: 18 }, 2000, 0, () => 0).geometry;
  assert.equal(big.inputWidth, 151, "the input column scales with the font");
  assert.equal(big.fontSize, 18);
});

test("colorScale: units and ticks for every mode, from the data", () => {
  const lens = decode(payload());
  const top = colorScale(lens, "top1", "", "nats");
  assert.equal(top.title, "top-1 probability");
  assert.deepEqual(
    top.ticks.map((t) => t.text),
    ["0%", "25%", "50%", "75%", "100%"],
  );
  assert.equal(colorScale(lens, "token", "", "nats"), null, "no token: no bar");
  assert.equal(colorScale(lens, "token", "\u2423b", "nats").title, "probability of \u2423b");
  assert.match(colorScale(lens, "group", "a + x", "nats").title, /^summed probability of a \+ x/);
  assert.equal(colorScale(lens, "none", "", "nats"), null);
  // The payload's entropies are 1, 0.5, 0.25, 2 nats: the bar ends at the largest.
  const ent = colorScale(lens, "entropy", "", "nats");
  assert.equal(ent.title, "entropy (nats)");
  assert.equal(ent.high, "uncertain");
  assert.deepEqual(
    ent.ticks.map((t) => [t.at, t.text]),
    [
      [0, "0"],
      [0.25, "0.5"],
      [0.5, "1"],
      [0.75, "1.5"],
      [1, "2.00"],
    ],
  );
  const bits = colorScale(lens, "entropy", "", "bits");
  assert.equal(bits.title, "entropy (bits)");
  assert.equal(bits.ticks.at(-1).text, (2 / Math.LN2).toFixed(2));
  assert.ok(bits.ticks.every((t, i) => i === 0 || t.at > bits.ticks[i - 1].at));
  assert.equal(niceStep(2), 0.5);
  assert.equal(niceStep(7.3), 2);
});

test("cellFacts: the token, its probability and rank, the colored token, the entropy", () => {
  const lens = decode(payload());
  const ctx = { mode: "top1", ids: [], target: "", unit: "nats" };
  // Cell (lens row 1, position 0): top-k ids [2, 3], probs [0.7, 0.15]; entropy 0.25.
  assert.deepEqual(cellFacts(lens, 1, 0, ctx), [
    ["layer 1 (final) \u00b7 position 0", "a"],
    ["top token", "\u2423b"],
    ["probability", "70.0% \u00b7 rank 1 of 2"],
    ["entropy", "0.25 nats"],
  ]);
  const token = cellFacts(lens, 1, 0, { ...ctx, mode: "token", ids: [3], target: "\u21b5" });
  assert.deepEqual(token[3], ["\u21b5", "15.0% \u00b7 rank 2"]);
  const outside = cellFacts(lens, 0, 0, { ...ctx, mode: "token", ids: [3], target: "\u21b5" });
  assert.deepEqual(outside[3], ["\u21b5", "5.00% \u00b7 rank > 2"]);
  assert.equal(rankOf(lens, 0, 1, 5), 2);
  assert.equal(rankOf(lens, 0, 1, 1), 0);
  const status = new Uint8Array([0, 0, CELL_PENDING, 0]);
  assert.equal(cellFacts(decode(payload({ status })), 1, 0, ctx), null);
  assert.equal(formatEntropy(2, "bits"), "2.89 bits");
});

test("defaultLine: the last row's top token at the position, dashed, never a pin", () => {
  const lens = decode(payload());
  const d = defaultLine(lens, "probability", 1);
  assert.equal(d.id, 5);
  assert.equal(d.line.cls, DEFAULT_CLASS);
  assert.ok(d.line.dash);
  assert.deepEqual(
    [...d.line.values].map((v) => Number(v.toFixed(3))),
    [0.3, 0.6],
  );
  assert.match(d.line.label, /default/);
  const status = new Uint8Array([0, 0, 0, CELL_PENDING]);
  assert.equal(defaultLine(decode(payload({ status })), "probability", 1), null);
});

test("formatDecimal: one notation, no exponents", () => {
  assert.equal(formatDecimal(1e-6, 1), "0.000001");
  assert.equal(formatDecimal(0.001, 1), "0.001");
  assert.equal(formatDecimal(1, 1), "1");
  assert.equal(formatDecimal(0.25), "0.25");
  assert.equal(formatDecimal(0.0125), "0.0125");
  assert.equal(formatDecimal(0), "0");
});
