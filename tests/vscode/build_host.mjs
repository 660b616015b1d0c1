// Builds the scripts of the VS Code notebook host page into OUTDIR (run: node build_host.mjs OUTDIR).
//
//   preload.js      what vscode-notebook-renderers' build/webpack/postBuildHook.js makes of its
//                   client_renderer/preload.js: require.js (invocation fixed to `globalThis`,
//                   `undef` wrapped in try/catch), jQuery, an empty `activate`, then the globals.
//                   Loaded as an ES module, as VS Code loads notebook preloads.
//   ipywidgets8.js  @vscode/jupyter-ipywidgets8's bundle, unchanged.
//   services.js     @jupyterlab/services as a plain script (window.jlabServices): stands in for
//                   vscode-jupyter's own kernel glue, which is not published.
import { build } from "esbuild";
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

const outdir = process.argv[2];
if (!outdir) throw new Error("usage: node build_host.mjs OUTDIR");
fs.mkdirSync(outdir, { recursive: true });
const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const read = (spec) => fs.readFileSync(require.resolve(spec), "utf8");

// The two edits postBuildHook.js makes to require.js; it throws when either no longer applies.
const INVOCATION = "}(this, (typeof setTimeout === 'undefined' ? undefined : setTimeout)));";
const UNDEF_START = "localRequire.undef = function (id) {";
const UNDEF_END = "cleanRegistry(id);\n                        }\n                    };";
let requirejs = read("requirejs/require.js");
if (
  !requirejs.includes(INVOCATION) ||
  !requirejs.includes(UNDEF_START) ||
  !requirejs.includes(UNDEF_END)
) {
  throw new Error(
    "require.js changed: the preload edits of vscode-notebook-renderers no longer apply",
  );
}
requirejs = requirejs
  .replace(INVOCATION, INVOCATION.replace("}(this,", "}(globalThis,"))
  .replace(UNDEF_START, `${UNDEF_START}\n                        try {`)
  .replace(
    UNDEF_END,
    "cleanRegistry(id);\n                        }\n                        } catch (e) {\n" +
      "                          console.warn('require.undef in Notebook Renderer failed', id, e);\n" +
      "                        }\n                    };",
  );
const preload = [
  requirejs,
  read("jquery/dist/jquery.min.js"),
  "export async function activate() {}",
  "globalThis.$ = $;",
  "window.$ = $;",
  "window.require=window.requirejs=requirejs; window.define=define;",
].join("\n\n\n");
fs.writeFileSync(path.join(outdir, "preload.js"), preload);

fs.copyFileSync(
  require.resolve("@vscode/jupyter-ipywidgets8/dist/ipywidgets.js"),
  path.join(outdir, "ipywidgets8.js"),
);

await build({
  stdin: {
    contents:
      "export { KernelConnection, KernelMessage, ServerConnection } from '@jupyterlab/services';",
    resolveDir: here,
  },
  bundle: true,
  format: "iife",
  globalName: "jlabServices",
  platform: "browser",
  target: "es2020",
  define: { "process.env.NODE_ENV": '"production"' },
  outfile: path.join(outdir, "services.js"),
  logLevel: "error",
});
