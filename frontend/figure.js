// The figure export control: asks Python (figure.py, through the `figure` command) for the
// grid and chart as an SVG or PNG file and hands it to the browser as a download. Python
// draws it, so a figure saved from a button and one saved with `w.save_svg()` are the same.

import { el } from "./dom.js";

/** @typedef {import("./channel.js").Channel} Channel */
/** @typedef {"svg" | "png"} FigureFormat */

/** @type {Record<FigureFormat, string>} */
const MIME = { svg: "image/svg+xml", png: "image/png" };

/** How long the file's object URL lives: the browser reads it after the click returns. */
const REVOKE_MS = 10000;

/**
 * @typedef {object} FigureHooks
 * @property {() => "light" | "dark"} theme the theme the view shows now
 * @property {() => string} name the file's base name, without extension
 * @property {(text: string) => void} notice shows a failure where the user looks
 */

export class FigureExport {
  /**
   * @param {AbortSignal} signal the view's: removes the listeners
   * @param {Channel} channel
   * @param {FigureHooks} hooks
   */
  constructor(signal, channel, hooks) {
    this.signal = signal;
    this.channel = channel;
    this.hooks = hooks;
    this.svg = this.button("svg", "SVG");
    this.png = this.button("png", "PNG");
    this.root = el("span", { class: "llk-export", attrs: { role: "group" } }, [
      el("span", { class: "llk-export-label", text: "figure " }),
      this.svg,
      this.png,
    ]);
    // An exported page has no Python to draw the figure.
    this.root.hidden = !channel.available;
  }

  /**
   * @param {FigureFormat} format
   * @param {string} text
   */
  button(format, text) {
    const b = /** @type {HTMLButtonElement} */ (
      el("button", {
        class: `llk-btn llk-export-${format}`,
        text,
        title: `download the grid and chart as ${text} (drawn by Python)`,
        attrs: { type: "button", "aria-label": `download ${text} figure` },
      })
    );
    b.addEventListener("click", () => this.export(format), { signal: this.signal });
    return b;
  }

  /**
   * Ask Python for the file, then download it; a failure is shown, never thrown.
   * @param {FigureFormat} format
   */
  async export(format) {
    this.setBusy(true);
    try {
      const bytes = await this.channel.figure(format, this.hooks.theme());
      this.download(bytes, format);
      this.hooks.notice("");
    } catch (err) {
      const e = /** @type {Error & { kind?: string }} */ (err);
      if (e.kind !== "abort") this.hooks.notice(`Figure export failed: ${e.message}`);
    } finally {
      if (!this.signal.aborted) this.setBusy(false);
    }
  }

  /**
   * @param {Uint8Array<ArrayBuffer>} bytes
   * @param {FigureFormat} format
   */
  download(bytes, format) {
    const url = URL.createObjectURL(new Blob([bytes], { type: MIME[format] }));
    const link = el("a", { attrs: { href: url, download: `${this.hooks.name()}.${format}` } });
    link.hidden = true;
    this.root.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), REVOKE_MS);
  }

  /** @param {boolean} busy */
  setBusy(busy) {
    this.svg.disabled = busy;
    this.png.disabled = busy;
    this.root.setAttribute("aria-busy", String(busy));
  }
}

/**
 * A file name from a title: letters, digits, dots, dashes; "logit-lens" when nothing is left.
 * @param {string} title
 */
export function fileName(title) {
  const name = title
    .normalize("NFKD")
    .replace(/[^A-Za-z0-9._-]+/g, "-")
    .replace(/^[-.]+|-+$/g, "")
    .slice(0, 60);
  return name || "logit-lens";
}

/**
 * The theme a view shows, with "auto" resolved by the stylesheet (widget.css sets --llk-dark
 * to 1 in dark themes, whichever rule chose it).
 * @param {HTMLElement} root
 * @returns {"light" | "dark"}
 */
export function shownTheme(root) {
  return getComputedStyle(root).getPropertyValue("--llk-dark").trim() === "1" ? "dark" : "light";
}
