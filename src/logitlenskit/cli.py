"""Command line: ``logitlens "prompt"`` prints the lens; --html / --json save it.

Examples::

    logitlens "The capital of France is"
    logitlens "The capital of France is" --model gemma3-270m --layers 0:18:3,-1
    logitlens "Bonjour" --html lens.html --json lens.json
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path
from typing import Sequence

__all__ = ["main", "parse_layers", "render_table"]

_VISIBLE = str.maketrans({" ": "␣", "\n": "↵", "\t": "⇥", "\r": "␍"})
_CELL = 9


def parse_layers(spec: str) -> list[int]:
    """Parse ``"0,5,-1"`` and slices like ``"0:30:2"`` (comma-separated) into indices.

    Raises:
        argparse.ArgumentTypeError: a part is neither an integer nor a slice.
    """
    layers: list[int] = []
    for part in filter(None, (p.strip() for p in spec.split(","))):
        try:
            if ":" in part:
                bounds = [int(b) if b else None for b in part.split(":")]
                if len(bounds) > 3 or (len(bounds) == 3 and bounds[2] == 0):
                    raise ValueError(part)
                start, stop, step = (bounds + [None, None])[:3]
                if stop is None:
                    raise ValueError(part)
                layers.extend(range(start or 0, stop, step or 1))
            else:
                layers.append(int(part))
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"bad layer spec {part!r}: use integers and start:stop[:step] slices, "
                "e.g. '0,5,-1' or '0:30:3,-1'"
            ) from None
    return layers


def _label(text: str) -> str:
    text = text.translate(_VISIBLE)
    return text if len(text) <= _CELL - 1 else text[: _CELL - 2] + "…"


def render_table(data: dict, width: int) -> str:
    """Top-1 token per position (rows) and layer (columns), fitted to ``width`` characters.

    When not every layer fits, layers are taken at a regular stride; the first and the last
    are always shown, and the header says which were shown.
    """
    vocab, topk, layers = data["vocab"], data["topk"], data["layers"]
    input_width = min(16, max(len(_label(t)) for t in data["input"]) + 1)
    fits = max(2, (width - input_width) // _CELL)
    # ceil(L / (fits - 1)) leaves a column free for the last layer when it is off-stride.
    stride = 1 if len(layers) <= fits else -(-len(layers) // (fits - 1))
    shown = sorted(set(range(0, len(layers), stride)) | {len(layers) - 1})
    note = "all layers" if stride == 1 else f"every {stride} layers + the last"
    lines = [f"{'':{input_width}}" + "".join(f"L{layers[i]:<{_CELL - 1}}" for i in shown)
             + f"  ({note})"]
    for pos, token in enumerate(data["input"]):
        cells = "".join(f"{_label(vocab[int(topk[i, pos, 0])]):{_CELL}}" for i in shown)
        lines.append(f"{_label(token):{input_width}}{cells}")
    return "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="logitlens", description="Run the logit lens on a prompt.",
        epilog="Without --html/--json the lens is printed as a table of top-1 tokens.",
    )
    parser.add_argument("prompt", help="the text to analyse")
    parser.add_argument("--model", default=None,
                        help="embedded model (smollm2-135m, gemma3-270m), Hugging Face id "
                             "or local folder (default: smollm2-135m)")
    parser.add_argument("-k", type=int, default=5, help="top-k per cell (default 5)")
    parser.add_argument("--layers", type=parse_layers, default=None,
                        help="layers to decode, e.g. '0,5,-1' or '0:30:3,-1' (default all)")
    parser.add_argument("--remote", choices=["ndif", "local"], default=None,
                        help="ndif: run on NDIF; local: nnsight's NDIF simulation")
    parser.add_argument("--html", type=Path, help="save a standalone page here")
    parser.add_argument("--json", type=Path, help="save the seed V2 JSON here")
    parser.add_argument("--title", help="title of the saved page")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``logitlens`` command; returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    if not args.prompt.strip():
        # Checked here too so the user is not made to wait for the model load first.
        parser.error("the prompt is empty: give some text to analyse")
    from .collect import collect_logit_lens
    from .formats import to_js_format
    from .models import ModelLoadError, load_model

    remote = {"ndif": True, "local": "local", None: None}[args.remote]
    try:
        model = load_model(args.model, **({"remote": True} if remote is True else {}))
        data = collect_logit_lens(args.prompt, model, k=args.k, layers=args.layers,
                                  remote=remote)
    except (ModelLoadError, ValueError, TypeError) as exc:
        print(f"logitlens: error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        text = json.dumps(to_js_format(data), ensure_ascii=False)
        args.json.write_text(text, encoding="utf-8")
        print(f"wrote {args.json}", file=sys.stderr)
    if args.html:
        from .export import save_html

        save_html(data, args.html, title=args.title or args.prompt)
        print(f"wrote {args.html}", file=sys.stderr)
    if not (args.json or args.html):
        print(render_table(data, shutil.get_terminal_size().columns))
    return 0


if __name__ == "__main__":
    sys.exit(main())
