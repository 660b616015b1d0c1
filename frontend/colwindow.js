// Which grid columns to build, and scrolling one into view: with every layer a column, an 80-layer grid would build and
// lay out 80 cells per row although ~20 are in view; only those in view (and a few beyond
// each edge, so a sideways wheel shows no blank strip) become cells.

/** Columns built beyond each edge of the view. */
const OVERSCAN = 3;

/**
 * The columns [first, end) that overlap the grid's view, widened by `overscan` each side.
 * @param {number[]} widths px of each column
 * @param {number} input px of the (sticky) input column before them
 * @param {number} left px the grid is scrolled sideways
 * @param {number} view px of the grid's visible width (0: not laid out yet, all columns)
 * @param {number} [overscan] columns beyond each edge
 * @returns {[number, number]}
 */
export function columnWindow(widths, input, left, view, overscan = OVERSCAN) {
  const n = widths.length;
  if (view <= 0) return [0, n];
  let x = input;
  let first = n;
  let end = n;
  for (let i = 0; i < n; i++) {
    const right = x + widths[i];
    if (first === n && right > left + input) first = i;
    if (x >= left + view) {
      end = i;
      break;
    }
    x = right;
  }
  return [Math.max(0, first - overscan), Math.min(n, end + overscan)];
}

/**
 * Run `fn` once the browser is idle (after the frame that shows what was just built), or
 * after `ms` at the latest; cancelled when `signal` aborts. Where requestIdleCallback is
 * missing (Safari), a timer.
 * @param {() => void} fn
 * @param {AbortSignal} signal
 * @param {number} [ms]
 */
export function whenIdle(fn, signal, ms = 200) {
  const ric = typeof requestIdleCallback === "function";
  const cancel = () => (ric ? cancelIdleCallback(id) : clearTimeout(id));
  const run = () => {
    signal.removeEventListener("abort", cancel);
    fn();
  };
  const id = ric ? requestIdleCallback(run, { timeout: ms }) : setTimeout(run, 50);
  signal.addEventListener("abort", cancel, { once: true });
}

/**
 * Scroll `root` sideways until column ci is clear of the sticky input column and the right
 * edge (keyboard moves: the grid scrolls with the active cell).
 * @param {HTMLElement} root the grid's scrolling box
 * @param {number[]} widths px of each column
 * @param {number} input px of the input column
 * @param {number} ci
 */
export function scrollToColumn(root, widths, input, ci) {
  let left = input;
  for (let i = 0; i < ci; i++) left += widths[i] ?? 0;
  const right = left + (widths[ci] ?? 0);
  if (left - input < root.scrollLeft) root.scrollLeft = left - input;
  else if (right > root.scrollLeft + root.clientWidth) root.scrollLeft = right - root.clientWidth;
}

/**
 * Whether two lenses have the same lens rows (layers and their kinds): data for the same
 * grid, whose sideways scroll the user set and keeps. Other data is a new grid, which opens
 * at its end (the last layers and the model's output, where the answer usually shows).
 * @param {{ layers: number[], rowKind: (l: number) => number } | null} a
 * @param {{ layers: number[], rowKind: (l: number) => number } | null} b
 */
export function sameLayers(a, b) {
  if (!a || !b || a.layers.length !== b.layers.length) return false;
  return a.layers.every((n, i) => n === b.layers[i] && a.rowKind(i) === b.rowKind(i));
}
