"""The study widget's Stop/Resume where the host's ``invoke`` is a stub (marimo, issue 23).

marimo's anywidget host throws "anywidget.invoke not supported in marimo" from
``experimental.invoke``; the view must then send each command as anywidget's own custom
message, which the Python side of ``@anywidget.experimental.command`` answers. Here the
page's messages go to a real StudyWidget's command handler and its answers come back.
"""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from harness import wire
from study_page import StudyPage, study_widget

pytestmark = pytest.mark.browser

OUT = "#out1"

# The host's invoke throws as marimo's does; what the view sends goes to window.__sent.
MARIMO_HOST = """() => {
  window.__invoked = 0;
  window.llk.commands.invoke = () => {
    window.__invoked++;
    return Promise.reject(new Error("anywidget.invoke not supported in marimo"));
  };
  window.__sent = [];
  window.llk.model.send = (msg, callbacks, buffers) => { window.__sent.push(msg); };
}"""


def relay(sp: StudyPage, w: Any, replies: list[dict]) -> dict:
    """Hand the page's next custom message to ``w`` and ``w``'s answer back to the page.

    Returns the message the page sent.
    """
    n = len(replies)
    sp.page.wait_for_function("window.__sent.length > 0", timeout=3000)
    msg = sp.page.evaluate("window.__sent.shift()")
    w._handle_custom_msg(msg, [])
    assert len(replies) == n + 1, "Python did not answer the command"
    sp.page.evaluate("(m) => window.llk.custom(m)", wire(replies[-1]))
    return msg


def test_stop_and_resume_reach_python_as_custom_messages(sp, monkeypatch):
    w = study_widget(busy=True)
    replies: list[dict] = []
    monkeypatch.setattr(w, "send", lambda content, buffers=None: replies.append(content))
    stopped: list[bool] = []
    w.on_stop(lambda: stopped.append(True))

    def no_model() -> None:
        raise ValueError("no model")

    w.on_resume(no_model)
    sp.mount(w)
    sp.page.evaluate(MARIMO_HOST)
    notice = sp.page.locator(f"{OUT} .llks-notice")

    sp.page.get_by_role("button", name="Stop the study after the current batch").click()
    msg = relay(sp, w, replies)
    assert (msg["kind"], msg["name"], msg["msg"]) == ("anywidget-command", "stop", {})
    assert stopped == [True]
    assert replies[-1] == {
        "id": msg["id"],
        "kind": "anywidget-command-response",
        "response": {"ok": True, "handlers": 1},
    }
    expect(notice).to_have_text("")

    sp.set_trait("busy", False)
    sp.page.get_by_role("button", name="Resume the study").click()
    again = relay(sp, w, replies)
    assert again["name"] == "resume" and again["id"] != msg["id"]
    # Python's handler failed: the view's own message shows, as with a real invoke.
    expect(notice).to_have_text("Resume: resume failed: ValueError: no model")
    # The stub was tried once; from then on the commands go straight as messages.
    assert sp.page.evaluate("window.__invoked") == 1
