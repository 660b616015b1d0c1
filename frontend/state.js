// UI state lives in the model's synced traits (src/logitlenskit/ui_state.py), so it is saved
// with the notebook and visible from Python. Views read it through State, which checks what
// arrives (saved state can bypass Python) and gives them plain values; writes go through
// State.set, except live size drags (explorer.js, synced once when the drag ends) and the
// run inputs prompt/k/layers/remote (live.js).

import { DEFAULTS, ENUMS, LIMITS, PIN_NAME_MAX } from "./schema.js";

/** @typedef {import("@anywidget/types").AnyModel<WidgetState>} Model */
/** @typedef {import("./schema.js").WidgetState} WidgetState */
/** @typedef {import("./schema.js").UIState} UIState */
/** @typedef {import("./schema.js").Pin} Pin */
/** @typedef {import("./schema.js").Selection} Selection */
/** @typedef {keyof UIState} UIKey */

/** "#" and six hex digits, nothing else: a color reaches CSS and SVG, where `url(...)` loads. */
const HEX = /^#[0-9a-fA-F]{6}$/;
/** Half of a UTF-16 pair on its own: not valid Unicode (Python refuses it too). */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** @param {unknown} v */
const isIndex = (v) => Number.isSafeInteger(v) && /** @type {number} */ (v) >= 0;

/**
 * @param {unknown} v
 * @returns {v is number}
 */
function isInteger(v) {
  return Number.isSafeInteger(v);
}

/**
 * @param {unknown} v
 * @returns {v is number[]}
 */
function isIndexList(v) {
  return Array.isArray(v) && v.every(isIndex);
}

/**
 * @param {unknown} v
 * @returns {v is Record<string, unknown>}
 */
