// The only way the widget builds DOM: createElement + textContent, never HTML strings.

/**
 * @template {keyof HTMLElementTagNameMap} T
 * @param {T} tag
 * @param {{ class?: string, text?: string, attrs?: Record<string, string>, title?: string }} [opts]
 * @param {(Node | null | false)[]} [children]
 * @returns {HTMLElementTagNameMap[T]}
 */
export function el(tag, opts = {}, children = []) {
  const node = document.createElement(tag);
  if (opts.class) node.className = opts.class;
  if (opts.text !== undefined) node.textContent = opts.text;
  if (opts.title !== undefined) node.title = opts.title;
  if (opts.attrs) for (const [k, v] of Object.entries(opts.attrs)) node.setAttribute(k, v);
  for (const c of children) if (c) node.append(c);
  return node;
}

const SVG_NS = "http://www.w3.org/2000/svg";

/**
 * @param {string} tag
 * @param {Record<string, string | number>} [attrs]
 * @returns {SVGElement}
 */
export function svg(tag, attrs = {}) {
  const node = /** @type {SVGElement} */ (document.createElementNS(SVG_NS, tag));
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  return node;
}

/**
 * The element with keyboard focus in `node`'s own tree. Inside a shadow root (marimo draws
 * widgets in one) `document.activeElement` is the shadow host, never the focused element;
 * the node's root (a Document or a ShadowRoot) knows. Null for a detached node.
 * @param {Node} node
 * @returns {Element | null}
 */
export function focusedElement(node) {
  const root = node.getRootNode();
  return root instanceof Document || root instanceof ShadowRoot ? root.activeElement : null;
}
