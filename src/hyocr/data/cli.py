"""`hyocr synth`: write training shards from a recipe, list recipes, or preview one.

Example:
    $ hyocr synth --list
    $ hyocr synth --recipe receipts --n 1000 --out data/receipts --seed 0 --workers 2
    $ hyocr synth --recipe mixed --preview --out /tmp/mixed     # writes /tmp/mixed/preview.png
    $ hyocr synth --recipe lines --fonts heldout --seed 900001 --n 400 --out eval/lines  # held-out faces
"""

from __future__ import annotations

import argparse
import dataclasses
import os

__all__ = ["add_arguments", "main"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    # what to make
    parser.add_argument("--recipe", default="smoke", help="recipe name (see --list) or path to a .toml file")
    parser.add_argument("--n", type=int, default=64, help="number of samples to write")
    parser.add_argument("--seed", type=int, default=0, help="seed: the same seed gives byte-identical shards")
    parser.add_argument(
        "--fonts",
        choices=("train", "heldout", "all"),
        help="which Latin faces to draw (default: the recipe's, itself 'train'); 'heldout' for evaluation sets",
    )
    # where and how
    parser.add_argument("--out", default="synth", help="output directory (shards + manifest.json)")
    parser.add_argument("--workers", type=int, default=1, help="worker processes (one shard per task)")
    # other modes
    parser.add_argument("--list", action="store_true", help="list the shipped recipes and exit")
    parser.add_argument(
        "--preview", action="store_true", help="write a contact sheet (OUT/preview.png) instead of shards"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def main(args: argparse.Namespace) -> int:
    from hyocr.data.scenarios import list_recipes, load_recipe

    if args.list:
        for name, desc in list_recipes().items():
            print(f"{name:<12} {desc}")
        return 0
    recipe = load_recipe(args.recipe)
    if args.fonts:
        recipe = dataclasses.replace(recipe, fonts=args.fonts)
    if args.preview:
        from hyocr.data.preview import recipe_sheet

        os.makedirs(args.out, exist_ok=True)
        path = os.path.join(args.out, "preview.png")
        recipe_sheet(recipe, args.seed, count=12).save(path, optimize=True)
        print(path)
        return 0
    from hyocr.data.shards import synthesize

    if args.workers < 1:
        raise ValueError("--workers must be >= 1")
    m = synthesize(recipe, args.n, args.out, seed=args.seed, workers=args.workers, progress=not args.quiet)
    print(f"wrote {m['samples']} samples in {len(m['shards'])} shards to {args.out} (tasks: {m['tasks']})")
    return 0
