"""The `hyocr` command: one entry, a table of subcommands.

Each subcommand lives in the module that owns its logic and exposes two functions:
`add_arguments(parser)` and `main(args) -> int` (the exit code). This file only wires them up and
turns expected failures (`HyocrError`, `OSError`, `ValueError`) into one error line and exit code 1.

Example:
    $ hyocr run examples/receipt.png --task spotting
"""

from __future__ import annotations

import argparse
import importlib
import sys

from hyocr import __version__
from hyocr.errors import HyocrError

__all__ = ["SUBCOMMANDS", "build_parser", "main"]

# name -> (module that implements it, one-line help)
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "run": ("hyocr.commands.run", "run OCR on images with one instruction"),
    "eval": ("hyocr.eval.bench", "evaluate a model (or a baseline engine) on a labelled folder"),
    "synth": ("hyocr.data.cli", "synthesise training data with the data engine"),
    "train": ("hyocr.train.cli", "train a model: init, pre-training stages 1-4, GRPO (rl)"),
    "mine": ("hyocr.train.mine", "score shards with a model and keep the hard examples"),
    "serve": ("hyocr.serve.cli", "serve an OpenAI-compatible API, task endpoints and a web page"),
}


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The whole command line; with `only`, the arguments of that subcommand alone (the others are
    listed by name and help, their modules not imported: `hyocr synth` or `hyocr --help` need not
    import torch). `only=""` wires none."""
    parser = argparse.ArgumentParser(
        prog="hyocr", description="End-to-end OCR with one vision-language model."
    )
    parser.add_argument("--version", action="version", version=f"hyocr {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        if only is not None and name != only:
            continue
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:  # a subcommand whose optional dependency is missing
            p.set_defaults(_unavailable=f"'{name}' is unavailable: {exc}")
            continue
        module.add_arguments(p)
        p.set_defaults(_main=module.main)
    return parser


def main(argv: list[str] | None = None) -> int:
    words = sys.argv[1:] if argv is None else argv
    command = next((w for w in words if not w.startswith("-")), "")
    parser = build_parser(command if command in SUBCOMMANDS else "")
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    if getattr(args, "_unavailable", None):
        print(f"hyocr: error: {args._unavailable}", file=sys.stderr)
        return 1
    try:
        return int(args._main(args) or 0)
    except (HyocrError, OSError, ValueError) as exc:
        print(f"hyocr {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("hyocr: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
