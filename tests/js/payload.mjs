// A small hand-built version-3 payload (docs/data-format.md §3), its byte fields as
// DataViews into one shared buffer, as the widget receives them.

/** L = 2 lens rows, P = 2 positions, k = 2. */
export const TRACKED = {
  // position → id → [L] probabilities
  0: { 1: [0.6, 0.1], 2: [0.3, 0.7], 3: [0.05, 0.15] },
  1: { 2: [0.5, 0.2], 3: [0.1, 0.1], 5: [0.3, 0.6] },
};

/** Pack typed arrays into one buffer at `lead` bytes in, and return DataViews into it. */
function pack(arrays, lead = 8) {
  const size = arrays.reduce((n, a) => n + a.byteLength, lead);
  const buf = new ArrayBuffer(size);
  let at = lead;
  return arrays.map((a) => {
    new Uint8Array(buf, at, a.byteLength).set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
    const view = new DataView(buf, at, a.byteLength);
    at += a.byteLength;
    return view;
  });
}

/**
 * @param {object} [o]
 * @param {Record<string, any>} [o.patch] fields to replace
 * @param {Uint8Array} [o.status] cell_status [L, P]
 * @param {Record<string, (a: any) => void>} [o.edit] change a byte field's values before packing
 * @param {Record<string, any>} [o.extra] more byte fields (typed arrays) to pack
 */
export function payload({ patch = {}, status, edit = {}, extra = {} } = {}) {
  const arrays = {
    tracked_offsets: new Int32Array([0, 3, 6]),
    tracked_ids: new Int32Array([1, 2, 3, 2, 3, 5]),
    tracked_probs: new Float32Array([0.6, 0.1, 0.3, 0.7, 0.05, 0.15, 0.5, 0.2, 0.1, 0.1, 0.3, 0.6]),
    // [L, P, k]: l0p0, l0p1, l1p0, l1p1
    topk_ids: new Int32Array([1, 2, 2, 5, 2, 3, 5, 2]),
    topk_probs: new Float32Array([0.6, 0.3, 0.5, 0.3, 0.7, 0.15, 0.6, 0.2]),
    entropy: new Float32Array([1.0, 0.5, 0.25, 2.0]),
  };
  if (status) arrays.cell_status = status;
  Object.assign(arrays, extra);
  for (const [key, f] of Object.entries(edit)) f(arrays[key]);
  const keys = Object.keys(arrays);
  const views = pack(keys.map((k) => arrays[k]));
  return {
    version: 3,
    model: "tiny",
    input: ["a", " b"],
    input_ids: [1, 2],
    layers: [0, 1],
    num_layers: 2,
    k: 2,
    vocab: { 1: "a", 2: " b", 3: "\n", 5: "x" },
    ...Object.fromEntries(keys.map((k, i) => [k, views[i]])),
    ...patch,
  };
}

/**
 * The exact metrics of the payload above (docs/data-format.md §3): KL [L, P] and two
 * targets, " b" (id 2) and "\n" (id 3), with log-probabilities and ranks [T, L, P]. Id 3 is
 * outside the top-k at three cells: only its exact ranks know them (3, 4 and 3).
 */
export function metrics() {
  const lp = (xs) => new Float32Array(xs.map(Math.log));
  return {
    patch: {
      targets: [
        { name: "b", ids: [2] },
        { name: "newline", ids: [3] },
      ],
    },
    extra: {
      kl: new Float32Array([0.8, 0.4, 0, 0]),
      // [t][l][p]: id 2 is 0.3, 0.5 / 0.7, 0.2; id 3 is 0.05, 0.1 / 0.15, 0.1
      target_logprobs: lp([0.3, 0.5, 0.7, 0.2, 0.05, 0.1, 0.15, 0.1]),
      target_ranks: new Int32Array([2, 1, 1, 2, 3, 4, 2, 3]),
    },
  };
}
