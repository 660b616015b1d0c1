// The decoded logit-lens data, keyed by token id, with the queries the views need.

// An id whose text the data does not carry (yet) shows as UNKNOWN_TOKEN, never a bare "#id".
import { UNKNOWN_TOKEN } from "./schema.js";
import { CELL_OK, POS_PROMPT, ROW_ATTENTION, ROW_OUTPUT } from "./lenscodes.js";
import { idKey, maxId, maxOk, maxOkRank } from "./lensqueries.js";
import { LOGIT_LENS } from "./lensinfo.js";

export * from "./lenscodes.js";
export { bestAtAnyLayer, idKey, sublayerSplit } from "./lensqueries.js";

/** A named target of the payload: a token, or tokens whose probabilities are summed. */
/** @typedef {import("./schema.js").Target} Target */

/**
 * Decoded lens data. Arrays are flat, C order:
 * topkIds/topkProbs [L, P, k], trackedProbs [T, L], entropy [L, P], cellStatus [L, P], and
 * the optional exact metrics klValues [L, P], targetLogprobs and targetRanks [targets, L, P].
 *
 * Trajectories live in two places. The payload's own tracked tokens stay in the sorted,
 * zero-copy arrays (`trackedIds` per position, found by binary search). Trajectories that
 * arrive later for the same run (a `detail` answer) go into `extra`, one Map per position
 * from id to its [L] probabilities: the payload's arrays are views into the message buffer
 * and are never rebuilt, and a click adds at most 100 ids to one position, which a Map takes
 * in O(1) each. `trajectory()` looks in the sorted arrays first, then in `extra`.
 */
