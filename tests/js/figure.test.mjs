import { test } from "node:test";
import assert from "node:assert/strict";
import { fileName } from "../../frontend/figure.js";

test("fileName: a safe base name from a title, never empty", () => {
  assert.equal(fileName("My figure: v2"), "My-figure-v2");
  assert.equal(fileName("../../etc/passwd"), "etc-passwd");
  assert.equal(fileName("Café"), "Cafe");
  assert.equal(fileName("<script>"), "script");
  assert.equal(fileName("東京"), "logit-lens");
  assert.equal(fileName(""), "logit-lens");
  assert.equal(fileName("x".repeat(200)).length, 60);
});
