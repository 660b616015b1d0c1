// Pin logic as pure functions: each takes the current traits (and the Lens) and returns the
// trait patch or the chart lines, so the Explorer only wires them and tests can reason about
// them without a DOM.

import { PIN_PALETTE } from "./schema.js";
import { rowDash } from "./dashes.js";
import { showToken } from "./tokens.js";

/** @typedef {import("./lens.js").Lens} Lens */
/** @typedef {import("./chart.js").Line} Line */
/** @typedef {import("./state.js").Pin} Pin */
/** @typedef {import("./state.js").UIState} UIState */

const HOVER_COLOR = "#7f7f7f";

/** A pinned token "matters" at a position when it reaches this probability at some layer. */
export const MATTERS = 0.01;

/**
 * The first palette color no pin uses (cycling once all are taken).
 * @param {Pin[]} pins
 */
export function nextColor(pins) {
  const used = new Set(pins.map((p) => p.color));
  return PIN_PALETTE.find((c) => !used.has(c)) ?? PIN_PALETTE[pins.length % PIN_PALETTE.length];
}

/**
 * Same non-empty id list, in order.
 * @param {number[]} a
 * @param {number[]} b
 */
export function sameIds(a, b) {
  return a.length > 0 && a.length === b.length && a.every((id, i) => id === b[i]);
}

/**
 * Click pins or unpins `id`; with `group` the token joins (or leaves) the newest pin.
 * A group that colors the cells keeps coloring by its members as they change.
 * @param {Pick<UIState, "pins" | "color_group">} s
 * @param {number} id
 * @param {boolean} group
 * @returns {Partial<UIState>}
 */
export function togglePin(s, id, group) {
  const pins = s.pins.map((p) => ({ ids: [...p.ids], color: p.color }));
  const holder = group ? pins[pins.length - 1] : pins.find((p) => p.ids.includes(id));
  const before = holder ? [...holder.ids] : [];
  if (holder?.ids.includes(id)) holder.ids = holder.ids.filter((x) => x !== id);
  else if (holder && group) holder.ids.push(id);
  else pins.push({ ids: [id], color: nextColor(pins) });
  /** @type {Partial<UIState>} */
  const patch = { pins: pins.filter((p) => p.ids.length) };
  if (holder && sameIds(s.color_group, before)) patch.color_group = holder.ids;
  return patch;
}

/**
 * Remove pin `index`; a group that colored the cells stops doing so.
 * @param {Pick<UIState, "pins" | "color_group">} s
 * @param {number} index
 * @returns {Partial<UIState>}
 */
export function removePin(s, index) {
  /** @type {Partial<UIState>} */
  const patch = { pins: s.pins.filter((_, j) => j !== index) };
  if (sameIds(s.color_group, s.pins[index]?.ids ?? [])) patch.color_group = [];
  return patch;
}

/**
 * The pins with pin `index` in `color`.
 * @param {Pin[]} pins
 * @param {number} index
 * @param {string} color
 */
export function recolor(pins, index, color) {
  return pins.map((p, i) => (i === index ? { ...p, color } : p));
}

/**
 * Pin or unpin input row p. A newly pinned row where no pinned token reaches MATTERS gets its
 * final prediction pinned, so the comparison shows something (unless that cell has no valid
 * prediction).
 * @param {Lens} lens
 * @param {Pick<UIState, "pins" | "pinned_rows">} s
 * @param {number} p
 * @returns {Partial<UIState>}
 */
export function toggleRow(lens, s, p) {
  const rows = s.pinned_rows;
  if (rows.includes(p)) return { pinned_rows: rows.filter((q) => q !== p) };
  const matters = s.pins.some((pin) => {
    const t = lens.groupTrajectory(p, pin.ids);
    return t?.some((v) => v >= MATTERS) ?? false;
  });
  /** @type {Partial<UIState>} */
  const patch = { pinned_rows: [...rows, p] };
  const last = lens.L - 1;
  if (!matters && lens.status(last, p) === 0) {
    patch.pins = [...s.pins, { ids: [lens.topId(last, p)], color: nextColor(s.pins) }];
  }
  return patch;
}

/**
 * A pin's label: its tokens' visible text joined by " + ".
 * @param {Lens} lens
 * @param {number[]} ids
 */
export function pinLabel(lens, ids) {
  return ids.map((id) => showToken(lens.token(id)).text).join(" + ");
}

/**
 * The plotted metric for a token or group at position p, one value per lens row; NaN where
 * it is unknown (not tracked, cell invalid or pending).
 * @param {Lens} lens
 * @param {"probability" | "rank"} metric
 * @param {number} p
 * @param {number[]} ids
 */
export function lineValues(lens, metric, p, ids) {
  if (metric === "rank") {
    // A group's rank is its best member's rank.
    const out = new Float32Array(lens.L).fill(NaN);
    for (const id of ids) {
      const r = lens.rankTrajectory(p, id);
      for (let l = 0; l < lens.L; l++)
        if (!(out[l] <= r[l])) out[l] = Number.isNaN(r[l]) ? out[l] : r[l];
    }
    return out;
  }
  const t = lens.groupTrajectory(p, ids);
  return t ? lens.masked(p, t) : new Float32Array(lens.L).fill(NaN);
}

/**
 * One chart line per pin and compared position.
 * @param {Lens} lens
 * @param {Pin[]} pins
 * @param {number[]} rows pinned positions ([] → the followed position)
 * @param {number} focusPos
 * @param {"probability" | "rank"} metric
 * @returns {Line[]}
 */
export function pinLines(lens, pins, rows, focusPos, metric) {
  const positions = rows.length ? rows : [focusPos];
  return pins.flatMap((pin) => {
    const label = pinLabel(lens, pin.ids);
    return positions.map((p, j) => ({
      values: lineValues(lens, metric, p, pin.ids),
      color: pin.color,
      dash: rows.length ? rowDash(j) : "",
      label: rows.length ? `${label} @${p}` : label,
    }));
  });
}

/**
 * The grey line of a hovered token (a cell's top token, a popup row).
 * @param {Lens} lens
 * @param {"probability" | "rank"} metric
 * @param {number} p
 * @param {number} id
 * @returns {Line}
 */
export function hoverLine(lens, metric, p, id) {
  return {
    values: lineValues(lens, metric, p, [id]),
    color: HOVER_COLOR,
    label: `${pinLabel(lens, [id])} @${p}`,
  };
}
