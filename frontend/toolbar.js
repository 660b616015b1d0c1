// Title (editable inline), busy indicator, the run bar (runbar.js) below it, and the menus:
// color mode with its target, foil and color pickers, trajectory metric, chart scale, theme
// and font size.

import "./toolbar.css";
import { el, focusedElement } from "./dom.js";
import { showToken } from "./tokens.js";
import { colorFoil, colorTarget, DIFF_MODES, DIVERGING_MODES, TARGET_MODES } from "./color.js";
import { idKey } from "./lens.js";
import { COLOR_MODE_LABELS, LIMITS, METRIC_LABELS } from "./schema.js";

/** @typedef {import("./lens.js").Lens} Lens */
/** @typedef {import("./state.js").UIState} UIState */

/**
 * The traits the toolbar shows (the explorer passes no others).
 * @typedef {Pick<UIState, "title" | "pins" | "color_mode" | "color_token" | "color_group"
 *   | "color_foil" | "heat_color" | "entropy_color" | "metric_color" | "negative_color"
 *   | "trajectory_metric" | "chart_scale" | "dark_mode" | "font_size">} ToolbarState
 */

/** @typedef {{ value: string, ids: number[], text: string }} Choice a target menu entry */

/** Modes whose cells are colored with the heat color (the diverging ones on their + side). */
const HEAT_MODES = ["top1", "token", "group", "sublayer", ...TARGET_MODES];

/**
 * @typedef {object} ToolbarCallbacks
 * @property {(patch: Partial<UIState>) => void} onChange
 */

/**
 * @param {string} cls
 * @param {string} label
 * @param {[string, string][]} options value, text
 */
function select(cls, label, options) {
  const s = /** @type {HTMLSelectElement} */ (
    el("select", { class: `llk-select ${cls}`, attrs: { "aria-label": label } })
  );
  s.append(...options.map(([value, text]) => el("option", { text, attrs: { value } })));
  return s;
}

/**
 * @param {string} cls
 * @param {string} label
 */
function colorInput(cls, label) {
  return /** @type {HTMLInputElement} */ (
    el("input", {
      class: `llk-color ${cls}`,
      title: label,
      attrs: { type: "color", "aria-label": label },
    })
  );
}

export class Toolbar {
  /**
   * @param {AbortSignal} signal
   * @param {ToolbarCallbacks} cb
   * @param {HTMLElement} runbar shown between the title and the menus
   */
  constructor(signal, cb, runbar) {
    this.cb = cb;
    this.title = /** @type {HTMLInputElement} */ (
      el("input", {
        class: "llk-title",
        title: "click to edit the title",
        attrs: { type: "text", "aria-label": "title", spellcheck: "false" },
      })
    );
    this.busy = el("span", { class: "llk-busy", text: "running\u2026", attrs: { role: "status" } });
    this.mode = select("llk-mode", "color mode", Object.entries(COLOR_MODE_LABELS));
    this.target = select("llk-target", "token or group to color by", []);
    this.foil = select("llk-foil", "token or group to compare with (the foil)", []);
    this.foilLabel = el("label", { class: "llk-foil-label", text: "vs " }, [this.foil]);
    this.heat = colorInput("llk-heat-color", "cell color");
    this.entropyColor = colorInput("llk-entropy-color", "entropy color");
    this.metricColor = colorInput("llk-metric-color", "KL color");
    this.negativeColor = colorInput("llk-negative-color", "color of the negative side");
    this.metric = select("llk-metric", "trajectory metric", Object.entries(METRIC_LABELS));
    this.scale = select("llk-scale", "chart scale", [
      ["linear", "linear"],
      ["log", "log"],
    ]);
    this.theme = select("llk-theme", "theme", [
      ["auto", "theme: auto"],
      ["light", "light"],
      ["dark", "dark"],
    ]);
    this.smaller = el("button", {
      class: "llk-btn llk-font-down",
      text: "A\u2212",
      title: "smaller text",
    });
    this.larger = el("button", { class: "llk-btn llk-font-up", text: "A+", title: "larger text" });
    /** @type {Lens | null} */
    this.lastLens = null;
    /** @type {ToolbarState | null} state of the last update, for the target menu */
    this.lastState = null;
    this.fontSize = 12;
    /** the title as last synced, restored by Escape */
    this.titleValue = "";
    /** where the explorer puts the figure export control (figure.js) */
    this.exportSlot = el("span", { class: "llk-export-slot" });
    /** the title line; the lens badge joins it (lensview.js) */
    this.titlebar = el("div", { class: "llk-titlebar" }, [this.title, this.busy]);
    this.root = el("div", { class: "llk-toolbar" }, [
      this.titlebar,
      runbar,
      el("div", { class: "llk-controls" }, [
        el("label", { text: "color " }, [this.mode]),
        this.target,
        this.foilLabel,
        this.heat,
        this.negativeColor,
        this.entropyColor,
        this.metricColor,
        el("label", { text: "chart " }, [this.metric]),
        this.scale,
        this.theme,
        this.smaller,
        this.larger,
        this.exportSlot,
      ]),
    ]);
    this.bind(signal);
  }

