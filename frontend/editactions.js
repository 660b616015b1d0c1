// What the edit legend, the popup's "Patch into B" and the sweep panel do (issue 20): the
// `edit`, `patch_cell`, `sweep_action` and `halt` commands, through the channel (so marimo's message
// fallback carries them too). A refusal (Python's `{error}`) goes to the run bar's error
// line, as a refused Generate does; no answer at all is the no-kernel notice (live.js).

import { NO_KERNEL } from "./live.js";

/** @typedef {import("./state.js").Model} Model */
/** @typedef {import("./channel.js").Channel} Channel */
/** @typedef {import("./channel.js").ChannelError} ChannelError */

/**
 * @param {Model} model
 * @param {Channel} channel
 * @param {(text: string) => void} notify the widget's own notice line ("" clears)
 * @param {(text: string) => void} refused the run bar's error line ("" clears)
 */
export function editActions(model, channel, notify, refused) {
  /** @param {ChannelError} err */
  const failed = (err) => {
    if (err.kind === "abort") return false;
    if (err.kind === "answer" || err.kind === "stale") refused(err.message);
    else notify(err.kind === "unavailable" || model.get("busy") ? err.message : NO_KERNEL);
    return false;
  };
  /**
   * @param {() => Promise<unknown>} send
   * @returns {Promise<boolean>} whether Python accepted it
   */
  const run = (send) => {
    notify("");
    refused("");
    return send().then(() => true, failed);
  };
  return {
    /** @param {number} index */
    onRemove: (index) => run(() => channel.edit({ action: "remove", index })),
    /** @param {number} index @param {number} alpha */
    onAlpha: (index, alpha) => run(() => channel.edit({ action: "alpha", index, alpha })),
    onClear: () => run(() => channel.edit({ action: "clear" })),
    /** @param {{ layer: number, position: number, row_kind?: 0 | 1, into?: number }} msg */
    onPatch: (msg) => run(() => channel.patch(msg)),
    onCloseSweep: () => run(() => channel.sweep({ action: "close" })),
    onStop: () => run(() => channel.stop()),
  };
}
