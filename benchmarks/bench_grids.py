"""What finding ruled tables by their rules (`tasks.tables._gridded`) adds to cutting a page: the
document and spotting tasks' `task_segments` with it, against the same without it (the page's
segments passed through, the cutter's runs of rows alone, as before), on the same images in one
run, the two alternating image by image; best of `--repeat` rounds.

    python benchmarks/bench_grids.py runs/eval/heldout_pages ../shared/realdev/receipts --repeat 2
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from PIL import Image

from hyocr.tasks import segment as S
from hyocr.tasks import tables as T


def images_of(folder: Path, limit: int) -> list[Image.Image]:
    names = [
        json.loads(line)["image"] for line in (folder / "gt.jsonl").read_text().splitlines() if line.strip()
    ]
    return [Image.open(folder / n).convert("RGB") for n in sorted(set(names))[:limit]]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folders", nargs="+", type=Path, help="folders with gt.jsonl and its images")
    ap.add_argument("--limit", type=int, default=20, help="images of each folder")
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()
    gridded = T._gridded
    print("| images | task | without grids, s an image | with grids | images with a grid |")
    print("|---|---|---:|---:|---:|")
    for folder in args.folders:
        images = images_of(folder, args.limit)
        for task in ("document", "spotting"):
            best = {"without": float("inf"), "with": float("inf")}
            for _ in range(args.repeat):
                spent = {"without": 0.0, "with": 0.0}
                for im in images:
                    for side in ("without", "with"):
                        T._gridded = gridded if side == "with" else (lambda segs, image: list(segs))
                        t0 = time.perf_counter()
                        S.task_segments(task, im)
                        spent[side] += time.perf_counter() - t0
                best = {k: min(best[k], spent[k]) for k in best}
            T._gridded = gridded
            found = sum(bool(T._grids(im, T.segment_height(S.page_segments(im)))) for im in images)
            n = len(images)
            print(
                f"| {folder.name} ({n}) | {task} | {best['without'] / n:.3f} | {best['with'] / n:.3f} | {found} |"
            )


if __name__ == "__main__":
    main()
