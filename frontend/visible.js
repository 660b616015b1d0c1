// Where an element can be seen: the viewport cut down by every ancestor that scrolls its
// content (a notebook's scrolling panel, the grid's sideways scroller). A host's menu bar
// sits outside its scrolling notebook, so the part of the window above it is not the widget's.

/** @typedef {{ left: number, top: number, right: number, bottom: number }} Box */

const SCROLLS = new Set(["auto", "scroll"]);

/**
 * The viewport box (client coordinates) that `node`'s ancestors leave visible.
 * @param {Element} node
 * @returns {Box}
 */
export function visibleBox(node) {
  const doc = node.ownerDocument;
  const page = doc.documentElement;
  const box = { left: 0, top: 0, right: page.clientWidth, bottom: page.clientHeight };
  const view = doc.defaultView;
  if (!view) return box;
  for (let e = node.parentElement; e && e !== doc.body && e !== page; e = e.parentElement) {
    const s = view.getComputedStyle(e);
    // Only boxes that scroll, in the direction they do: one that merely clips, or could
    // scroll but holds all its content (VS Code's output boxes), moves with the widget, and
    // taking it for the host's edge kept popups from opening above a cell low in an output.
    const clipX = SCROLLS.has(s.overflowX) && e.scrollWidth > e.clientWidth + 1;
    const clipY = SCROLLS.has(s.overflowY) && e.scrollHeight > e.clientHeight + 1;
    if (!clipX && !clipY) continue;
    const r = e.getBoundingClientRect();
    if (clipX) {
      box.left = Math.max(box.left, r.left);
      box.right = Math.min(box.right, r.right);
    }
    if (clipY) {
      box.top = Math.max(box.top, r.top);
      box.bottom = Math.min(box.bottom, r.bottom);
    }
  }
  return box;
}
