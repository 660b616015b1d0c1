// UI state lives in the model's synced traits (src/logitlenskit/ui_state.py), so it is saved
// with the notebook and visible from Python. This is the only module that reads or writes
// them; views get plain values.

/** @typedef {import("@anywidget/types").AnyModel<any>} Model */

/** Defaults used when the host model lacks a trait (kept equal to ui_state.py's). */
export const DEFAULTS = Object.freeze({
  title: "",
  pins: /** @type {{ ids: number[], color: string }[]} */ ([]),
  pinned_rows: /** @type {number[]} */ ([]),
  color_mode: "top1",
  color_token: /** @type {number | null} */ (null),
  color_group: /** @type {number[]} */ ([]),
  heat_color: "#2b6cd4",
  entropy_color: "#d9822b",
  trajectory_metric: "probability",
  chart_scale: "linear",
  column_width: 56,
  input_column_width: 110,
  table_width: 0,
  chart_height: 160,
  grid_height: 420,
  x_zoom: /** @type {number[]} */ ([]),
  dark_mode: "auto",
  font_size: 12,
});

/** @typedef {typeof DEFAULTS} UIState */
/** @typedef {keyof UIState} UIKey */

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
    return v === undefined || (v === null && key !== "color_token") ? DEFAULTS[key] : v;
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
