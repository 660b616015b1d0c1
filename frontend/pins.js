// Pin logic as pure functions: each takes the current traits (and the Lens) and returns the
// trait patch or the chart lines, so the Explorer only wires them and tests can reason about
// them without a DOM.

import { PIN_PALETTE } from "./schema.js";
import { rowDash } from "./dashes.js";
import { showToken } from "./tokens.js";
import { idKey, ROW_ATTENTION, sublayerSplit } from "./lens.js";
import { klUndefinedAt } from "./klundefined.js";

/** @typedef {import("./lens.js").Lens} Lens */
/** @typedef {import("./chart.js").Line} Line */
/** @typedef {import("./state.js").Pin} Pin */
/** @typedef {import("./state.js").UIState} UIState */
/** @typedef {UIState["trajectory_metric"]} Metric */

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
  /** @type {Pin[]} */
  const pins = s.pins.map((p) => ({ ...p, ids: [...p.ids] }));
  const holder = group ? pins[pins.length - 1] : pins.find((p) => p.ids.includes(id));
  const before = holder ? [...holder.ids] : [];
  if (holder?.ids.includes(id)) holder.ids = holder.ids.filter((x) => x !== id);
  else if (holder && group) holder.ids.push(id);
  else pins.push({ ids: [id], color: nextColor(pins) });
  // A name says what the pin's tokens are: other tokens are another pin, unnamed.
  if (holder && holder.ids.length !== before.length) delete holder.name;
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
 * What a token or group is called: the name of a pin of exactly these ids, else the data's
 * target of these ids, else its tokens (pinLabel).
 * @param {Lens} lens
 * @param {Pin[]} pins
 * @param {number[]} ids
 */
export function idsLabel(lens, pins, ids) {
  const key = idKey(ids);
  const pin = pins.find((p) => p.name && idKey(p.ids) === key);
  if (pin?.name) return pin.name;
  const t = lens.targetIndex(ids);
  return t >= 0 ? lens.targets[t].name : pinLabel(lens, ids);
}

/**
 * The plotted metric for a token or group at position p, one value per lens row; NaN where
 * it is unknown (not tracked, cell invalid or pending).
 * - probability: the (summed) probability;
 * - rank: the best member's rank: exact when `ids` is a payload target, else from the
 *   top-k (NaN outside it);
 * - logprob: the natural log of the probability: exact when `ids` is a payload target;
 *   -Infinity for 0;
 * - delta: the change of probability from the previous lens row (NaN at the first); with
 *   sub-layer rows (row_kinds) the split of each layer's change: at its after-attention row
 *   the attention's part p(a_N) − p(o_{N−1}) (from 0 at layer 0; NaN when layer N − 1's
 *   output was not collected), at its output row the MLP's part p(o_N) − p(a_N);
 * - kl: position p's KL to the final output (the ids do not matter).
 * @param {Lens} lens
 * @param {Metric} metric
 * @param {number} p
 * @param {number[]} ids
 */
export function lineValues(lens, metric, p, ids) {
  const out = new Float32Array(lens.L).fill(NaN);
  const t = lens.targetIndex(ids);
  if (metric === "kl") {
    for (let l = 0; l < lens.L; l++) out[l] = lens.kl(l, p);
    return out;
  }
  if (metric === "rank" && t >= 0) {
    for (let l = 0; l < lens.L; l++) out[l] = lens.targetRank(t, l, p);
    return out;
  }
  if (metric === "rank") {
    // A group's rank is its best member's rank.
    for (const id of ids) {
      const r = lens.rankTrajectory(p, id);
      for (let l = 0; l < lens.L; l++)
        if (!(out[l] <= r[l])) out[l] = Number.isNaN(r[l]) ? out[l] : r[l];
    }
    return out;
  }
  if (metric === "logprob" && t >= 0) {
    for (let l = 0; l < lens.L; l++) out[l] = lens.targetLogProb(t, l, p);
    return out;
  }
  const g = lens.groupTrajectory(p, ids);
  if (!g) return out;
  const prob = lens.masked(p, g);
  if (metric === "logprob") return prob.map(Math.log);
  if (metric === "delta") {
    for (let l = 1; l < lens.L; l++) out[l] = prob[l] - prob[l - 1];
    if (lens.hasSublayers) {
      for (let l = 0; l < lens.L; l++) {
        if (lens.rowKind(l) === ROW_ATTENTION) {
          const split = sublayerSplit(lens, l + 1, p, prob);
          out[l] = split ? split.attention : NaN;
        }
      }
    }
    return out;
  }
  return prob;
}

/**
 * Whether `ids`' line of `metric` holds exact values where the top-k alone would not know
 * them: a rank or log-probability read from a payload target.
 * @param {Lens} lens
 * @param {Metric} metric
 * @param {number[]} ids
 */
export function isExact(lens, metric, ids) {
  return (metric === "rank" || metric === "logprob") && lens.targetIndex(ids) >= 0;
}

/**
 * One chart line per pin and compared position.
 * @param {Lens} lens
 * @param {Pin[]} pins
 * @param {number[]} rows pinned positions ([] → the followed position)
 * @param {number} focusPos
 * @param {Metric} metric
 * @returns {Line[]}
 */
export function pinLines(lens, pins, rows, focusPos, metric) {
  const positions = rows.length ? rows : [focusPos];
  return pins.flatMap((pin) => {
    const label = pin.name || pinLabel(lens, pin.ids);
    return positions.map((p, j) => ({
      values: lineValues(lens, metric, p, pin.ids),
      color: pin.color,
      dash: rows.length ? rowDash(j) : "",
      label: rows.length ? `${label} @${p}` : label,
      exact: isExact(lens, metric, pin.ids),
    }));
  });
}

/**
 * The "kl" metric's lines: KL to the final output at each pinned row, else at the followed
 * position; pins do not apply. Values in `unit`.
 * @param {Lens} lens
 * @param {number[]} rows
 * @param {number} focusPos
 * @param {string} color
 * @param {import("./format.js").EntropyUnit} unit
 * @returns {Line[]}
 */
export function klLines(lens, rows, focusPos, color, unit) {
  const positions = rows.length ? rows : [focusPos];
  const scale = unit === "bits" ? 1 / Math.LN2 : 1;
  return positions.map((p, j) => ({
    values: lineValues(lens, "kl", p, []).map((v) => v * scale),
    color,
    dash: rows.length ? rowDash(j) : "",
    label: `KL to output @${p}`,
    exact: true,
    klUndefined: klUndefinedAt(lens, p),
  }));
}

/**
 * The grey line of a hovered token (a cell's top token, a popup row); with the "kl" metric,
 * the hovered position's KL.
 * @param {Lens} lens
 * @param {Metric} metric
 * @param {number} p
 * @param {number} id
 * @param {import("./format.js").EntropyUnit} [unit] the KL's
 * @returns {Line}
 */
export function hoverLine(lens, metric, p, id, unit = "nats") {
  if (metric === "kl") return { ...klLines(lens, [], p, HOVER_COLOR, unit)[0], exact: false };
  return {
    values: lineValues(lens, metric, p, [id]),
    color: HOVER_COLOR,
    label: `${pinLabel(lens, [id])} @${p}`,
    exact: isExact(lens, metric, [id]),
  };
}