  /** @param {AbortSignal} signal */
  bind(signal) {
    const o = { signal };
    const cb = this.cb;
    // JupyterLab swallows Enter's `change` on inputs: commit on keydown.
    this.title.addEventListener(
      "keydown",
      (e) => {
        if (e.key === "Enter") this.title.blur();
        else if (e.key === "Escape") {
          this.title.value = this.titleValue;
          this.title.blur();
        }
        e.stopPropagation();
      },
      o,
    );
    this.title.addEventListener(
      "blur",
      () => {
        if (this.title.value !== this.titleValue) cb.onChange({ title: this.title.value });
      },
      o,
    );
    this.mode.addEventListener("change", () => this.onMode(), o);
    this.target.addEventListener("change", () => this.onMode(), o);
    this.foil.addEventListener(
      "change",
      () => {
        const choice = this.foilChoices().find((c) => c.value === this.foil.value);
        if (choice) cb.onChange({ color_foil: choice.ids });
      },
      o,
    );
    this.metricColor.addEventListener(
      "input",
      () => cb.onChange({ metric_color: this.metricColor.value }),
      o,
    );
    this.negativeColor.addEventListener(
      "input",
      () => cb.onChange({ negative_color: this.negativeColor.value }),
      o,
    );
    this.heat.addEventListener("input", () => cb.onChange({ heat_color: this.heat.value }), o);
    this.entropyColor.addEventListener(
      "input",
      () => cb.onChange({ entropy_color: this.entropyColor.value }),
      o,
    );
    // A select's value is one of its options' values, which are exactly the trait's enum.
    this.metric.addEventListener(
      "change",
      () =>
        cb.onChange({
          trajectory_metric: /** @type {UIState["trajectory_metric"]} */ (this.metric.value),
        }),
      o,
    );
    this.scale.addEventListener(
      "change",
      () =>
        cb.onChange({
          chart_scale: /** @type {UIState["chart_scale"]} */ (this.scale.value),
        }),
      o,
    );
    this.theme.addEventListener(
      "change",
      () =>
        cb.onChange({
          dark_mode: /** @type {UIState["dark_mode"]} */ (this.theme.value),
        }),
      o,
    );
    this.smaller.addEventListener(
      "click",
      () => cb.onChange({ font_size: Math.max(LIMITS.font_size[0], this.fontSize - 1) }),
      o,
    );
    this.larger.addEventListener(
      "click",
      () => cb.onChange({ font_size: Math.min(LIMITS.font_size[1], this.fontSize + 1) }),
      o,
    );
  }