export class Lens {
  /**
   * @param {object} f
   * @param {string} f.model
   * @param {string[]} f.input
   * @param {number[]} f.inputIds
   * @param {number[]} f.layers
   * @param {number} f.k
   * @param {Map<number, string>} f.vocab
   * @param {Int32Array} f.topkIds
   * @param {Float32Array} f.topkProbs
   * @param {Int32Array} f.trackedOffsets
   * @param {Int32Array} f.trackedIds
   * @param {Float32Array} f.trackedProbs
   * @param {Float32Array | null} f.entropy
   * @param {boolean} f.fromV2 true when ids were assigned per string by the widget
   * @param {number | null} f.numLayers the model's layer count, when the data says
   * @param {number | null} [f.run] the collection the data came from (null: not live)
   * @param {Uint8Array | null} [f.rowKinds] [L] ROW_* per lens row; null = all layer outputs
   * @param {Uint8Array | null} [f.cellStatus] [L, P] CELL_* per cell; null = all computed
   * @param {Float32Array | null} [f.kl] [L, P] KL(final output ‖ lens) in nats
   * @param {Target[] | null} [f.targets] named targets (exact metrics below)
   * @param {Float32Array | null} [f.targetLogprobs] [targets, L, P] log of the summed probability
   * @param {Int32Array | null} [f.targetRanks] [targets, L, P] 1-based rank of the best member
   * @param {Uint8Array | null} [f.positionKinds] [P] POS_* per position; null = all prompt text
   * @param {Int32Array | null} [f.commitment] [P] per generated position p, the first lens row
   *   from which its token is position p - 1's top-1 to the last row; -1 for none
   * @param {Int32Array | null} [f.enteredTopk] [P] the same for staying in the top-k
   * @param {readonly LlkEdit[]} [f.edits] the edits this run was made with (edits.js)
   * @param {string} [f.lensName] the lens that produced the data (lensinfo.js)
   * @param {import("./lensinfo.js").Reliability | null} [f.reliability] its per-row reliability
   */
  constructor(f) {
    /** @type {string} */ this.model = f.model;
    /** @type {string[]} */ this.input = f.input;
    /** @type {number[]} */ this.inputIds = f.inputIds;
    /** @type {number[]} */ this.layers = f.layers;
    /** @type {number} */ this.k = f.k;
    /** @type {Map<number, string>} */ this.vocab = f.vocab;
    /** @type {Int32Array} */ this.topkIds = f.topkIds;
    /** @type {Float32Array} */ this.topkProbs = f.topkProbs;
    /** @type {Int32Array} */ this.trackedOffsets = f.trackedOffsets;
    /** @type {Int32Array} */ this.trackedIds = f.trackedIds;
    /** @type {Float32Array} */ this.trackedProbs = f.trackedProbs;
    /** @type {Float32Array | null} */ this.entropy = f.entropy;
    /** @type {boolean} */ this.fromV2 = f.fromV2;
    this.L = f.layers.length;
    this.P = f.input.length;
    /**
     * Lens row of the model's own last layer (its prediction), or -1 when that layer was not
     * collected. Data that does not say how many layers the model has (seed V2) is taken to
     * end at the last layer.
     */
    /** @type {Uint8Array | null} */ this.rowKinds = f.rowKinds ?? null;
    // With sub-layer rows the final layer appears twice: its output row is the final one.
    const kinds = this.rowKinds;
    const lastLayer = f.numLayers === null ? -1 : f.numLayers - 1;
    this.finalRow =
      f.numLayers === null
        ? this.L - 1
        : f.layers.findIndex((n, i) => n === lastLayer && (!kinds || kinds[i] === ROW_OUTPUT));
    /** @type {number | null} */ this.numLayers = f.numLayers;
    /** @type {number | null} */ this.run = f.run ?? null;
    /** @type {Uint8Array | null} */ this.cellStatus = f.cellStatus ?? null;
    /** whether some lens row is a layer's after-attention half (sub-layer rows) */
    this.hasSublayers = !!this.rowKinds?.includes(ROW_ATTENTION);
    /** positions with at least one cell that is not computed (their lines get gaps) */
    this.incomplete = new Set();
    const st = this.cellStatus;
    if (st)
      for (let i = 0; i < st.length; i++) if (st[i] !== CELL_OK) this.incomplete.add(i % this.P);
    this.maxEntropy = maxOk(f.entropy, st);
    /** @type {Map<number, Map<number, Float32Array>>} position → id → [L] probabilities */
    this.extra = new Map();
    /** @type {Float32Array | null} */ this.klValues = f.kl ?? null;
    /** @type {Target[]} */ this.targets = f.targets ?? [];
    /** @type {Float32Array | null} */ this.targetLogprobs = f.targetLogprobs ?? null;
    /** @type {Int32Array | null} */ this.targetRanks = f.targetRanks ?? null;
    /** @type {Map<string, number>} target index by its sorted ids */
    this.targetKeys = new Map();
    this.targets.forEach((t, i) => {
      const key = idKey(t.ids);
      if (!this.targetKeys.has(key)) this.targetKeys.set(key, i);
    });
    /**
     * The largest rank a cell can have, as far as the data shows the vocabulary: its largest
     * token id + 1, any exact rank, and k + 1 (the rank color scale ends there).
     */
    this.maxRank = Math.max(2, this.k + 1, maxId(f.vocab) + 1, maxOkRank(this));
    /** @type {Uint8Array | null} */ this.positionKinds = f.positionKinds ?? null;
    /** @type {Int32Array | null} */ this.commitment = f.commitment ?? null;
    /** @type {Int32Array | null} */ this.enteredTopk = f.enteredTopk ?? null;
    /** @type {readonly LlkEdit[]} an edited run's edits; empty: the model's own output */
    this.edits = f.edits ?? [];
    /** the lens that produced the numbers: every view that shows them names it */
    this.lensName = f.lensName ?? LOGIT_LENS;
    /** whether the data names its lens (data from before issue 21 does not) */
    this.lensNamed = f.lensName !== undefined;
    /** @type {import("./lensinfo.js").Reliability | null} how far to trust each lens row */
    this.reliability = f.reliability ?? null;
  }

  /**
   * POS_PROMPT, POS_TEMPLATE (a chat-template or special token) or POS_GENERATED.
   * @param {number} p
   */
  kind(p) {
    return this.positionKinds ? this.positionKinds[p] : POS_PROMPT;
  }

  /**
   * ROW_OUTPUT (the residual after the whole layer) or ROW_ATTENTION (after its attention,
   * before its MLP).
   * @param {number} l
   */
  rowKind(l) {
    return this.rowKinds ? this.rowKinds[l] : ROW_OUTPUT;
  }

  /**
   * A lens row's short label: its layer number, "12·a" for layer 12's after-attention row.
   * @param {number} l
   */
  rowLabel(l) {
    return this.rowKind(l) === ROW_ATTENTION ? `${this.layers[l]}\u00b7a` : String(this.layers[l]);
  }

  /**
   * A lens row in words: "layer 12", or with sub-layer rows "layer 12, after attention
   * (before the MLP)" / "layer 12, after the layer".
   * @param {number} l
   */
  rowTitle(l) {
    const n = `layer ${this.layers[l]}`;
    if (!this.hasSublayers) return n;
    return this.rowKind(l) === ROW_ATTENTION
      ? `${n}, after attention (before the MLP)`
      : `${n}, after the layer`;
  }

