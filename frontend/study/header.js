// The study's header: "study: n_done / n_total prompts", a progress bar while busy, the
// status line, Stop (while busy) and Resume (when not busy and prompts are left), Python's
// error line and the view's own notice (a command that failed).

import { el } from "../dom.js";

/**
 * @typedef {object} HeaderState
 * @property {number} done
 * @property {number} total
 * @property {boolean} busy
 * @property {string} status
 * @property {string} error
 * @property {boolean} commands whether the host can send commands to Python
 */

export class Header {
  /**
   * @param {AbortSignal} signal
   * @param {{ onStop: () => void, onResume: () => void }} cb
   */
  constructor(signal, cb) {
    this.title = el("div", { class: "llks-title", attrs: { role: "heading", "aria-level": "3" } });
    this.progress = el("progress", { class: "llks-progress", attrs: { "aria-label": "progress" } });
    this.status = el("span", { class: "llks-status" });
    this.stop = el("button", {
      class: "llk-btn llks-stop",
      text: "Stop",
      attrs: { type: "button", "aria-label": "Stop the study after the current batch" },
    });
    this.resume = el("button", {
      class: "llk-btn llks-resume",
      text: "Resume",
      attrs: { type: "button", "aria-label": "Resume the study" },
    });
    this.error = el("div", { class: "llk-message llk-error llks-error", attrs: { role: "alert" } });
    this.notice = el("div", { class: "llks-notice", attrs: { role: "status" } });
    this.root = el("div", { class: "llks-header" }, [
      el("div", { class: "llks-headline" }, [
        this.title,
        this.progress,
        this.status,
        this.stop,
        this.resume,
      ]),
      this.error,
      this.notice,
    ]);
    this.stop.addEventListener("click", () => cb.onStop(), { signal });
    this.resume.addEventListener("click", () => cb.onResume(), { signal });
    this.setNotice("");
  }

  /** @param {HeaderState} s */
  update(s) {
    const total = Math.max(0, s.total);
    const done = Math.max(0, Math.min(s.done, total));
    this.title.textContent = `study: ${done} / ${total} prompts`;
    this.progress.hidden = !s.busy || total === 0;
    this.progress.max = Math.max(1, total);
    this.progress.value = done;
    this.progress.setAttribute("aria-valuetext", `${done} of ${total} prompts`);
    this.status.textContent = s.status;
    this.status.hidden = !s.status;
    this.stop.hidden = !s.busy;
    this.resume.hidden = s.busy || done >= total;
    for (const b of [this.stop, this.resume]) {
      b.disabled = !s.commands;
      b.title = s.commands ? "" : "No kernel: this view cannot reach Python";
    }
    this.error.textContent = s.error;
    this.error.hidden = !s.error;
  }

  /** @param {string} text */
  setNotice(text) {
    this.notice.textContent = text;
    this.notice.hidden = !text;
  }
}
