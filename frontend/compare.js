// The diff's side B controls (docs/views.md): the prompt box in the run bar (Enter sends
// `compare_prompt`, Python reruns side B) and the note under the chart that says what is
// compared, or why side B cannot be shown. The explorer decodes side B and says what to show.

import "./compare.css";
import { el } from "./dom.js";
import { sendTraits } from "./state.js";

export class CompareBox {
  /**
   * @param {AbortSignal} signal
   * @param {import("./state.js").Model} model
   */
  constructor(signal, model) {
    this.prompt = /** @type {HTMLTextAreaElement} */ (
      el("textarea", {
        class: "llk-compare-prompt",
        title: "side B's prompt: Enter reruns side B (Shift+Enter: new line)",
        attrs: { spellcheck: "false", rows: "1" },
      })
    );
    this.label = el("span", { class: "llk-compare-label" });
    /** the prompt box, placed in the run bar */
    this.root = el("div", { class: "llk-compare-box" }, [this.label, this.prompt]);
    this.root.hidden = true;
    this.prompt.addEventListener(
      "keydown",
      (e) => {
        if (e.key !== "Enter" || e.shiftKey || e.isComposing) return;
        e.preventDefault();
        sendTraits(model, { compare_prompt: this.prompt.value });
        model.save_changes();
      },
      { signal },
    );
    /** what is compared, or why side B cannot be; placed under the legend */
    this.note = el("div", { class: "llk-diff-note", attrs: { "aria-live": "polite" } });
    this.note.hidden = true;
  }

  /**
   * @param {object} o
   * @param {boolean} o.shown a side B is set (shown, or refused with a problem)
   * @param {string} o.name side B's name
   * @param {string} o.prompt side B's prompt (`compare_prompt`)
   * @param {string} o.problem why side B cannot be shown; "" when it is
   * @param {string} o.text what is compared, shown when there is no problem
   */
  render({ shown, name, prompt, problem, text }) {
    this.root.hidden = !shown;
    this.label.textContent = `${name}:`;
    this.prompt.setAttribute("aria-label", `prompt of ${name} (side B)`);
    if (this.prompt.value !== prompt) this.prompt.value = prompt;
    this.note.hidden = !shown;
    this.note.classList.toggle("llk-error", problem !== "");
    this.note.textContent = problem || text;
  }
}