  /**
   * The after-attention row of the same layer just before output row l, or -1 when l has
   * none (it is not an output row, or its layer has no attention row in the data).
   * @param {number} l
   */
  attentionRow(l) {
    const k = this.rowKinds;
    if (!k || l < 1 || k[l] !== ROW_OUTPUT || k[l - 1] !== ROW_ATTENTION) return -1;
    return this.layers[l - 1] === this.layers[l] ? l - 1 : -1;
  }

  /**
   * What the attention of after-attention row a is measured from: the lens row of the
   * previous layer's output when it is the row before a, -1 for layer 0 (measured from a
   * probability of 0), null when the residual entering the layer was not collected (a gap
   * in the layers: the change from the row before would mix in whole layers).
   * @param {number} a
   * @returns {number | null}
   */
  residualBefore(a) {
    const n = this.layers[a];
    if (n === 0) return -1;
    if (a >= 1 && this.rowKind(a - 1) === ROW_OUTPUT && this.layers[a - 1] === n - 1) return a - 1;
    return null;
  }

  /**
   * KL divergence (nats) of cell (l, p)'s lens distribution from the model's final output;
   * NaN when the data has none or the cell is not computed.
   * @param {number} l
   * @param {number} p
   */
  kl(l, p) {
    const v = this.klValues;
    return v && this.status(l, p) === CELL_OK ? Math.max(0, v[l * this.P + p]) : NaN;
  }

  /**
   * Largest KL over the computed cells of lens rows `rows` (all rows when omitted); 0 if none.
   * @param {number[]} [rows]
   */
  maxKl(rows) {
    let m = 0;
    if (!this.klValues) return m;
    for (const l of rows ?? this.layers.keys()) {
      for (let p = 0; p < this.P; p++) {
        const v = this.kl(l, p);
        if (v > m) m = v;
      }
    }
    return m;
  }

  /**
   * Index of the payload target whose id set is exactly `ids` (order and repeats aside), or
   * -1: only then are that target's exact log-probabilities and ranks the values of `ids`.
   * @param {number[]} ids
   */
  targetIndex(ids) {
    if (!ids.length || !this.targetLogprobs) return -1;
    return this.targetKeys.get(idKey(ids)) ?? -1;
  }

  /**
   * Exact log of target t's (summed) probability at cell (l, p), -Infinity for 0; NaN when
   * the cell is not computed.
   * @param {number} t
   * @param {number} l
   * @param {number} p
   */
  targetLogProb(t, l, p) {
    const a = this.targetLogprobs;
    if (!a || this.status(l, p) !== CELL_OK) return NaN;
    return Math.min(0, a[(t * this.L + l) * this.P + p]);
  }

  /**
   * Exact 1-based vocabulary rank of target t's best member at cell (l, p); NaN when the
   * cell is not computed.
   * @param {number} t
   * @param {number} l
   * @param {number} p
   */
  targetRank(t, l, p) {
    const a = this.targetRanks;
    if (!a || this.status(l, p) !== CELL_OK) return NaN;
    return a[(t * this.L + l) * this.P + p];
  }

  /**
   * Best 1-based rank among `ids` in cell (l, p)'s top-k, or 0 when none of them is there.
   * @param {number} l
   * @param {number} p
   * @param {number[]} ids
   */
  topkRank(l, p, ids) {
    const base = this.cellBase(l, p);
    for (let j = 0; j < this.k; j++) if (ids.includes(this.topkIds[base + j])) return j + 1;
    return 0;
  }

  /**
   * The token's decoded text; UNKNOWN_TOKEN while the data lacks it.
   * @param {number} id
   */
  token(id) {
    return this.vocab.get(id) ?? UNKNOWN_TOKEN;
  }

  /**
   * CELL_OK, CELL_INVALID or CELL_PENDING. Top-k of a cell that is not OK is meaningless.
   * @param {number} l
   * @param {number} p
   */
  status(l, p) {
    return this.cellStatus ? this.cellStatus[l * this.P + p] : CELL_OK;
  }

  /**
   * `values` (one per lens row of position p) with NaN where p's cell is not computed; the
   * same array when all of p's cells are.
   * @param {number} p
   * @param {Float32Array} values
   */
  masked(p, values) {
    if (!this.incomplete.has(p)) return values;
    const out = Float32Array.from(values);
    for (let l = 0; l < this.L; l++) if (this.status(l, p) !== CELL_OK) out[l] = NaN;
    return out;
  }

