"""Average the weights of model directories of one architecture (a "model soup" of checkpoints
that share their start: a leg and the version it was trained from), in float32.

    python scripts/average_models.py runs/tiny-s31/ckpt-0001300 runs/tiny-s32/ckpt-0001300 \
        --weights 0.5 0.5 --out runs/soup

The first directory's config and tokenizer are written beside the averaged weights; every
directory must have the same tensors of the same shapes (else one error line, exit 2).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from hyocr.errors import HyocrError
from hyocr.model.weights import load_model, save_model
from hyocr.processing.tokenizer import HyTokenizer


def average(dirs: list[str], weights: list[float]) -> torch.nn.Module:
    """The first model of `dirs` with every parameter and buffer the weighted mean of theirs."""
    if len(weights) != len(dirs):
        raise ValueError(f"{len(dirs)} models but {len(weights)} weights")
    if any(w < 0 for w in weights) or sum(weights) <= 0:
        raise ValueError("weights must be non-negative, with a positive sum")
    total = sum(weights)
    models = [load_model(d, dtype=torch.float32) for d in dirs]
    states = [m.state_dict() for m in models]
    first = states[0]
    for d, s in zip(dirs[1:], states[1:], strict=True):
        if s.keys() != first.keys() or any(s[k].shape != first[k].shape for k in first):
            raise ValueError(f"{d}: not the architecture of {dirs[0]}")
    mean = {
        k: sum(w / total * s[k].float() for w, s in zip(weights, states, strict=True)).to(first[k].dtype)
        if first[k].is_floating_point()
        else first[k]
        for k in first
    }
    models[0].load_state_dict(mean)
    return models[0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="+", help="model directories (config.json + safetensors)")
    ap.add_argument("--weights", type=float, nargs="+", help="one per model (default: equal)")
    ap.add_argument("--out", required=True, help="directory to write the averaged model to")
    args = ap.parse_args()
    if len(args.models) < 2:
        ap.error("give at least two model directories")
    try:
        model = average(args.models, args.weights or [1.0] * len(args.models))
        save_model(model, args.out)
        HyTokenizer.from_dir(args.models[0]).save(args.out)
    except (HyocrError, ValueError, OSError) as exc:
        print(f"average_models: error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    print(f"averaged {len(args.models)} models -> {Path(args.out)}")


if __name__ == "__main__":
    main()
