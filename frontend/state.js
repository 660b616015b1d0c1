// UI state lives in the model's synced traits (src/logitlenskit/ui_state.py), so it is saved
// with the notebook and visible from Python. This is the only module that reads or writes
// them; views get plain values.

/** @typedef {import("@anywidget/types").AnyModel<any>} Model */
/** @typedef {import("./color.js").ColorMode} ColorMode */
/** @typedef {{ ids: number[], color: string }} Pin */

/**
 * The traits' types, spelled out: inferred from DEFAULTS they would be the default literals
 * ("top1", 12), and read-only because DEFAULTS is frozen. The enums match ui_state.py's.
 * @typedef {object} UIState
 * @property {string} title
 * @property {Pin[]} pins
 * @property {number[]} pinned_rows
 * @property {ColorMode} color_mode
 * @property {number | null} color_token
 * @property {number[]} color_group
 * @property {string} heat_color
 * @property {string} entropy_color
 * @property {"probability" | "rank"} trajectory_metric
 * @property {"linear" | "log"} chart_scale
 * @property {number} column_width
 * @property {number} input_column_width
 * @property {number} table_width
 * @property {number} chart_height
 * @property {number} grid_height
 * @property {number[]} x_zoom
 * @property {"auto" | "light" | "dark"} dark_mode
 * @property {number} font_size
 * @property {Selection | null} selected_cell
 */
/** @typedef {{ layer: number, position: number }} Selection a cell by layer number */
/** @typedef {keyof UIState} UIKey */

/**
 * Defaults used when the host model lacks a trait (kept equal to ui_state.py's).
 * @type {Readonly<UIState>}
 */
export const DEFAULTS = Object.freeze({
  title: "",
  pins: [],
  pinned_rows: [],
  color_mode: "top1",
  color_token: null,
  color_group: [],
  heat_color: "#2b6cd4",
  entropy_color: "#d9822b",
  trajectory_metric: "probability",
  chart_scale: "linear",
  column_width: 56,
  input_column_width: 110,
  table_width: 0,
  chart_height: 160,
  grid_height: 420,
  x_zoom: [],
  dark_mode: "auto",
  font_size: 12,
  selected_cell: null,
});

/** Size limits, as ui_state.py validates them (a drag never sends a value Python rejects). */
export const LIMITS = Object.freeze({
  column_width: [16, 400],
  input_column_width: [30, 800],
  table_width: [200, 10000],
  chart_height: [40, 1200],
  grid_height: [80, 4000],
  font_size: [6, 32],
});

export class State {
  /**
   * @param {Model} model
   * @param {AbortSignal} signal unsubscribes every listener added through `on`
   */
  constructor(model, signal) {
    this.model = model;
    this.signal = signal;
  }

  /**
   * @template {UIKey} K
   * @param {K} key
   * @returns {UIState[K]}
   */
  get(key) {
    const v = this.model.get(key);
    const nullable = key === "color_token" || key === "selected_cell";
    return v === undefined || (v === null && !nullable) ? DEFAULTS[key] : v;
  }

  /**
   * Every UI trait's current value, for the pure functions that take the state (pins.js).
   * @returns {UIState}
   */
  all() {
    // Object.fromEntries types its result by string keys only.
    return /** @type {UIState} */ (Object.fromEntries(
      /** @type {UIKey[]} */ (Object.keys(DEFAULTS)).map((k) => [k, this.get(k)])));
  }

  /**
   * Set several traits and sync them to Python in one message.
   * @param {Partial<UIState>} patch
   */
  set(patch) {
    for (const [key, value] of Object.entries(patch)) this.model.set(key, value);
    this.model.save_changes();
  }

  /**
   * Call `fn` whenever any of `keys` (UI or data traits) changes, until the signal aborts.
   * @param {string[]} keys
   * @param {() => void} fn
   */
  on(keys, fn) {
    for (const key of keys) {
      const event = `change:${key}`;
      this.model.on(event, fn);
      this.signal.addEventListener("abort", () => this.model.off(event, fn), { once: true });
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
