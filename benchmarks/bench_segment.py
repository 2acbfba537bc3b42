"""How well the page cutter (`hyocr.tasks.segment`) finds the ground truth's text boxes.

Detection precision, recall and F1 at IoU >= 0.5 (one-to-one, greedy by IoU), on the real receipts
of ../shared/realdev and on receipts our renderer draws with their ground-truth boxes, for one or
more segment gaps side by side (the shipped gap first, as the reference):

    python benchmarks/bench_segment.py --gaps 1.2,1.4 --synthetic 40
    python benchmarks/bench_segment.py --gaps "" --readers --data runs/eval/heldout_pages

`--readers` adds what the line reader is handed: the page's segments (`page_segments`: levelled,
columns parted), the spotting task's (`task_segments("spotting")`: a framed table's cells), and
what reading a page for spotting cuts and crops, as before flattening (`read_plan("spotting")`)
and as now (`page_plan("spotting")`: a warped page flattened first, `tasks.flatten`, its segments
taken back onto the page): the difference in seconds is what flattening costs.

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

from hyocr.data.render.base import quad_bounds
from hyocr.data.render.receipt import render_receipt
from hyocr.eval.metrics import prf, spotting_prf
from hyocr.tasks.segment import find_segments, page_plan, page_segments, read_plan, task_segments

REALDEV = Path(__file__).resolve().parents[2] / "shared" / "realdev" / "receipts"


def realdev_items(folder: Path):
    for line in (folder / "gt.jsonl").read_text().splitlines():
        item = json.loads(line)
        gt = [quad_bounds(b["poly"]) for b in item["boxes"] if b["text"].strip()]
        yield Image.open(folder / item["image"]).convert("RGB"), gt


def synthetic_items(n: int):
    for seed in range(n):
        r = render_receipt(random.Random(f"bench-segment:{seed}"))
        yield r.image, [quad_bounds(ln.quad) for ln in r.lines if ln.quad and ln.text.strip()]


def score(items, cut) -> tuple[float, float, float, float]:
    tp = n_gt = n_found = 0
    t0 = time.perf_counter()
    for image, gt in items:
        # detection only: every box has the same (empty) text, so spotting's exact matches are the
        # one-to-one pairs of IoU >= 0.5
        found = [("", s.quad or s.box) for s in cut(image)]
        scores = spotting_prf(found, [("", g) for g in gt])
        tp, n_gt, n_found = tp + scores.tp, n_gt + scores.n_gt, n_found + scores.n_pred
    return (*prf(tp, n_found, n_gt), time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--gaps", default="1.2", help="comma-separated segment gaps, in line heights ('' for none)"
    )
    ap.add_argument(
        "--readers", action="store_true", help="also page_segments and the spotting task's segments"
    )
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
    cuts = [
        (f"find_segments gap {g}", lambda im, g=float(g): find_segments(im, gap=g))
        for g in args.gaps.split(",")
        if g
    ]
    if args.readers:
        cuts += [
            ("page_segments", page_segments),
            ("spotting", lambda im: task_segments("spotting", im)),
            ("read_plan spotting", lambda im: read_plan("spotting", im)[0]),
            ("page_plan spotting", lambda im: page_plan("spotting", im)[0]),
        ]
    print(f"{'set':<28} {'segments':<24} {'P':>6} {'R':>6} {'F1':>6} {'s/img':>7}")
    for name, items in sets:
        for what, cut in cuts:
            p, r, f1, secs = score(items, cut)
            print(f"{name:<28} {what:<24} {p:>6.3f} {r:>6.3f} {f1:>6.3f} {secs / len(items):>7.3f}")


if __name__ == "__main__":
    main()
