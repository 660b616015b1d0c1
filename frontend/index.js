// anywidget entry: render() builds one Explorer per output; its cleanup removes everything
// that output added, so the same model can be shown (and closed) in several outputs.
// `experimental` carries the command channel to Python (channel.js); hosts without it (an
// exported page) still render, without the live loop.

import "./widget.css";
import { Explorer } from "./explorer.js";

/** @type {import("@anywidget/types").Render<any>} */
function render({ model, el, experimental }) {
  const explorer = new Explorer(model, el, experimental);
  return () => explorer.destroy();
}

export default { render };
