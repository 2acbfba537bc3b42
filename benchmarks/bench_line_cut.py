"""How a loose line crop is cut down to its line (`hyocr.tasks.segment.page_segments`), with no model.

Each ground-truth line box of a folder of pages (`gt.jsonl` with `boxes`, as `scripts/shards_to_gt.py`
writes and ../shared/realdev/receipts holds) is cut out with `--margin` of its height around it, so
that parts of the lines above and below show, as a detector's loose box holds them. For the crop the
cutter returns, at the box's middle column: does it keep the whole line (at least 97% of the box's
rows), and how much of a neighbour's rows stays in (at most 30%)? Side by side with the cutter
without `_middle_line` (the crop's neighbours that touch it left in), with the time per crop. The
boxes must be tight (the data engine's are); realdev's are loose (up to twice the line's height),
so "line whole" means little there:

    python benchmarks/bench_line_cut.py runs/eval/dev_receipts [--margin 0.6]

Measurement only: ../shared/realdev is never trained on, and the rule was not fitted to it.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from PIL import Image

from hyocr.tasks import segment

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
from realdev_lines import loose_rect  # noqa: E402  (the crops `scripts/realdev_lines.py` cuts)


def rows_at(poly, x: float) -> tuple[float, float]:
    """The top and bottom of a quad (tl, tr, br, bl) at column `x` (clamped to its width)."""
    xs, ys = poly[0::2], poly[1::2]
    x = min(max(x, min(xs)), max(xs))

    def along(p, q):
        (x0, y0), (x1, y1) = p, q
        return y0 if x1 == x0 else y0 + (y1 - y0) * (x - x0) / (x1 - x0)

    pts = list(zip(xs, ys, strict=True))
    return along(pts[0], pts[1]), along(pts[3], pts[2])


def crops(folder: Path, margin: float):
    """(crop, its offset, the line's quad, the other quads) for every box of every page."""
    for line in (folder / "gt.jsonl").read_text().splitlines():
        item = json.loads(line)
        with Image.open(folder / item["image"]) as im:
            page = im.convert("RGB")
        boxes = [b for b in item.get("boxes", []) if b["text"].strip()]
        for j, b in enumerate(boxes):
            rect = loose_rect(b["poly"], margin, page.size)
            if rect is None:
                continue
            others = [  # the boxes that reach into the crop's columns
                o["poly"]
                for k, o in enumerate(boxes)
                if k != j and max(o["poly"][0::2]) > rect[0] and min(o["poly"][0::2]) < rect[2]
            ]
            yield page.crop(rect), rect[:2], b["poly"], others


def score(cut, offset, poly, others) -> tuple[bool, bool]:
    """(the whole line kept, under 30% of any neighbour kept) for one crop's segments."""
    if len(cut) != 1:
        return False, False
    tl, tr, br, bl = cut[0].page_corners()
    x = (tl[0] + tr[0]) / 2 + offset[0]
    y0, y1 = (tl[1] + tr[1]) / 2 + offset[1], (bl[1] + br[1]) / 2 + offset[1]
    m0, m1 = rows_at(poly, x)
    whole = max(0.0, min(y1, m1) - max(y0, m0)) >= 0.97 * (m1 - m0)
    worst = 0.0
    for o in others:
        n0, n1 = rows_at(o, x)
        if n1 <= y0 or n0 >= y1 or n1 - n0 <= 0:
            continue
        inside = max(0.0, min(y1, n1) - max(y0, n0)) - max(0.0, min(m1, n1) - max(m0, n0))
        worst = max(worst, inside / (n1 - n0))
    return whole, worst <= 0.3


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder", type=Path, help="pages with gt.jsonl and line boxes")
    ap.add_argument("--margin", type=float, default=0.6, help="margin around a box, in box heights")
    args = ap.parse_args()
    items = list(crops(args.folder, args.margin))
    cut_alone = segment._middle_line
    print(f"{len(items)} line crops of {args.folder}, margin {args.margin}")
    print(
        f"{'cutter':28} {'one segment':>12} {'line whole':>11} {'few neighbours':>15} {'both':>6} {'ms/crop':>8}"
    )
    for name, middle in (
        ("without _middle_line", lambda image, box: segment.Segment(box, 0)),
        ("with", cut_alone),
    ):
        segment._middle_line = middle
        counts = [0, 0, 0, 0]
        start = time.perf_counter()
        try:
            for crop, offset, poly, others in items:
                cut = segment.page_segments(crop)
                whole, few = score(cut, offset, poly, others)
                counts = [
                    counts[0] + (len(cut) == 1),
                    counts[1] + whole,
                    counts[2] + few,
                    counts[3] + (whole and few),
                ]
        finally:
            segment._middle_line = cut_alone
        ms = 1000 * (time.perf_counter() - start) / max(1, len(items))
        print(f"{name:28} {counts[0]:>12} {counts[1]:>11} {counts[2]:>15} {counts[3]:>6} {ms:>8.1f}")


if __name__ == "__main__":
    main()
