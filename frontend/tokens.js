// Token strings made visible: whitespace and control characters get glyphs, bidi controls and
// other invisible format characters are escaped (a right-to-left override would otherwise
// show "\u202eemoR" as "Rome"), and tokens that are only part of a UTF-8 character (they
// decode to U+FFFD or to <0xNN>) are flagged. widget.css isolates each token's direction, so
// right-to-left letters never reorder the text around them.

import { BYTE_TOKEN_PATTERN, EMPTY_TOKEN, TOKEN_GLYPHS } from "./schema.js";

const GLYPHS = new Map(Object.entries(TOKEN_GLYPHS));

/**
 * Whitespace, control characters, the bidi controls (ALM, LRM, RLM, the embeddings and
 * overrides U+202A–U+202E, the isolates U+2066–U+2069) and the invisible zero-width space,
 * word joiner and byte-order mark. The zero-width joiner stays: emoji sequences need it.
 */
const SPECIAL = /[\s\p{Cc}\u061c\u200b\u200e\u200f\u202a-\u202e\u2060\u2066-\u2069\ufeff]/gu;
const BYTE_TOKEN = new RegExp(`^${BYTE_TOKEN_PATTERN}$`);

/**
 * @typedef {object} ShownToken
 * @property {string} text what to display
 * @property {boolean} fragment the token is an incomplete UTF-8 byte sequence
 */

/** @type {Map<string, ShownToken>} */
const cache = new Map();

/**
 * @param {string} raw decoded token string (untrusted: display with textContent only)
 * @returns {ShownToken}
 */
export function showToken(raw) {
  let shown = cache.get(raw);
  if (shown) return shown;
  const fragment = raw.includes("\ufffd") || BYTE_TOKEN.test(raw);
  let text = raw.replace(SPECIAL, glyph);
  if (text === "") text = EMPTY_TOKEN; // an empty token must still be visible
  shown = { text, fragment };
  if (cache.size > 50000) cache.clear();
  cache.set(raw, shown);
  return shown;
}

/** @param {string} ch */
function glyph(ch) {
  const g = GLYPHS.get(ch);
  if (g) return g;
  const code = ch.codePointAt(0) ?? 0;
  return code < 0x100
    ? `\\x${code.toString(16).padStart(2, "0")}`
    : `\\u${code.toString(16).padStart(4, "0")}`;
}

/**
 * Put a token into an element as text, marking byte fragments.
 * @param {HTMLElement} el
 * @param {string} raw
 */
export function setToken(el, raw) {
  const shown = showToken(raw);
  el.textContent = shown.text;
  el.classList.toggle("llk-frag", shown.fragment);
}