  onMode() {
    const mode = /** @type {UIState["color_mode"]} */ (this.mode.value);
    /** @type {Partial<UIState>} */
    const patch = { color_mode: mode };
    // On a switch of mode the target list is still the old mode's: take the new one's first.
    const targets = this.lastState
      ? this.candidates(this.lastLens, { ...this.lastState, color_mode: mode })
      : [];
    const target = targets.find((t) => t.value === this.target.value) ?? targets[0];
    if (mode === "token" && target) patch.color_token = target.ids[0];
    if ((mode === "group" || TARGET_MODES.includes(mode)) && target) patch.color_group = target.ids;
    this.cb.onChange(patch);
  }

  /**
   * @param {Lens | null} lens
   * @param {ToolbarState} s
   * @param {boolean} busy
   * @param {{ labels: string[] } | null} [diff] side B's labels while a diff is shown
   */
  update(lens, s, busy, diff = null) {
    this.lastLens = lens;
    this.lastState = s;
    this.titleValue = s.title;
    if (focusedElement(this.title) !== this.title) this.title.value = s.title;
    this.title.placeholder = lens?.model || "logit lens";
    this.busy.hidden = !busy;
    this.mode.value = s.color_mode;
    this.heat.value = s.heat_color;
    this.entropyColor.value = s.entropy_color;
    this.metricColor.value = s.metric_color;
    this.negativeColor.value = s.negative_color;
    this.metric.value = s.trajectory_metric;
    this.scale.value = s.chart_scale;
    this.theme.value = s.dark_mode;
    this.fontSize = s.font_size;
    this.entropyColor.hidden = s.color_mode !== "entropy";
    this.metricColor.hidden = s.color_mode !== "kl" && s.color_mode !== "jsd";
    this.negativeColor.hidden = !DIVERGING_MODES.includes(s.color_mode);
    this.heat.hidden = !HEAT_MODES.includes(s.color_mode);
    const sub = s.color_mode === "sublayer";
    const heatLabel = sub ? "color where the attention moved the top-1 more" : "cell color";
    const negLabel = sub
      ? "color where the MLP moved the top-1 more"
      : "color of the negative side";
    this.heat.title = heatLabel;
    this.heat.setAttribute("aria-label", heatLabel);
    this.negativeColor.title = negLabel;
    this.negativeColor.setAttribute("aria-label", negLabel);
    // KL needs data that carries it: say so rather than color nothing.
    const noKl = !lens?.klValues;
    for (const menu of [this.mode, this.metric]) {
      const option = [...menu.options].find((o) => o.value === "kl");
      if (!option) continue;
      // The shown value stays selectable: a select cannot show a disabled choice.
      option.disabled = noKl && menu.value !== "kl";
      option.title = noKl ? "this data has no KL divergences (docs/data-format.md §3)" : "";
    }
    // The sub-layer mode needs after-attention rows (row_kinds): the same rule as KL.
    const noSub = !lens?.hasSublayers;
    const subOption = [...this.mode.options].find((o) => o.value === "sublayer");
    if (subOption) {
      subOption.disabled = noSub && this.mode.value !== "sublayer";
      subOption.title = noSub
        ? "this data has no sub-layer rows: collect with sublayers=True (docs/views.md)"
        : "";
    }
    // The diff modes need a side B (compare_data).
    for (const o of this.mode.options) {
      if (!DIFF_MODES.includes(o.value)) continue;
      o.disabled = !diff && this.mode.value !== o.value;
      o.title = diff
        ? `${diff.labels[0]} against ${diff.labels[1]}`
        : "no side B to compare with: LogitLensWidget.compare (docs/views.md)";
    }
    if (diff && s.color_mode === "diff_token") {
      const [a, b] = diff.labels;
      this.heat.title = `color where ${a} gives the token more`;
      this.negativeColor.title = `color where ${b} gives it more`;
    }
    this.fillTargets(lens, s);
    this.fillFoils(lens, s);
  }

