// Pointer drags (resize handles) and keyboard navigation of the grid.

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
  container.addEventListener("pointerdown", (e) => {
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
  }, { signal });
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
    case "ArrowLeft": return { ci: ci - 1, p };
    case "ArrowRight": return { ci: ci + 1, p };
    case "ArrowUp": return { ci, p: p - 1 };
    case "ArrowDown": return { ci, p: p + 1 };
    case "Home": return { ci: 0, p };
    case "End": return { ci: size.cols - 1, p };
    case "PageUp": return { ci, p: p - size.page };
    case "PageDown": return { ci, p: p + size.page };
    default: return null;
  }
}
