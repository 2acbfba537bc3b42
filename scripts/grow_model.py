"""Deepen a trained model directory (hyocr.model.grow): the same function with more blocks, to train on.

    python scripts/grow_model.py runs/tiny-s14/ckpt-0001000 --vit-layers 8 [--lm-layers 4] --out runs/grown

The new blocks start as the identity (zeroed output projections), so the grown model reads exactly
as the old one until it is trained; the tokenizer is copied alongside.
"""

from __future__ import annotations

import argparse

from hyocr.model.grow import deepen
from hyocr.model.weights import load_model, save_model
from hyocr.processing.tokenizer import HyTokenizer


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", help="model directory (a checkpoint or a shipped model)")
    ap.add_argument("--out", required=True, help="directory for the deeper model")
    ap.add_argument("--vit-layers", type=int, help="vision blocks of the deeper model (default: as now)")
    ap.add_argument("--lm-layers", type=int, help="decoder blocks of the deeper model (default: as now)")
    args = ap.parse_args()
    model = load_model(args.model)
    grown = deepen(model, vit_layers=args.vit_layers, lm_layers=args.lm_layers)
    save_model(grown, args.out)
    HyTokenizer.from_dir(args.model).save(args.out)
    old = sum(p.numel() for p in model.parameters())
    new = sum(p.numel() for p in grown.parameters())
    print(
        f"{args.model} -> {args.out}: vision {model.cfg.vit_layers} -> {grown.cfg.vit_layers} blocks, "
        f"decoder {model.cfg.lm_layers} -> {grown.cfg.lm_layers}, {old:,} -> {new:,} parameters"
    )


if __name__ == "__main__":
    main()
