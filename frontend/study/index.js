// anywidget entry of StudyWidget (study_widget.py): render() builds one StudyView per
// output and returns its cleanup, which removes every listener, the width observer, any
// pending command and the view's element. The theme variables and dark-mode rules are the
// explorer's (widget.css, scoped to `.llk`); study.css adds the study's own `.llks` rules.

import "../widget.css";
import "./study.css";
import { StudyView } from "./view.js";

/** @type {import("@anywidget/types").Render<import("./data.js").StudyState>} */
function render({ model, el, experimental }) {
  const view = new StudyView(model, el, experimental);
  return () => view.destroy();
}

export default { render };
