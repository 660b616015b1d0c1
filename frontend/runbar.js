// Run controls (docs/live-loop.md): the multi-line prompt box, Run, Generate (how many
// tokens, greedy or sampled with a seed, and the chat template when the model has one), k,
// layers and where runs go; while a run is busy its elapsed time, progress, status and a Stop
// button; a pending confirmation; Python's error line (which also shows a refused command)
// and the widget's own notices (e.g. no kernel).

import "./runbar.css";
import { el } from "./dom.js";
import { MAX_RUN_K } from "./schema.js";
import { formatLayers, parseLayers } from "./layerspec.js";

/** @typedef {null | boolean | "local"} Remote the `remote` trait: auto, here/NDIF, simulation */

/**
 * The traits the run bar shows.
 * @typedef {object} RunState
 * @property {string} prompt
 * @property {boolean} editable a model is attached: the controls are live
 * @property {boolean} busy
 * @property {string} error
 * @property {number | null} k null: the host has no `k` trait
 * @property {number[] | null} layers null: all
 * @property {Remote} remote
 * @property {number} progress 0..1, or -1 when unknown
 * @property {string} status
 * @property {string} confirm
 * @property {number | null} numLayers the model's layer count, when the data says
 * @property {boolean} chat the prompt is wrapped in the model's chat template
 * @property {boolean} hasChatTemplate the model has a chat template: the chat box shows
 * @property {string} draft a prompt whose run was stopped (Python went back to the previous
 *   run): the box keeps it, marked as not run, until it runs or Python clears it
 */

/** @typedef {{ n: number, sample: boolean, seed: number | null }} GenerateOptions */

/**
 * @typedef {object} RunCallbacks
 * @property {(prompt: string) => void} onRun Enter or Run, with the box's text
 * @property {(patch: { k?: number, layers?: number[] | null, remote?: Remote }) => void} onOptions
 * @property {() => void} onStop
 * @property {(accept: boolean) => void} onConfirm
 * @property {(opts: GenerateOptions, prompt: string) => void} onGenerate Generate, with the
 *   box's text
 * @property {(chat: boolean) => void} onChat the chat box was toggled
 */

/** The `remote` menu: option value, trait value, label. */
const REMOTES = /** @type {[string, Remote, string][]} */ ([
  ["auto", null, "auto"],
  ["here", false, "local"],
  ["ndif", true, "NDIF"],
  ["sim", "local", "NDIF simulation"],
]);

/** A run shows its elapsed time, progress and Stop only once it has taken this long. */
export const SHOW_AFTER_MS = 1000;
const MAX_ROWS = 8;
/** How many tokens one Generate may ask for, and the box's first value. */
export const MAX_GENERATE = 512;
export const DEFAULT_GENERATE = 20;
/** Seeds are whole numbers a generator takes everywhere (numpy's and torch's). */
const MAX_SEED = 2 ** 32 - 1;

