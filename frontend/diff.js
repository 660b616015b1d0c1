// The diff view's pure rules (src/logitlenskit/compare.py): side B (`compare_data`) against
// side A, positions aligned by index, layers shared.

import { CELL_OK } from "./lens.js";

/** @typedef {import("./lens.js").Lens} Lens */

/**
 * Jensen–Shannon divergence (nats) of two top-k lists, the rest of each side pooled into
 * one "other" bin (1 − the sum of its top-k, at least 0); a token in one list but not the
 * other counts 0 on the other side. In [0, ln 2]. The same rule as compare.py's `jsd_topk`.
 * @param {ArrayLike<number>} idsA
 * @param {ArrayLike<number>} probsA
 * @param {ArrayLike<number>} idsB
 * @param {ArrayLike<number>} probsB
 */
export function jsdTopk(idsA, probsA, idsB, probsB) {
  /** @type {Map<number, [number, number]>} token → [p, q] */
  const bins = new Map();
  for (let i = 0; i < idsA.length; i++) bins.set(idsA[i], [probsA[i], 0]);
  for (let i = 0; i < idsB.length; i++) {
    const bin = bins.get(idsB[i]);
    if (bin) bin[1] = probsB[i];
    else bins.set(idsB[i], [0, probsB[i]]);
  }
  let sumP = 0;
  let sumQ = 0;
  for (const [p, q] of bins.values()) {
    sumP += p;
    sumQ += q;
  }
  const pairs = [...bins.values(), [Math.max(0, 1 - sumP), Math.max(0, 1 - sumQ)]];
  let js = 0;
  for (const [p, q] of pairs) {
    const m = (p + q) / 2;
    if (p > 0) js += 0.5 * p * Math.log(p / m);
    if (q > 0) js += 0.5 * q * Math.log(q / m);
  }
  return Math.max(0, js);
}

/**
 * Whether cell (l, p) has numbers on both sides: p is a position of both (past the shorter
 * prompt only one side has it) and both cells are computed.
 * @param {Lens} a
 * @param {Lens} b
 * @param {number} l
 * @param {number} p
 */
export function bothSides(a, b, l, p) {
  return p < a.P && p < b.P && a.status(l, p) === CELL_OK && b.status(l, p) === CELL_OK;
}

/**
 * The JSD of cell (l, p)'s two top-k lists; NaN where one side has no numbers.
 * @param {Lens} a
 * @param {Lens} b
 * @param {number} l
 * @param {number} p
 */
export function cellJsd(a, b, l, p) {
  if (!bothSides(a, b, l, p)) return NaN;
  const i = a.cellBase(l, p);
  const j = b.cellBase(l, p);
  return jsdTopk(
    a.topkIds.subarray(i, i + a.k),
    a.topkProbs.subarray(i, i + a.k),
    b.topkIds.subarray(j, j + b.k),
    b.topkProbs.subarray(j, j + b.k),
  );
}

/**
 * Side B when it can be compared with side A: the same lens rows (layer numbers and kinds)
 * and the same k; else the reason it cannot.
 * @param {Lens} a
 * @param {Lens} b
 * @returns {string} "" when comparable
 */
export function mismatch(a, b) {
  const same =
    a.L === b.L && a.layers.every((n, l) => n === b.layers[l] && a.rowKind(l) === b.rowKind(l));
  if (!same) return `side B has layers [${b.layers.join(", ")}], side A [${a.layers.join(", ")}]`;
  if (a.k !== b.k) return `side B has k = ${b.k}, side A k = ${a.k}`;
  return "";
}

/** @typedef {import("./channel.js").Channel} Channel */
/** @typedef {{ id: number, prob: number }} Entry */

/**
 * Side B's deeper popup list: Python's `detail` for side B's run (`side: "b"`), asked for
 * beside side A's so the two columns grow alike (to DETAIL_K rows on opening, MORE_K on
 * "more"). The answer's trajectories go into side B's Lens, as side A's go into A's.
 */
export class SideBDetail {
  /**
   * @param {Channel} channel
   * @param {() => Lens | null} lensB side B as shown now (null: no diff)
   * @param {() => void} onAnswer refill the popup
   */
  constructor(channel, lensB, onAnswer) {
    this.channel = channel;
    this.lensB = lensB;
    this.onAnswer = onAnswer;
    /** @type {{ l: number, p: number, run: number, ids: number[] } | null} */
    this.deep = null;
    /** @type {AbortController | null} the request in flight */
    this.ctl = null;
  }

  /**
   * Ask for side B's `k` most probable tokens at cell (l, p), where side B has numbers there.
   * @param {number} k
   * @param {number} l
   * @param {number} p
   */
  load(k, l, p) {
    this.cancel();
    const b = this.lensB();
    if (!b || b.run === null || p >= b.P || b.status(l, p) !== CELL_OK) return;
    const ctl = new AbortController();
    this.ctl = ctl;
    const msg = { run: b.run, layer: b.layers[l], row: l, position: p, k, side: "b" };
    const done = () => {
      if (this.ctl === ctl) this.ctl = null;
    };
    this.channel.detail(msg, b.L, ctl.signal).then(
      (d) => {
        done();
        const now = this.lensB();
        if (!now || now.run !== d.run || now.L !== b.L) return; // side B changed: stale
        now.addTrajectories(p, d.ids, d.probs, d.tokens);
        this.deep = { l, p, run: d.run, ids: d.ids };
        this.onAnswer();
      },
      done, // side A's foot reports failures; side B keeps its top-k
    );
  }

  cancel() {
    this.ctl?.abort();
    this.ctl = null;
  }

  /**
   * Side B's deeper rows at cell (l, p), or null when Python has not answered for it.
   * @param {Lens} b
   * @param {number} l
   * @param {number} p
   * @returns {Entry[] | null}
   */
  entries(b, l, p) {
    const d = this.deep;
    if (!d || d.l !== l || d.p !== p || d.run !== b.run) return null;
    return d.ids.map((id) => ({ id, prob: b.trajectory(p, id)?.[l] ?? NaN }));
  }
}
