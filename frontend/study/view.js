// The study view: one root element holding the header, the band chart, the entropy strip
// and the heatmap. It only wires: decodes the traits (data.js), lays out the shared layer
// columns for the element's width, redraws what a trait change touches (changes that arrive
// together, as one update() from Python does, are drawn once), and turns the views' clicks
// into trait patches and the Stop/Resume commands.

import { Channel, ChannelError } from "../channel.js";
import { el } from "../dom.js";
import { observeWidth } from "../interactions.js";
import { BandChart } from "./bandchart.js";
import { decodeStudy, heatIndex, kindsOf, shownNames, toggleShown } from "./data.js";
import { Header } from "./header.js";
import { Heatmap } from "./heatmap.js";
import { EntropyStrip } from "./strip.js";

/** @typedef {import("./data.js").StudyModel} StudyModel */
/** @typedef {import("./data.js").StudyState} StudyState */
/** @typedef {import("./bandchart.js").Columns} Columns */
/** @typedef {"data" | "chart" | "heat" | "select" | "header" | "theme"} Part */

/** Which parts of the view each trait's change redraws. */
const TRAITS = /** @type {const} */ ({
  layers: ["data"],
  prompts: ["data"],
  quantities: ["data"],
  values: ["data"],
  summary: ["data"],
  shown: ["chart"],
  heatmap_quantity: ["heat"],
  selected_prompt: ["select"],
  n_done: ["header"],
  n_total: ["header"],
  busy: ["header"],
  status: ["header"],
  error: ["header"],
  dark_mode: ["theme"],
});

/** px left of the first layer column (the y axis' labels and title). */
const LEFT = 64;
/** px right of the last column: room for the heatmap's scrollbar. */
const RIGHT = 18;
/** px of the root's padding (study.css), each side. */
const PAD = 6;
/** Width used until the element has one (a view created before it is attached). */
const FALLBACK_WIDTH = 640;

export class StudyView {
  /**
   * @param {StudyModel} model
   * @param {HTMLElement} host
   * @param {import("@anywidget/types").Experimental} [experimental] the command channel (where
   *   the host's `invoke` is a stub, marimo's, the Channel sends commands as custom messages)
   */
  constructor(model, host, experimental) {
    this.abort = new AbortController();
    const signal = this.abort.signal;
    this.model = model;
    this.host = host;
    this.channel = new Channel(experimental, signal, model);
    this.header = new Header(signal, {
      onStop: () => this.command("stop"),
      onResume: () => this.command("resume"),
    });
    this.problems = el("div", { class: "llk-message llk-error llks-problems" });
    this.chart = new BandChart(signal, {
      onToggle: (name) => this.toggle(name),
      onKind: (kind) => {
        this.kind = kind;
        this.drawChart();
      },
    });
    this.strip = new EntropyStrip();
    this.heatmap = new Heatmap(signal, {
      onSelect: (p) => this.send({ selected_prompt: p }),
      onQuantity: (name) => this.send({ heatmap_quantity: name }),
    });
    this.root = el("div", { class: "llk llks" }, [
      this.header.root,
      this.problems,
      this.chart.root,
      this.strip.root,
      this.heatmap.root,
    ]);
    /** the chart's kind as the user last chose it (view state, not synced) */
    this.kind = "";
    this.width = host.clientWidth;
    /** @type {Set<Part>} */
    this.dirty = new Set();
    this.scheduled = false;
    this.study = decodeStudy(this.rawData());
    host.append(this.root);
    for (const [key, parts] of Object.entries(TRAITS)) {
      const event = `change:${key}`;
      const handler = () => this.invalidate(parts);
      model.on(event, handler);
      signal.addEventListener("abort", () => model.off(event, handler), { once: true });
    }
    const ro = observeWidth(host, (w) => {
      if (Math.abs(w - this.width) < 1) return;
      this.width = w;
      this.invalidate(["data"]);
    });
    signal.addEventListener("abort", () => ro.disconnect(), { once: true });
    this.renderAll();
  }

  rawData() {
    const m = this.model;
    return {
      layers: m.get("layers"),
      prompts: m.get("prompts"),
      quantities: m.get("quantities"),
      values: m.get("values"),
      summary: m.get("summary"),
    };
  }

