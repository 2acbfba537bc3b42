"""How long cutting a page for the line reader takes (`task_segments` and `segment_crops`, what
`hyocr.api.OCR` does before the model reads a crop), with the cutter's paper-level max filter
(`segment._max_filter`) against Pillow's `ImageFilter.MaxFilter` (the reference it replaced), on
the same pages in one run; the two must cut identical crops.

    python benchmarks/bench_cut_speed.py runs/eval/heldout_pages ../shared/realdev/receipts --repeat 2
"""

from __future__ import annotations

import argparse
import hashlib
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

from hyocr.tasks import segment as S


def pillow_max_filter(a: np.ndarray, size: int) -> np.ndarray:
    return np.asarray(Image.fromarray(a).filter(ImageFilter.MaxFilter(size)))


def cut(images: list[Image.Image], task: str) -> tuple[float, int, str]:
    """Seconds for cutting all `images`, their crops, and a digest of the crops' pixels."""
    digest = hashlib.sha1()
    n = 0
    t0 = time.perf_counter()
    for im in images:
        crops, _ = S.segment_crops(S.task_segments(task, im), im)
        n += len(crops)
        for c in crops:
            digest.update(c.tobytes())
    return time.perf_counter() - t0, n, digest.hexdigest()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folders", nargs="+", type=Path)
    ap.add_argument("--task", default="spotting")
    ap.add_argument("--limit", type=int, default=20, help="images per folder")
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args()
    ours = S._max_filter
    for folder in args.folders:
        files = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".png", ".jpg", ".jpeg"))[
            : args.limit
        ]
        images = [Image.open(p).convert("RGB") for p in files]
        rows = {}
        for _ in range(args.repeat):  # alternating, so a change in the machine's load hits both
            for name, fn in (("hyocr", ours), ("Pillow MaxFilter", pillow_max_filter)):
                S._max_filter = fn
                try:
                    rows.setdefault(name, []).append(cut(images, args.task))
                finally:
                    S._max_filter = ours
        print(f"{folder} ({len(images)} images, {args.task}):")
        for name, runs in rows.items():
            best = min(r[0] for r in runs)
            print(
                f"  {name:18s} {best / len(images):.3f} s/image  {runs[0][1]} crops  digest {runs[0][2][:12]}"
            )
        same = len({r[2] for runs in rows.values() for r in runs}) == 1
        print("  crops identical" if same else "  CROPS DIFFER")


if __name__ == "__main__":
    main()
