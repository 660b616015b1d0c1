"""Regenerate docs/screenshot.png from a real render of the explorer.

Collects the lens on the embedded SmolLM2-135M-Instruct for a prompt whose answer the
model has to recall, writes the standalone page (the same file ``save_html`` writes),
opens it in headless Chromium with every network request refused, and saves a picture of
the explorer. Run: .venv/bin/python scripts/screenshot.py [--out docs/screenshot.png]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # the system Chromium and its flags live there

from local_jupyter import CHROMIUM, CHROMIUM_ARGS  # noqa: E402

PROMPT = "The Eiffel Tower is in Paris. The Colosseum is in"
TITLE = "SmolLM2-135M: where is the Colosseum?"
# Wide enough for all 30 layer columns of SmolLM2 at the default column width.
VIEWPORT = {"width": 1960, "height": 1200}
RENDER_TIMEOUT_MS = 60_000


def token_id(tokenizer, text: str) -> int:
    """The id of ``text``, which must be a single token."""
    ids = tokenizer.encode(text, add_special_tokens=False)
    if len(ids) != 1:
        raise ValueError(f"{text!r} is {len(ids)} tokens, not one")
    return ids[0]


def write_page(folder: Path) -> Path:
    """Collect the lens and write the standalone page into ``folder``; returns its path."""
    from logitlenskit import LogitLensWidget, collect_logit_lens, load_model
    from logitlenskit.app.export import save_html

    model = load_model()
    data = collect_logit_lens(PROMPT, model, k=5)
    rome, paris = (token_id(model.tokenizer, t) for t in (" Rome", " Paris"))
    widget = LogitLensWidget(data, title=TITLE, chart_height=200)
    # Cells are shaded by their top-1 probability (the default); the chart follows the last
    # position and plots the answer and the in-context distractor, so the picture shows
    # where in depth " Rome" appears.
    widget.pins = [{"ids": [rome], "color": "#e6194b"}, {"ids": [paris], "color": "#3cb44b"}]
    widget.pinned_rows = [len(data["input"]) - 1]
    return save_html(widget, folder / "screenshot.html", overwrite=True)


def render(page_path: Path, out: Path) -> Path:
    """Open ``page_path`` offline in headless Chromium and save the explorer as ``out``."""
    from playwright.sync_api import sync_playwright

    page_url = page_path.as_uri()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport=VIEWPORT, device_scale_factor=1)
            # Offline by construction: the page must render from its own bytes.
            page.route(
                "**/*",
                lambda route: route.continue_() if route.request.url == page_url else route.abort(),
            )
            page.goto(page_url)
            explorer = page.locator(".llk")
            explorer.locator("[role=gridcell]").first.wait_for(timeout=RENDER_TIMEOUT_MS)
            explorer.locator(".llk-chart svg, svg").first.wait_for(timeout=RENDER_TIMEOUT_MS)
            out.parent.mkdir(parents=True, exist_ok=True)
            explorer.screenshot(path=str(out), animations="disabled")
        finally:
            browser.close()
    return out


def main(argv: list[str] | None = None) -> None:
    """Write the page into a temporary folder and the picture to ``--out``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshot.png")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        out = render(write_page(Path(folder)), args.out.resolve())
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
