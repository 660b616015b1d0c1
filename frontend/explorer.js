// Wires the views to the model: decodes data, lays out columns for the current width and
// re-renders only what a trait change affects.

import { el } from "./dom.js";
import { decode } from "./decode.js";
import { fitColumns } from "./layout.js";
import { Grid } from "./grid.js";
import { intensityFn } from "./color.js";
import { State } from "./state.js";

/** @typedef {import("./lens.js").Lens} Lens */

export class Explorer {
  /**
   * @param {import("@anywidget/types").AnyModel<any>} model
   * @param {HTMLElement} host
   */
  constructor(model, host) {
    this.abort = new AbortController();
    const signal = this.abort.signal;
    this.state = new State(model, signal);
    this.model = model;
    this.host = host;
    /** @type {Lens | null} */
    this.lens = null;
    this.width = 0;
    this.grid = new Grid(signal);
    this.hint = el("div", { class: "llk-hint", attrs: { "aria-live": "polite" } });
    this.message = el("div", { class: "llk-message", attrs: { role: "alert" } });
    this.root = el("div", { class: "llk" }, [this.message, this.hint, this.grid.root]);
    host.append(this.root);

    this.state.on(["data"], () => this.loadData());
    this.state.on(["column_width", "input_column_width", "table_width", "x_zoom"], () =>
      this.layout(),
    );
    this.resize = new ResizeObserver((entries) => {
      const w = entries[entries.length - 1].contentRect.width;
      if (w > 0 && Math.abs(w - this.width) >= 1) {
        this.width = w;
        this.layout();
      }
    });
    this.resize.observe(host);
    this.width = host.getBoundingClientRect().width;
    this.loadData();
  }

  loadData() {
    try {
      this.lens = decode(this.model.get("data"));
      this.showMessage(this.lens ? "" : "No data yet.", false);
    } catch (err) {
      this.lens = null;
      this.showMessage(`Cannot show this data: ${/** @type {Error} */ (err).message}`, true);
    }
    this.grid.setLens(this.lens);
    this.layout();
  }

  /**
   * @param {string} text
   * @param {boolean} isError
   */
  showMessage(text, isError) {
    this.message.textContent = text;
    this.message.hidden = !text;
    this.message.classList.toggle("llk-error", isError);
  }

  layout() {
    const lens = this.lens;
    if (!lens) {
      this.grid.setColumns([]);
      this.hint.textContent = "";
      return;
    }
    const s = this.state;
    const inputW = s.get("input_column_width");
    const colW = s.get("column_width");
    const total = s.get("table_width") || this.width || this.host.clientWidth;
    const scrollbar = 16;
    const cols = fitColumns({
      layers: lens.layers,
      zoom: s.get("x_zoom"),
      available: total - inputW - scrollbar,
      columnWidth: colW,
    });
    this.root.style.setProperty("--llk-col-w", `${colW}px`);
    this.root.style.setProperty("--llk-input-w", `${inputW}px`);
    this.hint.textContent = `Showing ${cols.hint}.`;
    this.grid.setColoring(intensityFn(lens, { mode: "top1", ids: [] }), s.get("heat_color"));
    this.grid.setColumns(cols.rows);
  }

  destroy() {
    this.abort.abort();
    this.resize.disconnect();
    this.root.remove();
  }
}