  /**
   * Add exact trajectories of more tokens at position p (a `detail` answer for this run).
   * Ids the payload already tracks keep the payload's values; `strings` extend the vocab.
   * @param {number} p
   * @param {ArrayLike<number>} ids
   * @param {Float32Array} probs [n, L], row i is ids[i]'s trajectory
   * @param {string[]} strings decoded text of each id
   */
  addTrajectories(p, ids, probs, strings) {
    const map = this.extra.get(p) ?? new Map();
    this.extra.set(p, map);
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      if (!this.vocab.has(id) && strings[i] !== undefined) this.vocab.set(id, strings[i]);
      if (this.trackedRow(p, id) < 0) map.set(id, probs.slice(i * this.L, (i + 1) * this.L));
    }
  }

  /**
   * Whether this data is `old`'s run extended (docs/live-loop.md): same `run`, same lens rows,
   * and `old`'s positions with the same tokens, maybe followed by more (a generation adds one
   * per token; positions never go away within a run), so cells, popup and selection mean the
   * same thing in both.
   * @param {Lens} old
   */
  continues(old) {
    return (
      this.run !== null &&
      this.run === old.run &&
      // Another lens's numbers are other numbers, whatever run they are filed under.
      this.lensName === old.lensName &&
      this.P >= old.P &&
      this.layers.length === old.layers.length &&
      this.layers.every((l, i) => l === old.layers[i] && this.rowKind(i) === old.rowKind(i)) &&
      old.input.every((t, p) => t === this.input[p])
    );
  }

  /**
   * Take over what an older Lens learned since its payload arrived: token texts always (ids
   * name the same tokens for one model), and added trajectories when both are the same run
   * (then they are still exact).
   * @param {Lens} old
   * @param {boolean} sameRun
   */
  adopt(old, sameRun) {
    if (old.model !== this.model) return;
    for (const [id, text] of old.vocab) if (!this.vocab.has(id)) this.vocab.set(id, text);
    if (!sameRun) return;
    for (const [p, map] of old.extra) {
      for (const [id, t] of map) {
        if (this.trackedRow(p, id) >= 0) continue;
        const mine = this.extra.get(p) ?? new Map();
        this.extra.set(p, mine);
        mine.set(id, t);
      }
    }
  }

  /**
   * Index of cell (layer row l, position p)'s first top-k entry.
   * @param {number} l
   * @param {number} p
   */
  cellBase(l, p) {
    return (l * this.P + p) * this.k;
  }

  /**
   * @param {number} l
   * @param {number} p
   */
  topId(l, p) {
    return this.topkIds[this.cellBase(l, p)];
  }

  /**
   * @param {number} l
   * @param {number} p
   */
  topProb(l, p) {
    return this.topkProbs[this.cellBase(l, p)];
  }

  /**
   * Row of token `id` among position p's tracked tokens, or -1 (ids are sorted per position).
   * @param {number} p
   * @param {number} id
   */
  trackedRow(p, id) {
    let lo = this.trackedOffsets[p];
    let hi = this.trackedOffsets[p + 1] - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const v = this.trackedIds[mid];
      if (v === id) return mid;
      if (v < id) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }

  /**
   * Probability of `id` at every lens row for position p (a view, no copy), or null when
   * neither the payload nor a later answer has it there.
   * @param {number} p
   * @param {number} id
   * @returns {Float32Array | null}
   */
  trajectory(p, id) {
    const row = this.trackedRow(p, id);
    if (row < 0) return this.extra.get(p)?.get(id) ?? null;
    return this.trackedProbs.subarray(row * this.L, (row + 1) * this.L);
  }

  /**
   * Summed trajectory of several ids at position p; null when none of them is tracked there.
   * @param {number} p
   * @param {number[]} ids
   */
  groupTrajectory(p, ids) {
    if (ids.length === 1) return this.trajectory(p, ids[0]);
    /** @type {Float32Array | null} */
    let sum = null;
    for (const id of ids) {
      const t = this.trajectory(p, id);
      if (!t) continue;
      sum ??= new Float32Array(this.L);
      for (let l = 0; l < this.L; l++) sum[l] += t[l];
    }
    return sum;
  }

  /**
   * 1-based rank of `id` at each lens row for position p; NaN where it is outside the top-k
   * (its rank is unknown there, not "k + 1") or the cell is not computed.
   * @param {number} p
   * @param {number} id
   */
  rankTrajectory(p, id) {
    const out = new Float32Array(this.L).fill(NaN);
    for (let l = 0; l < this.L; l++) {
      if (this.status(l, p) !== CELL_OK) continue;
      const base = this.cellBase(l, p);
      for (let j = 0; j < this.k; j++) {
        if (this.topkIds[base + j] === id) {
          out[l] = j + 1;
          break;
        }
      }
    }
    return out;
  }
}
