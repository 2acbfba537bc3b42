"""Copy a trained model directory into the package as the shipped default, weights in bfloat16.

bf16 halves the size on disk (the engine loads it back to float32 and runs under bf16 autocast).

    python scripts/ship_model.py RUN_DIR/latest [--dest src/hyocr/assets/models/hyocr-tiny] [--reads lines]
        [--stretch 1.25] [--formula FORMULA_RUN_DIR/latest] [--formula-beams 4] [--zh ZH_RUN_DIR/latest]
        [--int8 formula zh]

`--reads lines` writes `"reads": "lines"` into the config's hyocr block: the model is a line
reader, and text/spotting cut pages into printed segments for it (hyocr.tasks.segment).
`--stretch S` sets the config's `stretch` (images widened by S before resizing), for a model that
reads better so than at the stretch it was trained with; the model card must say how it was chosen.
`--formula DIR` ships DIR (also in bfloat16) as the formula reader beside the model, in `formula/`,
and names it in the model's config (`formula_model`): the formula task is then read by it.
`--formula-beams N` writes the formula reader's `generation_config.json`: it reads with N beams by
default (engine.generate's beam search; a request may still ask for other settings).
`--zh DIR` ships DIR (in bfloat16) as the Chinese reader beside the model, in `zh/`, named in the
model's config (`zh_model`): segments the line reader reads unsurely are then read by it too.
`--int8 PART ...` stores those parts' matrices as int8 with a scale per row instead of bfloat16
(hyocr.model.weights; about half the bytes; `main` is the model itself, which then no longer loads
in transformers); the model card must say what it cost.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
from pathlib import Path

import torch

from hyocr.model.weights import load_model, save_model
from hyocr.processing.tokenizer import HyTokenizer

ROOT = Path(__file__).resolve().parent.parent


def _dtype(part: str, int8: list[str]) -> torch.dtype:
    """bfloat16, or float32 for a part stored as int8 (quantised from its full values; its vectors
    then stay float32)."""
    return torch.float32 if part in int8 else torch.bfloat16


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("--dest", default=str(ROOT / "src/hyocr/assets/models/hyocr-tiny"))
    ap.add_argument("--reads", choices=("page", "lines"), help="what the model reads in one pass")
    ap.add_argument(
        "--stretch", type=float, help="widen images by this factor before resizing (default: the model's)"
    )
    ap.add_argument("--formula", help="a model directory to ship beside it as its formula reader")
    ap.add_argument(
        "--formula-beams", type=int, help="the formula reader's default beams (generation_config.json)"
    )
    ap.add_argument("--zh", help="a model directory to ship beside it as its Chinese reader")
    ap.add_argument(
        "--int8", nargs="+", default=[], choices=("main", "formula", "zh"), help="parts stored as int8"
    )
    args = ap.parse_args()
    dest = Path(args.dest)
    card = dest / "MODEL_CARD.md"
    keep = card.read_text() if card.is_file() else None
    # everything is read before `dest` is cleared: a source may lie inside it (shipping in place)
    model = load_model(args.model, dtype=_dtype("main", args.int8))
    tok = HyTokenizer.from_dir(args.model)
    if args.reads:
        model.cfg = dataclasses.replace(model.cfg, reads=args.reads)
    if args.stretch is not None:
        model.cfg = dataclasses.replace(model.cfg, stretch=args.stretch)
    parts = {}  # subdirectory -> (model, tokenizer, stored as int8)
    for name, src, field in (("formula", args.formula, "formula_model"), ("zh", args.zh, "zh_model")):
        if src:
            model.cfg = dataclasses.replace(model.cfg, **{field: name})
            part = load_model(src, dtype=_dtype(name, args.int8))
            parts[name] = (part, HyTokenizer.from_dir(src), name in args.int8)
    if dest.exists():
        shutil.rmtree(dest)
    for name, (part, part_tok, int8) in parts.items():
        save_model(part, dest / name, int8=int8)
        part_tok.save(dest / name)
    if args.formula and args.formula_beams:
        gen = {"num_beams": args.formula_beams, "length_penalty": 1.0}
        (dest / "formula" / "generation_config.json").write_text(json.dumps(gen, indent=2) + "\n")
    save_model(model, dest, int8="main" in args.int8)
    tok.save(dest)
    if keep is not None:
        card.write_text(keep)
    size = sum(f.stat().st_size for f in dest.rglob("*") if f.is_file()) / 1e6
    print(f"shipped {args.model} -> {dest} ({size:.1f} MB)")


if __name__ == "__main__":
    main()
