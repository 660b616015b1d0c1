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

test("bidi controls are shown, so a right-to-left override cannot reverse a token", () => {
  // U+202E would display "\u202eemoR" as "Rome": the reader must see the control, not its effect.
  assert.equal(shown("\u202eemoR"), "\\u202eemoR");
  for (const ch of ["\u061c", "\u200e", "\u200f", "\u202a", "\u202b", "\u202c", "\u202d"]) {
    assert.equal(shown(`a${ch}b`), `a\\u${ch.codePointAt(0).toString(16).padStart(4, "0")}b`);
  }
  for (const ch of ["\u2066", "\u2067", "\u2068", "\u2069"]) {
    assert.equal(shown(ch), `\\u${ch.codePointAt(0).toString(16)}`);
  }
  // Invisible characters that are not bidi controls but hide as well.
  assert.equal(shown("\u200bx\ufeff"), "\\u200bx\\ufeff");
  // Right-to-left letters are text, not controls: they stay (the CSS isolates their direction).
  assert.equal(shown("\u05e9\u05dc\u05d5\u05dd"), "\u05e9\u05dc\u05d5\u05dd");
  // Emoji sequences keep their zero-width joiner.
  assert.equal(shown("\u{1f468}\u200d\u{1f469}"), "\u{1f468}\u200d\u{1f469}");
});
