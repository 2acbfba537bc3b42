"""What `--reread` costs and gives: the shipped line reader on whole receipts and pages, with
unsure segments read once (`OCR(reread=0)`) and read again with beam search (`OCR(reread=T)`:
segments read with a confidence under T, not under the drop score, searched with
`reread_beams` beams, 4 or `--beams`, the surer reading kept), side by side in one run.

Per setting: full-text NED against the ground truth (case-sensitive, and case-insensitive since
realdev's ground truth is in capitals), seconds per image, and how many crops were read (the
unsure ones twice). Sets: ../shared/realdev/receipts when it exists (measurement only, never used
to choose T), receipts our renderer draws on the fly, and with --pages a folder of pages with a
gt.jsonl (`hyocr eval`'s layout, e.g. runs/eval/heldout_pages).

    .venv/bin/python benchmarks/bench_reread.py --thresholds 0.9,0.95 --synthetic 20 --realdev-n 40 \
        --pages runs/eval/heldout_pages --pages-n 10 [--beams 4,2]

Session 32, this project's 2-core AVX2 machine, version 19, reread 0.95 with 4 and 2 beams (NED /
seconds an image; greedy for reference):

    set                         greedy          4 beams         2 beams
    40 real receipts            0.363 / 2.73    0.360 / 3.05    0.360 / 2.83
    20 synthetic receipts       0.033 / 1.19    0.031 / 1.34    0.031 / 1.19
    20 held-out pages, run 1    0.032 / 3.07    0.030 / 4.13    0.031 / 3.61   (2 beams run first)
    20 held-out pages, run 2    0.032 / 3.49    0.030 / 3.80    0.031 / 3.57   (4 beams run first)

Seconds vary by about 0.4 s a page between runs on this machine; 2 beams were faster in every
pair, by 6-13%, and lost 0.001 of a page's NED.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

from PIL import Image

from hyocr.api import OCR
from hyocr.data.render.receipt import render_receipt
from hyocr.eval.metrics import TextNorm, ned

REALDEV = Path(__file__).resolve().parents[2] / "shared" / "realdev" / "receipts"
NORM = TextNorm(nfkc=True, whitespace=True)
FOLDED = TextNorm(nfkc=True, whitespace=True, casefold=True)


def gt_items(folder: Path, n: int):
    for line in (folder / "gt.jsonl").read_text().splitlines()[:n]:
        item = json.loads(line)
        text = item["text"] if "text" in item else "\n".join(b["text"] for b in item["boxes"])
        yield Image.open(folder / item["image"]).convert("RGB"), text


def synthetic_items(n: int):
    for seed in range(n):
        r = render_receipt(random.Random(f"bench-reread:{seed}"))
        yield r.image, "\n".join(ln.text for ln in r.lines)


class Counting(OCR):
    """The API, counting the crops it hands the model."""

    crops = 0

    def _generate(self, prompt, images, *args, **kw):
        self.crops += len(images)
        return super()._generate(prompt, images, *args, **kw)


def run(items, reread: float, beams: int) -> tuple[float, float, float, int]:
    ocr = Counting(reread=reread, reread_beams=beams)
    ocr.text(items[0][0])  # warm-up, not counted
    ocr.crops = 0
    t0 = time.perf_counter()
    texts = [ocr.text(im).text for im, _ in items]
    secs = (time.perf_counter() - t0) / len(items)
    cs = sum(ned(t, g, NORM) for t, (_, g) in zip(texts, items, strict=True)) / len(items)
    ci = sum(ned(t, g, FOLDED) for t, (_, g) in zip(texts, items, strict=True)) / len(items)
    return cs, ci, secs, ocr.crops


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--thresholds", default="0.8", help="comma-separated reread thresholds (0 is always run)")
    ap.add_argument("--synthetic", type=int, default=20, help="synthetic receipts to draw (0: none)")
    ap.add_argument("--realdev", type=Path, default=REALDEV, help="folder with gt.jsonl")
    ap.add_argument("--realdev-n", type=int, default=40, help="realdev receipts to read")
    ap.add_argument("--pages", type=Path, help="a folder of pages with a gt.jsonl (image, text)")
    ap.add_argument("--pages-n", type=int, default=10, help="pages to read from --pages")
    ap.add_argument(
        "--beams", default="4", help="comma-separated beam widths of the reread (default: 4, as shipped)"
    )
    args = ap.parse_args()
    sets = []
    if args.realdev.exists() and args.realdev_n:
        sets.append((f"realdev receipts ({args.realdev_n})", list(gt_items(args.realdev, args.realdev_n))))
    if args.synthetic:
        sets.append((f"synthetic receipts ({args.synthetic})", list(synthetic_items(args.synthetic))))
    if args.pages:
        pages = list(gt_items(args.pages, args.pages_n))
        sets.append((f"{args.pages.name} ({len(pages)})", pages))
    thresholds = [0.0] + [float(t) for t in args.thresholds.split(",") if float(t) > 0]
    widths = [int(b) for b in args.beams.split(",")]
    print(f"{'set':<26} {'reread':>6} {'beams':>5} {'NED':>6} {'NED ci':>6} {'s/img':>6} {'crops':>6}")
    for name, items in sets:
        for t in thresholds:
            for b in widths if t > 0 else widths[:1]:
                cs, ci, secs, crops = run(items, t, b)
                shown = b if t > 0 else "-"
                print(
                    f"{name:<26} {t:>6.2f} {shown:>5} {cs:>6.3f} {ci:>6.3f} {secs:>6.2f} {crops:>6}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
