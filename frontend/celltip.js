// The grid cell tooltip: a cell's numbers without a click (top token in full, its
// probability and rank, the colored token's or group's value, the color mode's value, the
// cell's entropy and KL to the output). Built when the pointer enters a cell, so rendering
// rows costs nothing extra.

import { el } from "./dom.js";
import { showToken } from "./tokens.js";
import { formatEntropy, formatProb } from "./format.js";
import { CELL_OK, ROW_ATTENTION } from "./lens.js";
import { signed, sublayerParts } from "./color.js";

/** @typedef {import("./lens.js").Lens} Lens */
/** @typedef {import("./format.js").EntropyUnit} EntropyUnit */

/**
 * What colors the cells, as the tooltip reports it.
 * @typedef {object} TipContext
 * @property {import("./color.js").ColorMode} mode
 * @property {number[]} ids the colored token (token mode) or group members (group mode)
 * @property {string} target their shown text ("" if none)
 * @property {EntropyUnit} unit
 * @property {import("./color.js").CellMetric | null} [metric] the cells' metric (the modes
 *   rank, logprob_diff and delta report its value)
 * @property {string} [foil] the foil as shown (logprob_diff)
 * @property {string[]} [labels] the diff's two sides' names (diff_token, jsd)
 * @property {Lens | null} [b] side B of a diff
 */

/**
 * 1-based rank of `id` among cell (l, p)'s top-k, or 0 when it is not among them.
 * @param {Lens} lens
 * @param {number} l
 * @param {number} p
 * @param {number} id
 */
export function rankOf(lens, l, p, id) {
  const base = lens.cellBase(l, p);
  for (let j = 0; j < lens.k; j++) if (lens.topkIds[base + j] === id) return j + 1;
  return 0;
}

/**
 * The tooltip's lines for cell (l, p): [label, value] pairs, the first naming the cell.
 * Null for a cell without numbers (its title says why).
 * @param {Lens} lens
 * @param {number} l
 * @param {number} p
 * @param {TipContext} ctx
 * @returns {[string, string][] | null}
 */
export function cellFacts(lens, l, p, ctx) {
  if (lens.status(l, p) !== CELL_OK) return null;
  const id = lens.topId(l, p);
  const final = l === lens.finalRow ? " (final)" : "";
  const half = lens.rowKind(l) === ROW_ATTENTION ? " after attention" : "";
  /** @type {[string, string][]} */
  const out = [
    [`layer ${lens.layers[l]}${half}${final} \u00b7 position ${p}`, showToken(lens.input[p]).text],
    ["top token", showToken(lens.token(id)).text],
    ["probability", `${formatProb(lens.topProb(l, p))} \u00b7 rank 1 of ${lens.k}`],
  ];
  if ((ctx.mode === "token" || ctx.mode === "group") && ctx.ids.length) {
    const t = lens.groupTrajectory(p, ctx.ids);
    const value = t ? formatProb(t[l]) : "not known here";
    if (ctx.ids.length === 1) {
      const r = rankOf(lens, l, p, ctx.ids[0]);
      const rank = r ? `rank ${r}` : `rank > ${lens.k}`;
      out.push([ctx.target, `${value} \u00b7 ${rank}`]);
    } else out.push([`${ctx.target} (sum)`, value]);
  }
  const mode = modeFact(lens, l, p, ctx);
  if (mode) out.push(mode);
  if (ctx.mode === "sublayer" && lens.hasSublayers) out.push(...sublayerFacts(lens, l, p));
  if (lens.entropy) {
    out.push(["entropy", formatEntropy(lens.entropy[l * lens.P + p], ctx.unit)]);
  }
  if (lens.klValues) {
    // A computed cell's KL is NaN only where the model's output (KL's reference) is not finite.
    const kl = lens.kl(l, p);
    if (Number.isNaN(kl))
      out.push(["KL undefined", "the model's output at this position is not finite"]);
    else out.push(["KL to output", formatEntropy(kl, ctx.unit)]);
  }
  return out;
}

/**
 * The color mode's value at cell (l, p) for the modes whose value the other lines do not
 * give (rank, logprob_diff, delta); null for the others.
 * @param {Lens} lens
 * @param {number} l
 * @param {number} p
 * @param {TipContext} ctx
 * @returns {[string, string] | null}
 */
