// VS Code's notebook widget host, reproduced in a plain page (see tests/vscode/README.md).
//
// Query: ?token=<server token>&kernel=<kernel id>&theme=<vscode-light|vscode-dark|...>
// Exposes window.vsc (the driver the Python harness calls) once window.vscReady is true.
//
// What each part stands for:
//   preload.js + ipywidgets8.js   the Jupyter renderers extension's notebookPreload modules
//   KernelConnection              vscode-jupyter's proxy kernel (a real @jupyterlab/services
//                                 connection here, without the postMessage hop)
//   scriptLoader                  vscode-jupyter's scriptManager: a module is looked up in a copy
//                                 of the kernel environment's share/jupyter/nbextensions
//   render()                      webviewPreloads' OutputElement + vscode-jupyter's
//                                 renderIPyWidget / WidgetManager.renderWidget
//   the ResizeObserver            webviewPreloads' dimension updates: the editor sizes the
//                                 output container from the output's offsetHeight

const WIDGET_MIMETYPE = "application/vnd.jupyter.widget-view+json";
// webviewPreloads' padding of an output node and VS Code's default notebook layout values.
const OUTPUT_NODE_PADDING = 12;
const OUTPUT_NODE_LEFT_PADDING = 8;
const OUTPUT_LEFT = 28;
const CELL_GAP = 40;

// A subset of the --vscode-* variables VS Code sets on the webview's <html>, per theme kind.
const THEMES = {
  "vscode-light": {
    "--vscode-editor-background": "#ffffff",
    "--vscode-editor-foreground": "#3b3b3b",
    "--vscode-foreground": "#3b3b3b",
    "--vscode-focusBorder": "#005fb8",
    "--vscode-notebook-outputContainerBackgroundColor": "#f8f8f8",
  },
  "vscode-dark": {
    "--vscode-editor-background": "#1f1f1f",
    "--vscode-editor-foreground": "#cccccc",
    "--vscode-foreground": "#cccccc",
    "--vscode-focusBorder": "#0078d4",
    "--vscode-notebook-outputContainerBackgroundColor": "#181818",
  },
  "vscode-high-contrast": {
    "--vscode-editor-background": "#000000",
    "--vscode-editor-foreground": "#ffffff",
    "--vscode-foreground": "#ffffff",
    "--vscode-focusBorder": "#f38518",
    "--vscode-contrastBorder": "#6fc3df",
    "--vscode-notebook-outputContainerBackgroundColor": "#000000",
  },
  "vscode-high-contrast-light": {
    "--vscode-editor-background": "#ffffff",
    "--vscode-editor-foreground": "#292929",
    "--vscode-foreground": "#292929",
    "--vscode-focusBorder": "#006bbd",
    "--vscode-contrastBorder": "#0f4a85",
    "--vscode-notebook-outputContainerBackgroundColor": "#ffffff",
  },
};
const COMMON_VARS = {
  "--vscode-font-family": "system-ui, 'Ubuntu', 'Droid Sans', sans-serif",
  "--vscode-font-size": "13px",
  "--vscode-editor-font-family": "'Droid Sans Mono', monospace",
  "--notebook-cell-output-font-size": "13px",
  "--notebook-output-width": "calc(100% - 60px)",
  "--notebook-output-left-margin": "0px",
  "--notebook-output-node-padding": `${OUTPUT_NODE_PADDING}px`,
  "--notebook-output-node-left-padding": `${OUTPUT_NODE_LEFT_PADDING}px`,
  "--theme-notebook-output-background": "var(--vscode-notebook-outputContainerBackgroundColor)",
};

const errors = [];
const log = [];
window.addEventListener("error", (e) =>
  errors.push(`error: ${e.message}\n${e.error?.stack ?? ""}`),
);
window.addEventListener("unhandledrejection", (e) =>
  errors.push(`unhandledrejection: ${e.reason?.stack ?? e.reason}`),
);
// VS Code's webview replaces these with stubs that throw.
window.alert = () => {
  throw new Error("alert() is not available in a VS Code notebook webview");
};
window.open = () => {
  throw new Error("window.open() is not available in a VS Code notebook webview");
};

function setTheme(kind) {
  if (!(kind in THEMES)) throw new Error(`unknown theme kind ${kind}`);
  document.body.classList.remove(...Object.keys(THEMES));
  document.body.classList.add(kind);
  document.body.dataset.vscodeThemeKind = kind;
  document.body.dataset.vscodeThemeName = kind;
  const style = document.documentElement.style;
  for (const [k, v] of Object.entries({ ...COMMON_VARS, ...THEMES[kind] })) style.setProperty(k, v);
}

const params = new URLSearchParams(location.search);
setTheme(params.get("theme") ?? "vscode-dark");

// 1. The notebook preloads, as ES modules (VS Code imports them, then calls activate()).
const preload = await import("./preload.js");
await preload.activate();
const ipywidgets8 = await import("./ipywidgets8.js");
ipywidgets8.activate();
// On 'ipywidget-renderer-init' with version 8, the renderer loads the ipywidgets 8 modules.
window.vscIPyWidgets8.load();

// 2. The kernel.
const { KernelConnection, ServerConnection } = window.jlabServices;
const baseUrl = new URL("/", location.href).href;
const serverSettings = ServerConnection.makeSettings({
  baseUrl,
  wsUrl: baseUrl.replace(/^http/, "ws"),
  token: params.get("token"),
  appendToken: true,
});
const kernel = new KernelConnection({
  model: { id: params.get("kernel"), name: "python3" },
  serverSettings,
  handleComms: true,
});
await kernel.info;

