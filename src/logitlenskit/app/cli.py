"""Command line: ``logitlens "prompt"`` prints the lens; --html / --json save it.

Examples::

    logitlens "The capital of France is"
    logitlens "The capital of France is" --model gemma3-270m --layers 0:18:3,-1
    logitlens "Bonjour" --html lens.html --json lens.json --overwrite
    logitlens "The capital of France is" --figure lens.svg --figure lens.png --dpi 600

Every argument and output path is checked before the model loads. Files are written
all or none (see ``files.write_files_atomic``): each to a temporary first, moved into place
only when every one is written; existing ones are replaced only with --overwrite, and only
regular files are written (a FIFO, a device or a symbolic link is refused).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

from ..base.edit_records import edits_caption
from ..base.ui_state import TOKEN_GLYPHS
from .cli_edits import EDIT_HELP, build_edits, parse_edit

__all__ = ["main", "parse_layers", "render_table"]

# Whitespace as the widget shows it, so a table and the grid read alike; other control
# characters (ESC, BEL: a token could clear or retitle the terminal) and bidirectional
# overrides (they reorder the rest of the line) as visible escapes, as frontend/tokens.js does.
_SPECIAL = re.compile(r"[\s\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_CELL = 9
# A sanity bound for --layers: the deepest public models have about a hundred layers, and a
# typo like '0:1000000000' must not build a billion-element list.
_MAX_LAYERS = 10_000


def parse_layers(spec: str) -> list[int]:
    """Parse ``"0,5,-1"`` and slices like ``"0:30:2"`` (comma-separated) into indices.

    Raises:
        argparse.ArgumentTypeError: a part is neither an integer nor a slice, a slice is
            empty (``"5:3"``), or the spec names no layers at all.
    """
    layers: list[int] = []
    for part in filter(None, (p.strip() for p in spec.split(","))):
        try:
            if ":" in part:
                bounds = [int(b) if b else None for b in part.split(":")]
                if len(bounds) > 3 or (len(bounds) == 3 and bounds[2] == 0):
                    raise ValueError(part)
                start, stop, step = [*bounds, None, None][:3]
                if stop is None:
                    raise ValueError(part)
                span = range(start or 0, stop, step or 1)
            else:
                span = range(int(part), int(part) + 1)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"bad layer spec {part!r}: use integers and start:stop[:step] slices, "
                "e.g. '0,5,-1' or '0:30:3,-1'"
            ) from None
        if not span:
            raise argparse.ArgumentTypeError(
                f"layer spec {part!r} selects no layers: start:stop[:step] counts like "
                "range(start, stop, step), so stop must lie past start, e.g. '0:30:3'"
            )
        if len(layers) + len(span) > _MAX_LAYERS:
            raise argparse.ArgumentTypeError(
                f"layer spec {spec!r} selects over {_MAX_LAYERS:,} layers; models have at "
                "most a few hundred: check the numbers"
            )
        layers.extend(span)
    if not layers:
        raise argparse.ArgumentTypeError(
            f"layer spec {spec!r} names no layers: give indices or slices, e.g. '0,5,-1'"
        )
    return layers


def _glyph(match: re.Match[str]) -> str:
    ch = match.group()
    if ch in TOKEN_GLYPHS:
        return TOKEN_GLYPHS[ch]
    return f"\\x{ord(ch):02x}" if ord(ch) < 0x100 else f"\\u{ord(ch):04x}"


def _label(text: str) -> str:
    text = _SPECIAL.sub(_glyph, text)
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
    lines = [
        f"{'':{input_width}}" + "".join(f"L{layers[i]:<{_CELL - 1}}" for i in shown) + f"  ({note})"
    ]
    for pos, token in enumerate(data["input"]):
        cells = "".join(f"{_label(vocab[int(topk[i, pos, 0])]):{_CELL}}" for i in shown)
        lines.append(f"{_label(token):{input_width}}{cells}")
    return "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="logitlens",
        description="Run the logit lens on a prompt.",
        epilog="Without --html/--json/--figure the lens is printed as a table of top-1 tokens.",
    )
    parser.add_argument("prompt", help="the text to analyse")
    parser.add_argument(
        "--model",
        default=None,
        help="embedded model (smollm2-135m, gemma3-270m), Hugging Face id "
        "or local folder (default: smollm2-135m)",
    )
    parser.add_argument("-k", type=int, default=5, help="top-k per cell (default 5)")
    parser.add_argument(
        "--layers",
        type=parse_layers,
        default=None,
        help="layers to decode, e.g. '0,5,-1' or '0:30:3,-1' (default all)",
    )
    parser.add_argument(
        "--remote",
        choices=["ndif", "local"],
        default=None,
        help="ndif: run on NDIF; local: nnsight's NDIF simulation",
    )
    parser.add_argument("--edit", action="append", default=[], help=EDIT_HELP)
    parser.add_argument(
        "--lens",
        choices=["logit", "tuned", "linear", "patchscope"],
        default=None,
        help="how states are decoded (default logit; tuned/linear fit once on first use, "
        "minutes, then cached; docs/lenses.md)",
    )
    parser.add_argument("--html", type=Path, help="save a standalone page here")
    parser.add_argument("--json", type=Path, help="save the seed V2 JSON here")
    parser.add_argument(
        "--figure",
        type=Path,
        action="append",
        default=[],
        help="save the grid and chart as a figure here, .svg or .png (repeatable)",
    )
    parser.add_argument("--dpi", type=int, default=300, help="PNG resolution (default 300)")
    parser.add_argument(
        "--theme", choices=["light", "dark"], default="light", help="figure theme (default light)"
    )
    parser.add_argument("--title", help="title of the saved page and figures")
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace existing --html/--json/--figure files (default: refuse)",
    )
    return parser


def _check_args(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Every check that needs no model, so a typo is not reported after a long load.

    Exits through ``parser.error`` (status 2) with one message naming the argument.
    """
    from ..base.files import check_output_path
    from ..base.validate import check_text
    from ..core.options import LIMITS

    if not args.prompt.strip():
        parser.error("the prompt is empty: give some text to analyse")
    for name, text in (("prompt", args.prompt), ("argument --title", args.title)):
        try:
            if text is not None:
                check_text(text, name)
        except ValueError as exc:
            parser.error(f"{exc} (a byte that is not UTF-8 in the command line?)")
    try:
        args.edit = [parse_edit(spec) for spec in args.edit]
    except ValueError as exc:
        parser.error(str(exc))
    low, high = LIMITS["view_k"]
    if not low <= args.k <= high:
        parser.error(
            f"argument -k: got {args.k}; ask for {low} to {high} predictions per cell, e.g. -k 5"
        )
    outputs = [
        (name, path)
        for name, path in (("--html", args.html), ("--json", args.json))
        if path is not None
    ] + [("--figure", path) for path in args.figure]
    _check_figures(parser, args)
    for name, path in outputs:
        try:
            check_output_path(
                path,
                overwrite=args.overwrite,
                name=f"argument {name}",
                overwrite_hint="add --overwrite to replace it",
            )
        except (OSError, ValueError) as exc:
            parser.error(str(exc))
    seen: dict[Path, str] = {}
    for name, path in outputs:
        if path.resolve() in seen:
            parser.error(
                f"arguments {seen[path.resolve()]} and {name} name the same file ({path}): "
                "give each its own name"
            )
        seen[path.resolve()] = name


