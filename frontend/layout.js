// Which lens rows become grid columns and how wide each is: every layer of the zoom range
// (the grid and chart scroll sideways when they do not fit), each column as wide as its
// widest token needs when there is room, the final layer's never cut, and the space left
// over shared out so a zoom to a few layers fills the output instead of leaving it half
// empty. fitColumns can also spread a given number of columns evenly over the range.

/**
 * @typedef {object} Columns
 * @property {number[]} rows lens-row indices shown, ascending
 * @property {number} stride 1 when every row of the range is shown, else the widest gap
 * @property {string} hint what is shown, in words
 */

/**
 * The lens rows to show: every row of the zoom range when they fit, else `fit` rows spread
 * as evenly as whole rows allow (gaps differ by at most one), first and last included.
 * With sub-layer rows (`kinds`: 1 = a layer's after-attention row, followed by that layer's
 * output row) a layer's two rows are one unit: units are spread instead of rows, so an
 * after-attention row is never shown without its layer's output row, and a zoom that cuts a
 * pair takes in its other half.
 * @param {object} o
 * @param {number[]} o.layers model layer index of each lens row
 * @param {number[]} o.zoom [] or [first, last] lens rows (clamped here)
 * @param {number} o.available px for layer columns
 * @param {number} o.columnWidth px per column (the narrowest a column gets)
 * @param {number} [o.count] at most this many columns (fewer than the width allows)
 * @param {ArrayLike<number> | null} [o.kinds] each lens row's kind (row_kinds); null: all 0
 * @returns {Columns}
 */
export function fitColumns({ layers, zoom, available, columnWidth, count, kinds = null }) {
  let [first, last] = zoomRange(zoom, layers.length);
  const paired = (/** @type {number} */ i) =>
    !!kinds && kinds[i] === 1 && i + 1 < layers.length && layers[i + 1] === layers[i];
  if (kinds && first > 0 && paired(first - 1)) first--;
  if (kinds && paired(last)) last++;
  const n = last - first + 1;
  let fit = Math.max(2, Math.floor(available / Math.max(1, columnWidth)));
  if (count !== undefined) fit = Math.max(2, Math.min(fit, count));
  const range = zoomed(zoom, layers.length) ? `layers ${layers[first]}\u2013${layers[last]}: ` : "";
  /** @type {number[][]} units of rows: a layer's pair, or one row */
  const units = [];
  for (let i = first; i <= last; i++) units.push(paired(i) ? [i, ++i] : [i]);
  const u = units.length;
  const pairs = units.some((x) => x.length === 2);
  const what = (/** @type {number} */ m) =>
    pairs
      ? `${m} layer${m === 1 ? "" : "s"} (2 rows each: after attention, after the layer)`
      : `${m} layer${m === 1 ? "" : "s"}`;
  if (n <= fit) {
    const rows = Array.from({ length: n }, (_, i) => first + i);
    return { rows, stride: 1, hint: `${range}all ${what(u)}` };
  }
  /** @param {number} m units to spread @returns {number[][]} */
  const spread = (m) => {
    const out = [];
    for (let i = 0; i < m; i++) out.push(units[Math.round((i * (u - 1)) / Math.max(1, m - 1))]);
    return out;
  };
  let chosen = spread(Math.min(u, fit));
  for (let m = Math.min(u, fit); m > 2 && chosen.flat().length > fit; m--) chosen = spread(m - 1);
  const rows = chosen.flat();
  let lo = Infinity;
  let hi = 0;
  for (let i = 1; i < chosen.length; i++) {
    const gap = layers[chosen[i][0]] - layers[chosen[i - 1][0]];
    lo = Math.min(lo, gap);
    hi = Math.max(hi, gap);
  }
  if (chosen.length < 2) [lo, hi] = [1, 1];
  const every = lo === hi ? `every ${hi} layers` : `every ${lo}\u2013${hi} layers`;
  const of = pairs
    ? `${chosen.length} of ${u} layers, both rows of each`
    : `${rows.length} of ${n}`;
  return {
    rows,
    stride: hi,
    hint: `${range}${every} (${of}; first and last always shown)`,
  };
}

/**
 * Column widths for the shown columns: each at least `min` and, room allowing, what its
 * text needs; the final layer's need is met first (it is the model's answer), the others
 * shrink in proportion to what they ask beyond `min`; the space left over is shared evenly.
 * Null when even `min` for every column and the final column's need do not fit.
 * @param {object} o
 * @param {number[]} o.needs px each column's text needs (padding included)
 * @param {number} o.min px
 * @param {number} o.available px
 * @param {number} o.final index of the final layer's column, or -1
 * @returns {number[] | null} whole px
 */