function isObject(v) {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

/**
 * Why `value` is not a valid `key` (the rule, as ui_state.py states it), or "" when it is.
 * Traits normally come from Python, which validates them; a saved notebook's widget state
 * or another frontend's message does not, so the browser checks again before any view uses
 * a value (a TypeError in a view, or a CSS value that loads a URL, must not follow).
 * @param {UIKey} key
 * @param {unknown} v
 */
function problem(key, v) {
  switch (key) {
    case "title":
      return typeof v === "string" ? "" : "a title is a string";
    case "pins": {
      if (!Array.isArray(v))
        return 'pins are a list of {ids: [token ids], color: "#rrggbb", name?: string}';
      for (let i = 0; i < v.length; i++) {
        const pin = v[i];
        if (!isObject(pin)) return `pins[${i}] is not an object {ids, color}`;
        if (!isIndexList(pin.ids) || !pin.ids.length) {
          return `pins[${i}].ids must be a non-empty list of token ids (integers >= 0)`;
        }
        if (typeof pin.color !== "string" || !HEX.test(pin.color)) {
          return `pins[${i}].color must be a color like "#1f77b4" ("#" and six hex digits)`;
        }
        const name = pin.name;
        if (
          name != null &&
          (typeof name !== "string" || [...name].length > PIN_NAME_MAX || LONE_SURROGATE.test(name))
        ) {
          return `pins[${i}].name must be text of at most ${PIN_NAME_MAX} characters (valid Unicode)`;
        }
      }
      return "";
    }
    case "pinned_rows":
      return isIndexList(v) ? "" : "pinned rows are a list of input positions (integers >= 0)";
    case "color_group":
      return isIndexList(v) ? "" : "a color group is a list of token ids (integers >= 0)";
    case "color_foil":
      return isIndexList(v) ? "" : "a foil is a list of token ids (integers >= 0)";
    case "color_token":
      return v === null || isIndex(v)
        ? ""
        : "the colored token is a token id (an integer >= 0) or null";
    case "heat_color":
    case "entropy_color":
    case "metric_color":
    case "negative_color":
      return typeof v === "string" && HEX.test(v)
        ? ""
        : 'a color is like "#1f77b4" ("#" and six hex digits)';
    case "color_mode":
    case "trajectory_metric":
    case "chart_scale":
    case "dark_mode": {
      const values = ENUMS[key];
      return values.includes(/** @type {string} */ (v))
        ? ""
        : `it must be one of ${values.map((x) => `"${x}"`).join(", ")}`;
    }
    case "column_width":
    case "input_column_width":
    case "table_width":
    case "chart_height":
    case "grid_height":
    case "font_size": {
      const [lo, hi] = LIMITS[key];
      if (key === "table_width" && v === 0) return "";
      return typeof v === "number" && Number.isInteger(v) && v >= lo && v <= hi
        ? ""
        : `it must be a whole number of CSS pixels from ${lo} to ${hi}${key === "table_width" ? " (or 0)" : ""}`;
    }
    case "x_zoom": {
      const ordered = isIndexList(v) && (v.length === 0 || (v.length === 2 && v[0] <= v[1]));
      return ordered
        ? ""
        : "it must be [] (all rows) or [first, last] lens rows, 0 <= first <= last";
    }
    case "selected_cell": {
      const cell = v === null || (isObject(v) && isInteger(v.layer) && isInteger(v.position));
      return cell ? "" : "it must be null or {layer, position} (integers)";
    }
    default:
      return "";
  }
}

/** @param {unknown} v a bad value, shortened for a message */
function show(v) {
  let text;
  try {
    text = JSON.stringify(v) ?? String(v);
  } catch {
    text = String(v);
  }
  return text.length > 60 ? `${text.slice(0, 60)}\u2026` : text;
}

export class State {
  /**
   * @param {Model} model
   * @param {AbortSignal} signal unsubscribes every listener added through `on`
   */
  constructor(model, signal) {
    this.model = model;
    this.signal = signal;
    /**
     * Called once per invalid trait value with a readable message (besides console.warn);
     * the view sets it to show the message.
     * @type {((message: string) => void) | null}
     */
    this.onInvalid = null;
    /** @type {Map<UIKey, { raw: unknown, value: unknown }>} last value checked, per trait */
    this.checked = new Map();
    /** @type {Set<() => void> | null} handlers waiting for `set` to send its message */
    this.held = null;
  }

  /**
   * A trait's value; an invalid one (see `problem`) gives the default and one message.
   * @template {UIKey} K
   * @param {K} key
   * @returns {UIState[K]}
   */
  get(key) {
    // Typed, but saved notebook state reaches the model without passing Python's checks.
    /** @type {unknown} */
    const raw = this.model.get(key);
    // Views read traits many times per render: check each new value once.
    const seen = this.checked.get(key);
    if (seen && Object.is(seen.raw, raw)) return /** @type {UIState[K]} */ (seen.value);
    /** @type {unknown} */
    let value = raw;
    const nullable = key === "color_token" || key === "selected_cell";
    if (raw === undefined || (raw === null && !nullable)) {
      value = DEFAULTS[key];
    } else {
      const why = problem(key, raw);
      if (why) {
        value = DEFAULTS[key];
        this.warn(
          `Ignored the widget's ${key} ${show(raw)}: ${why}. Using ${show(value)} instead.`,
        );
      }
    }
    this.checked.set(key, { raw, value });
    return /** @type {UIState[K]} */ (value);
  }

  /** @param {string} message */
  warn(message) {
    console.warn(`logitlenskit: ${message}`);
    try {
      this.onInvalid?.(message);
    } catch (err) {
      console.warn(err);
    }
  }

  /**
   * Every UI trait's current value, for the pure functions that take the state (pins.js).
   * @returns {UIState}
   */
  all() {
    // Object.fromEntries types its result by string keys only.
    return /** @type {UIState} */ (
      Object.fromEntries(
        /** @type {UIKey[]} */ (Object.keys(DEFAULTS)).map((k) => [k, this.get(k)]),
      )
    );
  }

  /**
   * Set several traits and sync them to Python in one message, then re-render.
   *
   * The model calls change handlers inside `model.set`, before `save_changes` sends
   * anything, so a pin would wait for the browser's own re-render (tens of ms) before
   * Python could start tracking it. Handlers are held until the message has left, and each
   * runs once however many of its traits the patch changed. It all stays synchronous:
   * when `set` returns the view shows the new state.
   * @param {Partial<UIState>} patch
   */
  set(patch) {
    const outer = this.held === null;
    if (outer) this.held = new Set();
    try {
      sendTraits(this.model, patch);
    } finally {
      if (outer) {
        const fns = /** @type {Set<() => void>} */ (this.held);
        this.held = null;
        for (const fn of fns) fn();
      }
    }
  }

  /**
   * Call `fn` whenever any of `keys` (UI or data traits) changes, until the signal aborts.
   * @param {string[]} keys
   * @param {() => void} fn
   */
  on(keys, fn) {
    const handler = () => (this.held ? this.held.add(fn) : fn());
    for (const key of keys) {
      const event = `change:${key}`;
      this.model.on(event, handler);
      this.signal.addEventListener("abort", () => this.model.off(event, handler), { once: true });
    }
  }
}

/**
 * @param {number} value
 * @param {keyof typeof LIMITS} key
 */
export function clampSize(value, key) {
  const [lo, hi] = LIMITS[key];
  return Math.round(Math.max(lo, Math.min(hi, value)));
}

/**
 * Set several traits and sync them to Python in one message.
 * @param {Model} model
 * @param {Partial<WidgetState>} patch
 */
export function sendTraits(model, patch) {
  for (const [key, value] of Object.entries(patch)) {
    // Object.entries forgets which value goes with which key; `patch`'s type checked both.
    model.set(/** @type {keyof WidgetState} */ (key), /** @type {never} */ (value));
  }
  model.save_changes();
}
