"""How well the page cutter (`hyocr.tasks.segment`) finds the ground truth's text boxes.

Detection precision, recall and F1 at IoU >= 0.5 (one-to-one, greedy by IoU), on the real receipts
of ../shared/realdev and on receipts our renderer draws with their ground-truth boxes, for one or
more segment gaps side by side (the shipped gap first, as the reference):

    python benchmarks/bench_segment.py --gaps 1.2,1.4 --synthetic 40

Measurement only: realdev is never used to train, and the gap it prefers is reported, not fitted
item by item.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

from PIL import Image

from hyocr.data.render.receipt import render_receipt
from hyocr.tasks.segment import find_segments

REALDEV = Path(__file__).resolve().parents[2] / "shared" / "realdev" / "receipts"


def iou(a, b) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def matches(gt: list, found: list) -> int:
    """Pairs of IoU >= 0.5, each box used once, best pairs first."""
    pairs = sorted(((iou(g, f), i, j) for i, g in enumerate(gt) for j, f in enumerate(found)), reverse=True)
    used_g, used_f, n = set(), set(), 0
    for v, i, j in pairs:
        if v < 0.5:
            break
        if i not in used_g and j not in used_f:
            used_g.add(i)
            used_f.add(j)
            n += 1
    return n


def bounds(poly) -> tuple[float, float, float, float]:
    return (min(poly[0::2]), min(poly[1::2]), max(poly[0::2]), max(poly[1::2]))


def realdev_items(folder: Path):
    for line in (folder / "gt.jsonl").read_text().splitlines():
        item = json.loads(line)
        gt = [bounds(b["poly"]) for b in item["boxes"] if b["text"].strip()]
        yield Image.open(folder / item["image"]).convert("RGB"), gt


def synthetic_items(n: int):
    for seed in range(n):
        r = render_receipt(random.Random(f"bench-segment:{seed}"))
        yield r.image, [bounds(ln.quad) for ln in r.lines if ln.quad and ln.text.strip()]


def score(items, gap: float) -> tuple[float, float, float, float]:
    tp = n_gt = n_found = 0
    t0 = time.perf_counter()
    for image, gt in items:
        found = [s.box for s in find_segments(image, gap=gap)]
        tp += matches(gt, found)
        n_gt += len(gt)
        n_found += len(found)
    p, r = tp / max(n_found, 1), tp / max(n_gt, 1)
    return p, r, 2 * p * r / max(p + r, 1e-9), time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gaps", default="1.2", help="comma-separated segment gaps, in line heights")
    ap.add_argument("--synthetic", type=int, default=40, help="synthetic receipts to draw (0: none)")
    ap.add_argument("--realdev", type=Path, default=REALDEV, help="folder with gt.jsonl")
    ap.add_argument(
        "--data", type=Path, nargs="*", default=[], help="more folders with gt.jsonl (e.g. pages)"
    )
    args = ap.parse_args()
    sets = []
    if args.realdev.exists():
        sets.append(("realdev receipts", list(realdev_items(args.realdev))))
    for folder in args.data:
        sets.append((folder.name, list(realdev_items(folder))))
    if args.synthetic:
        sets.append((f"synthetic receipts ({args.synthetic})", list(synthetic_items(args.synthetic))))
    print(f"{'set':<28} {'gap':>5} {'P':>6} {'R':>6} {'F1':>6} {'s/img':>7}")
    for name, items in sets:
        for gap in (float(g) for g in args.gaps.split(",")):
            p, r, f1, secs = score(items, gap)
            print(f"{name:<28} {gap:>5.2f} {p:>6.3f} {r:>6.3f} {f1:>6.3f} {secs / len(items):>7.3f}")


if __name__ == "__main__":
    main()
