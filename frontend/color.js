// Cell coloring: what value drives a cell's color in each mode, and the color itself.

import { CELL_OPACITY } from "./schema.js";

/** @typedef {import("./lens.js").Lens} Lens */
/** @typedef {import("./schema.js").ColorMode} ColorMode */

/**
 * The token ids a "token" or "group" coloring actually uses: the chosen target, else the
 * first pinned token (token mode) or the first pinned group (group mode). The cells and the
 * target menu both read it, so the menu always shows what colors the cells.
 * @param {{ color_mode: ColorMode, color_token: number | null, color_group: number[],
 *   pins: { ids: number[] }[] }} s
 * @returns {number[]}
 */
export function colorTarget(s) {
  if (s.color_mode === "token") {
    if (s.color_token !== null) return [s.color_token];
    return s.pins.length ? [s.pins[0].ids[0]] : [];
  }
  if (s.color_mode === "group") {
    if (s.color_group.length) return s.color_group;
    return (s.pins.find((p) => p.ids.length > 1) ?? s.pins[0])?.ids ?? [];
  }
  return [];
}

/**
 * A function giving a cell's intensity in [0, 1], or null for an uncolored cell. Cells that
 * are invalid or pending have no numbers: they are never colored.
 * @param {Lens} lens
 * @param {{ mode: ColorMode, ids: number[] }} target ids: the token / group members
 * @returns {(l: number, p: number) => number | null}
 */
export function intensityFn(lens, target) {
  const f = intensityOf(lens, target);
  return lens.cellStatus ? (l, p) => (lens.status(l, p) === 0 ? f(l, p) : null) : f;
}

/**
 * @param {Lens} lens
 * @param {{ mode: ColorMode, ids: number[] }} target
 * @returns {(l: number, p: number) => number | null}
 */
function intensityOf(lens, { mode, ids }) {
  switch (mode) {
    case "top1":
      return (l, p) => lens.topProb(l, p);
    case "token":
    case "group": {
      if (!ids.length) return () => null;
      /** @type {(Float32Array | null)[]} */
      const perPos = new Array(lens.P);
      return (l, p) => {
        if (perPos[p] === undefined) perPos[p] = lens.groupTrajectory(p, ids);
        const t = perPos[p];
        return t ? Math.min(1, t[l]) : 0;
      };
    }
    case "entropy": {
      const ent = lens.entropy;
      if (!ent || lens.maxEntropy <= 0) return () => null;
      return (l, p) => ent[l * lens.P + p] / lens.maxEntropy;
    }
    default:
      return () => null;
  }
}

/**
 * CSS background for an intensity: the mode's color at that opacity, so it reads on light
 * and dark backgrounds alike.
 * @param {string} hex "#rrggbb"
 * @param {number} a
 */
export function cellBackground(hex, a) {
  const n = parseInt(hex.slice(1), 16);
  const alpha = Math.round(Math.max(0, Math.min(1, a)) * CELL_OPACITY * 100) / 100;
  return `rgba(${n >> 16},${(n >> 8) & 255},${n & 255},${alpha})`;
}

/** Above this opacity the cell text switches to white to stay readable. */
export const STRONG = 0.55;