// 3. The widget manager, with a script loader over the copied nbextensions folder.
const nbextensions = new URL("./nbextensions/", location.href);
const scriptLoader = {
  widgetsRegisteredInRequireJs: new Set(),
  async loadWidgetScript(moduleName, moduleVersion) {
    log.push(`loadWidgetScript ${moduleName}@${moduleVersion}`);
    const script = new URL(`${moduleName}/index.js`, nbextensions);
    const found = await fetch(script, { method: "HEAD" });
    if (!found.ok) throw new Error(`no nbextension for ${moduleName} (${script})`);
    window.requirejs.config({ paths: { [moduleName]: script.href.replace(/\.js$/, "") } });
    this.widgetsRegisteredInRequireJs.add(moduleName);
  },
  successHandler(className, moduleName, moduleVersion) {
    log.push(`loaded ${className} from ${moduleName}@${moduleVersion}`);
  },
  errorHandler(className, moduleName, moduleVersion, error) {
    errors.push(`widget load failed: ${className} from ${moduleName}@${moduleVersion}: ${error}`);
  },
};
const container = document.getElementById("container");
const manager = new window.vscIPyWidgets.WidgetManager(kernel, container, scriptLoader, (m) =>
  log.push(m),
);

// 4. Outputs: one cell per rendered output, stacked like notebook cells.
const outputs = new Map(); // outputId -> {cell, outputContainer, output, widget, fixedTop}
const heights = {}; // outputId -> every offsetHeight the ResizeObserver reported
let nextId = 0;

function layout() {
  let top = 0;
  for (const entry of outputs.values()) {
    if (entry.fixedTop !== null) top = entry.fixedTop;
    entry.cell.style.top = `${top}px`;
    top += entry.height + CELL_GAP;
  }
}

const resizeObserver = new ResizeObserver((entries) => {
  for (const { target } of entries) {
    const entry = outputs.get(target.id);
    if (!entry || !document.body.contains(target)) continue;
    const height = target.offsetHeight;
    heights[target.id] = [...(heights[target.id] ?? []), height];
    entry.height = height;
    // The editor answers a dimension message by sizing the output container.
    entry.outputContainer.style.height = `${height}px`;
    entry.outputContainer.style.maxHeight = `${height}px`;
  }
  layout();
});

async function getModel(modelId, timeoutMs = 30000) {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    try {
      const model = manager.get_model(modelId);
      if (model) return await model;
    } catch (e) {
      if (performance.now() > deadline) throw e;
    }
    if (performance.now() > deadline) throw new Error(`model ${modelId} never arrived`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function render(data, { top = null } = {}) {
  const outputId = `output-${nextId++}`;
  const cell = document.createElement("div");
  cell.className = "cell_container";
  cell.id = `cell-${outputId}`;
  cell.style.position = "absolute";
  const outputContainer = document.createElement("div");
  outputContainer.className = "output_container";
  outputContainer.style.position = "absolute";
  outputContainer.style.overflow = "hidden";
  outputContainer.style.maxHeight = "0px";
  outputContainer.style.top = "0px";
  const output = document.createElement("div");
  output.id = outputId;
  output.className = "output";
  output.style.position = "absolute";
  output.style.top = "0px";
  output.style.left = `${OUTPUT_LEFT}px`;
  outputContainer.append(output);
  cell.append(outputContainer);
  container.append(cell);
  const entry = { cell, outputContainer, output, widget: null, fixedTop: top, height: 0 };
  outputs.set(outputId, entry);
  layout();
  resizeObserver.observe(output);

  // vscode-jupyter renderer/index.ts, then kernel/index.ts renderIPyWidget.
  output.className += " cell-output-ipywidget-background";
  const ele = document.createElement("div");
  ele.className = "cell-output-ipywidget-background";
  ele.setAttribute("tabindex", "0");
  ele.setAttribute("role", "region");
  ele.setAttribute("aria-label", "Interactive widget output");
  const inner = document.createElement("div");
  inner.className = "cell-output cell-output";
  output.append(ele);
  ele.append(inner);
  // WidgetManager.renderWidget
  const model = await getModel(data.model_id);
  const view = await manager.create_view(model, { el: ele });
  entry.widget = await manager.display_view(data, view, { node: ele });
  return outputId;
}

function dispose(outputId) {
  const entry = outputs.get(outputId);
  if (!entry) throw new Error(`no output ${outputId}`);
  entry.widget?.dispose();
  resizeObserver.unobserve(entry.output);
  entry.cell.remove();
  outputs.delete(outputId);
  layout();
}

// Runs code like a notebook cell; returns its streams, error and widget outputs.
async function run(code) {
  const result = { stdout: "", stderr: "", error: null, widgets: [] };
  const future = kernel.requestExecute({ code, stop_on_error: true, store_history: false });
  future.onIOPub = (msg) => {
    const c = msg.content;
    switch (msg.header.msg_type) {
      case "stream":
        result[c.name] += c.text;
        break;
      case "error":
        result.error = `${c.ename}: ${c.evalue}\n${c.traceback.join("\n")}`;
        break;
      case "display_data":
      case "execute_result":
        if (c.data[WIDGET_MIMETYPE]) result.widgets.push(c.data[WIDGET_MIMETYPE]);
        break;
    }
  };
  await future.done;
  return result;
}

window.vsc = {
  kernel,
  manager,
  errors,
  log,
  heights,
  outputs,
  run,
  render,
  dispose,
  setTheme,
};
window.vscReady = true;