export class RunBar {
  /**
   * @param {AbortSignal} signal
   * @param {RunCallbacks} cb
   */
  constructor(signal, cb) {
    this.cb = cb;
    this.prompt = /** @type {HTMLTextAreaElement} */ (
      el("textarea", {
        class: "llk-prompt",
        title: "Enter runs the model; Shift+Enter adds a new line",
        attrs: { "aria-label": "prompt", spellcheck: "false", rows: "1" },
      })
    );
    this.runButton = el("button", {
      class: "llk-btn llk-run-btn",
      text: "Run",
      title: "run the model on this prompt",
    });
    this.k = /** @type {HTMLInputElement} */ (
      el("input", {
        class: "llk-k",
        title: "how many top predictions each cell keeps (Enter applies)",
        attrs: { type: "number", min: "1", max: String(MAX_RUN_K), step: "1", "aria-label": "k" },
      })
    );
    this.layers = /** @type {HTMLInputElement} */ (
      el("input", {
        class: "llk-layers",
        title: "layers to show: all, numbers and slices like 0:30:3,-1 (Enter applies)",
        attrs: { type: "text", "aria-label": "layers", spellcheck: "false", placeholder: "all" },
      })
    );
    this.remote = /** @type {HTMLSelectElement} */ (
      el("select", {
        class: "llk-select llk-remote",
        title: "where runs go",
        attrs: { "aria-label": "where runs go" },
      })
    );
    this.remote.append(
      ...REMOTES.map(([value, , text]) => el("option", { text, attrs: { value } })),
    );
    this.generateButton = el("button", {
      class: "llk-btn llk-generate-btn",
      text: "Generate",
      title: "generate tokens after the prompt; the grid grows by one row per token",
    });
    this.genCount = /** @type {HTMLInputElement} */ (
      el("input", {
        class: "llk-gen-n",
        title: `how many tokens to generate (1 to ${MAX_GENERATE}; Enter generates)`,
        attrs: {
          type: "number",
          min: "1",
          max: String(MAX_GENERATE),
          step: "1",
          value: String(DEFAULT_GENERATE),
          "aria-label": "tokens to generate",
        },
      })
    );
    this.sample = /** @type {HTMLInputElement} */ (
      el("input", { class: "llk-sample", attrs: { type: "checkbox" } })
    );
    this.seed = /** @type {HTMLInputElement} */ (
      el("input", {
        class: "llk-seed",
        title: "seed of the sampling (empty: any; Enter generates)",
        attrs: { type: "number", min: "0", step: "1", placeholder: "any", "aria-label": "seed" },
      })
    );
    this.seedLabel = el("label", { class: "llk-seed-label", text: "seed " }, [this.seed]);
    this.chat = /** @type {HTMLInputElement} */ (
      el("input", { class: "llk-chat", attrs: { type: "checkbox" } })
    );
    this.chatLabel = el(
      "label",
      { class: "llk-chat-label", title: "wrap the prompt in the model's chat template" },
      [this.chat, document.createTextNode(" chat")],
    );
    this.optionsMsg = el("span", { class: "llk-options-msg", attrs: { role: "alert" } });
    this.draftNote = el("div", {
      class: "llk-draft-note",
      text: "not run: its run was stopped; the lens shows the previous prompt (Enter runs this one)",
      attrs: { role: "status" },
    });
    /** the row of run buttons and options; the lens menu joins it (lensview.js) */
    this.row = el("div", { class: "llk-run-row" }, [
      this.runButton,
      el("span", { class: "llk-gen" }, [
        this.generateButton,
        this.genCount,
        el("label", { title: "sample the tokens instead of taking the most probable" }, [
          this.sample,
          document.createTextNode(" sample"),
        ]),
        this.seedLabel,
      ]),
      this.chatLabel,
      el("label", { text: "k " }, [this.k]),
      el("label", { text: "layers " }, [this.layers]),
      el("label", { text: "run on " }, [this.remote]),
      this.optionsMsg,
    ]);
    this.controls = el("div", { class: "llk-run" }, [this.prompt, this.draftNote, this.row]);
    this.elapsed = el("span", { class: "llk-elapsed" });
    this.bar = /** @type {HTMLProgressElement} */ (
      el("progress", { class: "llk-progress-bar", attrs: { max: "1" } })
    );
    this.fraction = el("span", { class: "llk-progress-text" });
    this.status = el("span", { class: "llk-status" });
    this.stop = el("button", {
      class: "llk-btn llk-stop",
      text: "Stop",
      title: "abandon this run; the shown data stays",
    });
    this.progress = el("div", { class: "llk-progress", attrs: { role: "status" } }, [
      this.elapsed,
      this.bar,
      this.fraction,
      this.status,
      this.stop,
    ]);
    this.confirmText = el("span", { class: "llk-confirm-text" });
    this.yes = el("button", { class: "llk-btn llk-confirm-yes", text: "Run anyway" });
    this.no = el("button", { class: "llk-btn llk-confirm-no", text: "Cancel" });
    this.confirm = el("div", { class: "llk-confirm", attrs: { role: "alertdialog" } }, [
      this.confirmText,
      this.yes,
      this.no,
    ]);
    this.error = el("div", { class: "llk-error llk-py-error", attrs: { role: "alert" } });
    this.notice = el("div", { class: "llk-notice", attrs: { role: "alert" } });
    this.root = el("div", { class: "llk-runbar" }, [
      this.controls,
      this.progress,
      this.confirm,
      this.error,
      this.notice,
    ]);
    this.progress.hidden = true;
    this.confirm.hidden = true;
    this.notice.hidden = true;
    this.optionsMsg.hidden = true;
    this.draftNote.hidden = true;
    this.seedLabel.hidden = true;
    this.chatLabel.hidden = true;
    /** a refused command's message (`generate_tokens`), shown in the error line */
    this.commandError = "";
    /** @type {RunState | null} the traits as last shown: the controls' synced values */
    this.synced = null;
    this.busySince = 0;
    /** @type {ReturnType<typeof setTimeout> | null} */
    this.timer = null;
    signal.addEventListener("abort", () => this.stopClock(), { once: true });
    this.bind(signal);
  }

