import { test } from "node:test";
import assert from "node:assert/strict";
import { showToken } from "../../frontend/tokens.js";

const shown = (raw) => showToken(raw).text;

test("whitespace gets visible glyphs", () => {
  assert.equal(shown(" the"), "\u2423the");
  assert.equal(shown("a\u00a0b"), "a\u2423b");
  assert.equal(shown("\n\n"), "\u21b5\u21b5");
  assert.equal(shown("\r\n"), "\u240d\u21b5");
  assert.equal(shown("\tx"), "\u21e5x");
});

test("control and other space characters are escaped", () => {
  assert.equal(shown("\u0000"), "\\x00");
  assert.equal(shown("a\u001bb"), "a\\x1bb");
  assert.equal(shown("\u007f"), "\\x7f");
  assert.equal(shown("\u0085"), "\\x85");
  assert.equal(shown("\u2028"), "\\u2028");
  assert.equal(shown("\u3000"), "\\u3000");
});

test("an empty token stays visible; plain text is unchanged", () => {
  assert.equal(shown(""), "\u2205");
  assert.equal(shown("héllo"), "héllo");
});

test("byte fragments are flagged", () => {
  assert.equal(showToken("\ufffd").fragment, true);
  assert.equal(showToken("<0x0A>").fragment, true);
  assert.equal(showToken("<0x0A>").text, "<0x0A>");
  assert.equal(showToken("<0x0AB>").fragment, false);
  assert.equal(showToken("ok").fragment, false);
});
