// The text color of a heat cell: white or black, whichever reads better on the cell's
// translucent color over the theme's background (grid.js picks one per theme).

import { DARK_INK_BELOW, THEME_COLORS } from "./schema.js";

/** @param {string} hex "#rrggbb" */
const rgb = (hex) => [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));

/** The theme backgrounds a heat cell's translucent color lies over. */
export const THEME_BG = { light: rgb(THEME_COLORS.light.bg), dark: rgb(THEME_COLORS.dark.bg) };

/** @param {number} c an sRGB channel 0..255 */
function linear(c) {
  const v = c / 255;
  return v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
}

/**
 * The text color ("#fff" or "#000") that reads best on a cell painted `css` ("rgba(r,g,b,a)",
 * as cellBackground makes it) over the background `bg` [r, g, b].
 * @param {string} css
 * @param {number[]} bg
 */
export function inkOn(css, bg) {
  const m = /rgba?\(([^)]*)\)/.exec(css);
  const [r, g, b, a = 1] = m ? m[1].split(",").map(Number) : [bg[0], bg[1], bg[2], 1];
  const mix = [r, g, b].map((c, i) => c * a + bg[i] * (1 - a));
  const lum = 0.2126 * linear(mix[0]) + 0.7152 * linear(mix[1]) + 0.0722 * linear(mix[2]);
  return lum < DARK_INK_BELOW ? "#fff" : "#000";
}
