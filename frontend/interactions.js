// Pointer drags (resize handles) and keyboard navigation of the grid.

import { clampSize } from "./state.js";

/** @typedef {keyof typeof import("./schema.js").LIMITS} SizeKey */

/**
 * @typedef {object} DragHandlers
 * @property {() => void} [start]
 * @property {(dx: number, dy: number) => void} move pointer offset from where the drag began
 * @property {() => void} end
 */

/**
 * Make elements matching `selector` inside `container` drag handles. The pointer is captured
 * by the container, which outlives the handle (a resize may re-render the handle itself), so
 * no document listener is needed.
 * @param {HTMLElement} container
 * @param {string} selector
 * @param {AbortSignal} signal
 * @param {(handle: HTMLElement) => DragHandlers} begin called on pointerdown
 */
export function dragHandles(container, selector, signal, begin) {
  container.addEventListener(
    "pointerdown",
    (e) => {
      const handle = e.target instanceof Element ? e.target.closest(selector) : null;
      if (!(handle instanceof HTMLElement) || e.button !== 0) return;
      e.preventDefault();
      e.stopPropagation();
      const h = begin(handle);
      const x0 = e.clientX;
      const y0 = e.clientY;
      const moves = new AbortController();
      const stop = () => {
        moves.abort();
        handle.classList.remove("llk-dragging");
        h.end();
      };
      signal.addEventListener("abort", () => moves.abort(), { once: true, signal: moves.signal });
      const o = { signal: moves.signal };
      container.setPointerCapture?.(e.pointerId);
      handle.classList.add("llk-dragging");
      h.start?.();
      container.addEventListener("pointermove", (m) => h.move(m.clientX - x0, m.clientY - y0), o);
      container.addEventListener("pointerup", stop, o);
      container.addEventListener("pointercancel", stop, o);
    },
    { signal },
  );
}

/**
 * New active cell for a navigation key, or null when the key is not a navigation key.
 * @param {string} key
 * @param {{ ci: number, p: number }} at
 * @param {{ cols: number, rows: number, page: number }} size
 * @returns {{ ci: number, p: number } | null}
 */
export function navigate(key, at, size) {
  const { ci, p } = at;
  switch (key) {
    case "ArrowLeft":
      return { ci: ci - 1, p };
    case "ArrowRight":
      return { ci: ci + 1, p };
    case "ArrowUp":
      return { ci, p: p - 1 };
    case "ArrowDown":
      return { ci, p: p + 1 };
    case "Home":
      return { ci: 0, p };
    case "End":
      return { ci: size.cols - 1, p };
    case "PageUp":
      return { ci, p: p - size.page };
    case "PageDown":
      return { ci, p: p + size.page };
    default:
      return null;
  }
}

/**
 * The widget's resize handles: column width (spread over the columns left of the dragged
 * edge, so the edge stays under the pointer), input column, table width, grid and chart
 * height. A drag updates its trait live (other outputs follow) and syncs it once at the end.
 * @param {HTMLElement} root the widget's root
 * @param {AbortSignal} signal
 * @param {object} io
 * @param {(key: SizeKey) => number} io.get the trait's current value
 * @param {(key: SizeKey, value: number) => void} io.set set it without syncing
 * @param {() => void} io.save sync to Python
 * @param {() => number} io.gridHeight the grid's rendered height (its trait may exceed it)
 */
export function resizeHandles(root, signal, io) {
  /**
   * @param {SizeKey} key
   * @param {(dx: number, dy: number, start: number) => number} next
   * @param {() => number} [startValue]
   * @returns {DragHandlers}
   */
  const sizeDrag = (key, next, startValue) => {
    const start = startValue ? startValue() : io.get(key);
    return {
      move: (dx, dy) => io.set(key, clampSize(next(dx, dy, start), key)),
      end: () => io.save(),
    };
  };
  dragHandles(root, ".llk-resize-col", signal, (h) => {
    const n = Number(/** @type {HTMLElement} */ (h.parentElement).dataset.ci) + 1;
    return sizeDrag("column_width", (dx, _dy, w) => w + dx / n);
  });
  dragHandles(root, ".llk-resize-input", signal, () =>
    sizeDrag("input_column_width", (dx, _dy, w) => w + dx),
  );
  dragHandles(root, ".llk-resize-table", signal, () =>
    sizeDrag(
      "table_width",
      (dx, _dy, w) => w + dx,
      () => root.offsetWidth,
    ),
  );
  dragHandles(root, ".llk-resize-chart", signal, () =>
    sizeDrag("chart_height", (_dx, dy, h) => h + dy),
  );
  dragHandles(root, ".llk-resize-grid", signal, () =>
    sizeDrag("grid_height", (_dx, dy, h) => h + dy, io.gridHeight),
  );
}

/**
 * Call `fn` with the element's new width whenever it changes (a notebook panel resized, a
 * sidebar toggled): the output element, never `window`, decides the widget's width.
 * @param {HTMLElement} host
 * @param {(width: number) => void} fn
 * @returns {ResizeObserver} disconnect it when done
 */
export function observeWidth(host, fn) {
  const ro = new ResizeObserver((entries) => {
    const w = entries[entries.length - 1].contentRect.width;
    if (w > 0) fn(w);
  });
  ro.observe(host);
  return ro;
}
