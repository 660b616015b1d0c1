"""The browser tier's page harness: the shipped bundle on a plain page, a fake kernel.

One importable module for the tests (tests/ui/conftest.py makes fixtures of it) and the
benchmarks (bench/bench_widget.py puts this folder on ``sys.path``). The page is
tests/ui/harness.html; ``window.llk`` there mounts the widget with a fake anywidget model
and records the commands it invokes.
"""

from __future__ import annotations

import base64
import threading
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

__all__ = ["WidgetPage", "serve_files", "start_harness_server", "widget_state", "wire"]

HERE = Path(__file__).parent
FRONTEND = HERE.parent.parent / "frontend"


# Page script: from now on, window.llkMaxAlloc is the length of the largest typed array the
# page made, so a test can check that memory follows the data, not a hostile size field.
COUNT_ALLOCATIONS = """() => {
  window.llkMaxAlloc = 0;
  for (const name of ["Int32Array", "Float32Array", "Uint8Array"]) {
    const Orig = window[name];
    window[name] = new Proxy(Orig, { construct(target, args, newTarget) {
      const a = Reflect.construct(target, args, newTarget === window[name] ? target : newTarget);
      window.llkMaxAlloc = Math.max(window.llkMaxAlloc, a.length);
      return a;
    } });
  }
}"""


def wire(value: Any) -> Any:
    """JSON-safe form of a trait value: bytes become {"$bytes": base64} for the page."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"$bytes": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, dict):
        return {k: wire(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [wire(v) for v in value]
    return value


class _Handler(BaseHTTPRequestHandler):
    def __init__(self, files: dict[str, tuple[str, bytes]], *args: Any) -> None:
        self.files = files
        super().__init__(*args)

    def do_GET(self) -> None:
        found = self.files.get(self.path.split("?")[0])
        if found is None:
            self.send_error(404)
            return
        kind, body = found
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def start_harness_server() -> tuple[ThreadingHTTPServer, str]:
    """Serve the harness page and the bundle exactly as LogitLensWidget ships it.

    Returns the running server (call ``shutdown()`` when done) and its address.
    """
    from logitlenskit.live.widget import LogitLensWidget

    state = LogitLensWidget().get_state()
    files = {
        "/": ("text/html; charset=utf-8", (HERE / "harness.html").read_bytes()),
        "/widget.js": ("text/javascript; charset=utf-8", state["_esm"].encode()),
        "/widget.css": ("text/css; charset=utf-8", state["_css"].encode()),
    }
    # The source modules too, so unit tests can import a pure module (e.g. layerspec.js).
    for module in FRONTEND.glob("*.js"):
        files[f"/frontend/{module.name}"] = ("text/javascript; charset=utf-8", module.read_bytes())
    return serve_files(files)


def serve_files(files: dict[str, tuple[str, bytes]]) -> tuple[ThreadingHTTPServer, str]:
    """Serve ``{path: (content type, body)}`` on 127.0.0.1 in a thread.

    Returns the running server (call ``shutdown()`` when done) and its address.
    """
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Handler, files))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"


def widget_state(data: dict, **traits: Any) -> dict[str, Any]:
    """A new widget's synced traits (private ones left out), with ``data`` and ``traits`` set."""
    from logitlenskit.live.widget import LogitLensWidget

    state = {k: v for k, v in LogitLensWidget().get_state().items() if not k.startswith("_")}
    state.update(traits)
    state["data"] = data
    return state


class HarnessPage:
    """The harness page (either bundle): its errors, the fake model and the fake kernel."""

    def __init__(self, page: Any, url: str) -> None:
        self.page = page
        self.errors: list[str] = []
        page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))
        page.on("dialog", lambda d: (self.errors.append(f"dialog: {d.message}"), d.dismiss()))
        page.goto(url)
        page.wait_for_function("window.llkReady === true")

    def trait(self, name: str) -> Any:
        return self.page.evaluate("(k) => window.llk.model.get(k)", name)

    def calls(self, name: str | None = None) -> list[dict]:
        """Commands the widget invoked: [{"name", "msg", "state"}], oldest first."""
        calls = self.page.evaluate(
            "() => window.llk.commands.calls.map(c => ({name: c.name, msg: c.msg, state: c.state}))"
        )
        return [c for c in calls if name is None or c["name"] == name]

    def answer_with(self, name: str, answer: Any) -> None:
        """How the fake kernel answers `name` from now on.

        ``answer``: a dict (sent at once), ``"fail"``, or None (the call is held).
        """
        self.page.evaluate("([n, a]) => { window.llk.commands.auto[n] = a; }", [name, answer])

    def saves(self) -> int:
        return self.page.evaluate("window.llk.model.saves.length")

    def counts(self) -> dict[str, int]:
        """Listeners, observers, timers and frames the widget holds beyond the page's own."""
        return self.page.evaluate("window.llk.counts()")

    def cleanup(self) -> None:
        self.page.evaluate("window.llk.cleanup()")


class WidgetPage(HarnessPage):
    """The harness page with the logit-lens widget: mount it and read what it shows."""

    def mount(
        self,
        data: dict,
        *,
        offset: int = 8,
        outputs: tuple[str, ...] = ("out1",),
        experimental: bool = True,
        **traits: Any,
    ) -> None:
        self.page.evaluate(
            "([s, o]) => window.llk.mount(s, o)",
            [
                wire(widget_state(data, **traits)),
                {"offset": offset, "outputs": list(outputs), "experimental": experimental},
            ],
        )

    def set_data(self, data: dict, offset: int = 8) -> None:
        self.page.evaluate("([d, o]) => window.llk.setData(d, o)", [wire(data), offset])

    def set_trait(self, name: str, value: Any) -> None:
        self.page.evaluate("([k, v]) => window.llk.model.set(k, v)", [name, value])

    def reply(self, name: str, answer: dict, buffers: tuple[bytes, ...] = ()) -> bool:
        """Answer the oldest pending `name` call (binary buffers arrive as DataViews)."""
        return self.page.evaluate(
            "([n, a, b]) => window.llk.reply(n, a, b)", [name, answer, [wire(b) for b in buffers]]
        )

    def custom(self, msg: dict, buffers: tuple[bytes, ...] = ()) -> None:
        """Send the widget a custom message from the fake kernel (buffers as DataViews)."""
        self.page.evaluate("([m, b]) => window.llk.custom(m, b)", [msg, [wire(b) for b in buffers]])

    def cell(self, ci: int, p: int, out: str = "#out1") -> Any:
        return self.page.locator(f'{out} .llk-row[data-p="{p}"] .llk-cell[data-ci="{ci}"]')
