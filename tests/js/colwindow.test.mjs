import { test } from "node:test";
import assert from "node:assert/strict";
import { columnWindow } from "../../frontend/colwindow.js";

const widths = Array.from({ length: 80 }, () => 50);

test("only the columns in view, and three beyond each edge, are built", () => {
  // 100 px input column, 600 px view: columns 0..9 show (the 10th from 550 px to 600 px).
  assert.deepEqual(columnWindow(widths, 100, 0, 600), [0, 13]);
  // Scrolled 1,000 px: the columns behind the input column are hidden by it.
  assert.deepEqual(columnWindow(widths, 100, 1000, 600), [17, 33]);
  assert.deepEqual(columnWindow(widths, 100, 3500, 600), [67, 80]);
});

test("before layout, or when everything fits, every column", () => {
  assert.deepEqual(columnWindow(widths, 100, 0, 0), [0, 80]);
  assert.deepEqual(columnWindow([50, 50], 100, 0, 600), [0, 2]);
  assert.deepEqual(columnWindow([], 100, 0, 600), [0, 0]);
});