  /**
   * Mark parts to redraw; one redraw per burst of changes (a microtask later).
   * @param {readonly Part[]} parts
   */
  invalidate(parts) {
    for (const p of parts) this.dirty.add(p);
    if (this.scheduled) return;
    this.scheduled = true;
    queueMicrotask(() => {
      this.scheduled = false;
      if (this.abort.signal.aborted) return;
      const dirty = this.dirty;
      this.dirty = new Set();
      if (dirty.has("data")) {
        this.study = decodeStudy(this.rawData());
        this.renderAll();
        return;
      }
      if (dirty.has("header")) this.drawHeader();
      if (dirty.has("theme")) this.drawTheme();
      if (dirty.has("chart")) this.drawChart();
      if (dirty.has("heat")) this.drawHeatmap();
      else if (dirty.has("select")) this.heatmap.setSelected(this.selected());
    });
  }

  renderAll() {
    this.drawTheme();
    this.drawHeader();
    const problems = this.study.problems;
    this.problems.textContent = problems.join("\n");
    this.problems.hidden = !problems.length;
    this.drawChart();
    this.strip.update(this.study, this.columns());
    this.drawHeatmap();
  }

  /** @returns {Columns} */
  columns() {
    const width = Math.max(LEFT + RIGHT + 60, (this.width || FALLBACK_WIDTH) - 2 * PAD);
    return { width, left: LEFT, plot: width - LEFT - RIGHT, L: this.study.L };
  }

  drawTheme() {
    const mode = this.model.get("dark_mode");
    this.root.dataset.theme = mode === "light" || mode === "dark" ? mode : "auto";
  }

  drawHeader() {
    const m = this.model;
    const num = (/** @type {unknown} */ v) => (typeof v === "number" && Number.isFinite(v) ? v : 0);
    const str = (/** @type {unknown} */ v) => (typeof v === "string" ? v : "");
    this.header.update({
      done: num(m.get("n_done")),
      total: num(m.get("n_total")),
      busy: m.get("busy") === true,
      status: str(m.get("status")),
      error: str(m.get("error")),
      commands: this.channel.available,
    });
  }

  drawChart() {
    const quantities = this.study.quantities;
    const names = shownNames(quantities, this.model.get("shown"));
    const kinds = kindsOf(quantities, names);
    const kind = kinds.includes(this.kind) ? this.kind : (kinds[0] ?? "");
    this.chart.update(this.study, names, kind, kinds, this.columns());
  }

  drawHeatmap() {
    const q = heatIndex(this.study.quantities, this.model.get("heatmap_quantity"));
    this.heatmap.selected = this.selected();
    this.heatmap.update(this.study, q, this.columns());
  }

  /** `selected_prompt` if it is a row of the data, else null. */
  selected() {
    const p = this.model.get("selected_prompt");
    return Number.isSafeInteger(p) && p !== null && p >= 0 && p < this.study.N ? p : null;
  }

  /** @param {string} name a legend entry was clicked */
  toggle(name) {
    const quantities = this.study.quantities;
    const names = shownNames(quantities, this.model.get("shown"));
    const next = toggleShown(quantities, names, name);
    if (!next) {
      this.chart.readout.textContent = "The chart keeps at least one quantity.";
      return;
    }
    const turnedOn = quantities.find((q) => q.name === name && !names.includes(name));
    if (turnedOn) this.kind = turnedOn.kind; // show what was just asked for
    this.send({ shown: next });
  }

  /**
   * Set traits and sync them to Python in one message.
   * @param {Partial<StudyState>} patch
   */
  send(patch) {
    for (const [key, value] of Object.entries(patch)) {
      this.model.set(/** @type {keyof StudyState} */ (key), /** @type {never} */ (value));
    }
    this.model.save_changes();
  }

  /**
   * Send a command (`stop` or `resume`) to Python; a failure shows as the header's notice.
   * @param {"stop" | "resume"} name
   */
  async command(name) {
    const what = name === "stop" ? "Stop" : "Resume";
    if (!this.channel.available) {
      this.header.setNotice(`${what}: this view has no connection to Python.`);
      return;
    }
    this.header.setNotice("");
    try {
      await this.channel.request(name, {});
    } catch (err) {
      const kind = err instanceof ChannelError ? err.kind : "failed";
      if (kind === "abort") return;
      const text = err instanceof Error ? err.message : String(err);
      if (kind === "answer" || kind === "stale") {
        this.header.setNotice(`${what}: ${text}`); // Python's handler failed: its line
        return;
      }
      // What the host threw (a closed comm), or why no answer came (a timeout).
      const why = err instanceof Error && err.cause instanceof Error ? err.cause.message : text;
      this.header.setNotice(
        `${what} did not reach Python (${why}): run the widget's cell again if the kernel ` +
          "restarted.",
      );
    }
  }

  destroy() {
    this.abort.abort();
    this.root.remove();
  }
}