function modeFact(lens, l, p, ctx) {
  const m = ctx.metric;
  if (!m || m.mode !== ctx.mode) return null;
  const v = m.value(l, p);
  const known = v !== null && !Number.isNaN(v);
  switch (m.mode) {
    case "rank": {
      const label = `rank of ${ctx.target}`;
      if (m.exact) return [label, known ? `${v.toLocaleString("en")} (exact)` : "not known here"];
      return [label, known ? `${v} (top-k)` : `> ${lens.k} (not in the top-k)`];
    }
    case "logprob_diff": {
      const label = `log p(${ctx.target}) \u2212 log p(${ctx.foil ?? ""})`;
      const how = m.exact ? "exact" : "from tracked probabilities";
      return [label, known ? `${signed(v, (x) => x.toFixed(2))} nats (${how})` : "not known here"];
    }
    case "delta": {
      const label = `change of p(${ctx.target})`;
      if (known)
        return [
          label,
          `${signed(v * 100, (x) => x.toFixed(1))} pp from layer ${lens.layers[l - 1]}`,
        ];
      return [label, l === 0 ? "first layer: no previous one" : "not known here"];
    }
    case "diff_token": {
      const [a, b] = ctx.labels ?? ["A", "B"];
      const label = `p(${ctx.target}): ${a} \u2212 ${b}`;
      if (known) return [label, `${signed(v * 100, (x) => x.toFixed(1))} pp`];
      return [label, ctx.b && p >= ctx.b.P ? `only ${a} has this position` : "not known here"];
    }
    case "jsd": {
      const [a, b] = ctx.labels ?? ["A", "B"];
      const label = `JSD of the top-k, ${a} vs ${b}`;
      if (known) return [label, formatEntropy(v, ctx.unit)];
      return [label, ctx.b && p >= ctx.b.P ? `only ${a} has this position` : "not known here"];
    }
    default:
      return null;
  }
}

/**
 * The "sublayer" mode's two lines at cell (l, p): the top-1 token's change by the layer's
 * attention and by its MLP (or why there is none).
 * @param {Lens} lens
 * @param {number} l
 * @param {number} p
 * @returns {[string, string][]}
 */
export function sublayerFacts(lens, l, p) {
  if (lens.rowKind(l) === ROW_ATTENTION) {
    return [["sub-layers", "colored on the layer's output row (after its MLP)"]];
  }
  const s = sublayerParts(lens, l, p);
  if (!s) return [["sub-layers", "this layer has no after-attention row here"]];
  const pp = (/** @type {number} */ v) => `${signed(v * 100, (x) => x.toFixed(1))} pp`;
  const token = showToken(lens.token(s.id)).text;
  const n = lens.layers[l];
  const from = n === 0 ? "from 0" : `from layer ${n - 1}'s output`;
  const larger = Number.isNaN(s.attention)
    ? "not known"
    : Math.abs(s.attention) >= Math.abs(s.mlp)
      ? "attention"
      : "MLP";
  return [
    [
      `attention's part for ${token}`,
      Number.isNaN(s.attention)
        ? `not known (layer ${n - 1}'s output was not collected)`
        : `${pp(s.attention)} (${from})`,
    ],
    [`MLP's part for ${token}`, `${pp(s.mlp)} (larger: ${larger})`],
  ];
}

export class CellTip {
  /**
   * @param {AbortSignal} signal
   * @param {HTMLElement} grid the grid's scrolling box (cells are inside it)
   * @param {HTMLElement} host the widget root the tooltip is placed in
   * @param {(cell: HTMLElement) => [string, string][] | null} facts
   */
  constructor(signal, grid, host, facts) {
    this.host = host;
    this.facts = facts;
    this.root = el("div", { class: "llk-celltip", attrs: { role: "tooltip" } });
    this.root.hidden = true;
    /** @type {HTMLElement | null} */
    this.cell = null;
    const o = { signal, passive: true };
    grid.addEventListener(
      "pointerover",
      (e) => {
        const cell = e.target instanceof Element ? e.target.closest(".llk-cell") : null;
        if (cell instanceof HTMLElement) this.show(cell);
        else this.hide();
      },
      o,
    );
    grid.addEventListener("pointerleave", () => this.hide(), o);
    // A click opens the popup, a scroll moves the cell: either way the tooltip is stale.
    grid.addEventListener("pointerdown", () => this.hide(), o);
    grid.addEventListener("scroll", () => this.hide(), o);
  }

  /** @param {HTMLElement} cell */
  show(cell) {
    if (cell === this.cell && !this.root.hidden) return;
    const facts = this.facts(cell);
    if (!facts) {
      this.hide();
      return;
    }
    this.cell = cell;
    const [head, ...rows] = facts;
    this.root.replaceChildren(
      el("div", { class: "llk-celltip-head" }, [
        el("span", { text: `${head[0]} ` }),
        el("span", { class: "llk-celltip-token", text: head[1] }),
      ]),
      ...rows.map(([label, value]) =>
        el("div", { class: "llk-celltip-row" }, [
          el("span", { class: "llk-celltip-label", text: label }),
          el("span", { class: "llk-celltip-value", text: value }),
        ]),
      ),
    );
    this.root.hidden = false;
    this.place(cell);
  }

  /**
   * Below the cell, or above it when the widget ends first; never past the widget's sides.
   * @param {HTMLElement} cell
   */
  place(cell) {
    const c = cell.getBoundingClientRect();
    const h = this.host.getBoundingClientRect();
    const tip = this.root.getBoundingClientRect();
    let top = c.bottom - h.top + 4;
    if (top + tip.height > h.height && c.top - h.top - tip.height - 4 >= 0) {
      top = c.top - h.top - tip.height - 4;
    }
    const left = Math.max(0, Math.min(c.left - h.left, h.width - tip.width));
    this.root.style.left = `${left}px`;
    this.root.style.top = `${top}px`;
  }

  hide() {
    this.cell = null;
    this.root.hidden = true;
  }
}
