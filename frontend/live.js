// The run side of the live loop (docs/live-loop.md): what Enter, Run, Generate, the chat box,
// the k/layers/remote controls, Stop and the confirmation buttons do — trait changes and
// commands — and the no-kernel check, so that input to a widget nobody listens to is never
// silently lost.

import { sendTraits } from "./state.js";

/** @typedef {import("./state.js").Model} Model */
/** @typedef {import("./state.js").WidgetState} WidgetState */
/** @typedef {import("./channel.js").Channel} Channel */
/** @typedef {import("./channel.js").ChannelError} ChannelError */
/** @typedef {import("./runbar.js").RunCallbacks} RunCallbacks */
/** @typedef {import("./runbar.js").RunState} RunState */
/** @typedef {import("./lens.js").Lens} Lens */

export const NO_KERNEL = "No kernel is connected to this widget: run its cell again";

/**
 * The run bar's callbacks.
 * @param {Model} model
 * @param {Channel} channel
 * @param {(text: string) => void} notify show one line of the widget's own ("" clears)
 * @param {(text: string) => void} [refused] show why Python refused a command in the run
 *   bar's error line ("" clears); default: `notify`
 * @returns {RunCallbacks}
 */
export function runActions(model, channel, notify, refused = notify) {
  /**
   * No answer at all means no kernel, unless Python is busy (then it may answer later).
   * @param {ChannelError} err
   */
  const failed = (err) => {
    if (err.kind === "abort") return;
    const quiet = err.kind === "answer" || err.kind === "unavailable" || model.get("busy");
    notify(quiet ? err.message : NO_KERNEL);
  };
  // A trait change sent to no kernel would be lost without a word: ping to find out.
  const checkKernel = () => channel.ping().catch(failed);
  /** @param {Partial<WidgetState>} patch prompt, k, layers, remote, chat: each change reruns */
  const setTraits = (patch) => {
    sendTraits(model, patch);
    notify("");
    checkKernel();
  };
  return {
    // A changed prompt is set (Python reruns); an unchanged one runs again (after a failure).
    onRun: (text) => {
      refused("");
      if (text !== (model.get("prompt") ?? "")) {
        setTraits({ prompt: text });
        return;
      }
      notify("");
      channel.run().catch(failed);
      checkKernel();
    },
    // An edited prompt is set first (its messages reach Python in order): the generation
    // continues the prompt the box shows.
    onGenerate: (opts, text) => {
      if (text !== (model.get("prompt") ?? "")) sendTraits(model, { prompt: text });
      notify("");
      refused("");
      channel.generate(opts).catch((/** @type {ChannelError} */ err) => {
        if (err.kind === "answer" || err.kind === "stale") refused(err.message);
        else failed(err);
      });
      checkKernel();
    },
    onChat: (chat) => setTraits({ chat }),
    onOptions: (patch) => setTraits(patch),
    onStop: () => {
      channel.stop().catch(failed);
    },
    onConfirm: (accept) => {
      channel.confirm(accept).catch(failed);
    },
  };
}

/**
 * The traits the run bar shows, with defaults for hosts whose model lacks them.
 * @param {Model} model
 * @param {Lens | null} lens
 * @returns {RunState}
 */
export function runState(model, lens) {
  const k = model.get("k");
  const progress = model.get("progress");
  return {
    prompt: model.get("prompt") ?? "",
    editable: Boolean(model.get("editable_prompt")),
    busy: Boolean(model.get("busy")),
    error: model.get("error") ?? "",
    k: Number.isInteger(k) ? k : (lens?.k ?? null),
    layers: model.get("layers") ?? null,
    remote: model.get("remote") ?? null,
    progress: typeof progress === "number" ? progress : -1,
    status: model.get("status") ?? "",
    confirm: model.get("confirm") ?? "",
    numLayers: lens?.numLayers ?? null,
    // Absent from a widget state saved before generation existed: off.
    chat: Boolean(model.get("chat")),
    hasChatTemplate: Boolean(model.get("has_chat_template")),
    // Absent from a widget state saved before Stop kept drafts: none.
    draft: model.get("draft") ?? "",
  };
}
