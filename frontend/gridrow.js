// What a grid row holds besides its cells: the input column's header cell and the bars
// marking where a generated token committed (grid.js builds the cells).

import { el } from "./dom.js";
import { setToken, showToken } from "./tokens.js";
import { POS_GENERATED, POS_TEMPLATE } from "./lens.js";
import { commitFor, commitMarks, commitText } from "./commitment.js";
import { dashSample } from "./dashes.js";

/** @typedef {import("./lens.js").Lens} Lens */

/** How a row header names its position's kind (docs/data-format.md §3, `position_kinds`). */
const KIND_CLASS = { [POS_TEMPLATE]: "llk-template", [POS_GENERATED]: "llk-generated" };
const KIND_NAME = { [POS_TEMPLATE]: "chat template token", [POS_GENERATED]: "generated token" };

/**
 * Over row p, where the next position's token (if generated) became the top-1 and entered
 * the top-k for good (commitment.js): bars after the cells, placed on the row's own column
 * grid so they follow widths, strides and zoom. cellAt counts cells from the front, so they
 * never shift it.
 * @param {Lens} lens
 * @param {number} p
 * @param {HTMLElement} row
 * @param {number[]} cols the lens rows shown as columns
 */
export function appendCommitMarks(lens, p, row, cols) {
  const c = commitFor(lens, p + 1);
  if (!c || !cols.length) return;
  const marks = commitMarks(c, cols);
  const text = commitText(c, cols);
  for (const [cls, span] of /** @type {const} */ ([
    ["llk-entered", marks.entered],
    ["llk-commit", marks.commit],
  ])) {
    if (!span) continue;
    const bar = el("div", {
      class: cls,
      title: text,
      attrs: {
        "aria-hidden": "true",
        "data-from": String(span.from),
        "data-to": String(span.to),
      },
    });
    // Column 1 is the input column: shown column ci is grid column ci + 2.
    bar.style.gridColumn = `${span.from + 2} / ${span.to + 3}`;
    row.append(bar);
  }
}

/**
 * Row p's header cell: its input token, its kind, and whether it is pinned.
 * @param {Lens} lens
 * @param {number} p
 * @param {number | undefined} pinned the row's dash index when pinned
 */
export function inputCell(lens, p, pinned) {
  const shown = showToken(lens.input[p]).text;
  const kind = lens.kind(p);
  const special = kind === POS_TEMPLATE || kind === POS_GENERATED;
  let what = special ? `, ${KIND_NAME[kind]}` : "";
  const c = kind === POS_GENERATED ? commitFor(lens, p) : null;
  if (c) what += `; ${commitText(c)}`;
  // The full token first: the column may cut it.
  const input = el("div", {
    class: `llk-input${pinned === undefined ? "" : " llk-pinned"}${special ? ` ${KIND_CLASS[kind]}` : ""}`,
    title: `${shown} (position ${p}${what}): click to ${pinned === undefined ? "pin" : "unpin"} this row`,
    attrs: { role: "rowheader" },
  });
  if (special) input.setAttribute("aria-label", `${shown}${what}`);
  const text = el("span", { class: "llk-input-text" });
  setToken(text, lens.input[p]);
  input.append(text);
  if (pinned !== undefined) input.append(dashSample(pinned));
  return input;
}