  /** @param {AbortSignal} signal */
  bind(signal) {
    const o = { signal };
    const cb = this.cb;
    this.prompt.addEventListener(
      "keydown",
      (e) => {
        e.stopPropagation(); // notebook shortcuts must not act on typing
        if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
          e.preventDefault();
          cb.onRun(this.prompt.value);
        }
      },
      o,
    );
    this.prompt.addEventListener(
      "input",
      () => {
        this.fitPrompt();
        this.markDraft();
      },
      o,
    );
    this.runButton.addEventListener("click", () => cb.onRun(this.prompt.value), o);
    // JupyterLab swallows Enter's `change` on inputs: commit on keydown too (a repeat with an
    // unchanged value sends nothing).
    for (const [input, commit] of /** @type {[HTMLInputElement, () => void][]} */ ([
      [this.k, () => this.commitK()],
      [this.layers, () => this.commitLayers()],
    ])) {
      input.addEventListener(
        "keydown",
        (e) => {
          e.stopPropagation();
          if (e.key === "Enter") commit();
        },
        o,
      );
      input.addEventListener("change", commit, o);
      input.addEventListener("input", () => this.showOptionsError(""), o);
    }
    this.remote.addEventListener(
      "change",
      () => {
        const found = REMOTES.find(([value]) => value === this.remote.value);
        if (found) cb.onOptions({ remote: found[1] });
      },
      o,
    );
    this.generateButton.addEventListener("click", () => this.commitGenerate(), o);
    for (const input of [this.genCount, this.seed]) {
      input.addEventListener(
        "keydown",
        (e) => {
          e.stopPropagation();
          if (e.key === "Enter" && !this.generateButton.disabled) this.commitGenerate();
        },
        o,
      );
      input.addEventListener("input", () => this.showOptionsError(""), o);
    }
    this.sample.addEventListener(
      "change",
      () => {
        this.seedLabel.hidden = !this.sample.checked;
        this.showOptionsError("");
      },
      o,
    );
    this.chat.addEventListener("change", () => cb.onChat(this.chat.checked), o);
    this.stop.addEventListener("click", () => cb.onStop(), o);
    this.yes.addEventListener("click", () => cb.onConfirm(true), o);
    this.no.addEventListener("click", () => cb.onConfirm(false), o);
  }

  commitK() {
    const text = this.k.value.trim();
    const k = Number(text);
    if (!/^\d+$/.test(text) || k < 1 || k > MAX_RUN_K) {
      // A refused value never stays in the box: it shows the trait's value again.
      const now = this.synced?.k ?? null;
      this.k.value = now === null ? "" : String(now);
      const stays = now === null ? "" : `; k stays ${now}`;
      this.showOptionsError(
        `k must be a whole number from 1 to ${MAX_RUN_K}, not "${text}"${stays}`,
      );
      return;
    }
    this.showOptionsError("");
    if (k !== this.synced?.k) this.cb.onOptions({ k });
  }

  commitLayers() {
    const parsed = parseLayers(this.layers.value, this.synced?.numLayers ?? null);
    const now = this.synced?.layers ?? null;
    if (!parsed.ok) {
      const text = this.layers.value.trim();
      this.layers.value = formatLayers(now); // as k: the box shows the trait's value again
      this.showOptionsError(
        `layers: ${parsed.error} ("${text}"); layers stay ${this.layers.value}`,
      );
      return;
    }
    this.showOptionsError("");
    if (JSON.stringify(parsed.layers) !== JSON.stringify(now))
      this.cb.onOptions({ layers: parsed.layers });
    else this.layers.value = formatLayers(now);
  }

  /** Generate with the boxes' values, or say which one is wrong and send nothing. */
  commitGenerate() {
    const whole = (/** @type {string} */ text) => (/^\d+$/.test(text) ? Number(text) : NaN);
    const n = whole(this.genCount.value.trim());
    if (!(n >= 1 && n <= MAX_GENERATE)) {
      this.showOptionsError(`tokens must be a whole number from 1 to ${MAX_GENERATE}`);
      return;
    }
    const sample = this.sample.checked;
    /** @type {number | null} */
    let seed = null;
    const seedText = this.seed.value.trim();
    if (sample && seedText !== "") {
      seed = whole(seedText);
      if (!(seed >= 0 && seed <= MAX_SEED)) {
        this.showOptionsError(`seed must be empty or a whole number from 0 to ${MAX_SEED}`);
        return;
      }
    }
    this.showOptionsError("");
    this.cb.onGenerate({ n, sample, seed }, this.prompt.value);
  }

  /**
   * Show why a command was refused (Python's `{error}` answer) in the error line; "" clears.
   * Python's own `error` trait, when set, is shown instead.
   * @param {string} text
   */
  showCommandError(text) {
    this.commandError = text;
    const shown = this.synced?.error || text;
    this.error.textContent = shown;
    this.error.hidden = !shown;
  }

  /** @param {string} text */
  showOptionsError(text) {
    this.optionsMsg.textContent = text;
    this.optionsMsg.hidden = !text;
  }

  /**
   * Show a message of the widget's own (not Python's `error`); "" hides it.
   * @param {string} text
   */
  showNotice(text) {
    this.notice.textContent = text;
    this.notice.hidden = !text;
  }

  /** Mark the box while it holds a stopped prompt that is not the one shown. */
  markDraft() {
    const s = this.synced;
    const draft = Boolean(s?.draft) && this.prompt.value === s?.draft && s?.draft !== s?.prompt;
    this.draftNote.hidden = !draft;
    this.prompt.classList.toggle("llk-draft", draft);
  }

  /** Grow the box with its lines, up to MAX_ROWS (then it scrolls). */
  fitPrompt() {
    const lines = this.prompt.value.split("\n").length;
    this.prompt.rows = Math.max(1, Math.min(MAX_ROWS, lines));
  }

  /**
   * Show the traits. A control takes a trait's value only when the trait changed since it was
   * last shown, so re-rendering for other reasons never overwrites what the user is typing;
   * a change from Python does, even in a focused box.
   * @param {RunState} s
   */
  update(s) {
    const old = this.synced;
    this.synced = s;
    this.controls.hidden = !s.editable;
    // A stopped prompt (draft) stays in the box over the prompt Python went back to.
    const promptChanged = !old || old.prompt !== s.prompt;
    if (s.draft && (promptChanged || old?.draft !== s.draft)) this.prompt.value = s.draft;
    else if (promptChanged) this.prompt.value = s.prompt;
    this.fitPrompt();
    this.markDraft();
    if (!old || old.k !== s.k) this.k.value = s.k === null ? "" : String(s.k);
    if (!old || JSON.stringify(old.layers) !== JSON.stringify(s.layers))
      this.layers.value = formatLayers(s.layers);
    this.remote.value = (REMOTES.find(([, v]) => v === s.remote) ?? REMOTES[0])[0];
    const error = s.error || this.commandError;
    this.error.textContent = error;
    this.error.hidden = !error;
    // A run that succeeded after a refused k or layers: the refusal is history.
    if (old?.busy && !s.busy && !s.error) this.showOptionsError("");
    this.generateButton.disabled = s.busy;
    this.chatLabel.hidden = !s.hasChatTemplate;
    if (!old || old.chat !== s.chat) this.chat.checked = s.chat;
    this.confirmText.textContent = s.confirm;
    this.confirm.hidden = !s.confirm;
    if (s.busy && !old?.busy) {
      this.busySince = performance.now();
      this.tick();
    } else if (!s.busy) {
      this.stopClock();
      this.progress.hidden = true;
    }
    if (s.progress >= 0) {
      this.bar.value = Math.min(1, s.progress);
      this.fraction.textContent = `${Math.round(Math.min(1, s.progress) * 100)}%`;
    } else {
      this.bar.removeAttribute("value"); // indeterminate
      this.fraction.textContent = "";
    }
    this.status.textContent = s.status;
  }

  /** Once a second while busy: elapsed time, and the progress row after SHOW_AFTER_MS. */
  tick() {
    this.stopClock();
    const ms = performance.now() - this.busySince;
    if (ms >= SHOW_AFTER_MS) {
      this.progress.hidden = false;
      this.elapsed.textContent = `${Math.floor(ms / 1000)} s`;
    }
    const wait = ms < SHOW_AFTER_MS ? SHOW_AFTER_MS - ms : 1000 - (ms % 1000);
    this.timer = setTimeout(() => this.tick(), Math.max(20, wait));
  }

  stopClock() {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }
}
