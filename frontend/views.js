// The explorer's views, declared in one place (docs/extending.md, "Add a view"):
// `createViews` builds each with the callbacks that turn its events into trait patches
// (pins.js) and explorer steps, `page` places their elements in page order, and `RENDERS`
// says which explorer steps each trait change runs. explorer.js owns the steps (decoding,
// layout, coloring, lines) that several views share.

// The CSS of the views whose modules cannot import their own: colorbar.js and celltip.js
// are in the node unit tier (tests/js), which cannot load CSS, and grid.js's is imported
// here until its module does (docs/frontend.md). Every other view imports its own.
import "./grid.css";
import "./colorbar.css";
import "./celltip.css";
import { el } from "./dom.js";
import { Grid } from "./grid.js";
import { Chart } from "./chart.js";
import { Legend } from "./legend.js";
import { Toolbar } from "./toolbar.js";
import { RunBar } from "./runbar.js";
import { Selection } from "./selection.js";
import { FigureExport, fileName, shownTheme } from "./figure.js";
import { ColorBar } from "./colorbar.js";
import { CellTip } from "./celltip.js";
import { CompareBox } from "./compare.js";
import { runActions } from "./live.js";
import { EditLegend, PatchAction } from "./editview.js";
import { editActions } from "./editactions.js";
import { SweepPanel } from "./sweep.js";
import { diffLabels, LensCaption, LensControl, LensMark, lensPatch } from "./lensview.js";
import { recolor, removePin, togglePin, toggleRow } from "./pins.js";

/** @typedef {import("./explorer.js").Explorer} Explorer */
/** @typedef {ReturnType<typeof createViews>} Views */

/**
 * Every view of explorer `x`, wired to it. Built before the data is decoded: callbacks
 * read the explorer's state when they run.
 * @param {Explorer} x
 * @param {AbortSignal} signal
 */
export function createViews(x, signal) {
  const s = x.state;
  const run = runActions(
    x.model,
    x.channel,
    (text) => runbar.showNotice(text),
    (text) => runbar.showCommandError(text),
  );
  const runbar = new RunBar(signal, run);
  const toolbar = new Toolbar(signal, { onChange: (patch) => s.set(patch) }, runbar.root);
  // Issue 21's lenses: the menu sits with the run options (a change reruns, as k's does), the
  // badge in the title line, the strip's legend over the grid, a line in the popup.
  const lensControl = new LensControl(signal, (key) => run.onOptions(lensPatch(key)));
  runbar.row.insertBefore(lensControl.root, runbar.optionsMsg);
  const lensCaption = new LensCaption();
  toolbar.titlebar.insertBefore(lensCaption.badge, toolbar.busy);
  const lensMark = new LensMark();
  const figure = new FigureExport(signal, x.channel, {
    theme: () => shownTheme(x.root),
    name: () => fileName(s.get("title") || x.lens?.model || ""),
    notice: (text) => runbar.showNotice(text),
  });
  toolbar.exportSlot.append(figure.root);
  const grid = new Grid(signal);
  const colorbar = new ColorBar(signal, { onUnit: (unit) => x.setEntropyUnit(unit) });
  const chart = new Chart(signal, {
    onZoom: (a, b) => s.set({ x_zoom: [a, b] }),
    onResetZoom: () => s.set({ x_zoom: [] }),
  });
  const legend = new Legend(signal, {
    onRemovePin: (i) => s.set(removePin(s.all(), i)),
    onPinColor: (i, color, final) => {
      if (final) s.set({ pins: recolor(s.get("pins"), i, color) });
      else chart.setPinned(x.lines(recolor(s.get("pins"), i, color)));
    },
    onRemoveRow: (p) => s.set({ pinned_rows: s.get("pinned_rows").filter((q) => q !== p) }),
  });
  const message = el("div", { class: "llk-message", attrs: { role: "alert" } });
  // The diff's side B: its prompt box goes in the run bar, its note under the legend.
  const compare = new CompareBox(signal, x.model);
  runbar.root.append(compare.root);
  const hint = el("div", { class: "llk-hint", attrs: { "aria-live": "polite" } });
  const selection = new Selection(
    signal,
    { root: x.root, grid, channel: x.channel },
    {
      lens: () => x.lens,
      pinned: () => new Set(s.get("pins").flatMap((p) => p.ids)),
      onOpen: (l, p) => x.cellOpened(l, p),
      onPin: (id, group) => s.set(togglePin(s.all(), id, group)),
      onHover: (p, id) => x.hoverToken(p, id),
      onColorBy: (id) => s.set({ color_mode: "token", color_token: id }),
      onToggleRow: (p) => x.lens && s.set(toggleRow(x.lens, s.all(), p)),
      onTrajectories: () => x.updatePins(),
      diff: () =>
        x.lensB ? { b: x.lensB, labels: diffLabels(x.lens, x.lensB, x.labels()) } : null,
    },
  );
  const celltip = new CellTip(signal, grid.root, x.root, (cell) => x.cellTip(cell));
  selection.popup.avoid = chart.svg;
  // Issue 20's edits: their commands' refusals go where the run bar shows the others'.
  const acts = editActions(
    x.model,
    x.channel,
    (text) => runbar.showNotice(text),
    (text) => runbar.showCommandError(text),
  );
  const edits = new EditLegend(signal, acts);
  const patch = new PatchAction(signal, acts.onPatch);
  selection.popup.headSlot.append(patch.mark);
  selection.popup.titleSlot.append(lensMark.root);
  selection.popup.actionSlot.append(patch.root);
  const sweep = new SweepPanel(signal, {
    onPatch: acts.onPatch,
    onStop: acts.onStop,
    onClose: acts.onCloseSweep,
  });
  return {
    runbar,
    toolbar,
    figure,
    message,
    hint,
    colorbar,
    grid,
    chart,
    legend,
    compare,
    selection,
    celltip,
    edits,
    patch,
    sweep,
    lensControl,
    lensCaption,
    lensMark,
  };
}