export function columnWidths({ needs, min, available, final }) {
  const want = needs.map((w) => Math.max(min, Math.ceil(w)));
  const total = want.reduce((a, b) => a + b, 0);
  if (total <= available) {
    const extra = (available - total) / Math.max(1, want.length);
    return want.map((w) => Math.floor(w + extra));
  }
  const finalExtra = final >= 0 ? want[final] - min : 0;
  const room = available - min * want.length - finalExtra;
  if (room < 0) return null;
  const asked = total - min * want.length - finalExtra;
  const f = asked > 0 ? room / asked : 0;
  return want.map((w, i) => (i === final ? w : Math.floor(min + (w - min) * f)));
}

/**
 * @param {number[]} zoom
 * @param {number} L
 * @returns {[number, number]}
 */
export function zoomRange(zoom, L) {
  if (zoom.length !== 2) return [0, L - 1];
  const a = Math.min(Math.max(0, zoom[0]), L - 1);
  const b = Math.min(Math.max(a, zoom[1]), L - 1);
  return [a, b];
}

/**
 * @param {number[]} zoom
 * @param {number} L
 */
export function zoomed(zoom, L) {
  const [a, b] = zoomRange(zoom, L);
  return a > 0 || b < L - 1;
}

/** The traits' sizes are for a 12 px font; A+ / A− scale them with the text. */
export const BASE_FONT = 12;
/** A column's padding and borders beyond its text, in em (widget.css .llk-cell). */
const CELL_PAD_EM = 0.6;
const CELL_BORDERS = 4;
/** Widest a column grows for its text, in em: tokens beyond it are cut (full text on hover). */
const MAX_TEXT_EM = 9;
/** The final layer is the answer: it may grow further before it is cut. */
const MAX_FINAL_EM = 18;

/**
 * The shown columns and their widths for a total width, and the chart geometry that aligns
 * with them. Every lens row of the zoom range is a column: a stride hid the layers where
 * predictions change (a 30-layer model at ~950 px showed 14 and hid layer 28). When they
 * do not fit at their narrowest, the grid and the chart scroll sideways together; each
 * column is then `column_width` wide, the final layer's as wide as its answer needs.
 * @param {import("./lens.js").Lens} lens
 * @param {Pick<import("./state.js").UIState, "x_zoom" | "input_column_width" | "column_width"
 *   | "chart_height" | "font_size">} s
 * @param {number} total px the widget may use
 * @param {number} scrollbar px the grid's scrollbar takes
 * @param {(l: number) => number} [textWidth] px the widest text of lens row l's cells takes
 *   (0 when not measured: columns are then `column_width` wide, shared space aside)
 * @returns {{ hint: string, zoomed: boolean, scrolls: boolean,
 *   geometry: import("./chart.js").Geometry }}
 */
export function chartColumns(lens, s, total, scrollbar, textWidth = () => 0) {
  const scale = s.font_size / BASE_FONT;
  const inputW = Math.round(s.input_column_width * scale);
  const min = Math.round(s.column_width * scale);
  // The root's right padding (6) and the grid's borders (2): columns fill exactly the rest.
  const available = Math.max(0, total - inputW - scrollbar - 8);
  const pad = CELL_PAD_EM * s.font_size + CELL_BORDERS;
  const need = (/** @type {number} */ l) => {
    const cap = (l === lens.finalRow ? MAX_FINAL_EM : MAX_TEXT_EM) * s.font_size;
    return Math.min(cap, textWidth(l)) + pad;
  };
  const kinds = lens.rowKinds;
  const cols = fitColumns({
    layers: lens.layers,
    zoom: s.x_zoom,
    available: Infinity,
    columnWidth: min,
    kinds,
  });
  const final = cols.rows.indexOf(lens.finalRow);
  // Measuring every row's tokens costs a first render of 80 layers ~10 ms: when even the
  // narrowest columns overflow, only the final layer's width depends on its text.
  const overflow = cols.rows.length * min > available;
  const widths =
    (!overflow && columnWidths({ needs: cols.rows.map(need), min, available, final })) ||
    cols.rows.map((l, i) => (i === final ? Math.max(min, Math.ceil(need(l))) : min));
  const scrolls = widths.reduce((a, b) => a + b, 0) > available;
  return {
    hint: scrolls
      ? `${cols.hint} (the grid scrolls sideways; the earlier layers are to the left)`
      : cols.hint,
    zoomed: zoomed(s.x_zoom, lens.L),
    scrolls,
    geometry: {
      inputWidth: inputW + 1,
      widths,
      cols: cols.rows,
      layers: lens.layers,
      labels: lens.layers.map((_, l) => lens.rowLabel(l)),
      kinds: kinds ? Array.from(kinds) : null,
      height: s.chart_height,
      fontSize: s.font_size,
    },
  };
}