def _check_figures(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if not args.figure:
        return  # matplotlib is imported only for figures
    from ..output.figure import figure_format

    for path in args.figure:
        try:
            figure_format(path)
        except ValueError as exc:
            parser.error(f"argument --figure: {exc}")
    if not 10 <= args.dpi <= 2400:
        parser.error(f"argument --dpi: got {args.dpi}; use 10 to 2400 (300 is print)")


def _outputs(args: argparse.Namespace, data: dict) -> list[tuple[str, Path, str | bytes]]:
    """The files to write, rendered (and so checked) before any is written."""
    files: list[tuple[str, Path, str | bytes]] = []
    if args.json:
        from ..base.formats import to_js_format

        text = json.dumps(to_js_format(data), ensure_ascii=False, allow_nan=False)
        files.append(("--json", args.json, text))
    if not (args.html or args.figure):
        return files
    from ..live.widget import LogitLensWidget

    # One widget checks the data once for the page and every figure.
    widget = LogitLensWidget(data, title=args.title or args.prompt)
    if args.html:
        from .export import to_html

        files.append(("--html", args.html, to_html(widget, title=args.title or args.prompt)))
    if args.figure:
        from ..output.figure import figure_bytes, figure_format

        for path in args.figure:
            image = figure_bytes(widget, figure_format(path), dpi=args.dpi, theme=args.theme)
            files.append(("--figure", path, image))
    return files


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``logitlens`` command; returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    _check_args(parser, args)
    from ..analyses.collect import collect_logit_lens
    from ..base.files import write_files_atomic
    from ..core.models import ModelLoadError, load_model

    remote = {"ndif": True, "local": "local", None: None}[args.remote]
    try:
        model = load_model(args.model, **({"remote": True} if remote is True else {}))
        edits = build_edits(args.edit, model, remote)
        data = collect_logit_lens(
            args.prompt,
            model,
            k=args.k,
            layers=args.layers,
            remote=remote,
            edits=edits,
            lens=args.lens,
        )
        # All or none: a later output that fails must not leave the earlier ones behind.
        written = write_files_atomic(
            [(path, content, f"argument {name}") for name, path, content in _outputs(args, data)],
            overwrite=args.overwrite,
            overwrite_hint="add --overwrite to replace it",
        )
        for path in written:
            print(f"wrote {path}", file=sys.stderr)
    except (ModelLoadError, ValueError, TypeError, OSError) as exc:
        print(f"logitlens: error: {exc}", file=sys.stderr)
        return 2
    if not (args.json or args.html or args.figure):
        if data.get("lens"):  # which lens made the numbers
            print(f"lens: {data['lens']}")
        if data.get("edits"):  # an edited run never passes for the model's own output
            caption = edits_caption(data["edits"])
            # Token text in a label: control and bidi characters as escapes, not as actions.
            print("".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in caption))
        print(render_table(data, shutil.get_terminal_size().columns))
    return 0


if __name__ == "__main__":
    sys.exit(main())
