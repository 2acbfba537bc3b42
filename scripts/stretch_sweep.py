"""Character error rate of a line reader on a line set when every image is widened by a factor.

    python scripts/stretch_sweep.py MODEL_DIR 1,1.25,1.5 [DATA_DIR ...]

DATA_DIR holds a `gt.jsonl` of `{"image", "text"}` lines (`hyocr eval`'s layout, e.g. the held-out
sets made with `scripts/shards_to_gt.py` or realdev's crops from `scripts/realdev_lines.py`). The
model's own `stretch` is set to each factor in turn (so the figures are of reading at that factor,
not on top of the config's), and the CER is printed case-sensitive, case-insensitive and on the
lines of at least 10 characters. This is how the shipped model's `stretch` was chosen.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

from hyocr import OCR
from hyocr.eval.metrics import cer


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("factors", help="comma-separated stretches, e.g. 1,1.25,1.5")
    ap.add_argument("data", nargs="+")
    ap.add_argument("--batch-size", type=int, default=16)
    args = ap.parse_args()
    factors = [float(f) for f in args.factors.split(",")]
    ocr = OCR(args.model, max_new_tokens=64, batch_size=args.batch_size, segment="off")
    engine = ocr.engine
    base = engine.cfg
    for d in map(Path, args.data):
        gt = [json.loads(line) for line in (d / "gt.jsonl").read_text().splitlines() if line.strip()]
        for f in factors:
            engine.cfg = dataclasses.replace(base, stretch=f)
            res = ocr.text([str(d / g["image"]) for g in gt])
            c = [cer(r.text, g["text"]) for r, g in zip(res, gt, strict=True)]
            ci = [cer(r.text.upper(), g["text"].upper()) for r, g in zip(res, gt, strict=True)]
            long = [x for x, g in zip(ci, gt, strict=True) if len(g["text"]) >= 10]
            print(
                f"{d.name} stretch {f:g}: CER {sum(c) / len(c):.3f}, case-insensitive {sum(ci) / len(ci):.3f}, "
                f"lines of 10+ characters {sum(long) / max(1, len(long)):.3f} (n={len(gt)})",
                flush=True,
            )
    engine.cfg = base


if __name__ == "__main__":
    main()
