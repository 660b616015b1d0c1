// anywidget entry: render() builds one Explorer per output; its cleanup removes everything
// that output added, so the same model can be shown (and closed) in several outputs.

import "./widget.css";
import { Explorer } from "./explorer.js";

/** @type {import("@anywidget/types").Render<any>} */
function render({ model, el }) {
  const explorer = new Explorer(model, el);
  return () => explorer.destroy();
}

export default { render };