  /**
   * What the target menu offers in `s.color_mode`.
   * @param {Lens | null} lens
   * @param {ToolbarState} s
   * @returns {Choice[]}
   */
  candidates(lens, s) {
    if (lens && TARGET_MODES.includes(s.color_mode)) {
      const out = targetChoices(lens, s);
      const chosen = s.color_group.join(",");
      if (chosen && !out.some((c) => c.value === chosen)) {
        out.push({ value: chosen, ids: s.color_group, text: idsText(lens, s.color_group) });
      }
      return out;
    }
    if (lens && s.color_mode === "token") {
      const ids = new Set(s.pins.flatMap((p) => p.ids));
      if (s.color_token !== null) ids.add(s.color_token);
      return [...ids].map((id) => ({
        value: String(id),
        ids: [id],
        text: showToken(lens.token(id)).text,
      }));
    }
    if (lens && s.color_mode === "group") {
      const groups = s.pins.map((p) => p.ids);
      const chosen = s.color_group.join(",");
      if (chosen && !groups.some((ids) => ids.join(",") === chosen)) groups.push(s.color_group);
      return groups.map((ids) => ({
        value: ids.join(","),
        ids,
        text: ids.map((id) => showToken(lens.token(id)).text).join(" + "),
      }));
    }
    return [];
  }

  /**
   * Token mode offers every pinned token (and the current one); group mode every pin.
   * @param {Lens | null} lens
   * @param {ToolbarState} s
   */
  fillTargets(lens, s) {
    const mode = s.color_mode;
    const targets = this.candidates(lens, s);
    this.target.hidden = !(mode === "token" || mode === "group" || TARGET_MODES.includes(mode));
    const options = targets.map((t) => el("option", { text: t.text, attrs: { value: t.value } }));
    if (!options.length)
      options.push(el("option", { text: "pin a token first", attrs: { value: "", disabled: "" } }));
    this.target.replaceChildren(...options);
    this.target.value = colorTarget(s, lens?.targets).join(",");
  }

  /** The foil menu's entries: every candidate but the target. */
  foilChoices() {
    const lens = this.lastLens;
    const s = this.lastState;
    if (!lens || !s) return [];
    const target = idKey(colorTarget(s, lens.targets));
    const out = targetChoices(lens, s).filter((c) => idKey(c.ids) !== target);
    const chosen = s.color_foil.join(",");
    if (chosen && !out.some((c) => c.value === chosen)) {
      out.push({ value: chosen, ids: s.color_foil, text: idsText(lens, s.color_foil) });
    }
    return out;
  }

  /**
   * The foil menu, shown in "logprob_diff" mode: what the target is compared with.
   * @param {Lens | null} lens
   * @param {ToolbarState} s
   */
  fillFoils(lens, s) {
    this.foilLabel.hidden = s.color_mode !== "logprob_diff";
    if (this.foilLabel.hidden) return;
    const options = this.foilChoices().map((c) =>
      el("option", { text: c.text, attrs: { value: c.value } }),
    );
    if (!options.length)
      options.push(
        el("option", { text: "pin a second token", attrs: { value: "", disabled: "" } }),
      );
    this.foil.replaceChildren(...options);
    this.foil.value = colorFoil(s, lens?.targets).join(",");
  }
}

/**
 * Every pin, then every payload target no pin already is (by id set), named by the pin's or
 * target's name, else their tokens.
 * @param {Lens} lens
 * @param {ToolbarState} s
 * @returns {Choice[]}
 */
function targetChoices(lens, s) {
  /** @type {Choice[]} */
  const out = s.pins.map((p) => ({
    value: p.ids.join(","),
    ids: p.ids,
    text: p.name || idsText(lens, p.ids),
  }));
  const have = new Set(out.map((c) => idKey(c.ids)));
  for (const t of lens.targets) {
    if (have.has(idKey(t.ids))) continue;
    have.add(idKey(t.ids));
    out.push({ value: t.ids.join(","), ids: t.ids, text: t.name });
  }
  return out;
}

/**
 * @param {Lens} lens
 * @param {number[]} ids
 */
function idsText(lens, ids) {
  return ids.map((id) => showToken(lens.token(id)).text).join(" + ");
}