/**
 * The widget's elements in page order, with the drag strips between them (their drags are
 * interactions.js `resizeHandles`). The run bar and the figure export sit in the toolbar.
 * @param {Views} v
 */
export function page(v) {
  return [
    v.toolbar.root,
    v.lensCaption.legend,
    v.edits.caption,
    v.message,
    v.hint,
    v.colorbar.root,
    v.grid.root,
    el("div", { class: "llk-resize-grid", title: "drag to change the grid's height" }),
    v.chart.root,
    el("div", { class: "llk-resize-chart", title: "drag to change the chart's height" }),
    v.legend.root,
    v.compare.note,
    v.edits.root,
    v.sweep.root,
    v.selection.popup.root,
    v.celltip.root,
    el("div", { class: "llk-resize-table", title: "drag to change the widget's width" }),
  ];
}

/**
 * What each trait change re-renders, in the order the listeners are added (a message that
 * changes several traits runs them in this order). A step that only touches one view calls
 * that view; steps several views share are the explorer's.
 * @type {{ traits: (keyof import("./schema.js").WidgetState)[], run: (x: Explorer) => void }[]}
 */
export const RENDERS = [
  { traits: ["data"], run: (x) => x.loadData() },
  {
    traits: ["compare_data", "compare_labels", "compare_prompt"],
    run: (x) => {
      x.loadCompare();
      x.applyColoring();
      x.updatePins();
      x.updateToolbar();
    },
  },
  {
    traits: ["column_width", "input_column_width", "table_width", "x_zoom", "chart_height"],
    run: (x) => x.layout(),
  },
  {
    traits: ["font_size"],
    run: (x) => {
      x.layout();
      x.updateToolbar();
    },
  },
  {
    traits: [
      "color_mode",
      "color_token",
      "color_group",
      "color_foil",
      "heat_color",
      "entropy_color",
      "metric_color",
      "negative_color",
    ],
    run: (x) => {
      x.applyColoring();
      x.updateToolbar();
    },
  },
  { traits: ["pins"], run: (x) => x.pinsChanged() },
  { traits: ["pinned_rows"], run: (x) => x.updatePins() },
  {
    traits: ["trajectory_metric", "chart_scale"],
    run: (x) => {
      x.applyMetric();
      x.updateToolbar();
    },
  },
  {
    traits: ["grid_height"],
    run: (x) => {
      x.applySizes();
      x.views.grid.renderRows();
    },
  },
  {
    traits: [
      "dark_mode",
      "title",
      "prompt",
      "editable_prompt",
      "busy",
      "error",
      "k",
      "layers",
      "remote",
      "progress",
      "status",
      "confirm",
      "chat",
      "has_chat_template",
      "draft",
    ],
    run: (x) => x.updateToolbar(),
  },
  // The sweep panel: its trait, its colors, and whether its buttons can act.
  {
    traits: ["sweep", "heat_color", "negative_color", "editable_prompt"],
    run: (x) => x.renderSweep(),
  },
  // The lens menu: its choices, the current lens, and whether a kernel can rerun.
  { traits: ["lens", "lens_choices", "editable_prompt"], run: (x) => x.renderLens() },
  // Only Python writes these: a kernel is there after all.
  { traits: ["busy", "data"], run: (x) => x.kernelHeard() },
];
