// Which lens rows become grid columns: fit the available width with a stride, always keeping
// the first and the last layer, and say truthfully what is shown.

/**
 * @typedef {object} Columns
 * @property {number[]} rows lens-row indices shown, ascending
 * @property {number} stride 1 when every row of the range is shown
 * @property {string} hint what is shown, in words
 */

/**
 * @param {object} o
 * @param {number[]} o.layers model layer index of each lens row
 * @param {number[]} o.zoom [] or [first, last] lens rows (clamped here)
 * @param {number} o.available px for layer columns
 * @param {number} o.columnWidth px per column
 * @returns {Columns}
 */
export function fitColumns({ layers, zoom, available, columnWidth }) {
  const [first, last] = zoomRange(zoom, layers.length);
  const n = last - first + 1;
  const fit = Math.max(2, Math.floor(available / Math.max(1, columnWidth)));
  const range = zoomed(zoom, layers.length) ? `layers ${layers[first]}\u2013${layers[last]}: ` : "";
  if (n <= fit) {
    const rows = Array.from({ length: n }, (_, i) => first + i);
    return { rows, stride: 1, hint: `${range}all ${n} layer${n === 1 ? "" : "s"}` };
  }
  const stride = Math.ceil((n - 1) / (fit - 1));
  const rows = [];
  for (let r = first; r < last; r += stride) rows.push(r);
  // The final layer is the model's own prediction: it must always be a column.
  if (rows.length >= fit) rows.pop();
  rows.push(last);
  return {
    rows,
    stride,
    hint: `${range}every ${stride} layers (${rows.length} of ${n}; first and last always shown)`,
  };
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

/**
 * The shown columns for a total width, and the chart geometry that aligns with them.
 * @param {import("./lens.js").Lens} lens
 * @param {Pick<import("./state.js").UIState, "x_zoom" | "input_column_width" | "column_width"
 *   | "chart_height">} s
 * @param {number} total px the widget may use
 * @param {number} scrollbar px the grid's scrollbar takes
 * @returns {{ hint: string, zoomed: boolean, geometry: import("./chart.js").Geometry }}
 */
export function chartColumns(lens, s, total, scrollbar) {
  const inputW = s.input_column_width;
  const cols = fitColumns({
    layers: lens.layers,
    zoom: s.x_zoom,
    available: total - inputW - scrollbar - 4,
    columnWidth: s.column_width,
  });
  return {
    hint: cols.hint,
    zoomed: zoomed(s.x_zoom, lens.L),
    geometry: {
      inputWidth: inputW + 1,
      columnWidth: s.column_width,
      cols: cols.rows,
      layers: lens.layers,
      height: s.chart_height,
    },
  };
}
